"""Stalled cases: no move and no activity (by people, not by the scheduler) for longer than the
stage's target days: a task for the owner, and a gentle nudge to the household at the stages
where one is welcome (the stage table's "nudge" group)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import select

from crm import stages
from crm.models import Activity, Household, Stage, TaskKind
from crm.services.reminders import people
from crm.services.reminders.engine import (
    SCHEDULER,
    Audience,
    Due,
    Notice,
    ReminderSpec,
    Scan,
    TaskDraft,
    office_hours,
)
from crm.workdays import add_office_days

NUDGE_STAGES = frozenset(Stage.in_group("nudge"))


def due_stalled_cases(scan: Scan) -> list[Due]:
    session, settings, now = scan.session, scan.settings, scan.now
    last_activity = (
        select(Activity.household_id, sa.func.max(Activity.occurred_at).label("last"))
        .where(Activity.actor_label != SCHEDULER.label)
        .group_by(Activity.household_id)
        .subquery()
    )
    rows = session.exec(
        select(Household, last_activity.c.last)
        .outerjoin(last_activity, last_activity.c.household_id == Household.id)
        .where(Household.stage.in_(Stage.in_group("stall")), Household.anonymised_at.is_(None))
        .order_by(Household.id)
    ).all()
    stalled = []
    for household, last in rows:
        moved = household.stage_entered_at
        last_moved = max(moved, last) if last is not None else moved
        stage = Stage(household.stage)
        limit = timedelta(days=stages.target_days(settings, stage))
        if now - last_moved <= limit:
            continue
        key = f"stalled:{household.id}:{stage.value}:{last_moved:%Y%m%d%H%M}"
        if key not in scan.used_keys():
            stalled.append((household, stage, limit, last_moved, key))
    people.households_with_applicants(
        session, [h.id for h, stage, *_ in stalled if stage in NUDGE_STAGES]
    )
    items = []
    for household, stage, limit, last_moved, key in stalled:
        officer = people.allowed_owner(session, household.assigned_officer_id, household=household)
        days = (now - last_moved).days
        item = Due(
            key,
            household_id=household.id,
            household=household,
            task=TaskDraft(
                kind=TaskKind.STALLED_CASE,
                title=f"Stalled at {stage.label.lower()}: nothing for {days} days",
                detail=(
                    f"The target for {stage.label.lower()} is {limit.days} days. Get in touch, "
                    "move the case on, or record why it is waiting."
                ),
                owner_id=officer.id if officer else None,
                due_at=add_office_days(now, 1, *office_hours(settings)),
                counts_as="tasks",
            ),
        )
        if stage in NUDGE_STAGES:
            item.notices["nudge"] = {
                "stage_label": (
                    Stage(household.held_from_stage).label
                    if stage == Stage.ON_HOLD and household.held_from_stage
                    else stage.label
                ),
                "officer_name": officer.name if officer else "",
                "officer_email": officer.email if officer else "",
            }
        items.append(item)
    return items


STALLED_CASES = ReminderSpec(
    id="stalled_cases",
    title="Cases with no move or activity beyond the stage's target",
    every={"trigger": "cron", "hour": 7, "minute": 0},
    keys="stalled:",
    due=due_stalled_cases,
    notices={"nudge": Notice("stalled_case_nudge", Audience.HOUSEHOLD, "nudges")},
    counts=("tasks", "nudges"),
)
SPECS = (STALLED_CASES,)
