"""crm.db: a savepoint is part of the caller's transaction on both databases."""

from __future__ import annotations

import pytest
from sqlmodel import select

import crm.models as m
from crm.db import has_statistics, refresh_statistics, savepoint


def _area(org, name: str) -> m.Area:  # noqa: ANN001
    return m.Area(name=name, hub_id=org.hub.id)


def test_a_savepoint_as_the_first_statement_is_rolled_back_with_the_transaction(session, org):
    # The first statement of the transaction is the savepoint (nothing written before it).
    session.commit()
    with savepoint(session):
        session.add(_area(org, "Written inside the savepoint"))
    session.rollback()
    names = session.exec(select(m.Area.name)).all()
    assert "Written inside the savepoint" not in names


def test_a_failed_savepoint_undoes_only_its_own_writes(session, org):
    session.add(_area(org, "Before"))
    session.flush()
    with pytest.raises(RuntimeError), savepoint(session):
        session.add(_area(org, "Inside"))
        session.flush()
        raise RuntimeError("undo this part")
    session.commit()
    names = session.exec(select(m.Area.name)).all()
    assert "Before" in names and "Inside" not in names


def test_statistics_are_refreshed_after_a_bulk_load(engine, session, settings, org):
    from crm.testing.fixtures import new_household

    new_household(session, settings)  # SQLite keeps no statistics of an empty table
    session.close()
    # On PostgreSQL this is VACUUM (ANALYZE), which must run outside a transaction.
    assert refresh_statistics(engine)
    with engine.connect() as connection:
        assert has_statistics(connection)
    # Start-up leaves a database that has statistics as it is.
    assert refresh_statistics(engine, only_if_missing=True) is False
