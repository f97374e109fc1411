"""The scheduler's jobs, declared as data.

Each job has a stable id (re-declared at every start with replace_existing, so a restart never
duplicates a job), a trigger in London time, and the scan it runs: a function
`scan(session, settings, now) -> summary` in crm.scheduler.scans (or "dispatch" for the outbox
dispatcher). `run_at_start` jobs run once as soon as a scheduler becomes active; every other
job runs at start-up only if a fire time was missed since its last successful run (recorded in
the `scheduler_job` table), so a scheduler that was down over Monday 08:00 still sends the
weekly report when it comes back.

Times are chosen to be safe across the clock changes: nothing runs between 01:00 and 02:00,
the hour that does not exist in March and happens twice in October.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DISPATCH = "dispatch"


@dataclass(frozen=True)
class JobSpec:
    id: str
    title: str
    target: str  # "module:function" of a scan, or DISPATCH
    trigger: dict[str, Any] = field(default_factory=dict)  # APScheduler trigger and its fields
    run_at_start: bool = False
    keep_history: bool = True  # a row in scheduler_job_run per run (not for the dispatcher)
    executor: str = "default"

    def scan(self) -> Callable:
        module_name, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module_name), name)


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
    JobSpec(
        "visit_reminders",
        "Visit reminders: the day before and the morning of",
        "crm.scheduler.scans:visit_reminders",
        {"trigger": "cron", "minute": "*/15"},
        run_at_start=True,
    ),
    JobSpec(
        "enquiry_chasers",
        "New enquiries past the response target",
        "crm.scheduler.scans:enquiry_chasers",
        {"trigger": "cron", "minute": "7,22,37,52"},
        run_at_start=True,
    ),
    JobSpec(
        "stalled_cases",
        "Cases with no move or activity beyond the stage's target",
        "crm.scheduler.scans:stalled_cases",
        {"trigger": "cron", "hour": 7, "minute": 0},
    ),
    JobSpec(
        "panel_timescales",
        "Applications nearing 8 months without a panel recommendation",
        "crm.scheduler.scans:panel_timescales",
        {"trigger": "cron", "hour": 7, "minute": 10},
    ),
    JobSpec(
        "carer_reminders",
        "Annual reviews, TSD deadlines and overdue supervision visits",
        "crm.scheduler.scans:carer_reminders",
        {"trigger": "cron", "hour": 7, "minute": 20},
    ),
    JobSpec(
        "retention_check_ins",
        "Check-ins to approved carers",
        "crm.scheduler.scans:retention_check_ins",
        # Mid-morning on a weekday: when a carer has a moment, and staff are in to follow up.
        {"trigger": "cron", "day_of_week": "mon-fri", "hour": 10, "minute": 0},
    ),
    JobSpec(
        "weekly_funnel_report",
        "The weekly funnel report to managers",
        "crm.scheduler.scans:weekly_funnel_report",
        {"trigger": "cron", "day_of_week": "mon", "hour": 8, "minute": 0},
    ),
    JobSpec(
        "data_retention",
        "Anonymise closed households past the retention period",
        "crm.scheduler.scans:data_retention",
        {"trigger": "cron", "hour": 2, "minute": 30},
    ),
)


def job(job_id: str) -> JobSpec:
    for spec in JOBS:
        if spec.id == job_id:
            return spec
    known = ", ".join(spec.id for spec in JOBS)
    raise KeyError(f"no job {job_id!r}; the jobs are: {known}")


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
