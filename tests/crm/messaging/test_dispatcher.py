"""The outbox dispatcher against a real SMTP server (aiosmtpd) and a real local HTTP server
speaking the Telegram Bot API, on SQLite and PostgreSQL."""

import email
import email.policy
import socket
import threading
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import icalendar
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from sqlmodel import Session, select

import crm.models as m
from crm import clock
from crm.messaging.dispatcher import Dispatcher
from crm.scheduler import housekeeping
from crm.services import outbox as outbox_service
from crm.services import reminders
from crm.services.actors import Actor
from crm.services.appointments import book_appointment, cancel_appointment, move_appointment
from tests.crm.scheduler.helpers import (
    make_carer,
    make_household,
    outbox,
    scheduler_settings,
)

SYSTEM = Actor.system("test")


def at(*args) -> datetime:
    clock.set_now(datetime(*args, tzinfo=UTC))
    return clock.now()


def staff_message(session, org, key: str, due: datetime | None = None) -> m.OutboxMessage:
    message = outbox_service.enqueue_message(
        session,
        channel=m.Channel.EMAIL,
        recipient=org.supervisor_north.email,
        template="check_in_alert_staff",
        payload={
            "staff_name": "Sup",
            "carer_name": "Kim Lee",
            "household_reference": "FC-1",
            "reason": "Check-in: 1 out of 5",
            "comment": "",
        },
        due_at=due or clock.now(),
        unique_key=key,
        staff_id=org.supervisor_north.id,
    )
    session.commit()
    return message


def test_visit_reminder_email_arrives_with_a_calendar_invite(
    session, engine, org, sched_settings, smtp
):
    household = make_household(session, sched_settings)
    visit = book_appointment(
        session,
        SYSTEM,
        sched_settings,
        staff_id=org.officer_north.id,
        kind=m.AppointmentKind.INITIAL_VISIT,
        starts_at=datetime(2026, 3, 12, 9, 30, tzinfo=UTC),
        household_id=household.id,
        location="12 Elm Road, Leicester",
    )
    now = at(2026, 3, 11, 10, 0)
    reminders.run("visit_reminders", session, sched_settings, now)
    result = Dispatcher(sched_settings, engine).run_until_idle()
    assert result.sent == 2 and result.failed == 0

    [email] = smtp.to("sam.patel@example.com")
    assert email.subject == "Tomorrow: your initial visit at 9:30am"
    text = email.text()
    assert "Thursday 12 March 2026 at 9:30am" in text
    assert "12 Elm Road, Leicester" in text
    assert "move or cancel" in text
    assert "/unsubscribe/" in text and email.message["List-Unsubscribe"]
    assert "<strong>tomorrow</strong>" in email.html()
    [invite] = email.attachments()
    assert invite.get_content_type() == "text/calendar"
    assert invite.get_param("method") == "REQUEST"
    calendar = icalendar.Calendar.from_ical(invite.get_content())
    [event] = calendar.walk("VEVENT")
    assert str(event["uid"]) == f"appointment-{visit.id}@example.org"
    assert event.decoded("dtstart") == visit.starts_at
    assert event.decoded("dtend") == visit.ends_at
    assert str(event["location"]) == "12 Elm Road, Leicester"

    [staff_email] = smtp.to(org.officer_north.email)
    assert "Sam Patel" in staff_email.subject
    assert "invite.ics" in [a.get_filename() for a in staff_email.attachments()]

    [message] = outbox(session, template="visit_reminder")
    assert message.status == m.OutboxStatus.SENT
    assert message.provider_message_id == email.message_id
    assert message.sent_at == now
    [entry] = session.exec(
        select(m.Activity).where(m.Activity.outbox_message_id == message.id)
    ).all()
    assert entry.household_id == household.id
    assert entry.summary.startswith("Sent by email: Tomorrow: your initial visit")


