"""GOV.UK Notify as a channel, against the local server that speaks its API
(crm.testing.notify_api) through the official client: text messages and email delivered,
statuses read back onto the timeline, 429 waited out, 400 failed with the reason, STOP
honoured, and nothing sent twice when an answer was lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

import crm.models as m
from crm import clock
from crm.messaging.dispatcher import Dispatcher
from crm.messaging.render import local_time_text
from crm.scheduler import housekeeping
from crm.services import appointments, booking
from crm.services import outbox as outbox_service
from crm.services.actors import Actor
from crm.settings import SettingsError, load_settings
from tests.crm.scheduler.helpers import make_household, outbox

MONDAY_MORNING = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
MOBILE = "+447700900982"
NUDGE = "stalled_case_nudge"
NUDGE_PAYLOAD = {
    "greeting_name": "Sam",
    "stage_label": "Application",
    "officer_name": "Olu",
    "officer_email": "olu@example.org",
}


@pytest.fixture(autouse=True)
def weekday_morning():
    clock.set_now(MONDAY_MORNING)


def texter(session, settings, **kw):
    return make_household(
        session, settings, phone="07700 900982", consents=(m.ConsentScope.SMS,),
        preferred=m.Channel.SMS, **kw,
    )  # fmt: skip


def queue_text(session, household, *, key="test:text", template="visit_reminder", payload=None):
    payload = payload or {
        "staff_name": "Olu",
        "when": "day_before",
        "visit_when": "Tuesday 3 March 2026 at 10:00am",
        "visit_kind": "initial visit",
        "visit_location": "",
    }
    message = outbox_service.enqueue_message(
        session, channel=m.Channel.SMS, recipient=MOBILE, template=template, payload=payload,
        due_at=clock.now(), unique_key=key, household_id=household.id,
    )  # fmt: skip
    session.commit()
    return message


def dispatch(settings, engine):
    dispatcher = Dispatcher(settings, engine)
    try:
        return dispatcher.run_until_idle()
    finally:
        dispatcher.close()


def timeline(session, household_id):
    session.expire_all()
    return list(
        session.exec(
            select(m.Activity)
            .where(m.Activity.household_id == household_id)
            .order_by(m.Activity.id)
        ).all()
    )


def test_a_household_that_prefers_texts_is_reached_by_text_only_when_notify_is_set_up(
    session, notify_settings, sched_settings
):
    household = texter(session, notify_settings)
    [recipient] = outbox_service.reachable_recipients(
        session, notify_settings, household.id, template="visit_reminder"
    )
    assert (recipient.channel, recipient.address) == (m.Channel.SMS, MOBILE)
    # A message the catalogue does not allow by text does not go by text.
    assert (
        outbox_service.reachable_recipients(session, notify_settings, household.id, template=NUDGE)
        == []
    )
    # Without a Notify key there is no text channel at all.
    assert (
        outbox_service.reachable_recipients(
            session, sched_settings, household.id, template="visit_reminder"
        )
        == []
    )


def test_a_text_is_sent_and_its_delivery_read_back_onto_the_timeline(
    session, engine, notify, notify_settings
):
    household = texter(session, notify_settings)
    message = queue_text(session, household)
    result = dispatch(notify_settings, engine)
    assert result.sent == 1, result
    [text] = notify.sent_sms()
    assert text.to == MOBILE
    assert "Olu is coming to see you tomorrow, Tuesday 3 March 2026" in text.body
    assert text.body.endswith("Reply STOP to stop texts.")
    assert text.reference.startswith(f"outbox-{message.id}-")
    [sent] = outbox(session, id=message.id)
    assert sent.provider_message_id == f"notify:{text.id}"
    assert sent.delivery_status is None

    summary = housekeeping.notify_delivery_status(session, notify_settings, clock.now())
    assert summary["in_progress"] == 1
    notify.set_status(text.id, "delivered")
    summary = housekeeping.notify_delivery_status(session, notify_settings, clock.now())
    assert summary["delivered"] == 1
    [sent] = outbox(session, id=message.id)
    assert sent.delivery_status == outbox_service.DELIVERED
    lines = [a.summary for a in timeline(session, household.id)]
    assert lines[-2].startswith("Sent by sms")
    assert lines[-1] == "Delivered (sms, visit reminder)"
    # Read once: a second run asks about nothing.
    assert (
        housekeeping.notify_delivery_status(session, notify_settings, clock.now())["checked"] == 0
    )


def test_a_failed_delivery_is_on_the_timeline_with_the_reason(
    session, engine, notify, notify_settings
):
    household = texter(session, notify_settings)
    notify.set_outcome(MOBILE, "permanent-failure")
    message = queue_text(session, household)
    dispatch(notify_settings, engine)
    housekeeping.notify_delivery_status(session, notify_settings, clock.now())
    [sent] = outbox(session, id=message.id)
    assert sent.delivery_status == outbox_service.NOT_DELIVERED
    entry = timeline(session, household.id)[-1]
    assert entry.kind == m.ActivityKind.MESSAGE_FAILED
    assert entry.summary == "Not delivered (sms, visit reminder)"
    assert "does not exist" in entry.body


def test_429_is_waited_out_without_using_up_attempts(session, engine, notify, notify_settings):
    household = texter(session, notify_settings)
    message = queue_text(session, household)
    notify.fail("send_sms", status=429)
    result = dispatch(notify_settings, engine)
    assert (result.sent, result.deferred) == (0, 1)
    [waiting] = outbox(session, id=message.id)
    assert waiting.status == m.OutboxStatus.PENDING and waiting.attempts == 0
    assert waiting.next_attempt_at == clock.now() + timedelta(seconds=60)
    clock.advance(timedelta(seconds=61))
    assert dispatch(notify_settings, engine).sent == 1
    assert len(notify.sent_sms()) == 1


def test_400_is_marked_failed_with_notifys_reason_on_the_timeline(
    session, engine, notify, notify_settings
):
    household = texter(session, notify_settings)
    message = queue_text(session, household)
    notify.fail(
        "send_sms", status=400, message="Can’t send to this recipient using a team-only API key"
    )
    result = dispatch(notify_settings, engine)
    assert result.failed == 1
    [failed] = outbox(session, id=message.id)
    assert failed.status == m.OutboxStatus.FAILED
    assert "team-only API key" in failed.error
    entry = timeline(session, household.id)[-1]
    assert entry.kind == m.ActivityKind.MESSAGE_FAILED and "team-only API key" in entry.body


def test_a_500_is_retried_with_the_outboxs_backoff(session, engine, notify, notify_settings):
    household = texter(session, notify_settings)
    message = queue_text(session, household)
    notify.fail("send_sms", status=500)
    assert dispatch(notify_settings, engine).retried == 1
    [waiting] = outbox(session, id=message.id)
    assert waiting.status == m.OutboxStatus.PENDING and waiting.attempts == 1
    clock.advance(timedelta(seconds=61))
    assert dispatch(notify_settings, engine).sent == 1


def test_an_answer_lost_after_notify_accepted_is_not_sent_twice_after_a_restart(
    session, engine, notify, notify_settings
):
    household = texter(session, notify_settings)
    message = queue_text(session, household)
    notify.fail("send_sms", accept_first=True)
    first = dispatch(notify_settings, engine)
    assert first.retried == 1, first
    assert len(notify.sent_sms()) == 1  # Notify has it, we do not know
    clock.advance(timedelta(minutes=2))
    again = dispatch(notify_settings, engine)  # a new dispatcher: as after a restart
    assert again.sent == 1
    [only] = notify.sent_sms()
    [sent] = outbox(session, id=message.id)
    assert sent.status == m.OutboxStatus.SENT
    assert sent.provider_message_id == f"notify:{only.id}"


def test_stop_stops_texts_and_withdraws_consent(session, engine, notify, notify_settings):
    household = texter(session, notify_settings)
    waiting = queue_text(session, household, key="test:later")
    waiting.due_at = clock.now() + timedelta(days=1)
    session.add(waiting)
    session.commit()
    notify.inject_received_text("07700900982", "Stop")
    notify.inject_received_text("07700900555", "What time is it?")
    summary = housekeeping.notify_replies(session, notify_settings, clock.now())
    assert summary == {"read": 2, "stopped": 1}
    assert session.get(m.SmsOptOut, MOBILE) is not None
    assert outbox_service.latest_consents(session, household.id)[m.ConsentScope.SMS] is False
    [cancelled] = outbox(session, id=waiting.id)
    assert cancelled.status == m.OutboxStatus.CANCELLED
    assert (
        outbox_service.reachable_recipients(
            session, notify_settings, household.id, template="visit_reminder"
        )
        == []
    )
    # Read once: nothing new the second time.
    assert housekeeping.notify_replies(session, notify_settings, clock.now()) == {
        "read": 0,
        "stopped": 0,
    }


def test_a_text_to_a_number_that_said_stop_is_cancelled_at_send_time(
    session, engine, notify, notify_settings
):
    household = texter(session, notify_settings)
    message = queue_text(session, household)
    session.add(m.SmsOptOut(phone=MOBILE, opted_out_at=clock.now()))
    session.commit()
    assert dispatch(notify_settings, engine).cancelled == 1
    [cancelled] = outbox(session, id=message.id)
    assert "STOP" in cancelled.error
    assert notify.sent_sms() == []


def test_texts_wait_for_the_end_of_quiet_hours(session, engine, notify, notify_settings):
    household = texter(session, notify_settings)
    clock.set_now(datetime(2026, 3, 2, 22, 0, tzinfo=UTC))
    queue_text(session, household)
    assert dispatch(notify_settings, engine).claimed == 0
    assert notify.sent_sms() == []
    clock.set_now(datetime(2026, 3, 3, 8, 1, tzinfo=UTC))
    assert dispatch(notify_settings, engine).sent == 1


def test_one_message_per_unique_key(session, notify_settings):
    household = texter(session, notify_settings)
    assert queue_text(session, household, key="same") is not None
    assert queue_text(session, household, key="same") is None
    assert len(outbox(session, unique_key="same")) == 1


def test_email_by_notify_when_chosen(session, engine, notify, notify_settings, smtp):
    settings = notify_settings.model_copy(
        update={
            "messaging": notify_settings.messaging.model_copy(update={"email_by": "notify"}),
            "service": notify_settings.service.model_copy(
                update={"public_base_url": "https://fostering.example.org"}
            ),
        }
    )
    household = make_household(session, settings)
    message = outbox_service.enqueue_message(
        session, channel=m.Channel.EMAIL, recipient="sam.patel@example.com", template=NUDGE,
        payload=NUDGE_PAYLOAD, due_at=clock.now(), unique_key="test:email",
        household_id=household.id,
    )  # fmt: skip
    session.commit()
    assert dispatch(settings, engine).sent == 1
    [email] = notify.sent_emails()
    assert email.to == "sam.patel@example.com"
    assert email.subject == "Checking in about your fostering journey"
    assert "Sam" in email.body and "application" in email.body.lower()
    assert email.reference.startswith(f"outbox-{message.id}-")
    assert (email.one_click_unsubscribe_url or "").startswith(
        "https://fostering.example.org/unsubscribe/"
    )
    assert smtp.messages() == []


def test_a_notify_key_of_the_wrong_shape_stops_start_up():
    with pytest.raises(SettingsError, match="not a GOV.UK Notify API key"):
        load_settings(environ={"FOSTERCRM_NOTIFY_API_KEY": "live-1234"})
    good = (
        "fostercrm-"
        + "0f0e0d0c-0b0a-4909-8807-060504030201"
        + "-"
        + ("11111111-2222-4333-8444-555555555555")
    )
    with pytest.raises(SettingsError, match="sms_template_id is empty"):
        load_settings(environ={"FOSTERCRM_NOTIFY_API_KEY": good})


def book_by_text(session, settings, household):
    """The household's initial visit at the first free time, booked the one real way, which
    queues its confirmation."""
    [slot, *_] = appointments.slots_for_area(session, settings, household.area_id)
    return booking.book_initial_visit(
        session, Actor.system("test"), settings, household.id, slot.starts_at,
        booked_via="web_form", staff_ids=[slot.staff_id],
    )  # fmt: skip


def test_a_visit_booked_without_an_email_address_is_confirmed_by_text(
    session, engine, org, notify, notify_settings
):
    household = texter(session, notify_settings, email_address=None)
    visit = book_by_text(session, notify_settings, household)
    assert dispatch(notify_settings, engine).sent == 1
    [text] = notify.sent_sms()
    assert text.to == MOBILE
    assert visit.starts_at == datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    assert "booked for Monday 2 March 2026 at 11am." in text.body
    assert "Officer.North is coming to see you" in text.body
    assert "To move or cancel, call or email us." in text.body
    assert text.body.endswith("Reply STOP to stop texts.")
    assert "BEGIN:VCALENDAR" not in text.body
    [sent] = outbox(session, template="visit_confirmation")
    assert sent.status == m.OutboxStatus.SENT and sent.provider_message_id == f"notify:{text.id}"
    # Moved: a second text with the new time, once however often the move is confirmed.
    new_time = next(
        s.starts_at
        for s in appointments.slots_for_area(session, notify_settings, household.area_id)
        if s.starts_at > visit.starts_at and s.staff_id == visit.staff_id
    )
    moved = booking.move_visit(
        session, Actor.system("test"), notify_settings, visit.id, starts_at=new_time,
        booked_via="staff",
    )  # fmt: skip
    assert dispatch(notify_settings, engine).sent == 1
    [_, second] = notify.sent_sms()
    assert (
        f"has moved to {local_time_text(moved.starts_at, notify_settings)['when']}." in second.body
    )
    assert (
        appointments.enqueue_visit_confirmation(
            session, moved, booked_via="staff", moved=True, settings=notify_settings
        )
        is None
    )


def test_a_text_confirmation_goes_at_once_at_night_and_not_after_stop(
    session, engine, org, notify, notify_settings
):
    household = texter(session, notify_settings, email_address=None)
    # A booking made at 22:30 is confirmed at once (the catalogue: they are waiting for it).
    clock.set_now(datetime(2026, 3, 2, 22, 30, tzinfo=UTC))
    visit = book_by_text(session, notify_settings, household)
    assert dispatch(notify_settings, engine).sent == 1
    # The number says STOP before its visit is moved: the move is not confirmed by text.
    session.add(m.SmsOptOut(phone=MOBILE, opted_out_at=clock.now()))
    session.commit()
    new_time = next(
        s.starts_at
        for s in appointments.slots_for_area(session, notify_settings, household.area_id)
        if s.starts_at > visit.starts_at and s.staff_id == visit.staff_id
    )
    booking.move_visit(
        session, Actor.system("test"), notify_settings, visit.id, starts_at=new_time,
        booked_via="staff",
    )  # fmt: skip
    assert len(outbox(session, template="visit_confirmation")) == 1
    assert len(notify.sent_sms()) == 1
