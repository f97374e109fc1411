"""Runs every scheduler job (but the dispatcher) on a copy of a demo database at chosen times
and prints what they wrote: the job summaries, then the rows added or changed in the outbox,
tasks, check-ins, activities and households, sorted and without ids or creation times.

Written to prove that moving the reminders from code to specs changed nothing: run it before
and after and diff the output.

    FOSTERCRM_DATABASE_URL=sqlite:////tmp/eqv/demo.db \
        python -m crm.cli demo-data --households 400 --seed 1 --as-of 2026-11-20
    python bench/reminders_equivalence.py /tmp/eqv/demo.db > after.txt
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

from crm import clock
from crm.db import make_engine
from crm.scheduler.jobs import DISPATCH, JOBS
from crm.settings import load_settings

LONDON = ZoneInfo("Europe/London")
TABLES = ("outbox_message", "task", "check_in", "activity", "household", "carer")
LEFT_OUT = {"id", "created_at", "updated_at", "recorded_at"}
# Times of day that fall either side of the reminders' own hours (visit reminders from 10:00
# the day before and 07:00 on the day, office hours, the weekly report on Monday 08:00).
TIMES = ((6, 30), (8, 0), (10, 0), (15, 0), (23, 30))


def moments() -> list[datetime]:
    start = datetime(2026, 11, 20, tzinfo=LONDON)
    found = []
    for day in range(0, 29):
        for hour, minute in TIMES:
            if day % 3 and (hour, minute) not in ((10, 0), (8, 0)):
                continue
            found.append((start + timedelta(days=day)).replace(hour=hour, minute=minute))
    # A late start: nothing ran for three weeks, then everything runs.
    found.append(datetime(2027, 1, 11, 16, 45, tzinfo=LONDON))
    return found


def snapshot(engine: sa.Engine) -> dict[str, set[str]]:
    rows: dict[str, set[str]] = {}
    with engine.connect() as connection:
        for table in TABLES:
            result = connection.execute(sa.text(f"SELECT * FROM {table}"))  # noqa: S608
            names = list(result.keys())
            rows[table] = {
                json.dumps(
                    {k: v for k, v in zip(names, row, strict=True) if k not in LEFT_OUT},
                    sort_keys=True,
                    default=str,
                )
                for row in result
            }
    return rows


def main(source: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "copy.db"
        shutil.copy(source, path)
        url = f"sqlite:///{path}"
        settings = load_settings(database={"url": url}).model_copy(
            update={"secret_key": "equivalence-check-secret-key-0123456789"}
        )
        engine = make_engine(url)
        before = snapshot(engine)
        for moment in moments():
            with clock.frozen_at(moment):
                for spec in JOBS:
                    if spec.target == DISPATCH:
                        continue
                    for attempt in ("first", "again"):
                        with Session(engine, expire_on_commit=False) as session:
                            summary = spec.scan()(session, settings, clock.now())
                        print(f"{moment.isoformat()} {spec.id} {attempt}: {json.dumps(summary)}")
        after = snapshot(engine)
        for table in TABLES:
            for row in sorted(after[table] - before[table]):
                print(f"+ {table} {row}")
            for row in sorted(before[table] - after[table]):
                print(f"- {table} {row}")
        engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1])
