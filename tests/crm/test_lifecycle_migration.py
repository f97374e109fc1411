"""Upgrading a database where one booking link booked several initial visits (before the
database refused a second one): the upgrade keeps the first booking, cancels the others with a
reason, takes a past one as held, and then builds the unique index."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel.sql.sqltypes import UTCDateTime

from crm import clock
from crm.db import make_engine
from crm.migrate import upgrade
from crm.testing.fixtures import drop_postgres_schema, postgres_url


@pytest.fixture
def old_database(backend, tmp_path):
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    schema = f"fostercrm_lifecycle_migration_{os.getpid()}"
    yield postgres_url(schema)
    drop_postgres_schema(schema)


def table(name: str, *columns: str) -> sa.TableClause:
    # Plain tables, not the models: the models follow the newest schema, and this database is
    # still at the revision before ours.
    return sa.table(
        name, *(sa.column(c, UTCDateTime() if c.endswith("_at") else None) for c in columns)
    )


STAFF = table("staff_user", "id", "email", "name", "role", "password_hash", "active",
              "failed_sign_ins", "created_at")  # fmt: skip
HOUSEHOLD = table("household", "id", "reference", "enquiry_channel", "stage", "stage_entered_at",
                  "enquired_at", "is_kinship", "created_at", "updated_at")  # fmt: skip
APPOINTMENT = table("appointment", "id", "kind", "status", "staff_id", "household_id",
                    "starts_at", "ends_at", "booked_by_label", "created_at", "cancelled_at",
                    "cancel_reason")  # fmt: skip


def test_the_upgrade_keeps_one_live_initial_visit_per_household(old_database):
    upgrade(old_database, "0004_bot")
    engine = make_engine(old_database)
    now = clock.now()
    with engine.begin() as conn:
        staff_id = conn.execute(
            sa.insert(STAFF)
            .values(email="o@test.example", name="O", role="recruitment_officer",
                    password_hash="x", active=True, failed_sign_ins=0, created_at=now)
            .returning(STAFF.c.id)
        ).scalar_one()  # fmt: skip
        households = [
            conn.execute(
                sa.insert(HOUSEHOLD)
                .values(reference=reference, enquiry_channel="web_form", stage="enquiry",
                        stage_entered_at=now, enquired_at=now, is_kinship=False,
                        created_at=now, updated_at=now)
                .returning(HOUSEHOLD.c.id)
            ).scalar_one()
            for reference in ("FC-1", "FC-2")
        ]  # fmt: skip
        doubled, single = households
        rows = [
            (doubled, -2),  # the past one: held
            (doubled, 3),  # booked first: stands
            (doubled, 1),
            (doubled, 5),
            (single, 2),
        ]
        for household_id, days in rows:
            starts = now + timedelta(days=days)
            conn.execute(
                sa.insert(APPOINTMENT).values(
                    kind="initial_visit",
                    status="booked",
                    staff_id=staff_id,
                    household_id=household_id,
                    starts_at=starts,
                    ends_at=starts + timedelta(minutes=90),
                    booked_by_label="test",
                    created_at=now,
                )
            )

    upgrade(old_database, "head")

    with engine.connect() as conn:
        visits = conn.execute(
            sa.select(
                APPOINTMENT.c.household_id,
                APPOINTMENT.c.status,
                APPOINTMENT.c.cancel_reason,
                APPOINTMENT.c.cancelled_at,
            ).order_by(APPOINTMENT.c.id)
        ).all()
    engine.dispose()
    assert [(v[0], v[1]) for v in visits] == [
        (doubled, "completed"),
        (doubled, "booked"),
        (doubled, "cancelled"),
        (doubled, "cancelled"),
        (single, "booked"),
    ]
    assert visits[2][2].startswith("A second initial visit booked by mistake")
    assert visits[2][3] == now and visits[1][2] is None and visits[4][2] is None
