"""Turning an outbox message into an email or a Telegram text, from the editable templates in
config/templates/.

Each template is a folder named after the outbox message's `template`:

    config/templates/<name>/subject.txt   the email subject (one line)
    config/templates/<name>/email.txt     the plain-text email
    config/templates/<name>/email.html    the HTML email (usually extends _layout.html)
    config/templates/<name>/telegram.txt  the Telegram text (plain text, no markup)

They are Jinja templates; the context is the message's payload plus what every message can
use: `service_name`, `public_base_url`, `unsubscribe_url` (emails to the public, when links can
be signed), and for visits `visit_date`, `visit_time`, `visit_when` in London time. A missing
value is an error (StrictUndefined), so a broken template fails loudly in tests, not in a
family's inbox.

Visit emails carry an iCalendar invite that calendars treat as one entry for the whole life of
the visit: the UID is the first booking's (a move makes a new appointment row, linked from
the old one), SEQUENCE counts the changes (each move, and the cancellation), DTSTAMP is when
the message is built, and a cancellation notice (`visit_cancelled`, `visit_cancelled_staff`,
or any visit message for a cancelled appointment) is a METHOD:CANCEL with
STATUS:CANCELLED. A payload may carry `sequence` (an int) to fix it when the message is
written; otherwise it is counted from the appointment's moves.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path
from typing import Any

import icalendar
import sqlalchemy as sa
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound
from sqlalchemy.orm import object_session

from crm import clock
from crm.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    ConsentScope,
    OutboxMessage,
)
from crm.services import checkins, outbox
from crm.services.appointments import CANCELLATION_NOTICES
from crm.settings import CONFIG_DIR, Settings
from crm.timetext import clock_time

TEMPLATES_DIR = CONFIG_DIR / "templates"
VISIT_TEMPLATES = (
    frozenset({"visit_reminder", "visit_reminder_staff", "visit_confirmation"})
    | CANCELLATION_NOTICES
)


class TemplateProblem(Exception):
    """The template is missing or cannot be filled in: retrying will not help."""


@dataclass
class TelegramText:
    chat_id: str
    text: str
    reply_markup: dict | None = None


@lru_cache(maxsize=8)
def environment(directory: str, html: bool) -> Environment:
    # Text keeps the newline after a block tag (what you see in the file is what is sent);
    # HTML trims it, as whitespace there is only for the reader of the template.
    return Environment(
        loader=FileSystemLoader(directory),
        undefined=StrictUndefined,
        autoescape=html,
        trim_blocks=html,
        lstrip_blocks=html,
        keep_trailing_newline=False,
    )


def local_time_text(moment: datetime, settings: Settings) -> dict[str, str]:
    local = moment.astimezone(settings.tz)
    clock_text = clock_time(local)  # GOV.UK style, as on the web pages: 9:30am, midday
    date_text = f"{local.strftime('%A')} {local.day} {local.strftime('%B %Y')}"
    return {"date": date_text, "time": clock_text, "when": f"{date_text} at {clock_text}"}


def message_id_for(message: OutboxMessage, settings: Settings) -> str:
    """A Message-ID fixed per outbox message, so a resend after a crash is the same email."""
    digest = hashlib.sha256(message.unique_key.encode()).hexdigest()[:16]
    domain = settings.smtp.from_address.split("@")[-1]
    return f"<outbox-{message.id}-{digest}@{domain}>"


class Renderer:
    def __init__(self, settings: Settings, directory: Path | None = None) -> None:
        self.settings = settings
        self.directory = Path(directory or TEMPLATES_DIR)

    def _render(self, name: str, part: str, context: dict[str, Any]) -> str:
        try:
            env = environment(str(self.directory), part.endswith(".html"))
            template = env.get_template(f"{name}/{part}")
        except TemplateNotFound:
            raise TemplateProblem(f"template {name}/{part} is missing") from None
        try:
            return template.render(**context).strip()
        except Exception as exc:  # a missing value or a broken template
            raise TemplateProblem(f"template {name}/{part}: {exc}") from exc

    def has(self, name: str, part: str) -> bool:
        return (self.directory / name / part).is_file()

    def context(
        self, message: OutboxMessage, appointment: Appointment | None = None
    ) -> dict[str, Any]:
        settings = self.settings
        context: dict[str, Any] = dict(message.payload or {})
        context.update(
            service_name=settings.service.name,
            public_base_url=settings.service.public_base_url.rstrip("/"),
            unsubscribe_url=None,
            answer_urls=None,
        )
        for key in ("starts_at", "ends_at", "enquired_at", "due_at", "application_at"):
            value = context.get(key)
            if isinstance(value, str):
                try:
                    moment = datetime.fromisoformat(value)
                except ValueError:
                    continue
                texts = local_time_text(moment, settings)
                prefix = key.removesuffix("_at")
                context[f"{prefix}_date"] = texts["date"]
                context[f"{prefix}_time"] = texts["time"]
                context[f"{prefix}_when"] = texts["when"]
        if appointment is not None:
            texts = local_time_text(appointment.starts_at, settings)
            context.update(
                visit_date=texts["date"],
                visit_time=texts["time"],
                visit_when=texts["when"],
                visit_end_time=local_time_text(appointment.ends_at, settings)["time"],
                visit_kind=AppointmentKind(appointment.kind).label.lower(),
                visit_location=appointment.location or "",
            )
        links = bool(settings.secret_key)
        if message.template == "check_in" and links and "check_in_id" in context:
            context["answer_urls"] = checkins.answer_urls(settings, context["check_in_id"])
        return context

    def email(
        self,
        message: OutboxMessage,
        *,
        appointment: Appointment | None = None,
        household_id: int | None = None,
    ) -> EmailMessage:
        context = self.context(message, appointment)
        if household_id is not None and outbox.is_for_public(message) and self.settings.secret_key:
            token = outbox.make_unsubscribe_token(self.settings, household_id, ConsentScope.EMAIL)
            context["unsubscribe_url"] = f"{context['public_base_url']}/unsubscribe/{token}"
        subject = " ".join(self._render(message.template, "subject.txt", context).split())
        text = self._render(message.template, "email.txt", context)
        email = EmailMessage()
        email["Subject"] = subject
        email["To"] = message.recipient
        email["From"] = self.settings.smtp.from_address
        email["Message-ID"] = message_id_for(message, self.settings)
        email["Auto-Submitted"] = "auto-generated"
        if context["unsubscribe_url"]:
            email["List-Unsubscribe"] = f"<{context['unsubscribe_url']}>"
            email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        email.set_content(text + "\n")
        if self.has(message.template, "email.html"):
            html = self._render(message.template, "email.html", context)
            email.add_alternative(html, subtype="html")
        if appointment is not None and message.template in VISIT_TEMPLATES:
            cancel = is_cancellation(message, appointment)
            email.add_attachment(
                calendar_invite(
                    appointment,
                    self.settings,
                    message.recipient,
                    context,
                    cancel=cancel,
                    sequence=_payload_sequence(message),
                ),
                maintype="text",
                subtype="calendar",
                filename="invite.ics",
                params={"method": "CANCEL" if cancel else "REQUEST"},
            )
        return email

    def telegram(
        self, message: OutboxMessage, *, appointment: Appointment | None = None
    ) -> TelegramText:
        context = self.context(message, appointment)
        text = self._render(message.template, "telegram.txt", context)
        markup = None
        if message.template == "check_in" and "check_in_id" in context:
            markup = checkins.telegram_keyboard(int(context["check_in_id"]))
        return TelegramText(chat_id=message.recipient, text=text, reply_markup=markup)

    def summary(self, message: OutboxMessage) -> str:
        """A line for the timeline: the subject when there is one."""
        try:
            return " ".join(
                self._render(message.template, "subject.txt", self.context(message)).split()
            )
        except TemplateProblem:
            return message.template.replace("_", " ")


def is_cancellation(message: OutboxMessage, appointment: Appointment) -> bool:
    return (
        message.template in CANCELLATION_NOTICES
        or appointment.status == AppointmentStatus.CANCELLED
    )


def _payload_sequence(message: OutboxMessage) -> int | None:
    value = (message.payload or {}).get("sequence")
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def visit_history(appointment: Appointment) -> tuple[int, int]:
    """(the id of the visit's first booking, how many times it has moved since). A moved
    visit is a new appointment that the old one points at (`moved_to_id`)."""
    first, moves = appointment.id, 0
    session = object_session(appointment)
    if session is None or first is None:
        return first, moves
    seen = {first}
    while True:
        earlier = session.scalar(sa.select(Appointment.id).where(Appointment.moved_to_id == first))
        if earlier is None or earlier in seen:
            return first, moves
        seen.add(earlier)
        first, moves = earlier, moves + 1


def calendar_invite(
    appointment: Appointment,
    settings: Settings,
    attendee: str,
    context: dict[str, Any],
    *,
    cancel: bool = False,
    sequence: int | None = None,
) -> bytes:
    """An iCalendar REQUEST for the visit (or, with `cancel`, its CANCEL). The UID is the
    first booking's, so a reminder, a move or a cancellation updates the same calendar entry
    instead of adding another; SEQUENCE goes up with each change (moves, then the cancellation)
    unless `sequence` fixes it."""
    domain = settings.smtp.from_address.split("@")[-1]
    first_id, moves = visit_history(appointment)
    if sequence is None:
        sequence = moves + (1 if cancel else 0)
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Fostercrm//Visit reminders//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancel else "REQUEST")
    event = icalendar.Event()
    event.add("uid", f"appointment-{first_id}@{domain}")
    # When this message was made (RFC 5545), not when the visit was first booked.
    event.add("dtstamp", clock.now())
    event.add("dtstart", appointment.starts_at)
    event.add("dtend", appointment.ends_at)
    kind = AppointmentKind(appointment.kind).label
    event.add("summary", f"{kind} with {settings.service.name}")
    if cancel:
        description = f"{kind} with {context.get('staff_name', 'our team')}: cancelled."
    else:
        description = (
            f"{kind} with {context.get('staff_name', 'our team')}. "
            "To move or cancel, reply to this email and we will find a time that suits you."
        )
    event.add("description", description)
    if appointment.location:
        event.add("location", appointment.location)
    event.add("organizer", f"mailto:{settings.smtp.from_address}")
    event.add("attendee", f"mailto:{attendee}")
    event.add("sequence", sequence)
    event.add("status", "CANCELLED" if cancel else "CONFIRMED")
    if not cancel:
        alarm = icalendar.Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"{kind} tomorrow")
        alarm.add("trigger", timedelta(hours=-24))
        event.add_component(alarm)
    calendar.add_component(event)
    return calendar.to_ical()
