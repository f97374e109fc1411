"""Migrations upgrade a database holding demo data without losing a row (issue 11).

The demo is generated at head, taken down to 0018_perf (the last revision before the
assessment, panel, carer-support and import work) and upgraded again: every table that
existed at 0018 keeps exactly the rows it had there, and the households are all still there.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from alembic import command

from crm.db import make_engine
from crm.demo import generate
from crm.migrate import alembic_config, upgrade
from crm.settings import load_settings

BEFORE_THE_NEW_WORK = "0018_perf"


def row_counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            return {
                name: conn.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar_one()
                for name in names
                if name != "alembic_version"
            }
    finally:
        engine.dispose()


def test_demo_data_survives_the_migrations_up_to_head(empty_database):
    database = empty_database
    upgrade(database)
    engine = make_engine(database)
    try:
        settings = load_settings(environ={}, database={"url": database})
        generate(engine, settings, households=150, seed=3, as_of=date(2026, 3, 10))
    finally:
        engine.dispose()
    at_head = row_counts(database)
    assert at_head["household"] == 150

    command.downgrade(alembic_config(database), BEFORE_THE_NEW_WORK)
    before = row_counts(database)
    assert before["household"] == 150
    assert "panel_meeting" not in before  # really taken down past the new tables

    upgrade(database)
    after = row_counts(database)
    lost = {
        name: (count, after.get(name)) for name, count in before.items() if after.get(name) != count
    }
    assert lost == {}, f"rows lost or changed by upgrading (before, after): {lost}"
    assert set(after) == set(at_head)
