"""The scheduler process is killed (SIGKILL) in the middle of dispatching and started again:
every due message reaches the real SMTP server, none is lost, and each is in the mailbox once.

Across a crash, delivery is at-least-once for the one message that was in flight: the server
had it but the dispatcher died before it could record that, so it goes again after restart.
It goes with the same Message-ID, so the mailbox sees one message (counted here the way a
mailbox does, by Message-ID); the raw count at the server shows that single repeat."""

from sqlmodel import Session, select

import crm.models as m
from crm import clock
from crm.testing.smtp import SmtpCapture
from tests.crm.scheduler.helpers import (
    enqueue_staff_alerts,
    kill,
    scheduler_process,
    stop,
    wait_until,
)

TOTAL = 40


def statuses(engine) -> dict[str, int]:
    with Session(engine) as session:
        rows = session.exec(select(m.OutboxMessage.status)).all()
    counts: dict[str, int] = {}
    for status in rows:
        counts[status] = counts.get(status, 0) + 1
    return counts


def test_killed_mid_send_then_restarted_every_message_once(database_url, engine, org, tmp_path):
    clock.set_now(None)  # two processes: real time
    enqueue_staff_alerts(engine, org, TOTAL)
    with SmtpCapture() as smtp:
        # The 12th message is received but its "250 OK" is held back while we kill the sender:
        # the worst moment to die.
        smtp.hold_at = 12
        first = scheduler_process(database_url, smtp.port, "first", tmp_path)
        try:
            smtp.wait_for(12, timeout=60)
            kill(first)
        finally:
            stop(first)
        smtp.released.set()
        with Session(engine) as session:
            in_flight = session.exec(
                select(m.OutboxMessage).where(m.OutboxMessage.status == m.OutboxStatus.SENDING)
            ).all()
        assert len(in_flight) >= 1  # claimed by the dead process, not lost

        second = scheduler_process(database_url, smtp.port, "second", tmp_path)
        try:
            assert wait_until(lambda: statuses(engine) == {"sent": TOTAL}, 60), statuses(engine)
        finally:
            stop(second)

        counts = smtp.message_id_counts()
        assert len(counts) == TOTAL  # none lost
        repeats = {mid: n for mid, n in counts.items() if n > 1}
        held = smtp.messages()[11].message_id
        # Only the message in flight at the kill went twice, with the same Message-ID.
        assert repeats == {held: 2}
    with Session(engine) as session:
        messages = session.exec(select(m.OutboxMessage)).all()
    assert {msg.provider_message_id for msg in messages} == set(counts)
    assert max(msg.attempts for msg in messages) == 2


def test_killed_at_a_random_moment_nothing_is_lost(database_url, engine, org, tmp_path):
    clock.set_now(None)
    enqueue_staff_alerts(engine, org, TOTAL)
    with SmtpCapture() as smtp:
        first = scheduler_process(database_url, smtp.port, "first", tmp_path)
        try:
            smtp.wait_for(15, timeout=60)
        finally:
            kill(first)
        second = scheduler_process(database_url, smtp.port, "second", tmp_path)
        try:
            assert wait_until(lambda: statuses(engine) == {"sent": TOTAL}, 60), statuses(engine)
        finally:
            stop(second)
        counts = smtp.message_id_counts()
        assert len(counts) == TOTAL
        # Sends are one at a time, so at most the one in flight can have gone twice.
        assert sum(counts.values()) <= TOTAL + 1
