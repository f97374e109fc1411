"""mockingbird: constellations, their satellite households over time, and what the hub home gave

A hub home carer and 6 to 10 satellites (constellation_member, with joined and left dates so
the retention comparison can count time inside and outside), and the meetings, sleepovers,
short breaks and peer support given (constellation_activity).

Revision ID: 0025_mockingbird
Revises: 0024_import_upload
Create Date: 2026-12-02 19:08:51.987263
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0025_mockingbird"
down_revision: str | None = "0024_import_upload"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "constellation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("hub_carer_id", sa.Integer(), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_id"], ["area.id"], name=op.f("fk_constellation_area_id_area")
        ),
        sa.ForeignKeyConstraint(
            ["hub_carer_id"], ["carer.id"], name=op.f("fk_constellation_hub_carer_id_carer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_constellation")),
        sa.UniqueConstraint("name", name=op.f("uq_constellation_name")),
    )
    with op.batch_alter_table("constellation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_constellation_area_id"), ["area_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_constellation_hub_carer_id"), ["hub_carer_id"], unique=False
        )

    op.create_table(
        "constellation_activity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("constellation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("carer_id", sa.Integer(), nullable=True),
        sa.Column("nights", sa.Integer(), nullable=False),
        sa.Column("notes", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "nights >= 0", name=op.f("ck_constellation_activity_nights_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["carer_id"], ["carer.id"], name=op.f("fk_constellation_activity_carer_id_carer")
        ),
        sa.ForeignKeyConstraint(
            ["constellation_id"],
            ["constellation.id"],
            name=op.f("fk_constellation_activity_constellation_id_constellation"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["staff_user.id"],
            name=op.f("fk_constellation_activity_recorded_by_id_staff_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_constellation_activity")),
    )
    with op.batch_alter_table("constellation_activity", schema=None) as batch_op:
        batch_op.create_index(
            "ix_constellation_activity_when", ["constellation_id", "occurred_on"], unique=False
        )

    op.create_table(
        "constellation_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("constellation_id", sa.Integer(), nullable=False),
        sa.Column("carer_id", sa.Integer(), nullable=False),
        sa.Column("joined_on", sa.Date(), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=True),
        sa.Column("left_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.CheckConstraint(
            "left_on IS NULL OR left_on >= joined_on",
            name=op.f("ck_constellation_member_left_after_joined"),
        ),
        sa.ForeignKeyConstraint(
            ["carer_id"], ["carer.id"], name=op.f("fk_constellation_member_carer_id_carer")
        ),
        sa.ForeignKeyConstraint(
            ["constellation_id"],
            ["constellation.id"],
            name=op.f("fk_constellation_member_constellation_id_constellation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_constellation_member")),
    )
    with op.batch_alter_table("constellation_member", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_constellation_member_carer_id"), ["carer_id"], unique=False
        )
        batch_op.create_index(
            "ix_constellation_member_live", ["constellation_id", "left_on"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("constellation_member", schema=None) as batch_op:
        batch_op.drop_index("ix_constellation_member_live")
        batch_op.drop_index(batch_op.f("ix_constellation_member_carer_id"))

    op.drop_table("constellation_member")
    with op.batch_alter_table("constellation_activity", schema=None) as batch_op:
        batch_op.drop_index("ix_constellation_activity_when")

    op.drop_table("constellation_activity")
    with op.batch_alter_table("constellation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_constellation_hub_carer_id"))
        batch_op.drop_index(batch_op.f("ix_constellation_area_id"))

    op.drop_table("constellation")
