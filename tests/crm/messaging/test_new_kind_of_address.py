"""A channel with a NEW kind of address is one module too: here "whatsapp", written in this
test as its module would be written in crm/messaging/channels/whatsapp.py, with its own key,
its own consent scope and its own settings ([channels.whatsapp] in the settings file, checked by
its own model). It is registered in the test only (the one line CHANNELS would get) and allowed
on one catalogue entry (the line the catalogue would get); nothing in crm.models or crm.settings
knows it. The outside world is a local server that speaks a WhatsApp-like HTTP API; everything
else is the real code: the enquiry and consent services, the outbox's recipient book, the
dispatcher, the renderer, the staff forms' choices and the subject access document's words."""

from __future__ import annotations

import itertools
import json
import shutil
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from pydantic import Field
from sqlmodel import Session, select

import crm.models as m
from crm import clock
from crm.messaging import catalogue
from crm.messaging.channels import CHANNELS, check_settings
from crm.messaging.channels.base import (
    ChannelSettings,
    Draft,
    MessageChannel,
    Outgoing,
    PermanentFailure,
    RetryLater,
    Templates,
)
from crm.messaging.dispatcher import Dispatcher
from crm.messaging.render import TEMPLATES_DIR, Renderer
from crm.models.base import OpenKey
from crm.services import data_protection, households
from crm.services import outbox as outbox_service
from crm.services.actors import Actor
from crm.services.enquiries import ApplicantDetails, EnquiryInput, create_enquiry
from crm.services.errors import InvalidInput
from crm.settings import CONFIG_DIR, SettingsError, load_settings
from crm.web.forms import consent_choices
from tests.crm.messaging.test_new_channel import NUDGE, PAYLOAD
from tests.crm.scheduler.helpers import CONSENT_WORDS, outbox

# -- the channel module (crm/messaging/channels/whatsapp.py, were it real) --------------------

WHATSAPP = m.Channel("whatsapp")
WHATSAPP_CONSENT = m.ConsentScope("whatsapp")


class WhatsAppSettings(ChannelSettings):
    base_url: str = Field(pattern=r"^https?://")
    phone_number_id: str = Field(pattern=r"^[0-9]{5,20}$")
    access_token: str = ""  # a secret: from FOSTERCRM_CHANNELS_WHATSAPP_ACCESS_TOKEN only


def own_settings(settings) -> WhatsAppSettings:  # noqa: ANN001
    return CHANNEL.settings_of(settings)


@dataclass(frozen=True)
class WhatsAppText:
    to: str
    body: str


def render(templates: Templates, draft: Draft) -> Outgoing:
    text = WhatsAppText(draft.message.recipient, templates.text(draft, "whatsapp.txt"))
    return Outgoing(text, templates.summary(draft))


class WhatsAppSender:
    def __init__(self, settings) -> None:  # noqa: ANN001
        own = own_settings(settings)
        if not own.access_token:
            raise PermanentFailure("WhatsApp is not set up (no access token)")
        self.path = f"/{own.phone_number_id}/messages"
        self.client = httpx.Client(
            base_url=own.base_url,
            headers={"Authorization": f"Bearer {own.access_token}"},
            timeout=10,
        )

    def send(self, content: WhatsAppText) -> str:
        answer = self.client.post(
            self.path,
            json={"to": content.to.lstrip("+"), "type": "text", "text": {"body": content.body}},
        )
        if answer.status_code == 429:
            raise RetryLater(float(answer.headers["Retry-After"]), "WhatsApp: slow down")
        if 400 <= answer.status_code < 500:
            raise PermanentFailure(f"WhatsApp said: {answer.json()['error']['message']}")
        answer.raise_for_status()
        return answer.json()["messages"][0]["id"]

    def close(self) -> None:
        self.client.close()


def available(settings) -> bool:  # noqa: ANN001
    return settings is not None and bool(
        settings.channels.get(WHATSAPP) and own_settings(settings).access_token
    )


class WhatsAppNumbers:
    """Each applicant's mobile number (WhatsApp reaches a number in any country)."""

    def __init__(self, session: Session, household_ids: Sequence[int], carers: Sequence[int]):
        self.by_household: dict[int, list[str]] = defaultdict(list)
        for household_id, phone in session.exec(
            select(m.Applicant.household_id, m.Applicant.phone)
            .where(m.Applicant.household_id.in_(household_ids), m.Applicant.phone.is_not(None))
            .order_by(m.Applicant.household_id, m.Applicant.position)
        ):
            self.by_household[household_id].append(phone)

    def of(self, household_id: int, carer_id: int | None = None) -> list[str]:
        return list(self.by_household.get(household_id, []))