def test_reminders_for_a_moved_or_cancelled_visit_are_not_sent(
    session, engine, org, sched_settings, smtp
):
    first = make_household(session, sched_settings)
    second = make_household(
        session, sched_settings, first_name="Jo", email_address="jo@example.com", phone=None
    )
    visits = [
        book_appointment(
            session,
            SYSTEM,
            sched_settings,
            staff_id=org.officer_north.id,
            kind=m.AppointmentKind.INITIAL_VISIT,
            starts_at=datetime(2026, 3, 12, hour, 0, tzinfo=UTC),
            household_id=household.id,
        )
        for household, hour in ((first, 11), (second, 14))
    ]
    reminders.run("visit_reminders", session, sched_settings, at(2026, 3, 11, 10, 0))
    cancel_appointment(session, SYSTEM, visits[0].id, reason="Unwell")
    move_appointment(
        session,
        SYSTEM,
        sched_settings,
        visits[1].id,
        starts_at=datetime(2026, 3, 13, 9, 30, tzinfo=UTC),
    )
    result = Dispatcher(sched_settings, engine).run_until_idle()
    # The cancellation stopped its own reminders; the moved visit's are stopped at send time.
    # What goes is the notice of the cancellation, to the household and to the officer.
    assert result.sent == 2 and result.cancelled == 2
    assert sorted(email.message["To"] for email in smtp.messages()) == sorted(
        ["sam.patel@example.com", org.officer_north.email]
    )
    assert all("is cancelled" in email.text() for email in smtp.messages())
    sent_reminders = [msg for msg in outbox(session) if msg.template.startswith("visit_reminder")]
    assert sorted(msg.error for msg in sent_reminders) == [
        "the visit was cancelled",
        "the visit was cancelled",
        "the visit was moved",
        "the visit was moved",
    ]
    assert {msg.status for msg in sent_reminders} == {m.OutboxStatus.CANCELLED}


def test_a_cancellation_notice_goes_with_its_visit_and_not_after_the_visit_time(
    session, engine, org, sched_settings, smtp
):
    household = make_household(session, sched_settings)
    visit = book_appointment(
        session, SYSTEM, sched_settings, staff_id=org.officer_north.id,
        kind=m.AppointmentKind.INITIAL_VISIT,
        starts_at=datetime(2026, 3, 12, 11, 0, tzinfo=UTC), household_id=household.id,
    )  # fmt: skip
    cancel_appointment(session, SYSTEM, visit.id, reason="Unwell")
    notices = outbox(session, status=m.OutboxStatus.PENDING)
    assert {n.template for n in notices} == {"visit_cancelled", "visit_cancelled_staff"}
    assert all(n.payload["appointment_id"] == visit.id for n in notices)
    # Held up until after the visit's time (the dispatcher was down): too late to matter.
    at(2026, 3, 12, 11, 30)
    result = Dispatcher(sched_settings, engine).run_until_idle()
    assert result.sent == 0 and result.cancelled == 2
    assert {n.error for n in outbox(session)} == {"the visit's time has passed"}
    assert smtp.messages() == []


def test_consent_withdrawn_after_writing_stops_the_message(
    session, engine, org, sched_settings, smtp
):
    household = make_household(session, sched_settings)
    reminders.run("enquiry_chasers", session, sched_settings, at(2026, 3, 11, 10, 0))
    [sorry] = outbox(session, template="enquiry_sorry_for_the_wait")
    session.add(
        m.Consent(
            household_id=household.id,
            scope=m.ConsentScope.EMAIL,
            granted=False,
            wording="Asked us on the phone not to email",
            via="phone",
        )
    )
    session.commit()
    result = Dispatcher(sched_settings, engine).run_until_idle()
    assert result.sent == 1 and result.cancelled == 1  # the officer's alert still goes
    assert [r.recipients for r in smtp.messages()] == [[org.officer_north.email]]
    [sorry] = outbox(session, template="enquiry_sorry_for_the_wait")
    assert sorry.status == m.OutboxStatus.CANCELLED
    assert sorry.error == "no consent to contact by email"


def test_quiet_hours_hold_messages_to_the_public_but_not_to_staff(
    session, engine, org, sched_settings, smtp
):
    # 21:30 BST on Thursday 2 April (20:30 UTC): the enquiry is long overdue.
    at(2026, 3, 31, 10, 0)
    make_household(
        session, sched_settings, first_name="Ash", email_address="ash@example.com", phone=None
    )
    now = at(2026, 4, 2, 20, 30)
    reminders.run("enquiry_chasers", session, sched_settings, now)
    dispatcher = Dispatcher(sched_settings, engine)
    result = dispatcher.run_until_idle()
    assert result.sent == 1  # the officer's alert
    assert [r.recipients for r in smtp.messages()] == [[org.officer_north.email]]
    [sorry] = outbox(session, template="enquiry_sorry_for_the_wait")
    assert sorry.status == m.OutboxStatus.PENDING and sorry.attempts == 0

    at(2026, 4, 3, 6, 59)  # 07:59 BST
    assert dispatcher.run_until_idle().sent == 0
    at(2026, 4, 3, 7, 0)  # 08:00 BST
    assert dispatcher.run_until_idle().sent == 1
    assert smtp.to("ash@example.com")[0].subject == "Thank you for your interest in fostering"


