"""SQLite's bulk load (crm.demo.rows.sqlite_load): into empty tables one transaction without
the secondary indexes, which are built again at the end; a broken foreign key found at the end
undoes it all; the connection's settings are put back either way."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from crm.db import make_engine
from crm.demo.rows import Rows, _sqlite_values, sqlite_load

AT = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)


def indexes(connection: sa.Connection) -> set[tuple[str, str]]:
    return set(
        connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        ).all()
    )


def settings(connection: sa.Connection) -> dict[str, int]:
    return {
        name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
        for name in ("synchronous", "cache_size", "foreign_keys")
    }


def add_household(rows: Rows, household_id: int, area_id: int | None) -> None:
    rows.add(
        "household",
        id=household_id,
        reference=f"FC-TEST-{household_id}",
        area_id=area_id,
        enquiry_channel="web_form",
        stage="enquiry",
        stage_entered_at=AT,
        enquired_at=AT,
        created_at=AT,
        updated_at=AT,
    )


@pytest.fixture
def engine(sqlite_url: str):
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


def test_into_empty_tables_indexes_are_dropped_for_the_load_and_built_again(engine):
    rows = Rows()
    with engine.connect() as connection:
        before, was = indexes(connection), settings(connection)
        household_indexes = {name for name, sql in before if " ON household " in sql}
        assert household_indexes
        with sqlite_load(connection, rows.tables) as one_transaction:
            assert one_transaction
            names = {name for name, _ in indexes(connection)}
            assert not household_indexes & names
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 0
            add_household(rows, 1, None)
            rows.flush(connection)
        assert indexes(connection) == before
        assert settings(connection) == was
        assert connection.exec_driver_sql("SELECT count(*) FROM household").scalar() == 1


def test_a_broken_foreign_key_undoes_the_whole_load(engine):
    rows = Rows()
    with engine.connect() as connection:
        before, was = indexes(connection), settings(connection)
        broken = pytest.raises(RuntimeError, match="foreign key: household row 2 refers to")
        with broken, sqlite_load(connection, rows.tables):
            add_household(rows, 1, None)
            add_household(rows, 2, 999)  # no such area
            rows.flush(connection)
        assert connection.exec_driver_sql("SELECT count(*) FROM household").scalar() == 0
        assert indexes(connection) == before
        assert settings(connection) == was


def test_beside_existing_rows_the_indexes_stay_and_the_caller_commits(engine):
    rows = Rows()
    with engine.connect() as connection:
        add_household(rows, 1, None)
        rows.flush(connection)
        connection.commit()
        before = indexes(connection)
        with sqlite_load(connection, rows.tables) as one_transaction:
            assert not one_transaction
            assert indexes(connection) == before
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            add_household(rows, 2, None)
            rows.flush(connection)
        assert connection.exec_driver_sql("SELECT count(*) FROM household").scalar() == 2


def test_rows_made_for_sqlite_hold_what_sqlite_stores_and_refuse_other_databases(engine):
    """The generator's rows carry SQLite's values from the start (crm.demo.rows.Rows with a
    dialect): the same values a flush converts plain rows to."""
    plain, stored = Rows(), Rows(engine.dialect)
    for rows in (plain, stored):
        add_household(rows, 1, None)
        rows.carer(
            id=1, household_id=1, approved_on=date(2026, 1, 5), fostering_types=["short_term"],
            specialisms=[], is_family_and_friends=False, status="active",
            status_changed_at=AT, created_at=AT,
        )  # fmt: skip
    for table in plain.tables:
        converted = _sqlite_values(
            table, plain.buffer[table.name], engine.dialect, plain.texts, plain.converters
        )
        assert stored.buffer[table.name] == converted
    assert stored.buffer["household"][0][-1] == "2026-03-09 10:00:00.000000"
    # Refused before anything is written: a stand-in with only PostgreSQL's dialect will do.
    with pytest.raises(ValueError, match="made for SQLite"):
        stored.flush(SimpleNamespace(dialect=postgresql.dialect()))
