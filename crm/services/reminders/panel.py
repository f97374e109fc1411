"""The panel's reminders.

- The 8-month panel timescale (National Minimum Standard 14): applications nearing
  (panel_warning_months) or past (panel_deadline_months) it without a panel recommendation: a
  task and an alert for the area's managers. A recommendation on file stops the clock.
- The papers (panel_papers): a household listed for a panel still to come whose papers have
  not gone out, from 2 working days before they are due (panel.papers_due_working_days before
  the meeting): a task and an email for its officer, else the area's managers.
- The decision (panel_decisions): a recommendation to approve or not waiting for the agency
  decision: a task and an email for the area's decision makers as soon as it is on file, and
  again once it is past its due date (panel.decision_within_working_days after the panel).
"""

from __future__ import annotations

from datetime import time, timedelta

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlmodel import select

from crm import workdays
from crm.models import (
    Household,
    PanelListing,
    PanelMeeting,
    Recommendation,
    Role,
    Stage,
    StageEvent,
    TaskKind,
    TaskPriority,
)
from crm.services.reminders import people
from crm.services.reminders.engine import (
    Audience,
    Due,
    Notice,
    ReminderSpec,
    Scan,
    TaskDraft,
    at_local,
    date_text,
    local_date,
)


def due_panel_timescales(scan: Scan) -> list[Due]:
    session, settings, now = scan.session, scan.settings, scan.now
    assessment = Stage.in_group("assessment")
    applied = (
        select(StageEvent.household_id, sa.func.min(StageEvent.occurred_at).label("applied"))
        .where(StageEvent.to_stage.in_(Stage.in_group("applied")))
        .group_by(StageEvent.household_id)
        .subquery()
    )
    # The panel's recommendation (to approve or not; a deferral is none) stops the clock.
    recommended = (
        select(PanelListing.id)
        .where(
            PanelListing.household_id == Household.id,
            PanelListing.recommendation.in_(
                [Recommendation.APPROVE, Recommendation.DO_NOT_APPROVE]
            ),
        )
        .exists()
    )
    in_assessment = sa.or_(
        Household.stage.in_(assessment),
        sa.and_(Household.stage == Stage.ON_HOLD, Household.held_from_stage.in_(assessment)),
    )
    rows = session.exec(
        select(Household, applied.c.applied)
        .join(applied, applied.c.household_id == Household.id)
        .where(in_assessment, Household.anonymised_at.is_(None), ~recommended)
        .order_by(Household.id)
    ).all()
    reminders = settings.reminders
    items = []
    for household, applied_at in rows:
        deadline = applied_at + relativedelta(months=reminders.panel_deadline_months)
        warning = applied_at + relativedelta(months=reminders.panel_warning_months)
        if now >= deadline:
            level = "overdue"
        elif now >= warning:
            level = "warning"
        else:
            continue
        key = f"panel:{household.id}:{level}"
        if key in scan.used_keys():
            continue
        managers = people.managers_for(session, household.area_id)
        owner = managers[0] if managers else None
        deadline_day = local_date(settings, deadline)
        items.append(
            Due(
                key,
                household_id=household.id,
                task=TaskDraft(
                    kind=TaskKind.PANEL_DEADLINE,
                    title=(
                        "Past 8 months without a panel recommendation"
                        if level == "overdue"
                        else "Approaching 8 months without a panel recommendation"
                    ),
                    detail=f"Applied {date_text(local_date(settings, applied_at))}; "
                    f"the recommendation is due by {date_text(deadline_day)}.",
                    owner_id=owner.id if owner else None,
                    priority=TaskPriority.URGENT if level == "overdue" else TaskPriority.NORMAL,
                    due_at=min(deadline, now + timedelta(days=7)) if level == "warning" else now,
                    counts_as="overdue" if level == "overdue" else "warnings",
                ),
                staff=managers,
                notices={
                    "alert": {
                        "household_name": household.display_name,
                        "household_reference": household.reference,
                        "application_date": date_text(local_date(settings, applied_at)),
                        "deadline_date": date_text(deadline_day),
                        "days_left": max(0, (deadline_day - scan.today).days),
                        "stage_label": Stage(household.stage).label,
                        "level": level,
                    }
                },
            )
        )
    return items


PANEL_TIMESCALES = ReminderSpec(
    id="panel_timescales",
    title="Applications nearing 8 months without a panel recommendation",
    every={"trigger": "cron", "hour": 7, "minute": 10},
    keys="panel:",
    due=due_panel_timescales,
    notices={"alert": Notice("panel_timescale_alert", Audience.STAFF, "alerts")},
    counts=("warnings", "overdue", "alerts"),
)

# Papers are chased from this many working days before they are due.
PAPERS_WARNING_WORKING_DAYS = 2


