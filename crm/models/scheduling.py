"""The scheduler's own records: who holds the lease, and when each job last ran.

Only one scheduler may be active at a time (two would send every reminder twice), so the
active one holds a row in `scheduler_lease` and renews it; a second instance waits until the
lease expires and then takes over. `scheduler_job` remembers each job's last successful run,
so a scheduler that starts late runs what it missed instead of silently skipping it.
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm.models.base import created_at_field


class SchedulerLease(SQLModel, table=True):
    __tablename__ = "scheduler_lease"

    # One row per kind of singleton process ("scheduler").
    name: str = Field(primary_key=True, max_length=40)
    holder: str = Field(max_length=100)
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime


class SchedulerJob(SQLModel, table=True):
    """The state of one declared job (the declaration itself is code: crm.scheduler.jobs)."""

    __tablename__ = "scheduler_job"

    job_id: str = Field(primary_key=True, max_length=60)
    # When a scheduler first knew this job: the watermark before its first successful run.
    first_seen_at: datetime = created_at_field()
    last_started_at: datetime | None = None
    # The start of the last run that finished without error: the catch-up watermark.
    last_success_at: datetime | None = None
    last_finished_at: datetime | None = None
    last_error: str | None = Field(default=None, max_length=2000)
    last_error_at: datetime | None = None
    last_summary: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    last_holder: str | None = Field(default=None, max_length=100)
    runs: int = 0
    failures: int = 0


class SchedulerJobRun(SQLModel, table=True):
    """History of the daily and weekly jobs (the frequent dispatcher keeps only its state)."""

    __tablename__ = "scheduler_job_run"
    __table_args__ = (sa.Index("ix_scheduler_job_run_job_started", "job_id", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(max_length=60)
    holder: str = Field(max_length=100)
    started_at: datetime = created_at_field()
    finished_at: datetime | None = None
    ok: bool | None = None
    catch_up: bool = False
    summary: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    error: str | None = Field(default=None, max_length=2000)
