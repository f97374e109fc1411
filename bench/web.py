"""Server time of every staff page on a big demo database, each beside /readyz.

What is measured: the time for the Flask app to answer a request end to end inside the process
(routing, session and sign-in check, every database query, template rendering), through the
WSGI test client, so no network or browser time is included. The pages are requested in
rounds, and in each round every page right after a trivial route (/readyz: one `SELECT 1`),
so the floor and the page are measured side by side under the same load (this machine is
shared); the table gives each page's median (p50) and 95th percentile and both as a ratio to
/readyz's.

The user is the demo manager (every area), the widest view and so the slowest. Pages: the
pipeline board, the household list (first page, and a deep page reached by its page links),
search (surname, the surname with a typo, postcode, email), a household page (with its
timeline and audit `view` write), the team's visits week, the carers list (first page and the
third), and the weekly report page, uncached (the app's report cache emptied first) and cached.

No ANALYZE that `fostercrm up` would not run: the database is upgraded as `up` does (which
analyses a database never analysed) and, when the demo data is built here, analysed after it
as `demo-data` does.

Usage:
    python bench/web.py                                  # SQLite, 100,000 households
    python bench/web.py --households 20000 --backend both
    python bench/web.py --database postgresql://... --households 20000
    python bench/web.py --backend postgresql             # needs FOSTERCRM_BENCH_POSTGRES_URL
                                                         # or FOSTERCRM_TEST_POSTGRES_URL

--gc-freeze calls gc.freeze() once the app is warm, as `fostercrm up` does after start-up:
the ~230,000 objects alive after importing everything then no longer make Python's full
(generation 2) garbage collections slow, which otherwise land on one request in twenty or so
and add 130-170 ms to it.

The demo database is built once (crm.demo) and kept: var/bench/web-<N>.db for SQLite, schema
fostercrm_bench_web_<N> for PostgreSQL, or the --database given (filled when empty). Delete it
to rebuild.
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
    from crm.db import refresh_statistics
    from crm.demo import generate

    upgrade(url)  # as `fostercrm up`: statistics only when the database has none
    engine = make_engine(url)
    with engine.connect() as conn:
        have = conn.execute(sa.text("SELECT count(*) FROM household")).scalar_one()
    if have == 0:
        print(f"  building demo data: {households:,} households (once)...", flush=True)
        started = time.perf_counter()
        summary = generate(
            engine, make_test_settings(url), households=households, seed=1, progress=True
        )
        refresh_statistics(engine)  # as `fostercrm demo-data` does after loading
        print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
        print("  " + summary.describe().replace("\n", "\n  "), flush=True)
    elif have != households:
        print(f"  note: database has {have:,} households (asked for {households:,})")
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
        # A letter left out of a whole surname: the forgiving search's case.
        "typo": surname[:-2] + surname[-1],
        "email": email,
        "postcode": postcode,
        "household_id": str(household_id),
    }


def percentile(times: list[float], share: float) -> float:
    times = sorted(times)
    return times[min(len(times) - 1, max(0, int(round(share * len(times))) - 1))]


def timed(client, path: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.get(path)
    return (time.perf_counter() - started) * 1000, response.status_code


def run(
    url: str,
    label: str,
    households: int,
    repeat: int,
    warmup: int,
    report_repeat: int,
    gc_freeze: bool,
) -> None:
    from crm import clock
    from crm.demo.organisation import DEMO_PASSWORD
    from crm.web import create_app
    from funnel.periods import IsoWeek

    print(f"\n== {label}, {households:,} households ==", flush=True)
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
    week = IsoWeek.last_complete(clock.now(), settings.service.timezone)
    report = f"/reports/weekly/{week}"

    def empty_report_cache() -> None:
        # Cold: the reports and the large tables kept under them (funnel.load.FrameStore);
        # bench/report_page.py times the page after one change and for another week too.
        app.extensions.pop("funnel_reports", None)
        app.extensions.pop("funnel_frames", None)

    deep = _deep_page(client, pages=40)
    routes = [
        ("pipeline board", "/pipeline", None),
        ("household list, first page", "/households", None),
        ("household list, page 40 (by its links)", deep, None),
        (
            f"search: surname start {values['surname']!r}",
            f"/households?q={values['surname']}",
            None,
        ),
        (f"search: typo {values['typo']!r}", f"/households?q={quote(values['typo'])}", None),
        ("search: postcode", f"/households?q={quote(values['postcode'])}", None),
        ("search: email", f"/households?q={quote(values['email'])}", None),
        ("household page", f"/households/{values['household_id']}", None),
        ("visits week, the team", "/visits?staff=team", None),
        ("carers list", "/carers", None),
        ("carers list, page 3", "/carers?page=3", None),
        ("weekly report page, cached", report, None),
        ("weekly report page, uncached", report, empty_report_cache),
    ]
    for _, path, before in [("readyz", "/readyz", None), *routes]:
        for _ in range(warmup):
            if before:
                before()
            client.get(path)
    if gc_freeze:
        gc.freeze()
        print("  gc.freeze() after warming up", flush=True)
    floor: dict[str, list[float]] = {name: [] for name, _, _ in routes}
    times: dict[str, list[float]] = {name: [] for name, _, _ in routes}
    statuses: dict[str, int] = {}
    for round_number in range(repeat):
        for name, path, before in routes:
            if before is not None and round_number >= report_repeat:
                continue  # seconds each: a few rounds tell enough
            floor[name].append(timed(client, "/readyz")[0])
            if before:
                before()
            ms, statuses[name] = timed(client, path)
            times[name].append(ms)
    print(
        f"  {'page':<44} {'p50 ms':>8} {'p95 ms':>8} {'x readyz':>10} {'p95 x':>7} "
        f"{'readyz p50':>12}  status",
        flush=True,
    )
    for name, _, _ in routes:
        p50, p95 = statistics.median(times[name]), percentile(times[name], 0.95)
        f50, f95 = statistics.median(floor[name]), percentile(floor[name], 0.95)
        print(
            f"  {name:<44} {p50:>8.1f} {p95:>8.1f} {p50 / f50:>10.1f} {p95 / f95:>7.1f} "
            f"{f50:>12.2f}  {statuses[name]}",
            flush=True,
        )
    engine.dispose()


def _deep_page(client, pages: int) -> str:
    """The household list's page `pages`, reached as a person would: following Next."""
    import html
    import re

    link = re.compile(r'href="([^"]+)" rel="next"')
    path = "/households"
    for _ in range(pages - 1):
        found = link.search(client.get(path).get_data(as_text=True))
        if found is None:
            break
        path = html.unescape(found.group(1))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--database", help="a database URL to use (filled when empty)")
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument(
        "--report-repeat", type=int, default=5, help="rounds of the uncached report"
    )
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--gc-freeze", action="store_true", help="gc.freeze() once warm")
    args = parser.parse_args()
    if args.database:
        targets = [(args.database, sa.make_url(args.database).get_backend_name())]
    else:
        backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
        targets = [(database_url(b, args.households), b) for b in backends]
    for url, label in targets:
        run(
            url,
            label,
            args.households,
            args.repeat,
            args.warmup,
            args.report_repeat,
            args.gc_freeze,
        )


if __name__ == "__main__":
    main()
