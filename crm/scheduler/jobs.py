"""The scheduler's jobs, declared as data.

Each job has a stable id (re-declared at every start with replace_existing, so a restart never
duplicates a job), a trigger in London time, and what it runs: a reminder spec
(crm.services.reminders: every spec there is a job, with the spec's own trigger), a plain
function `job(session, settings, now) -> summary` (crm.scheduler.housekeeping), or "dispatch"
for the outbox dispatcher. At start-up `reconcile` brings the job state table in line with
these declarations: a row for each new job, none left for a job no longer declared.

`run_at_start` jobs run once as soon as a scheduler becomes active; every other job runs at
start-up only if a fire time was missed since its last successful run (recorded in the
`scheduler_job` table), so a scheduler that was down over Monday 08:00 still sends the weekly
report when it comes back.

Times are chosen to be safe across the clock changes: nothing runs between 01:00 and 02:00,
the hour that does not exist in March and happens twice in October.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from sqlmodel import Session, select

from crm.models import SchedulerJob
from crm.services import reminders
from crm.services.reminders import engine

DISPATCH = "dispatch"
REMINDER = "reminder:"


@dataclass(frozen=True)
class JobSpec:
    id: str
    title: str
    # "module:function" of a job function, "reminder:<id>" of a reminder spec, or DISPATCH
    target: str
    trigger: dict[str, Any] = field(default_factory=dict)  # APScheduler trigger and its fields
    run_at_start: bool = False
    keep_history: bool = True  # a row in scheduler_job_run per run (not for the dispatcher)
    executor: str = "default"

    def scan(self) -> Callable:
        """What the job runs: `(session, settings, now) -> summary`."""
        if self.target.startswith(REMINDER):
            return partial(engine.run, reminders.reminder(self.target.removeprefix(REMINDER)))
        module_name, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module_name), name)


def reminder_job(spec: engine.ReminderSpec) -> JobSpec:
    return JobSpec(spec.id, spec.title, f"{REMINDER}{spec.id}", dict(spec.every), spec.run_at_start)


JOBS: tuple[JobSpec, ...] = (
    JobSpec(
        "dispatch_outbox",
        "Send the messages that are due",
        DISPATCH,
        {"trigger": "interval", "seconds": 15},
        run_at_start=True,
        keep_history=False,
        executor="dispatch",
    ),
    *(reminder_job(spec) for spec in reminders.REMINDERS),
    JobSpec(
        "approvals_ending",
        "End the approval of carers whose 28 days' notice is over",
        "crm.scheduler.housekeeping:approvals_ending",
        {"trigger": "cron", "hour": 0, "minute": 20},
    ),
    JobSpec(
        "weekly_funnel_report",
        "The weekly funnel report to managers",
        "crm.scheduler.housekeeping:weekly_funnel_report",
        {"trigger": "cron", "day_of_week": "mon", "hour": 8, "minute": 0},
    ),
    JobSpec(
        "data_retention",
        "Anonymise closed households past the retention period",
        "crm.scheduler.housekeeping:data_retention",
        {"trigger": "cron", "hour": 2, "minute": 30},
    ),
    JobSpec(
        "notify_delivery_status",
        "Read back from GOV.UK Notify whether messages were delivered",
        "crm.scheduler.housekeeping:notify_delivery_status",
        {"trigger": "interval", "minutes": 5},
        keep_history=False,
    ),
    JobSpec(
        "notify_replies",
        "Read the replies to our text messages (STOP)",
        "crm.scheduler.housekeeping:notify_replies",
        {"trigger": "interval", "minutes": 5},
        keep_history=False,
    ),
)


def job(job_id: str) -> JobSpec:
    for spec in JOBS:
        if spec.id == job_id:
            return spec
    known = ", ".join(spec.id for spec in JOBS)
    raise KeyError(f"no job {job_id!r}; the jobs are: {known}")


def reconcile(session: Session, jobs: Iterable[JobSpec], now: datetime) -> dict[str, SchedulerJob]:
    """A state row for every job in `jobs` (first_seen_at = now for new ones), and none for a
    job that is no longer declared (a renamed or removed job would otherwise be listed and
    caught up for ever). Their run history stays. Commits; returns {job id: state}."""
    jobs = list(jobs)
    declared = {spec.id for spec in (*JOBS, *jobs)}
    for state in session.exec(select(SchedulerJob)).all():
        if state.job_id not in declared:
            session.delete(state)
    states = {}
    for spec in jobs:
        state = session.get(SchedulerJob, spec.id)
        if state is None:
            state = SchedulerJob(job_id=spec.id, first_seen_at=now)
            session.add(state)
        states[spec.id] = state
    session.commit()
    return states


def make_trigger(spec: JobSpec, timezone: Any) -> Any:
    """The APScheduler trigger for a job, in `timezone`."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    fields = dict(spec.trigger)
    kind = fields.pop("trigger")
    if kind == "cron":
        return CronTrigger(timezone=timezone, **fields)
    if kind == "interval":
        return IntervalTrigger(timezone=timezone, **fields)
    raise ValueError(f"job {spec.id}: unknown trigger {kind!r}")
