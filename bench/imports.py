"""Benchmark: importing a 10,000-row tracker, beside a plain pandas read of the same file.

    python bench/imports.py [--rows 10000] [--format csv|xlsx] [--backend sqlite|postgresql]

Writes a tracker the way teams keep one (a title row, their own headings, sources in their own
words mapped by a mapping, dates as dd/mm/yyyy, about a third reaching an initial visit, some
withdrawn with free-text reasons), migrates a fresh database, then times, in the same run:

1. `pandas.read_csv` (or `read_excel`) of the file, which only reads it;
2. `crm.services.imports.tracker.import_tracker` dry run (read, check and plan every row);
3. the real import (all of that, then writing it in one transaction).

Aim: the import of 10,000 rows under 30 s on SQLite.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402
from sqlmodel import Session, func, select  # noqa: E402

import crm.models as m  # noqa: E402
from crm import clock  # noqa: E402
from crm.db import make_engine  # noqa: E402
from crm.migrate import upgrade  # noqa: E402
from crm.services.imports.mapping import ImportMapping  # noqa: E402
from crm.services.imports.tracker import import_tracker  # noqa: E402
from crm.services.reference import ensure_reference_data  # noqa: E402
from crm.settings import load_settings  # noqa: E402

POSTGRES_ENV = "FOSTERCRM_TEST_POSTGRES_URL"
HEADINGS = [
    "Ref", "Date of enquiry", "First name", "Surname", "Email", "Tel", "Postcode",
    "How did you hear about us", "IV date", "Application received", "Stage 1 start",
    "Stage 2 start", "Panel", "Approved", "Withdrawn", "Reason", "Notes",
]  # fmt: skip
SOURCES = ["Website", "Facebook", "Google", "Referral", "Radio", "Event"]
MAPPING = {
    "values": {
        "source": {
            "Website": "council_website", "Facebook": "social_media", "Google": "web_search",
            "Referral": "refer_a_friend", "Radio": "radio_tv", "Event": "event",
        },
        "reason": {"Financial reasons": "finances", "Not enough space at home": "space"},
    }
}  # fmt: skip
REASONS = ["Financial reasons", "Not enough space at home", "Moving house next year", "Job"]
FIRST = ["Amy", "Ben", "Cara", "Dev", "Eve", "Femi", "Gus", "Hana", "Ian", "Jo", "Kim", "Lou"]
LAST = ["Adams", "Brown", "Cole", "Patel", "Evans", "Okafor", "Grey", "Khan", "Lee", "Ng"]


def write_tracker(path: Path, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    start = date(2021, 1, 4)
    table = [["North and South fostering recruitment tracker"] + [""] * (len(HEADINGS) - 1)]
    table.append(HEADINGS)
    for n in range(rows):
        enquired = start + timedelta(days=rng.randrange(0, 1700))
        stages: list[date | None] = [None] * 6
        day = enquired
        for i, chance in enumerate([0.35, 0.55, 0.9, 0.85, 0.85, 0.95]):
            if rng.random() > chance:
                break
            day = day + timedelta(days=rng.randrange(5, 60))
            if day >= date(2026, 3, 1):
                break
            stages[i] = day
        reached = [s for s in stages if s]
        withdrawn = reason = None
        if len(reached) < 6 and rng.random() < 0.4:
            withdrawn = (reached[-1] if reached else enquired) + timedelta(
                days=rng.randrange(1, 30)
            )
            if withdrawn >= date(2026, 3, 1):
                withdrawn = None
            else:
                reason = rng.choice(REASONS)
        table.append(
            [
                f"T-{n:05d}",
                enquired.strftime("%d/%m/%Y"),
                rng.choice(FIRST),
                rng.choice(LAST),
                f"person{n}@example.org",
                f"07911 {n:06d}",
                rng.choice(["LE1 6ZG", "LE2 1AA", "NG1 1AA", "NG2 3DE"]),
                rng.choice(SOURCES),
                *[s.strftime("%d/%m/%Y") if s else "" for s in stages],
                withdrawn.strftime("%d/%m/%Y") if withdrawn else "",
                reason or "",
                rng.choice(["", "", "called twice", "keen on teenagers"]),
            ]
        )
    if path.suffix == ".xlsx":
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("Tracker")
        for row in table:
            sheet.append(row)
        workbook.save(path)
    else:
        with path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(table)


def organisation(engine) -> None:  # noqa: ANN001
    with Session(engine) as session:
        ensure_reference_data(session)
        hub = m.Hub(name="Bench hub")
        session.add(hub)
        session.flush()
        for name, districts in (("Northshire", ["LE1", "LE2"]), ("Southshire", ["NG1", "NG2"])):
            area = m.Area(hub_id=hub.id, name=name)
            session.add(area)
            session.flush()
            session.add_all(m.AreaPostcodeDistrict(district=d, area_id=area.id) for d in districts)
            for k in range(2):
                staff = m.StaffUser(
                    email=f"officer{k}@{name.lower()}.example",
                    name=f"Officer {k}",
                    role=m.Role.RECRUITMENT_OFFICER,
                    password_hash="-",
                )
                session.add(staff)
                session.flush()
                session.add(m.StaffArea(staff_id=staff.id, area_id=area.id))
        session.commit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    # A fixed "now", so the generated history (to early 2026) is all in the past.
    clock.set_now(datetime(2026, 3, 10, 10, tzinfo=UTC))
    with tempfile.TemporaryDirectory(prefix="fostercrm-bench-") as folder:
        path = Path(folder) / f"tracker.{args.format}"
        write_tracker(path, args.rows, args.seed)
        if args.backend == "sqlite":
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
        else:
            url = os.environ.get(POSTGRES_ENV)
            if not url:
                parser.error(f"set {POSTGRES_ENV}=postgresql://... for --backend postgresql")
        upgrade(url)
        engine = make_engine(url)
        organisation(engine)
        settings = load_settings(environ={}, database={"url": url})
        mapping = ImportMapping.from_dict(MAPPING)

        started = time.perf_counter()
        if args.format == "csv":
            frame = pd.read_csv(path, skiprows=1, dtype=str)
        else:
            frame = pd.read_excel(path, skiprows=1, dtype=str)
        pandas_seconds = time.perf_counter() - started

        with Session(engine) as session:
            started = time.perf_counter()
            dry = import_tracker(session, settings, path, mapping=mapping, dry_run=True)
            dry_seconds = time.perf_counter() - started
        with Session(engine) as session:
            started = time.perf_counter()
            report = import_tracker(session, settings, path, mapping=mapping)
            import_seconds = time.perf_counter() - started
            households = session.exec(select(func.count()).select_from(m.Household)).one()
            events = session.exec(select(func.count()).select_from(m.StageEvent)).one()
        engine.dispose()
        print(f"file:        {path.name}, {len(frame):,} rows, {path.stat().st_size / 1e6:.1f} MB")
        print(f"backend:     {args.backend}")
        print(f"pandas read: {pandas_seconds:.2f} s")
        print(f"dry run:     {dry_seconds:.2f} s ({dry.summary()})")
        print(f"import:      {import_seconds:.2f} s ({report.summary()})")
        print(f"written:     {households:,} households, {events:,} stage events")
        print(f"per row:     {import_seconds / args.rows * 1000:.2f} ms")
        if report.problems:
            print(f"problems:    {len(report.problems)} (first: {report.problems[0]})")
        return 0 if report.imported and import_seconds < 30 else 1


if __name__ == "__main__":
    raise SystemExit(main())
