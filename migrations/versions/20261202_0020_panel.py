"""panel: panel meetings and the households listed for them, with the panel's recommendation
and the agency decision (crm.models.panel). New tables only: nothing existing changes.

Revision ID: 0020_panel
Revises: 0026_kinship
Create Date: 2026-12-02 18:49:47.005571
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0020_panel"
down_revision: str | None = "0026_kinship"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "panel_meeting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meets_on", sa.Date(), nullable=False),
        sa.Column("chair", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("papers_due_on", sa.Date(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint("capacity >= 1", name=op.f("ck_panel_meeting_capacity_positive")),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["staff_user.id"],
            name=op.f("fk_panel_meeting_created_by_id_staff_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_panel_meeting")),
    )
    with op.batch_alter_table("panel_meeting", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_panel_meeting_meets_on"), ["meets_on"], unique=False)

    op.create_table(
        "panel_listing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("listed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("listed_by_id", sa.Integer(), nullable=True),
        sa.Column("papers_sent_on", sa.Date(), nullable=True),
        sa.Column("withdrawn_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("recommendation", sa.String(length=16), nullable=True),
        sa.Column("recommended_places", sa.Integer(), nullable=True),
        sa.Column("recommended_age_min", sa.Integer(), nullable=True),
        sa.Column("recommended_age_max", sa.Integer(), nullable=True),
        sa.Column("recommended_fostering_types", sa.JSON(), nullable=False),
        sa.Column("recommended_specialisms", sa.JSON(), nullable=False),
        sa.Column(
            "recommendation_notes", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=True
        ),
        sa.Column("recommended_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("recommended_by_id", sa.Integer(), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("decision_due_on", sa.Date(), nullable=True),
        sa.Column(
            "decision_reason_code", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True
        ),
        sa.Column("decision_notes", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=True),
        sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "recommended_age_min IS NULL OR recommended_age_max IS NULL OR recommended_age_min <= recommended_age_max",
            name=op.f("ck_panel_listing_recommended_age_order"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["staff_user.id"],
            name=op.f("fk_panel_listing_decided_by_id_staff_user"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name=op.f("fk_panel_listing_household_id_household")
        ),
        sa.ForeignKeyConstraint(
            ["listed_by_id"],
            ["staff_user.id"],
            name=op.f("fk_panel_listing_listed_by_id_staff_user"),
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["panel_meeting.id"],
            name=op.f("fk_panel_listing_meeting_id_panel_meeting"),
        ),
        sa.ForeignKeyConstraint(
            ["recommended_by_id"],
            ["staff_user.id"],
            name=op.f("fk_panel_listing_recommended_by_id_staff_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_panel_listing")),
        sa.UniqueConstraint(
            "meeting_id", "household_id", name=op.f("uq_panel_listing_meeting_id_household_id")
        ),
    )
    with op.batch_alter_table("panel_listing", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_panel_listing_household_id"), ["household_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_panel_listing_meeting_id"), ["meeting_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("panel_listing", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_panel_listing_meeting_id"))
        batch_op.drop_index(batch_op.f("ix_panel_listing_household_id"))

    op.drop_table("panel_listing")
    with op.batch_alter_table("panel_meeting", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_panel_meeting_meets_on"))

    op.drop_table("panel_meeting")