CHANNEL = MessageChannel(
    channel=WHATSAPP,
    parts=("whatsapp.txt",),
    render=render,
    sender=WhatsAppSender,
    consent=WHATSAPP_CONSENT,
    label="WhatsApp",
    by="on WhatsApp",
    settings_model=WhatsAppSettings,
    available=available,
    addresses=WhatsAppNumbers,
)

# -- the outside world: a local server speaking a WhatsApp-like API ----------------------------

PHONE_NUMBER_ID = "1065550100"
TOKEN = "test-whatsapp-access-token"


class FakeWhatsApp:
    """POST /<phone number id>/messages with the bearer token: 200 with a message id, 401
    with another token, 400 for a number that is not on WhatsApp."""

    NOT_ON_WHATSAPP = "447700900000"

    def __init__(self) -> None:
        self.received: list[dict] = []
        ids = itertools.count(1)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._answer(401, {"error": {"message": "Invalid OAuth token"}})
                if self.path != f"/{PHONE_NUMBER_ID}/messages":
                    return self._answer(404, {"error": {"message": "Unknown path"}})
                if body["to"] == server.NOT_ON_WHATSAPP:
                    return self._answer(400, {"error": {"message": "Recipient not on WhatsApp"}})
                server.received.append(body)
                self._answer(200, {"messages": [{"id": f"wamid.{next(ids)}"}]})

            def _answer(self, status: int, data: dict) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeWhatsApp:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


# -- the test's own wiring: one registry line, one catalogue entry, one template ---------------

TABLE = f"""
[channels.whatsapp]
base_url = "https://graph.example.org"
phone_number_id = "{PHONE_NUMBER_ID}"
access_token = ""
"""
MONDAY_MORNING = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def settings_file(tmp_path, table: str = TABLE):  # noqa: ANN001, ANN201
    path = tmp_path / "settings.toml"
    path.write_text((CONFIG_DIR / "settings.toml").read_text(encoding="utf-8") + table, "utf-8")
    return path


@pytest.fixture
def whatsapp(monkeypatch, tmp_path, sched_settings):
    """The channel registered and allowed on the nudge, its template, its settings read from
    a settings file with [channels.whatsapp] and the environment (the token, and the address
    of the local server), and that server."""
    monkeypatch.setitem(CHANNELS, WHATSAPP, CHANNEL)
    entry = catalogue.TEMPLATES[NUDGE]
    monkeypatch.setitem(
        catalogue.TEMPLATES, NUDGE, replace(entry, channels=entry.channels | {WHATSAPP})
    )
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, templates)
    (templates / NUDGE / "whatsapp.txt").write_text(
        "Hi {{ greeting_name }}, it's {{ service_name }}: how is your "
        "{{ stage_label|lower }} going?\n",
        encoding="utf-8",
    )
    with FakeWhatsApp() as server:
        environ = {
            "FOSTERCRM_CHANNELS_WHATSAPP_ACCESS_TOKEN": TOKEN,
            "FOSTERCRM_CHANNELS_WHATSAPP_BASE_URL": server.base_url,
        }
        loaded = load_settings(environ, settings_file(tmp_path))
        settings = sched_settings.model_copy(update={"channels": loaded.channels})
        yield settings, server, Renderer(settings, templates)


def enquire(session, settings, *, consents, phone="07700 900982", email="sam@example.com"):  # noqa: ANN001, ANN201
    words = {WHATSAPP_CONSENT: "You may message me on WhatsApp."}
    data = EnquiryInput(
        applicant=ApplicantDetails("Sam", "Patel", email=email, phone=phone),
        enquiry_channel=m.EnquiryChannel.WEB_FORM,
        postcode="LE1 6ZG",
        preferred_channel=WHATSAPP,
        consents={
            scope: {**CONSENT_WORDS, **words}[scope]
            for scope in (m.ConsentScope.STORE_DETAILS, m.ConsentScope.EMAIL, *consents)
        },
    )
    return create_enquiry(session, Actor.system("test"), data, settings).household


def queue(session, settings, household, key: str) -> list[m.OutboxMessage]:  # noqa: ANN001
    """Queued the way a reminder is: to whoever the recipient book says."""
    found = outbox_service.reachable_recipients(session, settings, household.id, template=NUDGE)
    messages = [
        outbox_service.enqueue_message(
            session,
            channel=r.channel,
            recipient=r.address,
            template=NUDGE,
            payload=PAYLOAD,
            due_at=clock.now(),
            unique_key=f"{key}:{r.address}",
            household_id=household.id,
        )  # fmt: skip
        for r in found
    ]
    session.commit()
    return messages


