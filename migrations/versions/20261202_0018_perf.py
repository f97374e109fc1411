"""perf: indexes for the household and carers lists, trigram search on PostgreSQL

The household list's default order and the carers list's order get indexes of their own, so a
page is read in order rather than sorted from every visible row. On PostgreSQL the pg_trgm
extension and trigram GIN indexes on the lowered first and last names serve the forgiving
search (crm.services.search); SQLite reads the distinct names from the lower(...) indexes of
0003_web instead, so it needs no equivalent.

Revision ID: 0018_perf
Revises: 0017_prod
Create Date: 2026-12-02 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_perf"
down_revision: str | None = "0017_prod"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGRAM_INDEXES = {
    "ix_applicant_last_name_trgm": "last_name",
    "ix_applicant_first_name_trgm": "first_name",
}


def _trigram_schema() -> str:
    """Where pg_trgm lives, installing it in `public` when the database has none yet.

    Extensions belong to the whole database, not to a schema of tables: installed in the
    migrated schema, it would vanish with that schema and take other schemas' indexes with it.
    """
    bind = op.get_bind()
    bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
    return bind.execute(
        sa.text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'pg_trgm'"
        )
    ).scalar_one()


def upgrade() -> None:
    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.create_index(
            "ix_household_list", ["anonymised_at", "enquired_at", "id"], unique=False
        )
    with op.batch_alter_table("carer", schema=None) as batch_op:
        batch_op.create_index("ix_carer_list", ["at_risk", "annual_review_due", "id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        schema = _trigram_schema()
        for name, column in TRIGRAM_INDEXES.items():
            op.execute(
                f'CREATE INDEX {name} ON applicant USING gin (lower({column}) "{schema}".gin_trgm_ops)'
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # The extension stays: other schemas in the same database may use it.
        for name in TRIGRAM_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    with op.batch_alter_table("carer", schema=None) as batch_op:
        batch_op.drop_index("ix_carer_list")
    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.drop_index("ix_household_list")
