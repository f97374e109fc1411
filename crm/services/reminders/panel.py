"""The 8-month panel timescale (National Minimum Standard 14): applications nearing
(panel_warning_months) or past (panel_deadline_months) it without a panel recommendation: a
task and an alert for the area's managers."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlmodel import select

from crm.models import Household, Stage, StageEvent, TaskKind, TaskPriority
from crm.services.reminders import people
from crm.services.reminders.engine import (
    Audience,
    Due,
    Notice,
    ReminderSpec,
    Scan,
    TaskDraft,
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
    in_assessment = sa.or_(
        Household.stage.in_(assessment),
        sa.and_(Household.stage == Stage.ON_HOLD, Household.held_from_stage.in_(assessment)),
    )
    rows = session.exec(
        select(Household, applied.c.applied)
        .join(applied, applied.c.household_id == Household.id)
        .where(in_assessment, Household.anonymised_at.is_(None))
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
SPECS = (PANEL_TIMESCALES,)
