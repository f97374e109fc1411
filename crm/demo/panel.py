"""The fostering panel in the demo: after the households are loaded, panel meetings around the
demo day with households at every step of the panel's part of the journey. Recently approved
carers went through a past panel and the agency decision (with the terms on their carer
record); some households at panel wait for the decision after a panel that met; the others
are listed for panels still to come.

Written after the bulk load, from what it made (households at `panel`, carers approved of
late), in id order: the same seed and day give the same rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session, select

from crm import workdays
from crm.models import (
    Carer,
    Decision,
    Household,
    PanelListing,
    PanelMeeting,
    Recommendation,
    Stage,
)
from crm.settings import Settings

CHAIRS = ("Dr Helen Marsh (independent chair)", "Rev. Tom Okafor (independent chair)")
CAPACITY = 8
# Approvals this recent went through a panel recorded here.
RECENT_APPROVALS_DAYS = 42


@dataclass
class PanelCounts:
    meetings: int = 0
    listings: int = 0


def _noon(day: date, settings: Settings) -> datetime:
    return datetime.combine(day, time(12), settings.tz).astimezone(UTC)


def add_panel(
    session: Session,
    settings: Settings,
    as_of: date,
    *,
    manager_id: int | None,
    decision_maker_id: int | None,
) -> PanelCounts:
    counts = PanelCounts()
    meetings: dict[date, PanelMeeting] = {}
    listed: dict[date, int] = {}

    def meeting(on: date, *, take_place: bool = True) -> PanelMeeting:
        # A panel on the first working day on or after `on` with a place left.
        day = on if workdays.is_working_day(on) else workdays.next_working_day(on)
        while listed.get(day, 0) >= CAPACITY:
            day = workdays.next_working_day(day)
        if day not in meetings:
            found = PanelMeeting(
                meets_on=day,
                chair=CHAIRS[len(meetings) % len(CHAIRS)],
                capacity=CAPACITY,
                papers_due_on=workdays.subtract_working_days_from_date(
                    day, settings.panel.papers_due_working_days
                ),
                created_by_id=manager_id,
                created_at=_noon(day - timedelta(days=42), settings),
            )
            session.add(found)
            session.flush()
            meetings[day] = found
            counts.meetings += 1
        listed[day] = listed.get(day, 0) + int(take_place)
        return meetings[day]

    def decision_due(day: date) -> date:
        return workdays.add_working_days_to_date(day, settings.panel.decision_within_working_days)

    # Decided: carers approved of late, with the terms on their record.
    since = as_of - timedelta(days=RECENT_APPROVALS_DAYS)
    for carer in session.exec(
        select(Carer)
        .where(Carer.approved_on >= since, Carer.approved_on < as_of)
        .order_by(Carer.id)
    ).all():
        panel_day = workdays.subtract_working_days_from_date(carer.approved_on, 4)
        mt = meeting(panel_day)
        session.add(
            PanelListing(
                meeting_id=mt.id,
                household_id=carer.household_id,
                listed_at=_noon(mt.meets_on - timedelta(days=35), settings),
                listed_by_id=manager_id,
                papers_sent_on=mt.papers_due_on,
                recommendation=Recommendation.APPROVE,
                recommended_places=carer.places,
                recommended_age_min=carer.age_min,
                recommended_age_max=carer.age_max,
                recommended_fostering_types=list(carer.fostering_types),
                recommended_specialisms=list(carer.specialisms),
                recommended_at=_noon(mt.meets_on, settings),
                recommended_by_id=manager_id,
                decision=Decision.APPROVED,
                decision_due_on=decision_due(mt.meets_on),
                decided_at=_noon(carer.approved_on, settings),
                decided_by_id=decision_maker_id,
            )
        )
        counts.listings += 1

    at_panel = session.exec(
        select(Household)
        .where(Household.stage == Stage.PANEL, Household.anonymised_at.is_(None))
        .order_by(Household.id)
    ).all()
    # A panel that met a few working days ago: its recommendations wait for the decision.
    met = workdays.subtract_working_days_from_date(as_of, 3)
    for index, household in enumerate(at_panel):
        entered = household.stage_entered_at.astimezone(settings.tz).date()
        if index % 2 == 0 and entered < met:
            mt = meeting(met)
            approve = index % 6 != 4
            session.add(
                PanelListing(
                    meeting_id=mt.id,
                    household_id=household.id,
                    listed_at=max(
                        household.stage_entered_at, _noon(met - timedelta(days=30), settings)
                    ),
                    listed_by_id=manager_id,
                    papers_sent_on=mt.papers_due_on,
                    recommendation=(
                        Recommendation.APPROVE if approve else Recommendation.DO_NOT_APPROVE
                    ),
                    recommended_places=2 if approve else None,
                    recommended_age_min=0 if approve else None,
                    recommended_age_max=10 if approve else None,
                    recommended_fostering_types=["short_term", "long_term"] if approve else [],
                    recommendation_notes=None
                    if approve
                    else "The panel was not assured the household could meet a child's needs "
                    "while the family's own circumstances settle.",
                    recommended_at=_noon(mt.meets_on, settings),
                    recommended_by_id=manager_id,
                    decision_due_on=decision_due(mt.meets_on),
                )
            )
        else:
            # Listed for a panel still to come (two, three or five weeks on).
            mt = meeting(as_of + timedelta(days=(14, 21, 35)[index % 3]))
            session.add(
                PanelListing(
                    meeting_id=mt.id,
                    household_id=household.id,
                    listed_at=max(
                        household.stage_entered_at, _noon(as_of - timedelta(days=2), settings)
                    ),
                    listed_by_id=manager_id,
                )
            )
        counts.listings += 1
    # An empty panel further on, for the next households out of stage two.
    meeting(as_of + timedelta(days=49), take_place=False)
    session.flush()
    return counts
