"""lifecycle: one live initial visit per household, tasks closed with a reason, one timeline
entry per check-in answer

Revision ID: 0006_lifecycle
Revises: 0005_sessions
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from crm import clock

revision: str = "0006_lifecycle"
down_revision: str | None = "0005_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE_INITIAL_VISIT = "kind = 'initial_visit' AND status = 'booked'"
DUPLICATE_REASON = "A second initial visit booked by mistake: the first booking stands"


def _resolve_duplicate_initial_visits() -> None:
    """The unique index cannot be built while a household has two live initial visits (one
    booking link posted many times at once could book several). A past one is taken as held,
    as the scheduler's scans take it; of the future ones the first booked stands and the
    others are cancelled with a reason."""
    appointment = sa.table(
        "appointment",
        sa.column("id", sa.Integer),
        sa.column("household_id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("status", sa.String),
        sa.column("starts_at", sqlmodel.sql.sqltypes.UTCDateTime()),
        sa.column("cancelled_at", sqlmodel.sql.sqltypes.UTCDateTime()),
        sa.column("cancel_reason", sa.String),
    )
    connection = op.get_bind()
    live = sa.and_(appointment.c.kind == "initial_visit", appointment.c.status == "booked")
    doubled = (
        sa.select(appointment.c.household_id)
        .where(live, appointment.c.household_id.is_not(None))
        .group_by(appointment.c.household_id)
        .having(sa.func.count() > 1)
    )
    rows = connection.execute(
        sa.select(appointment.c.id, appointment.c.household_id, appointment.c.starts_at)
        .where(live, appointment.c.household_id.in_(doubled))
        .order_by(appointment.c.household_id, appointment.c.id)
    ).all()
    now = clock.now()
    held, cancelled, kept = [], [], set()
    for appointment_id, household_id, starts_at in rows:
        if starts_at <= now:
            held.append(appointment_id)
        elif household_id in kept:
            cancelled.append(appointment_id)
        else:
            kept.add(household_id)
    if held:
        connection.execute(
            sa.update(appointment).where(appointment.c.id.in_(held)).values(status="completed")
        )
    if cancelled:
        connection.execute(
            sa.update(appointment)
            .where(appointment.c.id.in_(cancelled))
            .values(status="cancelled", cancelled_at=now, cancel_reason=DUPLICATE_REASON)
        )


def upgrade() -> None:
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.add_column(sa.Column("check_in_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_activity_check_in_id"), ["check_in_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_activity_check_in_id_check_in"), "check_in", ["check_in_id"], ["id"]
        )

    _resolve_duplicate_initial_visits()
    with op.batch_alter_table("appointment", schema=None) as batch_op:
        batch_op.create_index(
            "uq_appointment_initial_visit_booked",
            ["household_id"],
            unique=True,
            sqlite_where=sa.text(LIVE_INITIAL_VISIT),
            postgresql_where=sa.text(LIVE_INITIAL_VISIT),
        )

    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("closed_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.drop_column("closed_reason")

    with op.batch_alter_table("appointment", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_appointment_initial_visit_booked",
            sqlite_where=sa.text(LIVE_INITIAL_VISIT),
            postgresql_where=sa.text(LIVE_INITIAL_VISIT),
        )

    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_activity_check_in_id_check_in"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_activity_check_in_id"), type_="unique")
        batch_op.drop_column("check_in_id")