def test_quiet_hours_end_follows_london_time():
    from crm.testing.fixtures import make_test_settings

    settings = make_test_settings()
    winter = datetime(2026, 1, 15, 22, 0, tzinfo=UTC)
    summer = datetime(2026, 7, 15, 20, 30, tzinfo=UTC)  # 21:30 BST
    assert outbox_service.in_quiet_hours(settings, winter)
    assert outbox_service.in_quiet_hours(settings, summer)
    assert not outbox_service.in_quiet_hours(settings, datetime(2026, 7, 15, 19, 59, tzinfo=UTC))
    assert outbox_service.quiet_hours_end(settings, winter) == datetime(
        2026, 1, 16, 8, 0, tzinfo=UTC
    )
    assert outbox_service.quiet_hours_end(settings, summer) == datetime(
        2026, 7, 16, 7, 0, tzinfo=UTC
    )
    # The night the clocks go forward: 01:30 UTC on 29 March is 02:30 BST; 08:00 BST is 07:00.
    spring = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    assert outbox_service.quiet_hours_end(settings, spring) == datetime(
        2026, 3, 29, 7, 0, tzinfo=UTC
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_retries_with_backoff_then_fails_where_staff_can_see_it(session, engine, org, settings):
    broken = scheduler_settings(settings, smtp_port=closed_port())
    household = make_household(session, broken)
    reminders.run("enquiry_chasers", session, broken, at(2026, 3, 11, 10, 0))
    dispatcher = Dispatcher(broken, engine)
    waits = []
    for attempt in range(1, outbox_service.MAX_ATTEMPTS):
        result = dispatcher.run_until_idle()
        assert result.retried == 2, attempt
        [sorry] = outbox(session, template="enquiry_sorry_for_the_wait")
        assert sorry.status == m.OutboxStatus.PENDING and sorry.attempts == attempt
        assert "Connection refused" in sorry.error or "Errno" in sorry.error
        waits.append(round((sorry.next_attempt_at - clock.now()).total_seconds()))
        assert dispatcher.run_until_idle().claimed == 0  # not before its time
        clock.set_now(sorry.next_attempt_at)
    assert waits == list(outbox_service.BACKOFF_SECONDS)
    result = dispatcher.run_until_idle()
    assert result.failed == 2
    [sorry] = outbox(session, template="enquiry_sorry_for_the_wait")
    assert sorry.status == m.OutboxStatus.FAILED
    failed = outbox_service.failed_messages(session)
    assert {msg.template for msg in failed} == {
        "enquiry_sorry_for_the_wait",
        "enquiry_response_overdue_staff",
    }
    # Area staff see their own; the other area sees none of them.
    assert outbox_service.failed_messages(session, area_ids=frozenset({org.south.id})) == []
    notes = session.exec(select(m.Activity).where(m.Activity.household_id == household.id)).all()
    [not_sent] = [n for n in notes if n.outbox_message_id == sorry.id]
    assert not_sent.summary.startswith("Not sent (email")
    assert not_sent.kind == m.ActivityKind.MESSAGE_FAILED
    assert "5 attempt(s)" in not_sent.body

    retried = outbox_service.retry_failed_message(session, org.actor(session, org.admin), sorry.id)
    assert retried.status == m.OutboxStatus.PENDING and retried.attempts == 0


def test_one_bad_address_does_not_block_the_rest(session, engine, org, sched_settings, smtp):
    smtp.refuse.add("nobody@example.com")
    for n, address in enumerate(["a@example.com", "nobody@example.com", "c@example.com"]):
        make_household(
            session, sched_settings, first_name=f"P{n}", email_address=address, phone=None
        )
    reminders.run("enquiry_chasers", session, sched_settings, at(2026, 3, 11, 10, 0))
    result = Dispatcher(sched_settings, engine).run_until_idle()
    assert result.failed == 1 and result.sent == 5
    [bad] = outbox(session, recipient="nobody@example.com")
    assert bad.status == m.OutboxStatus.FAILED and bad.attempts == 1
    assert "refused" in bad.error


def test_a_missing_template_fails_at_once_with_a_clear_error(session, engine, org, sched_settings):
    household = make_household(session, sched_settings)
    outbox_service.enqueue_message(
        session,
        channel=m.Channel.EMAIL,
        recipient="sam.patel@example.com",
        template="no_such_template",
        payload={},
        due_at=clock.now(),
        unique_key="test:missing",
        household_id=household.id,
    )
    session.commit()
    assert Dispatcher(sched_settings, engine).run_until_idle().failed == 1
    [message] = outbox(session, template="no_such_template")
    assert message.error == "template no_such_template/subject.txt is missing"


def test_two_dispatchers_at_once_send_each_message_once(session, engine, org, sched_settings, smtp):
    for n in range(60):
        staff_message(session, org, f"test:parallel:{n}")
    dispatchers = [
        Dispatcher(sched_settings, engine, worker=f"worker-{i}", batch_size=5) for i in range(2)
    ]
    results = [None, None]

    def run(i: int) -> None:
        results[i] = dispatchers[i].run_until_idle()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(r.sent for r in results) == 60
    counts = smtp.message_id_counts()
    assert len(counts) == 60 and set(counts.values()) == {1}
    assert {msg.status for msg in outbox(session)} == {m.OutboxStatus.SENT}


def test_a_claim_left_by_a_dead_dispatcher_is_taken_back_when_it_lapses(
    session, engine, org, sched_settings, smtp
):
    staff_message(session, org, "test:abandoned")
    with Session(engine) as other:
        [claimed] = outbox_service.claim_due_messages(other, "dead-worker", claim_seconds=120)
    dispatcher = Dispatcher(sched_settings, engine, worker="new-worker")
    assert dispatcher.run_until_idle().claimed == 0
    clock.advance(timedelta(seconds=121))
    assert dispatcher.run_until_idle().sent == 1
    [message] = outbox(session)
    assert message.id == claimed and message.attempts == 2 and message.claimed_by is None
    assert len(smtp.messages()) == 1


# -- Telegram --------------------------------------------------------------------------------


def telegram_carer(session, org, tg_settings, chat_id: int, name: str = "Cara"):
    return make_carer(
        session,
        tg_settings,
        supervisor_id=org.supervisor_north.id,
        first_name=name,
        email_address=f"{name.lower()}@example.com",
        phone=None,
        consents=(m.ConsentScope.EMAIL, m.ConsentScope.TELEGRAM),
        telegram_chat=chat_id,
        preferred=m.Channel.TELEGRAM,
    )


def test_check_in_by_telegram_has_answer_buttons(session, engine, org, tg_settings, telegram):
    at(2025, 1, 6, 11, 0)
    carer = telegram_carer(session, org, tg_settings, 7001)
    now = at(2026, 3, 2, 10, 0)
    assert reminders.run("retention_check_ins", session, tg_settings, now)["periodic"] == 1
    dispatcher = Dispatcher(tg_settings, engine)
    assert dispatcher.run_until_idle().sent == 1
    dispatcher.close()
    [sent] = telegram.messages_to(7001)
    [check_in] = session.exec(select(m.CheckIn)).all()
    assert check_in.carer_id == carer.id and check_in.channel == m.Channel.TELEGRAM
    assert "Tap a number" in sent.text
    assert sent.buttons == [(str(n), f"checkin:{check_in.id}:{n}") for n in range(1, 6)] + [
        ("I'd like a call", f"checkin:{check_in.id}:call")
    ]
    [message] = outbox(session, template="check_in")
    assert message.provider_message_id == f"7001:{sent.message_id}"


def test_telegram_flood_control_is_waited_out(session, engine, org, tg_settings, telegram, smtp):
    at(2025, 1, 6, 11, 0)
    telegram_carer(session, org, tg_settings, 7001, "Cara")
    telegram_carer(session, org, tg_settings, 7002, "Dee")
    now = at(2026, 3, 2, 10, 0)
    reminders.run("retention_check_ins", session, tg_settings, now)
    staff_message(session, org, "test:staff-during-flood")
    telegram.fail("sendMessage", status=429, retry_after=30)

    dispatcher = Dispatcher(tg_settings, engine)
    result = dispatcher.run_until_idle()
    # The first Telegram send hit flood control; the second was not even tried; email went.
    assert (result.sent, result.deferred) == (1, 2)
    assert len(telegram.calls_to("sendMessage")) == 1
    pending = outbox(session, template="check_in")
    assert {msg.status for msg in pending} == {m.OutboxStatus.PENDING}
    assert {msg.attempts for msg in pending} == {0}
    assert {msg.next_attempt_at for msg in pending} == {now + timedelta(seconds=30)}

    clock.advance(timedelta(seconds=29))
    assert dispatcher.run_until_idle().claimed == 0
    clock.advance(timedelta(seconds=1))
    assert dispatcher.run_until_idle().sent == 2
    dispatcher.close()
    assert sorted(str(msg.chat_id) for msg in telegram.sent) == ["7001", "7002"]
    assert len(telegram.calls_to("sendMessage")) == 3


def test_a_blocked_bot_fails_that_chat_only(session, engine, org, tg_settings, telegram):
    at(2025, 1, 6, 11, 0)
    telegram_carer(session, org, tg_settings, 7001, "Cara")
    telegram_carer(session, org, tg_settings, 7002, "Dee")
    reminders.run("retention_check_ins", session, tg_settings, at(2026, 3, 2, 10, 0))
    telegram.block_chat(7001)
    dispatcher = Dispatcher(tg_settings, engine)
    result = dispatcher.run_until_idle()
    dispatcher.close()
    assert (result.sent, result.failed) == (1, 1)
    [blocked] = outbox(session, recipient="7001")
    assert blocked.status == m.OutboxStatus.FAILED
    assert blocked.error == "Telegram said: Forbidden: bot was blocked by the user"
    assert [str(msg.chat_id) for msg in telegram.sent] == ["7002"]


def test_stop_on_telegram_cancels_what_waits_and_withdraws_consent(
    session, engine, org, tg_settings, telegram
):
    at(2025, 1, 6, 11, 0)
    carer = telegram_carer(session, org, tg_settings, 7001)
    reminders.run("retention_check_ins", session, tg_settings, at(2026, 3, 2, 10, 0))
    assert outbox_service.record_telegram_stop(session, 7001) is True
    assert outbox_service.record_telegram_stop(session, 7001) is False
    [message] = outbox(session, template="check_in")
    assert message.status == m.OutboxStatus.CANCELLED
    consents = outbox_service.latest_consents(session, carer.household_id)
    assert consents[m.ConsentScope.TELEGRAM] is False
    assert consents[m.ConsentScope.EMAIL] is True
    assert Dispatcher(tg_settings, engine).run_until_idle().claimed == 0
    assert telegram.sent == []
    # The next check-in goes by email, the channel they still agree to.
    reminders.run("retention_check_ins", session, tg_settings, at(2026, 4, 20, 10, 0))
    latest = outbox(session, template="check_in")[-1]
    assert (latest.channel, latest.recipient) == (m.Channel.EMAIL, "cara@example.com")


def test_weekly_report_is_built_by_the_funnel_package_at_send_time(
    session, engine, org, sched_settings, smtp
):
    now = at(2026, 3, 30, 7, 0)
    housekeeping.weekly_funnel_report(session, sched_settings, now)
    result = Dispatcher(sched_settings, engine).run_until_idle()
    [message] = outbox(session, template="weekly_funnel_report")
    if result.failed:
        pytest.fail(f"the weekly report could not be sent: {message.error}")
    [email] = smtp.to(org.manager.email)
    assert message.provider_message_id == email.message_id
    assert "29 Mar" in email.subject or "2026" in email.subject


def test_a_claim_takes_only_its_batch_and_two_claims_never_overlap(session, engine, org):
    """One UPDATE claims `limit` messages, not every due one (a subquery with LIMIT inside
    IN (...) may be run again for each row on PostgreSQL: the claim is a materialised CTE)."""
    at(2026, 3, 2, 10, 0)
    for i in range(30):
        staff_message(session, org, f"test:batch-claim:{i}")
    first = outbox_service.claim_due_messages(session, "one", limit=10)
    second = outbox_service.claim_due_messages(session, "two", limit=10)
    assert (len(first), len(second)) == (10, 10)
    assert not set(first) & set(second)
    statuses = session.exec(
        select(m.OutboxMessage.status, m.OutboxMessage.claimed_by).execution_options(
            populate_existing=True
        )
    ).all()
    assert sorted(s for s, _ in statuses).count(m.OutboxStatus.SENDING) == 20
    assert sum(1 for s, _ in statuses if s == m.OutboxStatus.PENDING) == 10


# -- batches and crashes ---------------------------------------------------------------------


class Crash(BaseException):
    """The process dies (not an error the dispatcher would catch and record)."""


@contextmanager
def dying_at_the_nth_noted_send(engine, n: int):
    """The process dies as it commits the n-th send's sent_at (the provider has the message by
    then): a listener on the database connection raises the instant that UPDATE is issued.
    Yields the list of sends noted (or about to be)."""
    noted = []

    def before(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        sets = statement.upper().split("WHERE")[0]
        if (
            sets.startswith("UPDATE OUTBOX_MESSAGE SET")
            and "SENT_AT" in sets
            and "STATUS" not in sets
        ):
            noted.append(parameters)
            if len(noted) == n:
                raise Crash

    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield noted
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)


def public_messages(session, engine, sched_settings, smtp, count: int):
    """`count` emails to a household that agreed to email (its own enquiry messages sent and
    forgotten first), each under a key of its own. Returns the household and the keys."""
    household = make_household(session, sched_settings)
    Dispatcher(sched_settings, engine).run_until_idle()
    smtp.received.clear()
    keys = [f"test:public:{n}" for n in range(count)]
    for n, key in enumerate(keys):
        outbox_service.enqueue_message(
            session,
            channel=m.Channel.EMAIL,
            recipient=f"applicant{n}@example.com",
            template="enquiry_sorry_for_the_wait",
            payload={"greeting_name": "Sam", "officer_name": "Olu"},
            due_at=clock.now(),
            unique_key=key,
            household_id=household.id,
        )
    session.commit()
    return household, keys


def test_a_crash_after_a_send_repeats_only_that_message_and_the_rest_go_once(
    session, engine, org, sched_settings, smtp
):
    at(2026, 3, 11, 10, 0)
    household, keys = public_messages(session, engine, sched_settings, smtp, 4)
    keys += [f"test:crash:{n}" for n in range(6)]
    for key in keys[4:]:
        staff_message(session, org, key)
    dying = Dispatcher(sched_settings, engine, worker="dying", batch_size=10)
    with dying_at_the_nth_noted_send(engine, 3) as noted, pytest.raises(Crash):
        dying.dispatch_batch()
    dying.close()
    assert len(smtp.messages()) == 3 and len(noted) == 3
    mine = {msg.unique_key: msg for msg in outbox(session) if msg.unique_key in keys}
    # Two sends were noted before the crash, the third was in flight; all still claimed.
    assert {msg.status for msg in mine.values()} == {m.OutboxStatus.SENDING}
    assert sum(msg.sent_at is not None for msg in mine.values()) == 2

    # Another dispatcher takes the lapsed claims: the two noted sends are recorded, not resent.
    clock.advance(timedelta(seconds=121))
    later = Dispatcher(sched_settings, engine, worker="later", batch_size=4)
    result = later.run_until_idle()
    assert (result.claimed, result.sent, result.failed, result.retried) == (10, 10, 0, 0)
    counts = smtp.message_id_counts()
    assert len(counts) == 10
    assert sorted(counts.values()) == [1] * 9 + [2]  # at most twice; only the one in flight
    mine = {msg.unique_key: msg for msg in outbox(session) if msg.unique_key in keys}
    assert {(msg.status, msg.attempts) for msg in mine.values()} == {(m.OutboxStatus.SENT, 2)}
    assert {msg.provider_message_id for msg in mine.values()} == set(counts)
    # One line on the household's timeline per message, crash or not.
    lines = session.exec(
        select(m.Activity.outbox_message_id).where(
            m.Activity.outbox_message_id.in_([mine[k].id for k in keys[:4]])
        )
    ).all()
    assert sorted(lines) == sorted(mine[k].id for k in keys[:4])
    # The unique keys still hold: writing them again adds nothing.
    assert all(
        outbox_service.enqueue_message(
            session,
            channel=m.Channel.EMAIL,
            recipient="again@example.com",
            template="enquiry_sorry_for_the_wait",
            payload={},
            due_at=clock.now(),
            unique_key=key,
            household_id=household.id,
        )
        is None
        for key in keys
    )
    again = [
        {
            "channel": m.Channel.EMAIL,
            "recipient": "again@example.com",
            "template": "check_in_alert_staff",
            "payload": {},
            "due_at": clock.now(),
            "unique_key": key,
            "staff_id": org.manager.id,
        }
        for key in keys
    ]
    assert outbox_service.enqueue_many(session, again) == []
    session.commit()
    assert len([msg for msg in outbox(session) if msg.unique_key in keys]) == 10


class EphemeralController(Controller):
    def _trigger_server(self):  # noqa: ANN202
        # Bound to port 0: learn the port the system gave before the first connection.
        self.port = self.server.sockets[0].getsockname()[1]
        return super()._trigger_server()


class DroppingHandler:
    """A mail server (aiosmtpd) that takes in the n-th message and then drops the connection
    without answering: the sender cannot know that it has the message."""

    def __init__(self, drop_at: int) -> None:
        self.drop_at = drop_at
        self.message_ids: list[str] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.message_ids.append(str(parsed["Message-ID"]))
        if len(self.message_ids) == self.drop_at:
            server.transport.close()
        return "250 Message accepted for delivery"


def test_a_server_that_drops_the_connection_after_taking_a_message_gets_only_that_one_twice(
    session, engine, org, settings
):
    at(2026, 3, 11, 10, 0)
    handler = DroppingHandler(drop_at=3)
    controller = EphemeralController(handler, hostname="127.0.0.1", port=0)
    controller.start()
    try:
        dropping = scheduler_settings(settings, smtp_port=controller.port)
        for n in range(8):
            staff_message(session, org, f"test:drop:{n}")
        dispatcher = Dispatcher(dropping, engine, batch_size=8)
        first = dispatcher.run_until_idle()
        # The third went in but its answer never came: tried again later; the rest went on a
        # new connection in the same batch.
        assert (first.sent, first.retried) == (7, 1)
        [retry] = [msg for msg in outbox(session) if msg.status == m.OutboxStatus.PENDING]
        assert retry.sent_at is None and "SMTPServerDisconnected" in retry.error
        clock.set_now(retry.next_attempt_at)
        assert dispatcher.run_until_idle().sent == 1
    finally:
        controller.stop()
    counts = Counter(handler.message_ids)
    assert len(counts) == 8 and sorted(counts.values()) == [1] * 7 + [2]
    assert counts[outbox(session, id=retry.id)[0].provider_message_id] == 2
    assert {msg.status for msg in outbox(session)} == {m.OutboxStatus.SENT}


def test_claims_of_two_dispatchers_never_overlap_even_when_one_dies_mid_batch(
    session, engine, org, sched_settings, smtp
):
    at(2026, 3, 11, 10, 0)
    for n in range(10):
        staff_message(session, org, f"test:overlap:{n}")
    dying = Dispatcher(sched_settings, engine, worker="dying", batch_size=5)
    with dying_at_the_nth_noted_send(engine, 2), pytest.raises(Crash):
        dying.dispatch_batch()
    dying.close()
    held = {msg.id for msg in outbox(session) if msg.claimed_by == "dying"}
    assert len(held) == 5
    # While the dead one's claims stand, the other takes only the other five.
    other = Dispatcher(sched_settings, engine, worker="other", batch_size=10)
    assert (other.run_until_idle().sent, len(smtp.messages())) == (5, 7)
    assert {msg.id for msg in outbox(session) if msg.status == m.OutboxStatus.SENT}.isdisjoint(held)
    clock.advance(timedelta(seconds=121))
    assert other.run_until_idle().sent == 5
    counts = smtp.message_id_counts()
    assert len(counts) == 10 and sorted(counts.values()) == [1] * 9 + [2]
    assert {msg.status for msg in outbox(session)} == {m.OutboxStatus.SENT}
