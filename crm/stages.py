"""Every stage a household can be at, in one table: its label, its tag colour, the setting that
holds its target days, the groups it belongs to, and its column in a tracker spreadsheet.

Adding a stage (or moving one in or out of a group) is a row here plus the `Stage` member in
crm.models.base. The table is keyed by the stage's value (the string stored in the database)
rather than by the enum, so that the models can read it without an import cycle: `Stage` is a
StrEnum, so `Stage.ENQUIRY` finds the "enquiry" row, and `Stage.in_group(...)` gives members.

The groups, in the words of the team:
- funnel: the journey to approval, in order (conversion is counted over these);
- board: the pipeline board's columns (the funnel, and households on hold);
- closed: the household has left (a reason from the list is required to move there);
- assessment: the application is in and the 8-month panel clock runs;
- applied: the household has reached the application (the panel clock started);
- stall: a case left without a move or activity beyond the stage's target is a task for staff;
- nudge: early stages where a gentle message to the household is welcome (later stages are
  driven by the service, so a stall there is for staff only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crm.settings import Settings

GROUPS = frozenset({"funnel", "board", "closed", "assessment", "applied", "stall", "nudge"})


@dataclass(frozen=True)
class StageRow:
    key: str
    label: str
    # The GOV.UK tag modifier: the tag is `govuk-tag govuk-tag--{colour}`. Only the colours
    # GOV.UK Frontend 6 ships (it has no blue or light-blue), one per stage of the journey so
    # the board reads at a glance; grey for the closed ones, red kept for what is overdue.
    colour: str
    # The key in settings.toml's [stage_target_days] (read by crm.settings), if it has one.
    target_days_setting: str | None
    groups: frozenset[str]
    # The date column a tracker spreadsheet records the stage in, if it has one.
    tracker_column: str | None
    # The reason list (ReasonKind) a move to this stage takes a reason from.
    reason_list: str | None = None


def _row(
    key: str,
    label: str,
    colour: str,
    target: str | None,
    groups: set[str],
    tracker: str | None,
    reason_list: str | None = None,
) -> StageRow:
    return StageRow(key, label, colour, target, frozenset(groups), tracker, reason_list)


# In funnel order; a group lists its stages in this order.
STAGES: tuple[StageRow, ...] = (
    _row("enquiry", "Enquiry", "teal", "enquiry",
         {"funnel", "board", "stall", "nudge"}, "enquiry_date"),
    _row("initial_visit", "Initial visit", "turquoise", "initial_visit",
         {"funnel", "board", "stall", "nudge"}, "initial_visit_date"),
    _row("application", "Application", "purple", "application",
         {"funnel", "board", "stall", "nudge", "assessment", "applied"}, "application_date"),
    _row("stage_one", "Stage one", "magenta", "stage_one",
         {"funnel", "board", "stall", "assessment", "applied"}, "stage_one_date"),
    _row("stage_two", "Stage two", "pink", "stage_two",
         {"funnel", "board", "stall", "assessment", "applied"}, "stage_two_date"),
    _row("panel", "Panel", "orange", "panel",
         {"funnel", "board", "stall", "assessment", "applied"}, "panel_date"),
    _row("approved", "Approved", "green", None, {"funnel", "board", "applied"}, "approval_date"),
    _row("on_hold", "On hold", "yellow", "on_hold",
         {"board", "stall", "nudge"}, None, "on_hold"),
    _row("withdrawn", "Withdrawn", "grey", None, {"closed"}, "withdrawn_date", "withdrawn"),
    _row("not_progressed", "Not progressed", "grey", None,
         {"closed"}, "not_progressed_date", "not_progressed"),
    _row("deregistered", "Deregistered", "grey", None, {"closed"}, None, "deregistered"),
)  # fmt: skip
BY_KEY: dict[str, StageRow] = {row.key: row for row in STAGES}


def row(stage: str) -> StageRow:
    """The row of a stage (a `Stage` or its stored value)."""
    return BY_KEY[stage]


def group(name: str) -> tuple[str, ...]:
    """The stages in a group, in funnel order (values; crm.models' Stage.in_group gives
    members)."""
    if name not in GROUPS:
        raise KeyError(f"no stage group {name!r}; the groups are: {', '.join(sorted(GROUPS))}")
    return tuple(r.key for r in STAGES if name in r.groups)


def colour(stage: str | None) -> str:
    """The GOV.UK tag colour for a stage; grey for anything unknown."""
    found = BY_KEY.get(stage or "")
    return found.colour if found else "grey"


def target_days(settings: Settings, stage: str) -> int | None:
    """The stage's target days from the settings, or None for a stage without a target."""
    setting = row(stage).target_days_setting
    return None if setting is None else getattr(settings.stage_target_days, setting)
