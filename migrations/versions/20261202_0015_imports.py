"""imports: saved tracker mappings; the file's words for a source or campaign filed as other

The import wizard saves how a team's tracker layout maps onto the CRM (import_mapping, one row
per layout of headings), so the next upload of the same layout needs no questions. A tracker's
source or campaign that the team files under "other" keeps its wording on the household
(source_text, campaign_text) for the reports' breakdown of "other".

Revision ID: 0015_imports
Revises: 0012_dp_fixes
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0015_imports"
down_revision: str | None = "0012_dp_fixes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_mapping",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("layout_key", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("headings", sa.JSON(), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("file_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("saved_by_id", sa.Integer(), nullable=True),
        sa.Column("saved_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["saved_by_id"],
            ["staff_user.id"],
            name=op.f("fk_import_mapping_saved_by_id_staff_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_mapping")),
        sa.UniqueConstraint("layout_key", name=op.f("uq_import_mapping_layout_key")),
    )
    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source_text", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
        batch_op.add_column(
            sa.Column("campaign_text", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.drop_column("campaign_text")
        batch_op.drop_column("source_text")
    op.drop_table("import_mapping")