def dispatch(settings, engine, renderer):  # noqa: ANN001, ANN201
    dispatcher = Dispatcher(settings, engine, renderer=renderer)
    try:
        return dispatcher.run_until_idle()
    finally:
        dispatcher.close()


def test_a_new_kind_of_address_is_consented_queued_rendered_and_sent(session, engine, whatsapp):
    settings, server, renderer = whatsapp
    clock.set_now(MONDAY_MORNING)
    household = enquire(session, settings, consents=(WHATSAPP_CONSENT,))
    assert household.preferred_channel == WHATSAPP
    agreed = outbox_service.latest_consents(session, household.id)
    assert agreed[WHATSAPP_CONSENT] is True

    [message] = queue(session, settings, household, "test:whatsapp")
    assert (message.channel, message.recipient) == ("whatsapp", "+447700900982")
    result = dispatch(settings, engine, renderer)
    assert (result.claimed, result.sent) == (1, 1), result

    service = settings.service.name
    assert server.received == [
        {
            "to": "447700900982",
            "type": "text",
            "text": {"body": f"Hi Sam, it's {service}: how is your application going?"},
        }
    ]
    [sent] = outbox(session, template=NUDGE)
    assert (sent.status, sent.provider_message_id) == (m.OutboxStatus.SENT, "wamid.1")
    entry = session.exec(select(m.Activity).where(m.Activity.outbox_message_id == sent.id)).one()
    assert entry.summary.startswith("Sent by whatsapp: ")


def test_without_its_consent_nothing_goes_by_it(session, engine, org, whatsapp):
    settings, server, renderer = whatsapp
    clock.set_now(MONDAY_MORNING)
    # They prefer WhatsApp but agreed only to email: the book goes by email.
    email_only = enquire(session, settings, consents=())
    [by_email] = outbox_service.reachable_recipients(session, settings, email_only.id)
    assert by_email.channel == m.Channel.EMAIL

    # A message written by WhatsApp all the same is cancelled when it is due.
    outbox_service.enqueue_message(
        session, channel=WHATSAPP, recipient="+447700900982", template=NUDGE, payload=PAYLOAD,
        due_at=clock.now(), unique_key="test:no-consent", household_id=email_only.id,
    )  # fmt: skip
    # Consent withdrawn (by staff, through the consent service) after a message was queued.
    withdrawn = enquire(
        session,
        settings,
        consents=(WHATSAPP_CONSENT,),
        phone="07700 900983",
        email="kim@example.com",
    )
    [queued] = queue(session, settings, withdrawn, "test:withdrawn")
    assert queued.channel == WHATSAPP
    households.record_consent(
        session, org.actor(session, org.manager), withdrawn.id,
        scope="whatsapp", granted=False, wording="Asked us to stop WhatsApp messages",
    )  # fmt: skip
    assert outbox_service.reachable_recipients(session, settings, withdrawn.id)[0].channel == (
        m.Channel.EMAIL
    )

    result = dispatch(settings, engine, renderer)
    assert (result.sent, result.cancelled) == (0, 2), result
    assert server.received == []
    errors = sorted(message.error for message in outbox(session, template=NUDGE))
    assert errors == ["no consent to contact by whatsapp"] * 2


def test_the_provider_refusing_a_number_fails_only_that_message(session, engine, whatsapp):
    settings, server, renderer = whatsapp
    clock.set_now(MONDAY_MORNING)
    household = enquire(session, settings, consents=(WHATSAPP_CONSENT,), phone="07700 900000")
    queue(session, settings, household, "test:not-on-whatsapp")
    assert dispatch(settings, engine, renderer).failed == 1
    [message] = outbox(session, template=NUDGE)
    assert message.error == "WhatsApp said: Recipient not on WhatsApp"


