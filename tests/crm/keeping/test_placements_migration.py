"""Upgrading to 0022_placements: each carer's date-only 'last supervision' becomes a
supervision visit row, so there is one record of visits; placements keep their rows."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from sqlmodel.sql.sqltypes import UTCDateTime

from crm.db import make_engine
from crm.migrate import upgrade
from crm.testing.fixtures import drop_postgres_schema, postgres_url


@pytest.fixture
def old_database(backend, tmp_path):
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    schema = f"fostercrm_placements_migration_{os.getpid()}"
    yield postgres_url(schema)
    drop_postgres_schema(schema)


def table(name: str, *columns: str) -> sa.TableClause:
    # Plain tables: the models follow the newest schema.
    return sa.table(
        name, *(sa.column(c, UTCDateTime() if c.endswith("_at") else None) for c in columns)
    )


HOUSEHOLD = table("household", "id", "reference", "enquiry_channel", "stage", "stage_entered_at",
                  "enquired_at", "is_kinship", "created_at", "updated_at")  # fmt: skip
CARER = table("carer", "id", "household_id", "approved_on", "places", "age_min", "age_max",
              "fostering_types", "specialisms", "is_family_and_friends", "status",
              "status_changed_at", "at_risk", "created_at", "last_supervision_at")  # fmt: skip
PLACEMENT = table("placement", "id", "carer_id", "child_reference", "fostering_type",
                  "started_on", "created_at")  # fmt: skip


def test_last_supervision_dates_become_visits(old_database):
    upgrade(old_database, "0018_perf")
    engine = make_engine(old_database)
    now = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    with engine.begin() as conn:
        for n, last in ((1, datetime(2026, 2, 20, 12, 0, tzinfo=UTC)), (2, None)):
            conn.execute(
                sa.insert(HOUSEHOLD).values(
                    id=n, reference=f"FC-{n}", enquiry_channel="web_form", stage="approved",
                    stage_entered_at=now, enquired_at=now, is_kinship=False, created_at=now,
                    updated_at=now,
                )
            )  # fmt: skip
            conn.execute(
                sa.insert(CARER).values(
                    id=n, household_id=n, approved_on=date(2025, 1, 6), places=2, age_min=0,
                    age_max=17, fostering_types="[]", specialisms="[]",
                    is_family_and_friends=False, status="active", status_changed_at=now,
                    at_risk=False, created_at=now, last_supervision_at=last,
                )
            )  # fmt: skip
        conn.execute(
            sa.insert(PLACEMENT).values(
                id=1, carer_id=1, child_reference="C-1", fostering_type="long_term",
                started_on=date(2025, 6, 1), created_at=now,
            )
        )  # fmt: skip
    upgrade(old_database)
    with engine.connect() as conn:
        visits = conn.execute(
            sa.text("SELECT carer_id, visited_on, kind, notes FROM supervision_visit")
        ).all()
        placement = conn.execute(
            sa.text("SELECT child_reference, emergency, ending FROM placement")
        ).one()
    engine.dispose()
    assert [(c, str(on)[:10], kind, notes) for c, on, kind, notes in visits] == [
        (1, "2026-02-20", "announced", None)
    ]
    assert tuple(placement) == ("C-1", False, None)
