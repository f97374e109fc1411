"""bot: history of the chat assistant's answers edited in the CRM

Revision ID: 0004_bot
Revises: 0003_web
Create Date: 2026-11-22 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004_bot"
down_revision: str | None = "0003_web"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "knowledge_edit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("examples", sa.JSON(), nullable=True),
        sa.Column("previous_title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("previous_answer", sa.Text(), nullable=True),
        sa.Column("previous_examples", sa.JSON(), nullable=True),
        sa.Column("edited_by_id", sa.Integer(), nullable=True),
        sa.Column("edited_by_label", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("edited_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["edited_by_id"],
            ["staff_user.id"],
            name=op.f("fk_knowledge_edit_edited_by_id_staff_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_edit")),
    )
    with op.batch_alter_table("knowledge_edit", schema=None) as batch_op:
        batch_op.create_index("ix_knowledge_edit_slug_id", ["slug", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("knowledge_edit", schema=None) as batch_op:
        batch_op.drop_index("ix_knowledge_edit_slug_id")
    op.drop_table("knowledge_edit")
