"""The shape of a small demo (rows per table, households per stage) for the golden test:
`python -m tests.crm.demo.demo_summary > tests/crm/demo/golden_demo_summary.json` rebuilds it."""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import SQLModel

import crm.models  # noqa: F401  (every table on the metadata)
from crm.db import make_engine
from crm.demo import generate
from crm.migrate import upgrade
from crm.settings import load_settings

HOUSEHOLDS = 400
SEED = 1
AS_OF = date(2026, 3, 10)


def summarise(engine: sa.Engine) -> dict[str, dict[str, int]]:
    counts: dict[str, int] = {}
    stages: dict[str, int] = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            counts[table.name] = conn.execute(
                sa.select(sa.func.count()).select_from(table)
            ).scalar_one()
        household = SQLModel.metadata.tables["household"]
        for stage, number in conn.execute(
            sa.select(household.c.stage, sa.func.count()).group_by(household.c.stage)
        ):
            stages[str(stage)] = number
    return {"rows": dict(sorted(counts.items())), "stages": dict(sorted(stages.items()))}


def build(folder: Path) -> dict[str, dict[str, int]]:
    url = f"sqlite:///{folder / 'demo.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        settings = load_settings(environ={}, database={"url": url})
        generate(engine, settings, households=HOUSEHOLDS, seed=SEED, as_of=AS_OF)
        return summarise(engine)
    finally:
        engine.dispose()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        json.dump(build(Path(folder)), sys.stdout, indent=1)
        print()
