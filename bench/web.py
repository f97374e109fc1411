"""Server time of the web CRM's busiest pages on a big demo database.

What is measured: the time for the Flask app to answer a request end to end inside the process
(routing, session and sign-in check, every database query, template rendering), through the
WSGI test client, so no network or browser time is included. Each route is requested
--repeat times after --warmup untimed requests; the median and the 95th percentile are printed
beside those of a trivial route (/readyz: one `SELECT 1`) measured in the same run, as a
floor for the framework's own cost.

The user is the demo manager (every area), the widest view and so the slowest. Routes:
the pipeline board, household search (by surname prefix, by postcode, by email), the first
page of the household list, and a household page (with its timeline and audit `view` write).

Usage:
    python bench/web.py                      # SQLite, 100,000 households
    python bench/web.py --backend postgresql # needs FOSTERCRM_BENCH_POSTGRES_URL or
                                             # FOSTERCRM_TEST_POSTGRES_URL
    python bench/web.py --backend both --households 100000 --repeat 50

--gc-freeze calls gc.freeze() once the app is warm, as a server process can after start-up:
the ~230,000 objects alive after importing everything then no longer make Python's full
(generation 2) garbage collections slow, which otherwise land on one request in twenty or so
and add 130-170 ms to it (they are the p95 of the board without it).

The demo database is built once (crm.demo) and kept: var/bench/web-<N>.db for
SQLite, schema fostercrm_bench_web_<N> for PostgreSQL. Delete it to rebuild.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crm.db import make_engine, normalise_url  # noqa: E402
from crm.migrate import upgrade  # noqa: E402
from crm.testing.fixtures import make_test_settings  # noqa: E402

MANAGER = "manager@example.org"


def database_url(backend: str, households: int) -> str:
    if backend == "sqlite":
        path = ROOT / "var" / "bench" / f"web-{households}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    base = os.environ.get("FOSTERCRM_BENCH_POSTGRES_URL") or os.environ.get(
        "FOSTERCRM_TEST_POSTGRES_URL"
    )
    if not base:
        raise SystemExit("Set FOSTERCRM_BENCH_POSTGRES_URL=postgresql://... for PostgreSQL")
    schema = f"fostercrm_bench_web_{households}"
    admin = sa.create_engine(normalise_url(base))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    admin.dispose()
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options={quote(f'-csearch_path={schema}')}"


def prepare(url: str, households: int) -> None:
    from crm.demo import generate

    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        have = conn.execute(sa.text("SELECT count(*) FROM household")).scalar_one()
    if have == 0:
        print(f"  building demo data: {households:,} households (once)...", flush=True)
        started = time.perf_counter()
        summary = generate(
            engine, make_test_settings(url), households=households, seed=1, progress=True
        )
        print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
        print("  " + summary.describe().replace("\n", "\n  "), flush=True)
    elif have != households:
        print(f"  note: database has {have:,} households (asked for {households:,})")
    if url.startswith("postgresql"):
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
    engine.dispose()


def sample_values(url: str) -> dict[str, str]:
    engine = make_engine(url)
    with engine.connect() as conn:
        surname = conn.execute(
            sa.text("SELECT last_name FROM applicant ORDER BY id LIMIT 1 OFFSET 5000")
        ).scalar_one()
        email = conn.execute(
            sa.text("SELECT email FROM applicant WHERE email IS NOT NULL ORDER BY id DESC LIMIT 1")
        ).scalar_one()
        postcode = conn.execute(
            sa.text(
                "SELECT postcode FROM household WHERE postcode IS NOT NULL "
                "AND anonymised_at IS NULL ORDER BY id DESC LIMIT 1"
            )
        ).scalar_one()
        household_id = conn.execute(
            sa.text(
                "SELECT h.id FROM household h WHERE h.anonymised_at IS NULL AND h.stage = "
                "'stage_two' ORDER BY h.id DESC LIMIT 1"
            )
        ).scalar_one()
    engine.dispose()
    return {
        "surname": surname[:4],
        "email": email,
        "postcode": postcode,
        "household_id": str(household_id),
    }


def measure(client, path: str, repeat: int, warmup: int) -> tuple[float, float, int]:
    for _ in range(warmup):
        client.get(path)
    times = []
    status = 0
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        status = response.status_code
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]
    return statistics.median(times), p95, status


def run(backend: str, households: int, repeat: int, warmup: int, gc_freeze: bool) -> None:
    from crm.demo.organisation import DEMO_PASSWORD
    from crm.web import create_app

    print(f"\n== {backend}, {households:,} households ==", flush=True)
    url = database_url(backend, households)
    prepare(url, households)
    values = sample_values(url)
    settings = make_test_settings(url)
    engine = make_engine(url)
    app = create_app(settings, engine=engine, secret_key="bench-secret-key-0123456789abcdef")
    app.config["WTF_CSRF_ENABLED"] = False  # signing in from a script
    client = app.test_client()
    signed = client.post("/sign-in", data={"email": MANAGER, "password": DEMO_PASSWORD})
    if signed.status_code != 302:
        raise SystemExit(f"could not sign in as {MANAGER}")
    with engine.connect() as conn:
        total = conn.execute(sa.text("SELECT count(*) FROM household")).scalar_one()
    print(f"  {total:,} households; signed in as {MANAGER} (every area)", flush=True)
    if gc_freeze:
        for path in ("/readyz", "/pipeline", "/households"):
            client.get(path)
        gc.freeze()
        print("  gc.freeze() after warming up", flush=True)

    routes = [
        ("trivial route (/readyz)", "/readyz"),
        ("pipeline board", "/pipeline"),
        ("board, one area filter", "/pipeline?area=1"),
        ("household list, first page", "/households"),
        (f"search: surname prefix {values['surname']!r}", f"/households?q={values['surname']}"),
        ("search: postcode", f"/households?q={quote(values['postcode'])}"),
        ("search: email", f"/households?q={quote(values['email'])}"),
        ("household page", f"/households/{values['household_id']}"),
    ]
    print(f"  {'route':<42} {'median ms':>10} {'p95 ms':>9}  status", flush=True)
    for label, path in routes:
        median, p95, status = measure(client, path, repeat, warmup)
        print(f"  {label:<42} {median:>10.1f} {p95:>9.1f}  {status}", flush=True)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--gc-freeze", action="store_true", help="gc.freeze() once warm")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        run(backend, args.households, args.repeat, args.warmup, args.gc_freeze)


if __name__ == "__main__":
    main()
