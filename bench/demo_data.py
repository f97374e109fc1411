"""Benchmark: load demo data into a fresh database and time it.

    python bench/demo_data.py [--households 100000] [--backend sqlite|postgresql] [--seed 1]

Creates a fresh database (a SQLite file under a temporary folder, or a fresh schema of
FOSTERCRM_TEST_POSTGRES_URL), migrates it to the newest schema, runs the generator with its
progress bar, and prints the seconds, the rows per table and rows per second. The migration is
timed separately; the generator's seconds are what `fostercrm demo-data` adds.
Aim: 100,000 households in minutes, not hours, on a 2-core machine, on both backends.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from crm.db import make_engine, normalise_url  # noqa: E402
from crm.demo import generate  # noqa: E402
from crm.migrate import upgrade  # noqa: E402
from crm.settings import load_settings  # noqa: E402

POSTGRES_ENV = "FOSTERCRM_TEST_POSTGRES_URL"


def postgres_schema_url(base: str, schema: str) -> str:
    base = normalise_url(base)
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}"


def drop_schema(base: str, schema: str) -> None:
    engine = sa.create_engine(normalise_url(base))
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--as-of", type=date.fromisoformat, default=date(2026, 3, 10), help="YYYY-MM-DD"
    )
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    args = parser.parse_args()

    schema = None
    with tempfile.TemporaryDirectory(prefix="fostercrm-bench-") as folder:
        if args.backend == "sqlite":
            url = f"sqlite:///{Path(folder) / 'demo.db'}"
        else:
            base = os.environ.get(POSTGRES_ENV)
            if not base:
                parser.error(f"set {POSTGRES_ENV}=postgresql://... for --backend postgresql")
            schema = f"fostercrm_bench_{os.getpid()}"
            url = postgres_schema_url(base, schema)
        try:
            load_before = os.getloadavg()
            started = time.perf_counter()
            upgrade(url)
            migrated = time.perf_counter() - started
            engine = make_engine(url)
            cpu_started = time.process_time()
            settings = load_settings(environ={}, database={"url": url})
            summary = generate(
                engine,
                settings,
                households=args.households,
                seed=args.seed,
                as_of=args.as_of,
                progress=True,
            )
            cpu = time.process_time() - cpu_started
            engine.dispose()
            size = ""
            if args.backend == "sqlite":
                size = f", file {Path(folder, 'demo.db').stat().st_size / 1e6:,.0f} MB"
            print(f"backend:     {args.backend}{size}")
            print(f"migrate:     {migrated:.1f} s")
            print(f"generate:    {summary.seconds:.1f} s for {args.households:,} households")
            print(f"cpu:         {cpu:.1f} s (this process, generate only)")
            load_after = os.getloadavg()
            print(
                f"load:        {load_before[0]:.2f} before, {load_after[0]:.2f} after "
                f"(1-minute average, {os.cpu_count()} cores)"
            )
            rate = summary.total_rows / summary.seconds
            print(f"rows:        {summary.total_rows:,} ({rate:,.0f}/s)")
            print(f"households/s {args.households / summary.seconds:,.0f}")
            width = max(len(name) for name in summary.rows)
            for name, rows in sorted(summary.rows.items(), key=lambda item: -item[1]):
                print(f"  {name:<{width}} {rows:>10,}")
            print(summary.describe())
            if args.keep and args.backend == "sqlite":
                kept = Path(tempfile.gettempdir()) / f"fostercrm-demo-{args.households}.db"
                Path(folder, "demo.db").replace(kept)
                print(f"kept: {kept}")
        finally:
            if schema and not args.keep:
                drop_schema(base, schema)
    return 0


if __name__ == "__main__":
    sys.exit(main())
