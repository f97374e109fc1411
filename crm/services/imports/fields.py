"""The CRM's columns a tracker is read into (the stage columns come from crm.stages)."""

from __future__ import annotations

from crm import stages
from crm.models import Stage

# A tracker records each stage reached as a date in the stage's column (crm.stages), and a
# household that left as a date and a reason.
STAGE_COLUMNS = {
    row.tracker_column: Stage(row.key)
    for row in stages.STAGES
    if row.tracker_column and "funnel" in row.groups and row.key != Stage.ENQUIRY
}
LEAVING_COLUMNS = {
    Stage(row.key): (row.tracker_column, f"{row.key}_reason")
    for row in stages.STAGES
    if row.tracker_column and "closed" in row.groups
}
COLUMNS = [
    "reference",
    "enquiry_date",
    "first_name",
    "last_name",
    "email",
    "phone",
    "postcode",
    "area",
    "source",
    "campaign",
    "first_contact_date",
    *STAGE_COLUMNS,
    "withdrawn_date",
    "withdrawn_reason",
    "not_progressed_date",
    "not_progressed_reason",
]
# Columns a file may have that are read into the ones above: a name in one cell ("Kim Lee"),
# and one reason column beside both leaving dates.
EXTRA_COLUMNS = ["full_name", "leaving_reason"]
ALL_COLUMNS = [*COLUMNS, *EXTRA_COLUMNS]
DATE_COLUMNS = frozenset(c for c in COLUMNS if c.endswith("_date"))
REQUIRED_COLUMNS = ["reference", "enquiry_date"]
