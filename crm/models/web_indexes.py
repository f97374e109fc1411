"""Indexes for the web CRM's board, lists and search (migration 0003_web).

Declared here, on the existing tables, so the metadata matches the migrated schema. The name
indexes are on lower(...) so one prefix search (a range on the lowered text) is served by an
index on SQLite and PostgreSQL alike; see crm.services.households.search_clause.
"""

import sqlalchemy as sa

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

WEB_INDEXES = (
    ix_household_board,
    ix_household_visible,
    ix_applicant_last_name_lower,
    ix_applicant_first_name_lower,
)
