"""A visit booked in the chat is confirmed by email with a calendar invite: the assistant writes
the outbox message, the scheduler's dispatcher sends it to a real SMTP server."""

from __future__ import annotations

import icalendar
from sqlmodel import select

import crm.models as m
from crm.testing.smtp import SmtpCapture


def test_booking_in_the_chat_sends_an_email_with_a_calendar_invite(chat, session, settings, engine):
    from crm.messaging.dispatcher import Dispatcher

    chat.give_details(contact="sam.patel@example.com")
    chat.press("Wed 11 Mar, 9:30am")
    appointment = session.exec(select(m.Appointment)).one()
    with SmtpCapture() as smtp:
        smtp_settings = smtp.settings_for(settings).model_copy(
            update={"secret_key": "test-secret-key-0123456789abcdef"}
        )
        dispatcher = Dispatcher(smtp_settings, engine)
        try:
            dispatcher.run_until_idle()
        finally:
            dispatcher.close()
    [email] = [received.message for received in smtp.messages()]
    assert email["To"] == "sam.patel@example.com"
    body = email.get_body(("plain",)).get_content()
    assert "Sam" in body and "Officer.North" in body
    [invite] = [p for p in email.iter_attachments() if p.get_content_type() == "text/calendar"]
    calendar = icalendar.Calendar.from_ical(invite.get_content())
    [event] = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == appointment.starts_at
    message = session.exec(select(m.OutboxMessage)).one()
    session.refresh(message)
    assert message.status == m.OutboxStatus.SENT
