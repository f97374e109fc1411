"""The scheduler's lease, catch-up after a late start, job records, and the real APScheduler
running two instances against one database."""

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

import crm.models as m
from crm import clock
from crm.db import make_engine
from crm.scheduler.jobs import JOBS, JobSpec, job
from crm.scheduler.lease import Lease
from crm.scheduler.runner import SchedulerRunner, missed_fire_time
from crm.services import outbox as outbox_service
from tests.crm.scheduler.helpers import outbox, wait_until


def at(*args) -> datetime:
    clock.set_now(datetime(*args, tzinfo=UTC))
    return clock.now()


def test_one_holder_at_a_time_and_take_over_after_expiry(engine):
    first = Lease(engine, "first", seconds=60)
    second = Lease(engine, "second", seconds=60)
    assert first.acquire() is True
    assert second.acquire() is False
    clock.advance(timedelta(seconds=40))
    assert first.acquire() is True  # renewed for another 60 s
    clock.advance(timedelta(seconds=40))
    assert second.acquire() is False and first.held()
    clock.advance(timedelta(seconds=21))  # the first stopped renewing: expired
    assert not first.held()
    assert second.acquire() is True
    assert first.acquire() is False and not first.held()
    assert second.current()[0] == "second"
    second.release()
    assert first.acquire() is True


def test_jobs_have_stable_unique_ids_and_valid_triggers(settings):
    from crm.scheduler.jobs import make_trigger

    ids = [spec.id for spec in JOBS]
    assert len(ids) == len(set(ids))
    for spec in JOBS:
        trigger = make_trigger(spec, settings.tz)
        assert trigger.get_next_fire_time(None, datetime.now(settings.tz)) is not None
        if spec.target != "dispatch":
            assert callable(spec.scan())
        # Nothing between 01:00 and 02:00, the hour the clock changes skip or repeat.
        assert spec.trigger.get("hour") not in (1,)


def test_missed_weekly_report_across_the_change_to_summer_time(settings):
    spec = job("weekly_funnel_report")
    # Last sent on Monday 23 March at 08:00 GMT; the scheduler was down over 30 March.
    state = m.SchedulerJob(
        job_id=spec.id,
        first_seen_at=datetime(2026, 1, 1, tzinfo=UTC),
        last_success_at=datetime(2026, 3, 23, 8, 0, 0, 5000, tzinfo=UTC),
    )
    now = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    # Monday 30 March 08:00 BST is 07:00 UTC.
    assert missed_fire_time(spec, state, now, settings.tz) == datetime(
        2026, 3, 30, 7, 0, tzinfo=UTC
    )
    state.last_success_at = datetime(2026, 3, 30, 7, 0, 0, 2000, tzinfo=UTC)
    assert missed_fire_time(spec, state, now, settings.tz) is None


def test_missed_nightly_job_on_the_night_the_clocks_go_back(settings):
    spec = job("data_retention")  # 02:30 London
    state = m.SchedulerJob(
        job_id=spec.id,
        first_seen_at=datetime(2026, 1, 1, tzinfo=UTC),
        last_success_at=datetime(2026, 10, 24, 1, 30, tzinfo=UTC),  # 02:30 BST on the 24th
    )
    # 25 October: 02:30 GMT = 02:30 UTC (the hour 01:00-02:00 happened twice before it).
    before = datetime(2026, 10, 25, 2, 29, tzinfo=UTC)
    assert missed_fire_time(spec, state, before, settings.tz) is None
    assert missed_fire_time(
        spec, state, datetime(2026, 10, 25, 2, 30, tzinfo=UTC), settings.tz
    ) == datetime(2026, 10, 25, 2, 30, tzinfo=UTC)


