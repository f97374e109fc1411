"""What every message channel provides, so the renderer and the dispatcher never ask which
channel a message is for.

A channel module (email.py, telegram.py; sms.py next) defines one `MessageChannel`:

- `parts`: the template files every message sent this way needs in its folder;
- `render(templates, draft)`: the message as this channel carries it (`Outgoing`), from the
  templates and the context the renderer made;
- `sender(settings)`: a `Sender` that talks to the outside world. The dispatcher makes one per
  channel when it first needs it and closes it when it is done.

A sender raises `PermanentFailure` when sending can never work (bad address, blocked bot) and
`RetryLater` when the provider asks us to wait (flood control): the dispatcher then holds every
message of that channel until then, without using up their attempts. Any other exception is
network trouble: the message is tried again with a backoff.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from crm.messaging.catalogue import Template
from crm.models import Appointment, Channel, OutboxMessage
from crm.settings import Settings


class PermanentFailure(Exception):
    """Sending this message can never work (bad address, chat not found, bot blocked)."""


class RetryLater(Exception):
    """The provider asked us to wait (flood control); not the message's fault."""

    def __init__(self, seconds: float, text: str) -> None:
        super().__init__(text)
        self.seconds = seconds


class TemplateProblem(Exception):
    """The template is missing or cannot be filled in: retrying will not help."""


class Templates(Protocol):
    """What a channel's renderer may ask of crm.messaging.render.Renderer."""

    settings: Settings

    def text(self, draft: Draft, part: str) -> str: ...

    def has(self, draft: Draft, part: str) -> bool: ...

    def summary(self, draft: Draft) -> str: ...


@dataclass
class Draft:
    """One outbox message on its way to being rendered: the message, its catalogue entry, the
    template context, and what the dispatcher looked up for it."""

    message: OutboxMessage
    template: Template
    context: dict[str, Any]
    appointment: Appointment | None = None
    household_id: int | None = None


@dataclass(frozen=True)
class Outgoing:
    content: Any  # what the channel's Sender sends (an EmailMessage, a TelegramText...)
    summary: str  # the line on the household's timeline


class Sender(Protocol):
    def send(self, content: Any) -> str:
        """Send one message; returns the provider's id for it."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class MessageChannel:
    channel: Channel
    parts: tuple[str, ...]
    render: Callable[[Templates, Draft], Outgoing]
    sender: Callable[[Settings], Sender]