def test_its_key_and_scope_come_in_through_the_registry(session, org, whatsapp, monkeypatch):
    settings, _server, _renderer = whatsapp
    household = enquire(session, settings, consents=(WHATSAPP_CONSENT,))
    manager = org.actor(session, org.manager)
    # Staff see it among the consents they may record; the subject access document has words.
    assert ("whatsapp", "Contact on WhatsApp") in consent_choices()
    assert data_protection.consent_scope_text(WHATSAPP_CONSENT) == "Contacting you on WhatsApp"
    assert data_protection.channel_text(WHATSAPP) == "WhatsApp"
    consent = households.record_consent(
        session, manager, household.id, scope="whatsapp", granted=True, wording="Said yes again"
    )
    assert consent.scope == WHATSAPP_CONSENT

    # Unregistered, the same key is refused wherever it comes in.
    monkeypatch.delitem(CHANNELS, WHATSAPP)
    with pytest.raises(InvalidInput) as refused:
        households.record_consent(
            session, manager, household.id, scope="whatsapp", granted=True, wording="Yes"
        )
    assert refused.value.errors == {"scope": "Choose what the consent is for"}
    with pytest.raises(InvalidInput) as refused:
        enquire(
            session,
            settings,
            consents=(WHATSAPP_CONSENT,),
            phone="07700 900984",
            email="jo@example.com",
        )
    assert set(refused.value.errors) == {"consent_whatsapp", "preferred_channel"}
    with pytest.raises(InvalidInput, match="No channel sends by whatsapp"):
        outbox_service.enqueue_message(
            session, channel=WHATSAPP, recipient="+447700900982", template=NUDGE, payload={},
            due_at=clock.now(), unique_key="test:unregistered", household_id=household.id,
        )  # fmt: skip
    assert ("whatsapp", "Contact on WhatsApp") not in consent_choices()


# -- its settings: a table the settings read as it is, and the channel's model checks ---------


def test_its_settings_come_from_its_table_and_the_environment(tmp_path, monkeypatch):
    monkeypatch.setitem(CHANNELS, WHATSAPP, CHANNEL)
    path = settings_file(tmp_path)
    environ = {"FOSTERCRM_CHANNELS_WHATSAPP_ACCESS_TOKEN": TOKEN}
    settings = load_settings(environ, path)
    check_settings(settings)
    own = own_settings(settings)
    assert (own.base_url, own.phone_number_id) == ("https://graph.example.org", PHONE_NUMBER_ID)
    assert own.access_token == TOKEN
    assert available(settings)
    assert not available(load_settings({}, path))


@pytest.mark.parametrize(
    ("table", "environ", "error"),
    [
        (
            TABLE,
            {"FOSTERCRM_CHANNELS_WHATSAPP_PHONE_ID": "1"},
            "FOSTERCRM_CHANNELS_WHATSAPP_PHONE_ID: not a known setting (check the spelling)",
        ),
        (
            TABLE.replace('access_token = ""', 'access_token = "in-the-file"'),
            {},
            "setting channels.whatsapp.access_token: a secret, read only from "
            "FOSTERCRM_CHANNELS_WHATSAPP_ACCESS_TOKEN in the environment, never the file "
            "(leave it empty there)",
        ),
    ],
    ids=["unknown-variable", "secret-in-the-file"],
)
def test_the_settings_refuse_what_no_table_names(tmp_path, table, environ, error):
    with pytest.raises(SettingsError) as refused:
        load_settings(environ, settings_file(tmp_path, table))
    assert str(refused.value) == error


@pytest.mark.parametrize(
    ("table", "environ", "error"),
    [
        (
            TABLE,
            {"FOSTERCRM_CHANNELS_WHATSAPP_PHONE_NUMBER_ID": "not a number"},
            "setting channels.whatsapp.phone_number_id: String should match pattern "
            "'^[0-9]{5,20}$'",
        ),
        (
            TABLE + 'base_adress = "https://graph.example.org"\n',
            {},
            "setting channels.whatsapp.base_adress: Extra inputs are not permitted",
        ),
        (
            TABLE.replace("[channels.whatsapp]", "[channels.whatsap]"),
            {},
            "setting channels.whatsap: no such channel (check the spelling)",
        ),
    ],
    ids=["bad-value", "unknown-key", "unknown-channel"],
)
def test_the_channel_checks_its_own_table_in_one_line(
    tmp_path, monkeypatch, table, environ, error, sched_settings, engine
):
    monkeypatch.setitem(CHANNELS, WHATSAPP, CHANNEL)
    settings = load_settings(environ, settings_file(tmp_path, table))
    with pytest.raises(SettingsError) as refused:
        check_settings(settings)
    assert str(refused.value) == error
    # The dispatcher will not start with them.
    with pytest.raises(SettingsError):
        Dispatcher(sched_settings.model_copy(update={"channels": settings.channels}), engine)


def test_a_key_is_a_string_that_fits_its_column():
    assert WHATSAPP == "whatsapp" and WHATSAPP.value == "whatsapp" and str(WHATSAPP) == "whatsapp"
    assert json.dumps({"channel": WHATSAPP}) == '{"channel": "whatsapp"}'
    assert m.OutboxMessage.__table__.c.channel.type.length == OpenKey.LENGTH == 16
    assert m.Consent.__table__.c.scope.type.length == 16
    for bad in ("WhatsApp", "what's app", "a" * 17, "", 7):
        with pytest.raises(ValueError, match="is not a Channel key"):
            m.Channel(bad)
