"""carer notice: withdrawn, and the day the approval ended, so a carer who withdraws their
notice or is approved again after leaving may give notice again (one live notice per carer)

Revision ID: 0030_carer_notice_withdrawn
Revises: 0029_carer_leaving
Create Date: 2026-12-04 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030_carer_notice_withdrawn"
down_revision: str | None = "0029_carer_leaving"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE_NOTICE = "withdrawn_on IS NULL AND approval_ended_on IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("carer_leaving") as batch:
        batch.add_column(sa.Column("withdrawn_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("withdrawn_reason", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("approval_ended_on", sa.Date(), nullable=True))
        batch.drop_constraint(op.f("uq_carer_leaving_carer_id"), type_="unique")
        batch.create_check_constraint(
            op.f("ck_carer_leaving_withdrawn_or_ended"),
            "withdrawn_on IS NULL OR approval_ended_on IS NULL",
        )
    # A notice whose carer has since been deregistered has ended.
    op.execute(
        "UPDATE carer_leaving SET approval_ended_on = (SELECT carer.deregistered_on FROM carer "
        "WHERE carer.id = carer_leaving.carer_id AND carer.status = 'deregistered') "
        "WHERE approval_ended_on IS NULL"
    )
    op.create_index(op.f("ix_carer_leaving_carer_id"), "carer_leaving", ["carer_id"])
    op.create_index(
        "uq_carer_leaving_live",
        "carer_leaving",
        ["carer_id"],
        unique=True,
        sqlite_where=sa.text(LIVE_NOTICE),
        postgresql_where=sa.text(LIVE_NOTICE),
    )


def downgrade() -> None:
    op.drop_index("uq_carer_leaving_live", table_name="carer_leaving")
    op.drop_index(op.f("ix_carer_leaving_carer_id"), table_name="carer_leaving")
    with op.batch_alter_table("carer_leaving") as batch:
        batch.drop_constraint(op.f("ck_carer_leaving_withdrawn_or_ended"), type_="check")
        batch.create_unique_constraint(op.f("uq_carer_leaving_carer_id"), ["carer_id"])
        batch.drop_column("approval_ended_on")
        batch.drop_column("withdrawn_reason")
        batch.drop_column("withdrawn_on")
