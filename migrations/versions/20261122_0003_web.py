"""web: indexes for the pipeline board, household lists and name search

Revision ID: 0003_web
Revises: 0002_scheduler
Create Date: 2026-11-22 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_web"
down_revision: str | None = "0002_scheduler"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_household_board",
        "household",
        ["stage", "stage_entered_at", "area_id", "anonymised_at"],
    )
    op.create_index("ix_household_visible", "household", ["anonymised_at", "area_id"])
    op.create_index("ix_applicant_last_name_lower", "applicant", [sa.text("lower(last_name)")])
    op.create_index("ix_applicant_first_name_lower", "applicant", [sa.text("lower(first_name)")])


def downgrade() -> None:
    op.drop_index("ix_applicant_first_name_lower", table_name="applicant")
    op.drop_index("ix_applicant_last_name_lower", table_name="applicant")
    op.drop_index("ix_household_visible", table_name="household")
    op.drop_index("ix_household_board", table_name="household")
