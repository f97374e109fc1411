"""carer status: breaks, leaving (notice, reason, exit conversation) and task outcomes

Revision ID: 0021_carer_status
Revises: 0019_members
Create Date: 2026-12-02 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0021_carer_status"
down_revision: str | None = "0019_members"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "carer_break",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("carer_id", sa.Integer(), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("expected_end_on", sa.Date(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "expected_end_on >= started_on", name=op.f("ck_carer_break_expected_end_after_start")
        ),
        sa.CheckConstraint(
            "ended_on IS NULL OR ended_on >= started_on",
            name=op.f("ck_carer_break_ends_after_start"),
        ),
        sa.ForeignKeyConstraint(
            ["carer_id"], ["carer.id"], name=op.f("fk_carer_break_carer_id_carer")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["staff_user.id"],
            name=op.f("fk_carer_break_recorded_by_id_staff_user"),
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carer_break")),
    )
    op.create_index(op.f("ix_carer_break_carer_id"), "carer_break", ["carer_id"])
    op.create_table(
        "carer_leaving",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("carer_id", sa.Integer(), nullable=False),
        sa.Column("notice_given_on", sa.Date(), nullable=False),
        sa.Column("approval_ends_on", sa.Date(), nullable=False),
        sa.Column("reason_code", sa.String(length=60), nullable=False),
        sa.Column("exit_conversation_on", sa.Date(), nullable=True),
        sa.Column("exit_conversation_by_id", sa.Integer(), nullable=True),
        sa.Column("exit_conversation_notes", sa.Text(), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["carer_id"], ["carer.id"], name=op.f("fk_carer_leaving_carer_id_carer")
        ),
        sa.ForeignKeyConstraint(
            ["exit_conversation_by_id"],
            ["staff_user.id"],
            name=op.f("fk_carer_leaving_exit_conversation_by_id_staff_user"),
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["staff_user.id"],
            name=op.f("fk_carer_leaving_recorded_by_id_staff_user"),
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carer_leaving")),
        sa.UniqueConstraint("carer_id", name=op.f("uq_carer_leaving_carer_id")),
    )
    with op.batch_alter_table("task") as batch:
        batch.add_column(sa.Column("outcome", sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("task") as batch:
        batch.drop_column("outcome")
    op.drop_table("carer_leaving")
    op.drop_index(op.f("ix_carer_break_carer_id"), table_name="carer_break")
    op.drop_table("carer_break")
