"""Indexes for the web CRM's board, lists and search (migrations 0003_web and 0018_perf).

Declared here, on the existing tables, so the metadata matches the migrated schema. The name
indexes are on lower(...) so one prefix search (a range on the lowered text) is served by an
index on SQLite and PostgreSQL alike; see crm.services.search.
"""

import sqlalchemy as sa

from crm.models.carers import Carer
from crm.models.households import Applicant, Household

_household = Household.__table__
_applicant = Applicant.__table__

# The board: per stage, longest waiting first; counts by stage within the actor's areas.
ix_household_board = sa.Index(
    "ix_household_board",
    _household.c.stage,
    _household.c.stage_entered_at,
    _household.c.area_id,
    _household.c.anonymised_at,
)
# Lists: count what an actor may see without reading every row.
ix_household_visible = sa.Index(
    "ix_household_visible", _household.c.anonymised_at, _household.c.area_id
)
ix_applicant_last_name_lower = sa.Index(
    "ix_applicant_last_name_lower", sa.func.lower(_applicant.c.last_name)
)
ix_applicant_first_name_lower = sa.Index(
    "ix_applicant_first_name_lower", sa.func.lower(_applicant.c.first_name)
)


# Migration 0018_perf. The household list's default order (newest enquiry first) read straight
# from an index instead of sorting every visible household; the carers list in its own order
# (at risk first, then the review due soonest).
ix_household_list = sa.Index(
    "ix_household_list", _household.c.anonymised_at, _household.c.enquired_at, _household.c.id
)
ix_carer_list = sa.Index(
    "ix_carer_list",
    Carer.__table__.c.at_risk,
    Carer.__table__.c.annual_review_due,
    Carer.__table__.c.id,
)
# Migration 0023_search. Who may see a household (not anonymised, its area) with its id, so the
# carers list's count, places and page join carers to households from this index alone
# (PostgreSQL's index-only scan) rather than reading every household row.
ix_household_visible_id = sa.Index(
    "ix_household_visible_id",
    _household.c.anonymised_at,
    _household.c.area_id,
    _household.c.id,
)
# Forgiving search on PostgreSQL (crm.services.search): trigram GIN indexes on the lowered
# names, for pg_trgm's `%` operator. PostgreSQL only: SQLite reads the distinct names from the
# lower(...) indexes above. Without a pending list (fastupdate off, migration 0023_search): a new
# enquiry's name goes straight into the index, where a search finds it by trigram, instead of
# into a list every search reads whole until autovacuum merges it. The operator class is
# qualified because the extension lives in `public` while a deployment (or a test run) may keep
# its tables in another schema.
ix_applicant_last_name_trgm = sa.Index(
    "ix_applicant_last_name_trgm",
    sa.func.lower(_applicant.c.last_name).label("last_name_lower"),
    postgresql_using="gin",
    postgresql_ops={"last_name_lower": "public.gin_trgm_ops"},
    postgresql_with={"fastupdate": "off"},
).ddl_if(dialect="postgresql")
ix_applicant_first_name_trgm = sa.Index(
    "ix_applicant_first_name_trgm",
    sa.func.lower(_applicant.c.first_name).label("first_name_lower"),
    postgresql_using="gin",
    postgresql_ops={"first_name_lower": "public.gin_trgm_ops"},
    postgresql_with={"fastupdate": "off"},
).ddl_if(dialect="postgresql")

WEB_INDEXES = (
    ix_household_board,
    ix_household_visible,
    ix_applicant_last_name_lower,
    ix_applicant_first_name_lower,
    ix_household_list,
    ix_carer_list,
    ix_household_visible_id,
    ix_applicant_last_name_trgm,
    ix_applicant_first_name_trgm,
)
