"""The migrations are the schema: an empty database upgrades to head on SQLite and PostgreSQL,
and the result matches the models exactly (nothing left for autogenerate)."""

import pytest
import sqlalchemy as sa
from alembic import command
from sqlmodel import SQLModel

import crm.models  # noqa: F401
from crm.db import make_engine
from crm.migrate import alembic_config, heads, upgrade


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_there_is_one_head():
    assert len(heads()) == 1, f"several migration heads: {heads()}"


# SQLite cannot reflect expression indexes (lower(last_name) for search); autogenerate skips
# them there with this warning, and PostgreSQL compares them in full.
@pytest.mark.filterwarnings(
    "ignore:Skipped unsupported reflection of expression-based index:sqlalchemy.exc.SAWarning"
)
def test_empty_database_upgrades_to_head_and_matches_the_models(empty_database):
    assert table_names(empty_database) == set()
    upgrade(empty_database, "head")
    assert table_names(empty_database) == set(SQLModel.metadata.tables) | {"alembic_version"}
    # Raises if autogenerate would find anything to change.
    command.check(alembic_config(empty_database))


def test_downgrade_to_base_and_up_again(empty_database):
    upgrade(empty_database, "head")
    command.downgrade(alembic_config(empty_database), "base")
    assert table_names(empty_database) == {"alembic_version"}
    upgrade(empty_database, "head")
    assert "household" in table_names(empty_database)
