"""The emails written as bytes directly (crm.messaging.channels.mime) are byte for byte what the
email package writes for the same EmailMessage, the way smtplib.send_message flattens it, and
go to the same envelope: for every template and for awkward texts."""

import io
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import getaddresses

import pytest

import crm.models as m
from crm.messaging.channels.email import EmailSender
from crm.messaging.channels.mime import WireEmail
from crm.messaging.render import Renderer
from crm.testing.fixtures import make_test_settings
from tests.crm.messaging.test_templates import PAYLOADS, SAMPLED, message
from tests.crm.scheduler.helpers import SECRET

BOUNDARY = "===============4817264018372645519=="


def by_the_email_package(wire: WireEmail) -> tuple[str, list[str], bytes]:
    """What smtplib.send_message sends for the EmailMessage of the same parts."""
    email = EmailMessage()
    for name, value in wire.headers:
        email[name] = value
    email.set_content(wire.text)
    if wire.html is not None:
        email.add_alternative(wire.html, subtype="html")
        email.set_boundary(BOUNDARY)
    out = io.BytesIO()
    BytesGenerator(out).flatten(email, linesep="\r\n")
    sender = getaddresses([email["From"]])[0][1]
    recipients = [a for _, a in getaddresses([email["To"]])]
    return sender, recipients, out.getvalue()


@pytest.fixture(scope="module")
def renderer():
    return Renderer(make_test_settings().model_copy(update={"secret_key": SECRET}))


@pytest.mark.parametrize("name", [n for n in SAMPLED if "appointment_id" not in PAYLOADS[n]])
def test_every_template_is_written_as_the_email_package_writes_it(renderer, name):
    email = renderer.render(message(name, m.Channel.EMAIL), household_id=5).content
    assert isinstance(email, WireEmail)
    assert email.wire(boundary=BOUNDARY) == by_the_email_package(email)


HEADERS = [
    ("Subject", "Tomorrow: your initial visit at 9:30am"),
    ("To", "sam.patel@example.com"),
    ("From", "fostering@example.org"),
    ("Message-ID", "<outbox-12-0123456789abcdef@example.org>"),
    ("Auto-Submitted", "auto-generated"),
]
LONG_LINK = "<https://fostering.example.org/unsubscribe/" + "eyJoIjo1LCJzIjoiZW1haWwifQ" * 5 + ">"


@pytest.mark.parametrize(
    ("headers", "text", "html"),
    [
        (HEADERS, "Hello Sam,\n\nSee you tomorrow.\n", None),
        (HEADERS, "Hello Sam,\n", "<p>Hello Sam,</p>\n"),
        (HEADERS, "", ""),
        # "From " at a line's start is mangled by smtplib's generator: ours too.
        (HEADERS, "From here on\nFrom: not a header\n From no\n", "From <b>here</b>\n"),
        # Non-ASCII words: encoded headers, 8bit or quoted-printable bodies.
        (
            [("Subject", "Zoë’s visit — Thursday"), *HEADERS[1:]],
            "Dear Zoë Ó’Brien,\n\nÀ bientôt.\n",
            "<p>Dear Zoë</p>\n" * 12,
        ),
        # Long lines and a long header (folded), line ends of every kind.
        (
            [("Subject", "A subject well over the length of one line " * 3), *HEADERS[1:]],
            "word " * 60 + "\r\nnext line\rthird\n" + "x" * 200 + "\n",
            "<p style='margin:0'>" + "long " * 50 + "</p>\n",
        ),
        ([*HEADERS, ("List-Unsubscribe", LONG_LINK)], "Stop here.\n", "<p>é</p>" * 40),
        # Addresses and values the header registry rewrites: left to the email package.
        (
            [
                ("Subject", "Two  spaces and =?utf-8?q?encoded?= words "),
                ("To", '"Patel, Sam" <sam.patel@example.com>, Jo <jo@example.com>'),
                ("From", "Fostering Together <fostering@example.org>"),
                ("Message-ID", "<not quite@a message id>"),
            ],
            "Hi\n",
            "<p>Hi</p>\n",
        ),
    ],
)
def test_awkward_emails_are_written_as_the_email_package_writes_them(headers, text, html):
    wire = WireEmail(headers, text, html)
    assert wire.wire(boundary=BOUNDARY) == by_the_email_package(wire)
    # What GOV.UK Notify is given from the parts is what the EmailMessage would give.
    built = WireEmail(headers, text, html).message
    assert wire.plain_text() == built.get_body(preferencelist=("plain",)).get_content()


@pytest.mark.parametrize("name", [n for n in SAMPLED if "appointment_id" not in PAYLOADS[n]])
def test_notify_reads_every_template_as_the_email_message_gives_it(renderer, name):
    email = renderer.render(message(name, m.Channel.EMAIL), household_id=5).content
    built = WireEmail(email.headers, email.text, email.html).message
    assert email.plain_text() == built.get_body(preferencelist=("plain",)).get_content()
    for header in ("To", "Subject", "Message-ID", "List-Unsubscribe"):
        assert (email.value(header) or "") == str(built.get(header, ""))


def test_once_built_and_changed_the_email_message_is_what_goes(smtp, sched_settings):
    wire = WireEmail(HEADERS, "Hello\n", "<p>Hello</p>")
    assert "message-id" in wire and wire.value("To") == "sam.patel@example.com"
    wire["Reply-To"] = "office@example.org"  # builds the EmailMessage: that is sent now
    assert wire.wire() is None
    sender = EmailSender(sched_settings)
    try:
        assert sender.send(wire) == HEADERS[3][1]
        assert sender.send(WireEmail(HEADERS[:3], "No id\n", None)).startswith("<")
    finally:
        sender.close()
    first, second = smtp.messages()
    assert (
        first.message["Reply-To"] == "office@example.org" and first.html().strip() == "<p>Hello</p>"
    )
    assert second.text().strip() == "No id" and second.recipients == ["sam.patel@example.com"]


def test_a_random_boundary_is_one_the_generator_could_have_made():
    _sender, _to, data = WireEmail(HEADERS, "Hello\n", "<p>Hello</p>").wire()
    boundary = data.split(b'boundary="')[1].split(b'"')[0].decode()
    assert boundary.startswith("=" * 15) and boundary.endswith("==")
    assert len(boundary) == len(BOUNDARY) and boundary[15:-2].isdigit()
    assert data.count(f"--{boundary}".encode()) == 3
