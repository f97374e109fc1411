"""search: the carers list's join from an index; trigram indexes without a pending list

`ix_household_visible_id` (anonymised_at, area_id, id) lets the carers list join carers to the
households they may be seen through from the index alone: on PostgreSQL an index-only scan
instead of three sequential scans of `household` per page. The trigram GIN indexes of 0018_perf
stop collecting new entries in a pending list (fastupdate off): every search read that list
whole until autovacuum merged it, 48 ms per name search on a freshly loaded 20,000-household
database. The list already there is merged by the next VACUUM (crm.db.refresh_statistics).

Revision ID: 0023_search
Revises: 0022_placements
Create Date: 2026-12-02 19:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023_search"
down_revision: str | None = "0022_placements"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGRAM_INDEXES = ("ix_applicant_last_name_trgm", "ix_applicant_first_name_trgm")


def upgrade() -> None:
    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.create_index(
            "ix_household_visible_id", ["anonymised_at", "area_id", "id"], unique=False
        )
    if op.get_bind().dialect.name == "postgresql":
        for name in TRIGRAM_INDEXES:
            op.execute(f"ALTER INDEX {name} SET (fastupdate = off)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in TRIGRAM_INDEXES:
            op.execute(f"ALTER INDEX {name} RESET (fastupdate)")
    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.drop_index("ix_household_visible_id")
