"""members: the assessment of a household (members, pets, checks, session notes, Skills to
Foster attendance, Form F progress, documents) and the household's assessing social worker

Revision ID: 0019_members
Revises: 0023_search
Create Date: 2026-12-02 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0019_members"
down_revision: str | None = "0023_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "form_f_section",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("section_key", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_form_f_section_household_id_household"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["staff_user.id"],
            name=op.f("fk_form_f_section_updated_by_id_staff_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_f_section")),
        sa.UniqueConstraint(
            "household_id", "section_key", name=op.f("uq_form_f_section_household_id_section_key")
        ),
    )
    with op.batch_alter_table("form_f_section", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_form_f_section_household_id"), ["household_id"], unique=False
        )

    op.create_table(
        "household_pet",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("species", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column("notes", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_household_pet_household_id_household"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_pet")),
    )
    with op.batch_alter_table("household_pet", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_household_pet_household_id"), ["household_id"], unique=False
        )

    op.create_table(
        "household_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("applicant_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("first_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("last_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("relationship", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("notes", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["applicant_id"],
            ["applicant.id"],
            name=op.f("fk_household_member_applicant_id_applicant"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_household_member_household_id_household"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_member")),
    )
    with op.batch_alter_table("household_member", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_household_member_household_id"), ["household_id"], unique=False
        )

    op.create_table(
        "assessment_session_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("notes", sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointment.id"],
            name=op.f("fk_assessment_session_note_appointment_id_appointment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_assessment_session_note_household_id_household"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["staff_user.id"],
            name=op.f("fk_assessment_session_note_recorded_by_id_staff_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_session_note")),
    )
    with op.batch_alter_table("assessment_session_note", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assessment_session_note_appointment_id"), ["appointment_id"], unique=True
        )
        batch_op.create_index(
            batch_op.f("ix_assessment_session_note_household_id"), ["household_id"], unique=False
        )

    op.create_table(
        "course_attendance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("course", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("attended_from", sa.Date(), nullable=False),
        sa.Column("attended_to", sa.Date(), nullable=False),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_course_attendance_household_id_household"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["household_member.id"],
            name=op.f("fk_course_attendance_member_id_household_member"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course_attendance")),
    )
    with op.batch_alter_table("course_attendance", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_course_attendance_household_id"), ["household_id"], unique=False
        )

    op.create_table(
        "household_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("check_key", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("requested_on", sa.Date(), nullable=True),
        sa.Column("chased_on", sa.Date(), nullable=True),
        sa.Column("received_on", sa.Date(), nullable=True),
        sa.Column("outcome", sa.String(length=23), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("notes", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "received_on IS NULL OR requested_on IS NULL OR received_on >= requested_on",
            name=op.f("ck_household_check_received_after_requested"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_household_check_household_id_household"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["household_member.id"],
            name=op.f("fk_household_check_member_id_household_member"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_check")),
    )
    with op.batch_alter_table("household_check", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_household_check_household_id"), ["household_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_household_check_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "household_document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("original_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("stored_name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_household_document_household_id_household"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["staff_user.id"],
            name=op.f("fk_household_document_uploaded_by_id_staff_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_document")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_household_document_stored_name")),
    )
    with op.batch_alter_table("household_document", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_household_document_household_id"), ["household_id"], unique=False
        )

    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assessor_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_household_assessor_id"), ["assessor_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_household_assessor_id_staff_user"), "staff_user", ["assessor_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_household_assessor_id_staff_user"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_household_assessor_id"))
        batch_op.drop_column("assessor_id")

    with op.batch_alter_table("household_document", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_household_document_household_id"))

    op.drop_table("household_document")
    with op.batch_alter_table("household_check", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_household_check_member_id"))
        batch_op.drop_index(batch_op.f("ix_household_check_household_id"))

    op.drop_table("household_check")
    with op.batch_alter_table("course_attendance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_course_attendance_household_id"))

    op.drop_table("course_attendance")
    with op.batch_alter_table("assessment_session_note", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assessment_session_note_household_id"))
        batch_op.drop_index(batch_op.f("ix_assessment_session_note_appointment_id"))

    op.drop_table("assessment_session_note")
    with op.batch_alter_table("household_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_household_member_household_id"))

    op.drop_table("household_member")
    with op.batch_alter_table("household_pet", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_household_pet_household_id"))

    op.drop_table("household_pet")
    with op.batch_alter_table("form_f_section", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_form_f_section_household_id"))

    op.drop_table("form_f_section")