def due_panel_papers(scan: Scan) -> list[Due]:
    session, settings, now = scan.session, scan.settings, scan.now
    today = scan.today
    rows = session.exec(
        select(PanelListing, PanelMeeting, Household)
        .join(PanelMeeting, PanelMeeting.id == PanelListing.meeting_id)
        .join(Household, Household.id == PanelListing.household_id)
        .where(
            PanelListing.papers_sent_on.is_(None),
            PanelListing.withdrawn_at.is_(None),
            PanelListing.recommendation.is_(None),
            PanelMeeting.meets_on >= today,
            Household.stage == Stage.PANEL,
            Household.anonymised_at.is_(None),
        )
        .order_by(PanelMeeting.meets_on, PanelListing.id)
    ).all()
    items = []
    for listing, meeting, household in rows:
        chase_from = workdays.subtract_working_days_from_date(
            meeting.papers_due_on, PAPERS_WARNING_WORKING_DAYS
        )
        key = f"panel_papers:{listing.id}"
        if today < chase_from or key in scan.used_keys():
            continue
        officer = people.allowed_owner(session, household.assigned_officer_id, household=household)
        told = [officer] if officer else people.managers_for(session, household.area_id)
        owner = told[0] if told else None
        items.append(
            Due(
                key,
                household_id=household.id,
                task=TaskDraft(
                    kind=TaskKind.PANEL_PAPERS,
                    title=f"Send the panel papers by {date_text(meeting.papers_due_on)}",
                    detail=f"Listed for the panel on {date_text(meeting.meets_on)}.",
                    owner_id=owner.id if owner else None,
                    due_at=min(
                        at_local(settings, meeting.papers_due_on, time(17)),
                        now + timedelta(days=14),
                    ),
                    counts_as="papers",
                ),
                staff=told,
                notices={
                    "papers": {
                        "household_name": household.display_name,
                        "household_reference": household.reference,
                        "panel_date": date_text(meeting.meets_on),
                        "papers_due_date": date_text(meeting.papers_due_on),
                        "working_days": settings.panel.papers_due_working_days,
                    }
                },
            )
        )
    return items


PANEL_PAPERS = ReminderSpec(
    id="panel_papers",
    title="Panel papers due to go out",
    every={"trigger": "cron", "hour": 7, "minute": 20},
    keys="panel_papers:",
    due=due_panel_papers,
    notices={"papers": Notice("panel_papers_due_staff", Audience.STAFF, "emails")},
    counts=("papers", "emails"),
)


def due_panel_decisions(scan: Scan) -> list[Due]:
    session, settings, now = scan.session, scan.settings, scan.now
    today = scan.today
    rows = session.exec(
        select(PanelListing, PanelMeeting, Household)
        .join(PanelMeeting, PanelMeeting.id == PanelListing.meeting_id)
        .join(Household, Household.id == PanelListing.household_id)
        .where(
            PanelListing.decision.is_(None),
            PanelListing.recommendation.in_(
                [Recommendation.APPROVE, Recommendation.DO_NOT_APPROVE]
            ),
            Household.stage == Stage.PANEL,
            Household.anonymised_at.is_(None),
        )
        .order_by(PanelMeeting.meets_on, PanelListing.id)
    ).all()
    items = []
    for listing, meeting, household in rows:
        due_on = listing.decision_due_on or meeting.meets_on
        level = "overdue" if today > due_on else "due"
        key = f"panel_decision:{listing.id}:{level}"
        if key in scan.used_keys():
            continue
        deciders = people.team(session, household.area_id, (Role.DECISION_MAKER,))
        owner = deciders[0] if deciders else None
        items.append(
            Due(
                key,
                household_id=household.id,
                task=TaskDraft(
                    kind=TaskKind.PANEL_DECISION,
                    title=(
                        "Overdue: the agency decision after panel"
                        if level == "overdue"
                        else "Make the agency decision after panel"
                    ),
                    detail=f"Panel on {date_text(meeting.meets_on)} recommended: "
                    f"{Recommendation(listing.recommendation).label.lower()}; "
                    f"the decision is due by {date_text(due_on)}.",
                    owner_id=owner.id if owner else None,
                    priority=TaskPriority.URGENT if level == "overdue" else TaskPriority.NORMAL,
                    due_at=now if level == "overdue" else at_local(settings, due_on, time(17)),
                    counts_as=level,
                ),
                staff=deciders,
                notices={
                    "decision": {
                        "household_name": household.display_name,
                        "household_reference": household.reference,
                        "panel_date": date_text(meeting.meets_on),
                        "recommendation": Recommendation(listing.recommendation).label.lower(),
                        "decision_due_date": date_text(due_on),
                        "level": level,
                    }
                },
            )
        )
    return items


PANEL_DECISIONS = ReminderSpec(
    id="panel_decisions",
    title="Agency decisions due after panel",
    every={"trigger": "cron", "hour": 7, "minute": 30},
    keys="panel_decision:",
    due=due_panel_decisions,
    notices={"decision": Notice("panel_decision_due_staff", Audience.STAFF, "emails")},
    counts=("due", "overdue", "emails"),
)
SPECS = (PANEL_TIMESCALES, PANEL_PAPERS, PANEL_DECISIONS)
