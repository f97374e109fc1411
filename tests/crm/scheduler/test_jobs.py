"""The jobs are declared as data: every reminder spec is a job with the spec's own trigger, the
job list keeps its order, and the job state table is reconciled with the declarations."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select

import crm.models as m
from crm.scheduler.jobs import DISPATCH, JOBS, JobSpec, job, make_trigger, reconcile
from crm.services import reminders
from crm.services.reminders import engine

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def test_every_reminder_is_a_job_with_its_own_trigger():
    for spec in reminders.REMINDERS:
        declared = job(spec.id)
        assert declared.trigger == dict(spec.every)
        assert declared.run_at_start == spec.run_at_start
        assert declared.scan().func is engine.run and declared.scan().args == (spec,)
    ids = [spec.id for spec in JOBS]
    assert len(ids) == len(set(ids))
    assert ids[0] == "dispatch_outbox" and JOBS[0].target == DISPATCH
    assert ids[-4:] == [
        "weekly_funnel_report",
        "data_retention",
        "notify_delivery_status",
        "notify_replies",
    ]
    for spec in JOBS:
        make_trigger(spec, "Europe/London")  # every trigger is one APScheduler accepts
        if spec.target != DISPATCH:
            assert callable(spec.scan())


def test_an_unknown_job_or_reminder_names_the_known_ones():
    with pytest.raises(KeyError, match="the jobs are: dispatch_outbox, visit_reminders"):
        job("visit_reminder")
    with pytest.raises(KeyError, match="the reminders are: visit_reminders, enquiry_chasers"):
        reminders.reminder("nope")


def test_reconcile_adds_new_jobs_and_drops_the_ones_no_longer_declared(session):
    session.add(m.SchedulerJob(job_id="visit_reminders", first_seen_at=NOW, runs=4))
    session.add(m.SchedulerJob(job_id="renamed_long_ago", first_seen_at=NOW, runs=2))
    session.add(m.SchedulerJobRun(job_id="renamed_long_ago", holder="old", started_at=NOW))
    extra = JobSpec("only_in_this_runner", "A job a test declares", "tests:nothing")
    session.commit()
    later = datetime(2026, 3, 11, 9, 0, tzinfo=UTC)
    states = reconcile(session, [job("visit_reminders"), job("stalled_cases"), extra], later)
    assert set(states) == {"visit_reminders", "stalled_cases", "only_in_this_runner"}
    assert states["visit_reminders"].runs == 4  # kept as it was
    assert states["stalled_cases"].first_seen_at == later
    session.expire_all()
    kept = {s.job_id for s in session.exec(select(m.SchedulerJob)).all()}
    assert kept == {"visit_reminders", "stalled_cases", "only_in_this_runner"}
    # The history of a job that is gone stays.
    assert [r.job_id for r in session.exec(select(m.SchedulerJobRun)).all()] == ["renamed_long_ago"]
