"""Server time of the matching search (/matching) over 20,000 carers and 30,000 placements.

What is measured: as bench/web.py, the time for the Flask app to answer a request end to end
inside the process (routing, the session and sign-in check, every query, rendering), through
the WSGI test client; the median and 95th percentile of --repeat requests after --warmup
untimed ones, beside a trivial route (/healthz) measured in the same run as the framework's
floor.

The data: a small demo (crm.demo, 2,000 households: the hub, its three areas, staff and their
sign-ins), then topped up through the demo's own bulk path (crm.demo.rows: ids handed out after
what the database holds, rows written in foreign-key order, COPY on PostgreSQL) to --carers
approved carers in the three areas with --placements placements, open and ended, so the search
reads a hub of that size. Terms, districts and placements are drawn from a fixed seed.

The searches are the manager's (every area): two siblings aged 6 and 9 in a Harrowdale
district, one teenager for a long-term placement, and a parent-and-child placement.

Usage:
    python bench/matching.py                          # SQLite
    python bench/matching.py --backend postgresql     # FOSTERCRM_BENCH_POSTGRES_URL or
                                                      # FOSTERCRM_TEST_POSTGRES_URL
The database is built once and kept: var/bench/matching-<N>.db, or the schema
fostercrm_bench_matching_<N>. Delete it to rebuild.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crm.db import make_engine, normalise_url  # noqa: E402
from crm.migrate import upgrade  # noqa: E402
from crm.testing.fixtures import make_test_settings  # noqa: E402

MANAGER = "manager@example.org"
TYPES = ["emergency", "short_term", "long_term", "short_breaks", "parent_and_child", "remand"]


def database_url(backend: str, carers: int) -> str:
    if backend == "sqlite":
        path = ROOT / "var" / "bench" / f"matching-{carers}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    base = os.environ.get("FOSTERCRM_BENCH_POSTGRES_URL") or os.environ.get(
        "FOSTERCRM_TEST_POSTGRES_URL"
    )
    if not base:
        raise SystemExit("Set FOSTERCRM_BENCH_POSTGRES_URL=postgresql://... for PostgreSQL")
    schema = f"fostercrm_bench_matching_{carers}"
    admin = sa.create_engine(normalise_url(base))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    admin.dispose()
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options={quote(f'-csearch_path={schema}')}"


def top_up(engine: sa.Engine, carers: int, placements: int) -> None:
    """Approved carers and placements through crm.demo.rows, up to the numbers asked for."""
    from crm.demo.rows import Ids, Rows

    rng = random.Random(12)
    with engine.connect() as conn:
        have_carers = conn.execute(sa.text("SELECT count(*) FROM carer")).scalar_one()
        have_placements = conn.execute(sa.text("SELECT count(*) FROM placement")).scalar_one()
        areas = conn.execute(sa.text("SELECT id FROM area ORDER BY id")).scalars().all()
        districts = {
            a: conn.execute(
                sa.text("SELECT district FROM area_postcode_district WHERE area_id = :a"), {"a": a}
            )
            .scalars()
            .all()
            for a in areas
        }
        supervisors = (
            conn.execute(
                sa.text("SELECT id FROM staff_user WHERE role = 'supervising_social_worker'")
            )
            .scalars()
            .all()
        )
    new_carers = max(0, carers - have_carers)
    new_placements = max(0, placements - have_placements)
    if not new_carers and not new_placements:
        return
    print(f"  topping up: {new_carers:,} carers, {new_placements:,} placements", flush=True)
    now = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    with engine.connect() as conn:
        rows = Rows()
        ids = Ids(conn, rows.tables)
        made: list[tuple[int, int, date]] = []
        for n in range(new_carers):
            area = rng.choice(areas)
            hid = ids.take("household")
            approved = date(2016, 1, 1) + timedelta(days=rng.randint(0, 3600))
            rows.add(
                "household", id=hid, reference=f"BM-{hid:07d}", area_id=area,
                postcode=f"{rng.choice(districts[area])} {rng.randint(1, 9)}AB",
                enquiry_channel="web_form", stage="approved", stage_entered_at=now,
                enquired_at=now - timedelta(days=4000), created_at=now, updated_at=now,
            )  # fmt: skip
            rows.add(
                "applicant", id=ids.take("applicant"), household_id=hid, position=1,
                first_name="Bench", last_name=f"Carer{n}", created_at=now,
            )  # fmt: skip
            places = rng.choices((1, 2, 3, 4), weights=(40, 40, 15, 5))[0]
            age_min, age_max = rng.choice(((0, 4), (0, 10), (0, 17), (5, 17), (11, 17)))
            types = sorted(set(rng.sample(TYPES, rng.randint(1, 3))) | {"short_term"})
            specialisms = [s for s, p in (("sibling_groups", 0.3), ("disability", 0.1),
                                          ("teenagers", 0.2)) if rng.random() < p]  # fmt: skip
            if "parent_and_child" in types:
                specialisms.append("parent_and_child")
            cid = ids.take("carer")
            rows.add(
                "carer", id=cid, household_id=hid, approved_on=approved, places=places,
                age_min=age_min, age_max=age_max, fostering_types=types, specialisms=specialisms,
                is_family_and_friends=False, status="on_break" if rng.random() < 0.05 else "active",
                supervising_social_worker_id=rng.choice(supervisors), at_risk=rng.random() < 0.04,
                annual_review_due=date(2026, 1, 1) + timedelta(days=rng.randint(0, 400)),
                tsd_due=approved + timedelta(days=365), status_changed_at=now, created_at=now,
            )  # fmt: skip
            made.append((cid, places, approved))
            if len(rows.buffer["household"]) >= 5000:
                rows.flush(conn)
        rows.flush(conn)
        if not made:
            made = [
                (cid, places, approved)
                for cid, places, approved in conn.execute(
                    sa.text("SELECT id, places, approved_on FROM carer")
                ).all()
            ]
        for _ in range(new_placements):
            cid, places, approved = rng.choice(made)
            approved = approved if isinstance(approved, date) else date.fromisoformat(approved)
            start = approved + timedelta(
                days=rng.randint(0, max(1, (date(2026, 3, 1) - approved).days))
            )
            # About half still live: most carers keep a vacancy or two.
            ended = None if rng.random() < 0.45 else start + timedelta(days=rng.randint(1, 600))
            if ended is not None and ended > date(2026, 3, 9):
                ended = date(2026, 3, 9)
            pid = ids.take("placement")
            rows.add(
                "placement", id=pid, carer_id=cid, child_reference=f"BM-{pid}",
                fostering_type=rng.choice(TYPES), started_on=start, ended_on=ended,
                child_age=rng.randint(0, 17), placing_authority="Harrowdale", created_at=now,
                ending=None if ended is None else "planned",
            )  # fmt: skip
            if len(rows.buffer["placement"]) >= 10000:
                rows.flush(conn)
        rows.flush(conn)
        if conn.dialect.name == "postgresql":
            from crm.demo import _fix_sequences

            _fix_sequences(conn, ids.tables)
        conn.commit()


def prepare(url: str, carers: int, placements: int) -> None:
    from crm.demo import generate

    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        have = conn.execute(sa.text("SELECT count(*) FROM household")).scalar_one()
    if have == 0:
        print("  building the demo (2,000 households, once)...", flush=True)
        generate(engine, make_test_settings(url), households=2000, seed=1, progress=False)
    top_up(engine, carers, placements)
    with engine.begin() as conn:
        # Only this schema's tables: a bare ANALYZE on PostgreSQL reads every schema in the
        # database (other runs' too) and can deadlock with one being dropped.
        tables = ("household", "applicant", "carer", "placement", "area", "area_postcode_district")
        for name in tables:
            conn.execute(sa.text(f"ANALYZE {name}"))
    engine.dispose()


def measure(client, path: str, repeat: int, warmup: int) -> tuple[float, float, float, int]:
    """Median and p95 wall time, and the median CPU time of this process (the part a busy
    machine's other work does not inflate)."""
    for _ in range(warmup):
        client.get(path)
    times, cpu = [], []
    status = 0
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        status = response.status_code
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]
    return statistics.median(times), p95, statistics.median(cpu), status


