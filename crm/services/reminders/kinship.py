"""A connected person's temporary approval (regulation 24) nearing its end: four weeks and one
week before, and on the day it runs out, a task for the household's assessor (or, with none,
its officer) so the full assessment reaches panel, or an extension is decided, in time."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlmodel import col, select

from crm.models import Household, TaskKind, TaskPriority, TemporaryApproval
from crm.services.reminders import people
from crm.services.reminders.engine import Due, ReminderSpec, Scan, TaskDraft, date_text

# Days before the end at which a warning is due, the last first.
WARNINGS = ((0, "expired"), (7, "one_week"), (28, "four_weeks"))


def due_temporary_approvals(scan: Scan) -> list[Due]:
    rows = scan.session.exec(
        select(TemporaryApproval, Household)
        .join(Household, Household.id == TemporaryApproval.household_id)
        .where(col(TemporaryApproval.ended_on).is_(None), col(Household.anonymised_at).is_(None))
        .order_by(TemporaryApproval.id)
    ).all()
    items = []
    for approval, household in rows:
        days_left = (approval.ends_on - scan.today).days
        level = next((name for days, name in WARNINGS if days_left <= days), None)
        if level is None:
            continue
        key = f"temporary-approval:{approval.id}:{approval.ends_on.isoformat()}:{level}"
        if key in scan.used_keys():
            continue
        owner_id = getattr(household, "assessor_id", None) or household.assigned_officer_id
        owner = people.active_staff(scan.session, owner_id)
        if owner is None:
            managers = people.managers_for(scan.session, household.area_id)
            owner = managers[0] if managers else None
        ends = date_text(approval.ends_on)
        extend = "" if approval.extended_until else " or decide on an extension (up to 8 weeks)"
        items.append(
            Due(
                key,
                household_id=household.id,
                task=TaskDraft(
                    kind=TaskKind.TEMPORARY_APPROVAL,
                    title=(
                        "Temporary approval has run out"
                        if level == "expired"
                        else f"Temporary approval ends {ends}"
                    ),
                    detail=f"The connected person's temporary approval ends {ends}: bring the "
                    f"full assessment to panel{extend}.",
                    owner_id=owner.id if owner else None,
                    priority=TaskPriority.URGENT if days_left <= 7 else TaskPriority.NORMAL,
                    due_at=min(
                        scan.now + timedelta(days=7),
                        datetime.combine(approval.ends_on, time(9), tzinfo=scan.settings.tz),
                    )
                    if days_left > 0
                    else scan.now,
                    counts_as=level,
                ),
            )
        )
    return items


TEMPORARY_APPROVALS = ReminderSpec(
    id="temporary_approvals",
    title="Connected persons' temporary approvals nearing their end",
    every={"trigger": "cron", "hour": 7, "minute": 20},
    keys="temporary-approval:",
    due=due_temporary_approvals,
    counts=("four_weeks", "one_week", "expired"),
)
SPECS = (TEMPORARY_APPROVALS,)