def test_a_new_scheduler_does_not_run_calendar_jobs_at_once_but_a_late_one_catches_up(
    settings, engine
):
    runner = SchedulerRunner(settings, engine, holder="test")
    at(2026, 3, 11, 12, 0)  # Wednesday
    assert runner.jobs_to_catch_up() == {}
    # Down from Wednesday noon to the next Tuesday: every daily job and Monday's report.
    at(2026, 3, 17, 12, 0)
    missed = runner.jobs_to_catch_up()
    assert missed["weekly_funnel_report"] == datetime(2026, 3, 16, 8, 0, tzinfo=UTC)
    assert missed["data_retention"] == datetime(2026, 3, 17, 2, 30, tzinfo=UTC)
    assert missed["retention_check_ins"] == datetime(2026, 3, 17, 10, 0, tzinfo=UTC)
    # Frequent scans run at every start anyway, so they are not "caught up".
    assert "visit_reminders" not in missed and "dispatch_outbox" not in missed


def test_run_job_records_success_and_failure(settings, engine, session):
    failing = JobSpec("broken", "A job that fails", "tests.crm.scheduler.helpers:failing_scan")
    runner = SchedulerRunner(
        settings, engine, holder="test", jobs=[job("weekly_funnel_report"), failing]
    )
    assert runner.run_job("broken") == {"error": "the database said no"}
    result = runner.run_job("weekly_funnel_report", catch_up=True)
    assert result == {"week_ending": 20260308, "messages": 0}
    session.expire_all()
    broken = session.get(m.SchedulerJob, "broken")
    assert broken.last_success_at is None and broken.failures == 1
    assert "RuntimeError: the database said no" in broken.last_error
    report = session.get(m.SchedulerJob, "weekly_funnel_report")
    assert report.last_success_at == clock.now() and report.runs == 1
    runs = session.exec(select(m.SchedulerJobRun).order_by(m.SchedulerJobRun.id)).all()
    assert [(r.job_id, r.ok, r.catch_up) for r in runs] == [
        ("broken", False, False),
        ("weekly_funnel_report", True, True),
    ]


# -- the real thing: APScheduler in threads, real time ---------------------------------------


def enqueue_staff_messages(engine, org, start: int, count: int) -> None:
    with Session(engine) as session:
        for n in range(start, start + count):
            outbox_service.enqueue_message(
                session,
                channel=m.Channel.EMAIL,
                recipient=org.manager.email,
                template="check_in_alert_staff",
                payload={
                    "staff_name": "Mo",
                    "carer_name": f"Carer {n}",
                    "household_reference": f"FC-{n}",
                    "reason": "Check-in: 1 out of 5",
                    "comment": "",
                },
                due_at=clock.now(),
                unique_key=f"test:runner:{n}",
                staff_id=org.manager.id,
            )
        session.commit()


