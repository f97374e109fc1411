"""carer leaving: the carer's own words for a reason of "other", what would have kept them
(from the exit conversation), and a notice's approval end never before the notice

Revision ID: 0029_carer_leaving
Revises: 0028_totp_sealed
Create Date: 2026-12-03 20:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029_carer_leaving"
down_revision: str | None = "0028_totp_sealed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("carer_leaving") as batch:
        batch.add_column(sa.Column("reason_text", sa.String(length=2000), nullable=True))
        batch.add_column(sa.Column("exit_would_have_kept", sa.Text(), nullable=True))
        batch.create_check_constraint(
            op.f("ck_carer_leaving_ends_after_notice"), "approval_ends_on >= notice_given_on"
        )


def downgrade() -> None:
    with op.batch_alter_table("carer_leaving") as batch:
        batch.drop_constraint(op.f("ck_carer_leaving_ends_after_notice"), type_="check")
        batch.drop_column("exit_would_have_kept")
        batch.drop_column("reason_text")
