"""Reminders declared as data: each module holds the specs (crm.services.reminders.engine's
ReminderSpec) of one area, and `REMINDERS` is every one of them, in the order the scheduler
lists its jobs. Adding a reminder is a spec in its area's module (or a new module added here)
plus its templates; crm.scheduler.jobs schedules every spec in REMINDERS."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from crm.services.reminders import (
    assessment,
    carers,
    check_ins,
    engine,
    enquiries,
    kinship,
    panel,
    stalled,
    visits,
)
from crm.settings import Settings

REMINDERS: tuple[engine.ReminderSpec, ...] = (
    *visits.SPECS,
    *enquiries.SPECS,
    *stalled.SPECS,
    *panel.SPECS,
    *kinship.SPECS,
    *assessment.SPECS,
    *carers.SPECS,
    *check_ins.SPECS,
)


def reminder(reminder_id: str) -> engine.ReminderSpec:
    for spec in REMINDERS:
        if spec.id == reminder_id:
            return spec
    known = ", ".join(spec.id for spec in REMINDERS)
    raise KeyError(f"no reminder {reminder_id!r}; the reminders are: {known}")


def run(reminder_id: str, session: Session, settings: Settings, now: datetime) -> dict:
    """Run one reminder at `now` (crm.services.reminders.engine.run)."""
    return engine.run(reminder(reminder_id), session, settings, now)
