"""Server time of the weekly report page, uncached, on a big demo database.

What is measured: the time for the Flask app to answer GET /reports/weekly/<last full week>
end to end inside the process (sign-in check, reading the funnel data, every figure, the
page's template), through the WSGI test client, beside a trivial route (/readyz: one
`SELECT 1`) in the same run. The app keeps two things between requests (crm/web/reports.py):
the reports themselves (per week, areas, reader and data version) and the large tables the
funnel reads (funnel.load.FrameStore, per data version, shared by every week and area). So
the page is timed four ways, each with the report cache emptied first:

- cold: nothing kept either (the first request after the process starts: every row read);
- after one new stage event: a household moved by the pipeline service just before (as a
  member of staff would), so the data version has changed and only the changes are read;
- another week: the week before, with the tables kept (no change since);
- cached: the same page again with nothing changed.

The page's charts are separate requests (its <img> sources): timed too, as the first chart
after an uncached page, since the page leaves them to be drawn when asked for. Rows are
interleaved run by run; wall-clock and this process's CPU time are both printed (the CPU time
is steadier on a shared machine; PostgreSQL's own work is not in it). The stage events the
bench adds stay in the bench database.

The user is the demo manager (every area: the widest view). The demo database is built once
by bench/web.py's `prepare` and kept (var/bench/web-<N>.db, or its PostgreSQL schema).

Usage:
    python bench/report_page.py                        # SQLite, 100,000 households
    python bench/report_page.py --households 2000 --repeat 5
    python bench/report_page.py --backend postgresql
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import sqlalchemy as sa  # noqa: E402
from web import MANAGER, database_url, prepare  # noqa: E402

from crm import clock  # noqa: E402
from crm.db import make_engine  # noqa: E402
from crm.testing.fixtures import make_test_settings  # noqa: E402
from funnel.periods import IsoWeek  # noqa: E402


def timed(client, path: str, before=None) -> tuple[float, int, float]:
    """Wall-clock ms, status, and this process's CPU ms (SQLite runs inside it; PostgreSQL's
    own work is not in it). On a shared machine the CPU time is the steadier of the two."""
    if before:
        before()
    cpu, started = time.process_time(), time.perf_counter()
    response = client.get(path)
    wall = (time.perf_counter() - started) * 1000
    return wall, response.status_code, (time.process_time() - cpu) * 1000


def summary(runs: list[tuple[float, int, float]]) -> str:
    walls = sorted(r[0] for r in runs)
    cpus = sorted(r[2] for r in runs)
    return (
        f"{statistics.median(walls):8.0f} {walls[-1]:8.0f} {statistics.median(cpus):8.0f}"
        f" {cpus[-1]:8.0f}"
    )


def households_to_move(engine, n: int) -> list[int]:
    """Households still at enquiry, the newest first: each run moves one of them on."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.text(
                    "SELECT id FROM household WHERE stage = 'enquiry' ORDER BY id DESC LIMIT :n"
                ),
                {"n": n},
            ).scalars()
        )


def move_one(engine, settings, household_id: int) -> None:
    """One stage event, written as staff would write it: through the pipeline service."""
    from sqlmodel import Session

    from crm.services.actors import Actor
    from crm.services.pipeline import move_stage

    with Session(engine) as session:
        move_stage(
            session,
            Actor.system("bench"),
            household_id,
            "withdrawn",
            reason_code="other",
            reason_text="Moved away",
            settings=settings,
        )
        session.commit()


def main() -> None:
    from crm.demo.organisation import DEMO_PASSWORD
    from crm.web import create_app

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--profile",
        metavar="N",
        type=int,
        default=0,
        help="print cProfile's N slowest functions (cumulative) of one uncached page, then stop",
    )
    args = parser.parse_args()

    url = database_url(args.backend, args.households)
    prepare(url, args.households)
    settings = make_test_settings(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        total = conn.execute(sa.text("SELECT count(*) FROM household")).scalar_one()
    app = create_app(settings, engine=engine, secret_key="bench-secret-key-0123456789abcdef")
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    signed = client.post("/sign-in", data={"email": MANAGER, "password": DEMO_PASSWORD})
    if signed.status_code != 302:
        raise SystemExit(f"could not sign in as {MANAGER}")
    week = IsoWeek.last_complete(clock.now(), settings.service.timezone)
    page = f"/reports/weekly/{week}"

    def empty_cache() -> None:
        app.extensions.pop("funnel_reports", None)

    def cold() -> None:
        empty_cache()
        app.extensions.pop("funnel_frames", None)

    movable = iter(households_to_move(engine, args.repeat + 2))

    def one_new_event() -> None:
        move_one(engine, settings, next(movable))
        empty_cache()

    # Warm up: imports (pandas, matplotlib), templates, the database's own caches.
    timed(client, page, cold)
    timed(client, page, one_new_event)
    timed(client, f"{page}/funnel.png")
    print(f"{args.backend}, {total:,} households, {week}, signed in as {MANAGER}")
    if args.profile:
        import cProfile
        import pstats

        cold()
        profiler = cProfile.Profile()
        profiler.enable()
        client.get(page)
        profiler.disable()
        stats = pstats.Stats(profiler).sort_stats("cumulative")
        stats.print_stats(args.profile)
        stats.sort_stats("tottime").print_stats(args.profile)
        return
    previous = f"/reports/weekly/{week.shift(-1)}"
    rows: dict[str, list] = {
        "trivial route (/readyz)": [],
        "report page, cold (nothing kept)": [],
        "report page, after one new event": [],
        "report page, another week": [],
        "report page, cached": [],
        "first chart after it (funnel.png)": [],
    }
    trivial, cold_runs, after_event, other_week, cached, charts = rows.values()
    for _ in range(args.repeat):
        # Interleaved, so a burst of load on the machine falls on every row alike.
        trivial.append(timed(client, "/readyz"))
        for runs, path, before in (
            (cold_runs, page, cold),
            (after_event, page, one_new_event),
            (other_week, previous, empty_cache),
        ):
            run = timed(client, path, before)
            assert run[1] == 200, run[1]
            runs.append(run)
        charts.append(timed(client, f"{previous}/funnel.png"))
        cached.append(timed(client, previous))
        trivial.append(timed(client, "/readyz"))
    load = os.getloadavg()[0]
    print(f"  load average {load:.1f} on {os.cpu_count()} cores; {args.repeat} runs each")
    print(f"  {'':34} {'wall ms':>8} {'worst':>8} {'CPU ms':>8} {'worst':>8}")
    for label, runs in rows.items():
        print(f"  {label:34} {summary(runs)}")
    engine.dispose()


if __name__ == "__main__":
    main()
