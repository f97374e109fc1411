"""What every message channel provides, so the renderer and the dispatcher never ask which
channel a message is for.

A channel module (email.py, telegram.py; sms.py next) defines one `MessageChannel`:

- `parts`: the template files every message sent this way needs in its folder;
- `render(templates, draft)`: the message as this channel carries it (`Outgoing`), from the
  templates and the context the renderer made;
- `sender(settings)`: a `Sender` that talks to the outside world. The dispatcher makes one per
  channel when it first needs it and closes it when it is done;
- what people read about it: `label` ("Text message") and `by` ("by text message", "on
  Telegram"), for the consent forms, the preferred-channel choice and the subject access
  document, which list the registry rather than name channels;
- its own settings, when it has any: `settings_model`, a pydantic model of its table
  `[channels.<key>]` in config/settings.toml (crm.settings reads every such table as it is and
  lets FOSTERCRM_CHANNELS_<KEY>_<NAME> override its keys); `settings_of(settings)` checks the
  table with the model and says what is wrong in one line;
- who can be reached this way, for the outbox (crm.services.outbox asks the registry, so the
  rules need not name a channel): `consent`, the scope a household must have agreed to;
  `available(settings)`, whether the channel is set up at all (a bot token, a Notify key);
  `addresses(session, household_ids, carer_ids)`, the addresses of many households at once;
  `opted_out(session, address)`, why an address must not be written to (it said STOP);
  and for channels people can answer STOP on, `record_opt_out(session, address, now)` and
  `households_at(session, address)`.

This module and the channel modules sit below crm.services (the import contract in
pyproject.toml), so they use nothing from the rules: what a channel's renderer needs from them
(an unsubscribe link, answer buttons) the renderer gives it through `Templates`.

A sender raises `PermanentFailure` when sending can never work (bad address, blocked bot) and
`RetryLater` when the provider asks us to wait (flood control): the dispatcher then holds every
message of that channel until then, without using up their attempts. Any other exception is
network trouble: the message is tried again with a backoff.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlmodel import Session

from crm.messaging.catalogue import Template
from crm.models import Appointment, Channel, ConsentScope, OutboxMessage
from crm.settings import Settings, SettingsError, describe_error


class PermanentFailure(Exception):
    """Sending this message can never work (bad address, chat not found, bot blocked)."""


class RetryLater(Exception):
    """The provider asked us to wait (flood control); not the message's fault."""

    def __init__(self, seconds: float, text: str) -> None:
        super().__init__(text)
        self.seconds = seconds


class TemplateProblem(Exception):
    """The template is missing or cannot be filled in: retrying will not help."""


class ChannelSettings(BaseModel):
    """What a channel's `settings_model` derives from: no key it does not name, read-only."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Templates(Protocol):
    """What a channel's renderer may ask of crm.messaging.render.Renderer."""

    settings: Settings

    def text(self, draft: Draft, part: str) -> str: ...

    def has(self, draft: Draft, part: str) -> bool: ...

    def summary(self, draft: Draft) -> str: ...

    def unsubscribe_url(self, draft: Draft, scope: ConsentScope) -> str | None:
        """A one-click link withdrawing `scope`, for messages to the public (else None)."""
        ...

    def answer_buttons(self, draft: Draft) -> dict | None:
        """A check-in's answers as Telegram buttons (Bot API JSON), for a check-in."""
        ...


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


class Addresses(Protocol):
    """Where this channel reaches the households (and carers) it was asked about."""

    def of(self, household_id: int, carer_id: int | None = None) -> list[str]: ...


@dataclass(frozen=True)
class NoAddresses:
    def of(self, household_id: int, carer_id: int | None = None) -> list[str]:
        return []


def _always(settings: Settings | None) -> bool:
    return True


def _no_addresses(session: Session, households: Sequence[int], carers: Sequence[int]):  # noqa: ANN202
    return NoAddresses()


def _never_opted_out(session: Session, address: str) -> str | None:
    return None


@dataclass(frozen=True)
class MessageChannel:
    channel: Channel
    parts: tuple[str, ...]
    render: Callable[[Templates, Draft], Outgoing]
    sender: Callable[[Settings], Sender]
    consent: ConsentScope | None = None
    # What people read: "Text message"; "by text message" (after "contact" or "contacting
    # you"). Made from the key when left out.
    label: str = ""
    by: str = ""
    # The pydantic model of this channel's table [channels.<key>] in the settings, if it has one.
    settings_model: type[ChannelSettings] | None = None
    available: Callable[[Settings | None], bool] = _always
    addresses: Callable[[Session, Sequence[int], Sequence[int]], Addresses] = _no_addresses
    opted_out: Callable[[Session, str], str | None] = _never_opted_out
    record_opt_out: Callable[[Session, str, datetime], bool] | None = None
    households_at: Callable[[Session, str], list[int]] | None = None
    # What the dispatcher may do before sending again after an attempt whose answer was lost:
    # ask the provider whether it has the message already (provider id, or None).
    already_sent: Callable[[Settings, OutboxMessage], str | None] | None = None

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.channel.value.replace("_", " ").capitalize())
        if not self.by:
            object.__setattr__(self, "by", f"by {self.label.lower()}")

    def settings_of(self, settings: Settings) -> Any:
        """This channel's settings, its table [channels.<key>] checked by its own model (an
        empty table when the file has none). SettingsError, one line naming the setting, when
        they are wrong or the channel has no settings but the file gives it some."""
        table = settings.channels.get(self.channel.value, {})
        if self.settings_model is None:
            if table:
                name = next(iter(table))
                raise SettingsError(
                    f"setting channels.{self.channel}.{name}: {self.label} has no settings"
                )
            return None
        try:
            return self.settings_model.model_validate(table)
        except ValidationError as exc:
            raise SettingsError(
                describe_error(exc.errors()[0], prefix=("channels", self.channel.value))
            ) from None