def run(backend: str, carers: int, placements: int, repeat: int, warmup: int) -> None:
    from crm.demo.organisation import DEMO_PASSWORD
    from crm.web import create_app

    print(f"\n== {backend}: {carers:,} carers, {placements:,} placements ==", flush=True)
    url = database_url(backend, carers)
    prepare(url, carers, placements)
    settings = make_test_settings(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        counted = conn.execute(sa.text("SELECT count(*) FROM carer")).scalar_one()
        placed = conn.execute(sa.text("SELECT count(*) FROM placement")).scalar_one()
        live = conn.execute(
            sa.text("SELECT count(*) FROM placement WHERE ended_on IS NULL")
        ).scalar_one()
        district = conn.execute(
            sa.text(
                "SELECT d.district FROM area_postcode_district d JOIN area a ON a.id = d.area_id "
                "ORDER BY a.id, d.district LIMIT 1"
            )
        ).scalar_one()
    print(f"  {counted:,} carers, {placed:,} placements ({live:,} live)", flush=True)
    app = create_app(settings, engine=engine, secret_key="bench-secret-key-0123456789abcdef")
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    signed = client.post("/sign-in", data={"email": MANAGER, "password": DEMO_PASSWORD})
    if signed.status_code != 302:
        raise SystemExit(f"could not sign in as {MANAGER}")
    client.get("/healthz")
    gc.freeze()
    routes = [
        ("trivial route (/healthz)", "/healthz"),
        (f"siblings 6 and 9 near {district}", f"/matching?ages=6%2C+9&postcode={district}"),
        (
            "teenager, long term",
            f"/matching?ages=14&fostering_type=long_term&how_long=years&postcode={district}",
        ),
        (
            "parent and child",
            f"/matching?ages=0&specialisms=parent_and_child&postcode={district}",
        ),
    ]
    print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    print(f"  {'route':<42} {'median ms':>10} {'p95 ms':>9} {'CPU ms':>8}  status", flush=True)
    for label, path in routes:
        median, p95, cpu, status = measure(client, path, repeat, warmup)
        print(f"  {label:<42} {median:>10.1f} {p95:>9.1f} {cpu:>8.1f}  {status}", flush=True)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--carers", type=int, default=20_000)
    parser.add_argument("--placements", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        run(backend, args.carers, args.placements, args.repeat, args.warmup)


if __name__ == "__main__":
    main()
