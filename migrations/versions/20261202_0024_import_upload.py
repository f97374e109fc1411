"""import_upload: trackers uploaded to the import wizard and not yet imported

Held in the database rather than on a web worker's disk so that each step of the wizard can be
answered by any worker; rows are deleted on import and purged after a day.

Revision ID: 0024_import_upload
Revises: 0018_perf
Create Date: 2026-12-02 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0024_import_upload"
down_revision: str | None = "0018_perf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_upload",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sqlmodel.sql.sqltypes.AutoString(length=43), nullable=False),
        sa.Column("file_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["staff_user.id"],
            name=op.f("fk_import_upload_uploaded_by_id_staff_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_upload")),
        sa.UniqueConstraint("token", name=op.f("uq_import_upload_token")),
    )


def downgrade() -> None:
    op.drop_table("import_upload")
