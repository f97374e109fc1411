"""kinship: a connected person's temporary approval (regulation 24)

16 weeks from the day it is given, extendable once by up to 8 weeks; ended by full approval,
leaving the process or the child moving on. The child is named only by their case reference.

Revision ID: 0026_kinship
Revises: 0025_mockingbird
Create Date: 2026-12-02 19:44:13.388126
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0026_kinship"
down_revision: str | None = "0025_mockingbird"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "temporary_approval",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("child_reference", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("approved_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("extended_until", sa.Date(), nullable=True),
        sa.Column("extension_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("ended_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("approved_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "expires_on > approved_on", name=op.f("ck_temporary_approval_expires_after_approval")
        ),
        sa.CheckConstraint(
            "extended_until IS NULL OR extended_until > expires_on",
            name=op.f("ck_temporary_approval_extension_later"),
        ),
        sa.ForeignKeyConstraint(
            ["approved_by_id"],
            ["staff_user.id"],
            name=op.f("fk_temporary_approval_approved_by_id_staff_user"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_temporary_approval_household_id_household"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_temporary_approval")),
    )
    with op.batch_alter_table("temporary_approval", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_temporary_approval_household_id"), ["household_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("temporary_approval", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_temporary_approval_household_id"))

    op.drop_table("temporary_approval")