def test_two_schedulers_one_active_and_the_other_takes_over(
    database_url, org, sched_settings, smtp, session
):
    # APScheduler fires the dispatch job on real time, but the lease is judged on crm.clock,
    # which stays frozen here and moves only by hand, and each scheduler's lease round
    # (check_lease, what its loop runs every third of the lease) is run by the test. So the
    # lease changes hands exactly when the test says: no stall of a busy machine can pass for
    # an expiry, and no fixed lease races one.
    dispatch_only = [job("dispatch_outbox")]
    engines = [make_engine(database_url), make_engine(database_url)]
    runners = [
        SchedulerRunner(
            sched_settings,
            engines[i],
            holder=name,
            lease_seconds=60,
            dispatch_every=0.2,
            jobs=dispatch_only,
        )
        for i, name in enumerate(["alpha", "beta"])
    ]
    try:
        alpha, beta = runners
        assert alpha.check_lease() is True
        assert beta.check_lease() is False  # beta sees the lease held and stands by
        enqueue_staff_messages(engines[0], org, 0, 5)
        smtp.wait_for(5, timeout=60)
        # The dispatcher records each message as sent (and lets go of its claim) after the
        # mail server has it.
        assert wait_until(lambda: all_sent(session, 5), 30)
        assert job_state(engines[0]).last_holder == "alpha"

        # alpha renews; beta keeps standing by right up to the renewed lease's last second.
        first_expiry = alpha.lease.current()[1]
        clock.advance(timedelta(seconds=40))
        assert alpha.check_lease() is True
        assert alpha.lease.current()[1] == first_expiry + timedelta(seconds=40)
        clock.advance(timedelta(seconds=59))
        assert beta.check_lease() is False and not beta.active.is_set()
        assert alpha.lease.held()

        # alpha dies without a word: it renews no more (its job thread, hung or not, still
        # fires). Once its lease has run out, beta takes over and sends what comes next.
        clock.advance(timedelta(seconds=2))
        assert not alpha.lease.held()
        assert beta.check_lease() is True
        enqueue_staff_messages(engines[1], org, 5, 3)
        smtp.wait_for(8, timeout=60)
        assert wait_until(lambda: all_sent(session, 8), 30)
        counts = smtp.message_id_counts()
        assert len(counts) == 8 and set(counts.values()) == {1}
        assert beta.lease.current()[0] == "beta"
        assert wait_until(lambda: job_state(engines[1]).last_holder == "beta", 30)
        # alpha, back, finds the lease taken: it stops its jobs and stands by.
        assert alpha.check_lease() is False and not alpha.active.is_set()

        beta.stop()  # a clean stop releases the lease at once: no waiting for it to expire
        assert alpha.check_lease() is True
        assert alpha.lease.current()[0] == "alpha"
    finally:
        for runner in runners:
            runner.stop()
        for item in engines:
            item.dispose()


def all_sent(session, count: int) -> bool:
    messages = outbox(session)
    return len(messages) == count and all(
        msg.status == m.OutboxStatus.SENT and msg.claimed_by is None for msg in messages
    )


def job_state(engine) -> m.SchedulerJob:
    with Session(engine) as other:
        return other.get(m.SchedulerJob, "dispatch_outbox")


def test_a_late_start_catches_up_the_weekly_report(database_url, org, sched_settings, session):
    clock.set_now(None)
    spec = job("weekly_funnel_report")
    session.add(
        m.SchedulerJob(
            job_id=spec.id,
            first_seen_at=clock.now() - timedelta(days=30),
            last_success_at=clock.now() - timedelta(days=8),
        )
    )
    session.commit()
    engine = make_engine(database_url)
    runner = SchedulerRunner(sched_settings, engine, holder="late", lease_seconds=5, jobs=[spec])
    try:
        runner.start()

        def caught_up() -> bool:
            with Session(engine) as other:
                return (
                    other.exec(
                        select(m.SchedulerJobRun).where(
                            m.SchedulerJobRun.job_id == spec.id, m.SchedulerJobRun.catch_up
                        )
                    ).first()
                    is not None
                )

        assert wait_until(caught_up, 20)
    finally:
        runner.stop()
        engine.dispose()
    [message] = outbox(session, template="weekly_funnel_report")
    assert message.recipient == org.manager.email


def test_the_nightly_retention_job_calls_the_web_crm_rule(settings, engine, session, org):
    from crm.services.pipeline import move_stage
    from tests.crm.scheduler.helpers import make_household

    at(2023, 1, 10, 10, 0)
    household = make_household(session, settings)
    move_stage(
        session,
        org.actor(session, org.manager),
        household.id,
        m.Stage.WITHDRAWN,
        reason_code=session.exec(
            select(m.Reason.code).where(m.Reason.kind == m.ReasonKind.WITHDRAWN)
        ).first(),
    )
    at(2026, 3, 10, 2, 30)  # more than 24 months later
    runner = SchedulerRunner(settings, engine, holder="test", jobs=[job("data_retention")])
    assert runner.run_job("data_retention") == {"anonymised": 1}
    assert runner.run_job("data_retention") == {"anonymised": 0}
    session.expire_all()
    assert session.get(m.Household, household.id).anonymised_at is not None
