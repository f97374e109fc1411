"""Two scheduler processes against one database: one is active, the other stands by; every
message is sent once; kill the active one (SIGKILL) and the other takes over."""

from sqlmodel import Session, select

import crm.models as m
from crm import clock
from crm.scheduler.lease import Lease
from crm.testing.smtp import SmtpCapture
from tests.crm.scheduler.helpers import (
    enqueue_staff_alerts,
    kill,
    scheduler_process,
    stop,
    wait_until,
)


def holder(engine) -> str | None:
    current = Lease(engine, "observer").current()
    if current is None or current[1] <= clock.now():
        return None
    return current[0]


def all_sent(engine, count: int) -> bool:
    with Session(engine) as session:
        statuses = session.exec(select(m.OutboxMessage.status)).all()
    return len(statuses) == count and set(statuses) == {m.OutboxStatus.SENT}


def test_two_schedulers_send_each_message_once_and_take_over(database_url, engine, org, tmp_path):
    clock.set_now(None)
    with SmtpCapture() as smtp:
        processes = {
            name: scheduler_process(database_url, smtp.port, name, tmp_path)
            for name in ("north-box", "south-box")
        }
        try:
            assert wait_until(lambda: holder(engine) in processes, 60)
            enqueue_staff_alerts(engine, org, 30)
            assert wait_until(lambda: all_sent(engine, 30), 60)
            counts = smtp.message_id_counts()
            assert len(counts) == 30 and set(counts.values()) == {1}

            active = holder(engine)
            standby = next(name for name in processes if name != active)
            with Session(engine) as session:
                job = session.get(m.SchedulerJob, "dispatch_outbox")
            assert job.last_holder == active

            kill(processes[active])
            assert wait_until(lambda: holder(engine) == standby, 30)
            enqueue_staff_alerts(engine, org, 15, start=30)
            assert wait_until(lambda: all_sent(engine, 45), 60)
            counts = smtp.message_id_counts()
            assert len(counts) == 45 and set(counts.values()) == {1}
            with Session(engine) as session:
                session.expire_all()
                job = session.get(m.SchedulerJob, "dispatch_outbox")
            assert job.last_holder == standby
            assert processes[standby].poll() is None
        finally:
            for process in processes.values():
                stop(process)
