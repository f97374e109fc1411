"""A channel is one module: a MessageChannel registered in crm.messaging.channels.CHANNELS,
its template files, and the channel in the catalogue entries that may use it. Here a channel
made in the test (its Sender writes to a list: it stands for the provider) carries a message
through the real outbox and the generic dispatcher, with no other code changed."""

import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

import crm.models as m
from crm import clock
from crm.messaging import catalogue
from crm.messaging.channels import CHANNELS
from crm.messaging.channels.base import Draft, MessageChannel, Outgoing, RetryLater, Templates
from crm.messaging.dispatcher import Dispatcher
from crm.messaging.render import TEMPLATES_DIR, Renderer
from crm.services import outbox as outbox_service
from tests.crm.scheduler.helpers import make_household, outbox

NUDGE = "stalled_case_nudge"
PAYLOAD = {
    "greeting_name": "Sam",
    "stage_label": "Application",
    "officer_name": "Olu",
    "officer_email": "olu@example.org",
}


class ListSender:
    """The provider: keeps what it was given, or says "wait" as often as it is told to."""

    def __init__(self, sent: list, waits: list[float]) -> None:
        self.sent, self.waits, self.closed = sent, waits, False

    def send(self, content: str) -> str:
        if self.waits:
            seconds = self.waits.pop(0)
            raise RetryLater(seconds, f"text messages: retry after {seconds:g}s")
        self.sent.append(content)
        return f"text-{len(self.sent)}"

    def close(self) -> None:
        self.closed = True


def render_text(templates: Templates, draft: Draft) -> Outgoing:
    return Outgoing(f"{draft.message.recipient}|{templates.text(draft, 'sms.txt')}", "a text")


@pytest.fixture
def text_channel(monkeypatch, tmp_path, sched_settings):
    """Registers the channel, lets the nudge go by it and gives the nudge its sms.txt."""
    sent: list[str] = []
    waits: list[float] = []
    channel = MessageChannel(
        channel=m.Channel.SMS,
        parts=("sms.txt",),
        consent=m.ConsentScope.SMS,
        render=render_text,
        sender=lambda settings: ListSender(sent, waits),
    )
    monkeypatch.setitem(CHANNELS, m.Channel.SMS, channel)
    entry = catalogue.TEMPLATES[NUDGE]
    monkeypatch.setitem(
        catalogue.TEMPLATES, NUDGE, replace(entry, channels=entry.channels | {m.Channel.SMS})
    )
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, templates)
    (templates / NUDGE / "sms.txt").write_text(
        "Hi {{ greeting_name }}, it's {{ service_name }}: how is your {{ stage_label|lower }} "
        "going? Reply STOP to stop these texts.\n",
        encoding="utf-8",
    )
    return sent, waits, Renderer(sched_settings, templates)


def queue_text(session, settings, *, key: str = "test:text") -> m.OutboxMessage:
    household = make_household(session, settings)
    session.add(
        m.Consent(
            household_id=household.id,
            scope=m.ConsentScope.SMS,
            granted=True,
            wording="You may text me about fostering.",
            via="web_form",
        )
    )
    message = outbox_service.enqueue_message(
        session,
        channel=m.Channel.SMS,
        recipient="+447700900982",
        template=NUDGE,
        payload=PAYLOAD,
        due_at=clock.now(),
        unique_key=key,
        household_id=household.id,
    )
    session.commit()
    return message


def test_a_registered_channel_carries_a_message_through_the_dispatcher(
    session, engine, sched_settings, text_channel
):
    sent, _waits, renderer = text_channel
    clock.set_now(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))  # a Monday morning: not quiet
    queue_text(session, sched_settings)
    dispatcher = Dispatcher(sched_settings, engine, renderer=renderer)
    result = dispatcher.run_until_idle()
    dispatcher.close()
    assert (result.claimed, result.sent) == (1, 1), result
    service = sched_settings.service.name
    assert sent == [
        f"+447700900982|Hi Sam, it's {service}: how is your application going? "
        "Reply STOP to stop these texts."
    ]
    [message] = outbox(session, template=NUDGE)
    assert (message.status, message.provider_message_id) == (m.OutboxStatus.SENT, "text-1")
    entry = session.exec(select(m.Activity).where(m.Activity.outbox_message_id == message.id)).one()
    assert entry.summary == "Sent by sms: a text"


def test_the_new_channels_flood_control_holds_only_that_channel(
    session, engine, org, sched_settings, smtp, text_channel
):
    sent, waits, renderer = text_channel
    clock.set_now(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    now = clock.now()
    queue_text(session, sched_settings)
    outbox_service.enqueue_message(
        session,
        channel=m.Channel.EMAIL,
        recipient=org.manager.email,
        template="safeguarding_alert_staff",
        payload={
            "staff_name": "Mo",
            "task_id": 3,
            "task_title": "Safeguarding concern raised in the chat",
            "where": "the web chat",
            "area_name": "Northshire",
            "due_at": "2026-03-10T22:15:00+00:00",
        },
        due_at=now,
        unique_key="test:email-during-the-wait",
        staff_id=org.manager.id,
    )
    session.commit()
    waits.append(30)
    dispatcher = Dispatcher(sched_settings, engine, renderer=renderer)
    result = dispatcher.run_until_idle()
    assert (result.sent, result.deferred) == (1, 1), result
    assert len(smtp.to(org.manager.email)) == 1 and sent == []
    [held] = outbox(session, template=NUDGE)
    assert (held.status, held.attempts) == (m.OutboxStatus.PENDING, 0)
    assert held.next_attempt_at == now + timedelta(seconds=30)
    clock.advance(timedelta(seconds=29))
    assert dispatcher.run_until_idle().claimed == 0
    clock.advance(timedelta(seconds=1))
    assert dispatcher.run_until_idle().sent == 1
    dispatcher.close()
    assert len(sent) == 1


def test_a_channel_the_catalogue_does_not_allow_fails_the_message(
    session, engine, org, sched_settings
):
    clock.set_now(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    outbox_service.enqueue_message(
        session,
        channel=m.Channel.TELEGRAM,
        recipient="7001",
        template="tsd_due_staff",
        payload={},
        due_at=clock.now(),
        unique_key="test:staff-by-telegram",
        staff_id=org.supervisor_north.id,
    )
    session.commit()
    assert Dispatcher(sched_settings, engine).run_until_idle().failed == 1
    [message] = outbox(session, template="tsd_due_staff")
    assert message.error == "tsd_due_staff is not sent by telegram"
