"""Turning an outbox message into what its channel carries, from the editable templates in
config/templates/.

Each template is a folder named in the catalogue (crm.messaging.catalogue), holding the files
of each channel that may carry it:

    config/templates/<name>/subject.txt   the email subject (one line), also the timeline line
    config/templates/<name>/email.txt     the plain-text email
    config/templates/<name>/email.html    the HTML email (usually extends _layout.html)
    config/templates/<name>/telegram.txt  the Telegram text (plain text, no markup)

They are Jinja templates; the context is the message's payload plus what every message can
use: `service_name`, `public_base_url`, `unsubscribe_url` (emails to the public, when links can
be signed), and for visits `visit_date`, `visit_time`, `visit_when` in London time. A missing
value is an error (StrictUndefined), so a broken template fails loudly in tests, not in a
family's inbox. Visit emails carry a calendar invite (crm.messaging.calendar).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

from crm.messaging import catalogue
from crm.messaging.channels import channel_for
from crm.messaging.channels.base import Draft, Outgoing, TemplateProblem
from crm.models import Appointment, AppointmentKind, ConsentScope, OutboxMessage
from crm.services import checkins, outbox
from crm.settings import CONFIG_DIR, Settings
from crm.timetext import clock_time

TEMPLATES_DIR = CONFIG_DIR / "templates"


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


class Renderer:
    def __init__(self, settings: Settings, directory: Path | None = None) -> None:
        self.settings = settings
        self.directory = Path(directory or TEMPLATES_DIR)

    def render(
        self,
        message: OutboxMessage,
        *,
        appointment: Appointment | None = None,
        household_id: int | None = None,
    ) -> Outgoing:
        """The message as its channel carries it, and its line for the timeline."""
        draft = Draft(
            message=message,
            template=catalogue.template(message.template),
            context=self.context(message, appointment),
            appointment=appointment,
            household_id=household_id,
        )
        return channel_for(message.channel).render(self, draft)

    # -- what a channel's renderer uses (crm.messaging.channels.base.Templates) ---------------

    def text(self, draft: Draft, part: str) -> str:
        return self._render(self._folder(draft), part, draft.context)

    def has(self, draft: Draft, part: str) -> bool:
        return (self.directory / self._folder(draft) / part).is_file()

    def summary(self, draft: Draft) -> str:
        """A line for the timeline: the subject when there is one."""
        message = draft.message
        try:
            return " ".join(
                self._render(self._folder(draft), "subject.txt", self.context(message)).split()
            )
        except TemplateProblem:
            return message.template.replace("_", " ")

    def unsubscribe_url(self, draft: Draft, scope: ConsentScope) -> str | None:
        settings, message = self.settings, draft.message
        if draft.household_id is None or not outbox.is_for_public(message):
            return None
        if not settings.secret_key:
            return None
        token = outbox.make_unsubscribe_token(settings, draft.household_id, scope)
        return f"{settings.service.public_base_url.rstrip('/')}/unsubscribe/{token}"

    def answer_buttons(self, draft: Draft) -> dict | None:
        if draft.message.template == "check_in" and "check_in_id" in draft.context:
            return checkins.telegram_keyboard(int(draft.context["check_in_id"]))
        return None

    # -- the rest -------------------------------------------------------------------------------

    @staticmethod
    def _folder(draft: Draft) -> str:
        return draft.template.folder or draft.message.template

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
