"""Server time of the weekly report page, uncached, on a big demo database.

What is measured: the time for the Flask app to answer GET /reports/weekly/<last full week>
end to end inside the process (sign-in check, loading the funnel data, every figure, the
page's template), through the WSGI test client, with the app's report cache emptied before
every request, beside a trivial route (/readyz: one `SELECT 1`) in the same run. The page's
charts are separate requests (its <img> sources): timed too, as the first chart after an
uncached page, since the page leaves them to be drawn when asked for. "Cached" is the same
page again with nothing changed (the cache key holds the data version, see crm/web/reports.py).
Rows are interleaved run by run; wall-clock and this process's CPU time are both printed
(the CPU time is steadier on a shared machine; PostgreSQL's own work is not in it).

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

    # Warm up: imports (pandas, matplotlib), templates, the database's own caches.
    timed(client, page, empty_cache)
    timed(client, f"{page}/funnel.png")
    print(f"{args.backend}, {total:,} households, {week}, signed in as {MANAGER}")
    if args.profile:
        import cProfile
        import pstats

        empty_cache()
        profiler = cProfile.Profile()
        profiler.enable()
        client.get(page)
        profiler.disable()
        stats = pstats.Stats(profiler).sort_stats("cumulative")
        stats.print_stats(args.profile)
        stats.sort_stats("tottime").print_stats(args.profile)
        return
    trivial, uncached, charts, cached = [], [], [], []
    for _ in range(args.repeat):
        # Interleaved, so a burst of load on the machine falls on every row alike.
        trivial.append(timed(client, "/readyz"))
        run = timed(client, page, empty_cache)
        assert run[1] == 200, run[1]
        uncached.append(run)
        charts.append(timed(client, f"{page}/funnel.png"))
        cached.append(timed(client, page))
        trivial.append(timed(client, "/readyz"))
    load = os.getloadavg()[0]
    print(f"  load average {load:.1f} on {os.cpu_count()} cores; {args.repeat} runs each")
    print(f"  {'':34} {'wall ms':>8} {'worst':>8} {'CPU ms':>8} {'worst':>8}")
    print(f"  {'trivial route (/readyz)':34} {summary(trivial)}")
    print(f"  {'report page, uncached':34} {summary(uncached)}")
    print(f"  {'report page, cached':34} {summary(cached)}")
    print(f"  {'first chart after it (funnel.png)':34} {summary(charts)}")
    engine.dispose()


if __name__ == "__main__":
    main()
