"""The channels we send by, one module each, registered here explicitly: a new channel is its
module plus one line in CHANNELS (and its template files, and the channel in the catalogue
entries that may use it). The module declares its own key (`channel`), its consent scope
(`consent`), what people read about it (`label`, `by`) and its settings (`settings_model`, its
table [channels.<key>]): crm.models stores channels and scopes as plain strings and names only
the ones every release has, so a new kind of address needs nothing there, nor in crm.settings.

Everything that lists or checks ways of contact asks this registry: the outbox (who each
channel can reach, whose consent it needs), the consent and preferred-channel choices, the
subject access document, and the services where a channel or a scope comes in (`contact_way`,
`consent_scope`). The order is the order of preference when a household has no preferred
channel of their own. Phone and post are ways our staff contact people by hand: no module sends
by them, but people agree to them and may prefer them (BY_HAND).
"""

from __future__ import annotations

from dataclasses import dataclass

from crm.messaging.channels.base import MessageChannel, PermanentFailure
from crm.messaging.channels.email import EMAIL
from crm.messaging.channels.sms import SMS
from crm.messaging.channels.telegram import TELEGRAM
from crm.models import Channel, ConsentScope
from crm.settings import Settings, SettingsError

CHANNELS: dict[Channel, MessageChannel] = {c.channel: c for c in (EMAIL, TELEGRAM, SMS)}


@dataclass(frozen=True)
class ContactWay:
    """A way staff contact people themselves: no module sends by it."""

    channel: Channel
    label: str
    by: str
    consent: ConsentScope


BY_HAND = (
    ContactWay(Channel.PHONE, "Telephone", "by telephone", ConsentScope.PHONE),
    ContactWay(Channel.POST, "Post", "by post", ConsentScope.POST),
)


def channel_for(channel: Channel | str) -> MessageChannel:
    """The registered channel `channel`; PermanentFailure when no module sends by it."""
    found = CHANNELS.get(channel) if isinstance(channel, str) else None
    if found is None:
        raise PermanentFailure(f"cannot send by {channel} yet")
    return found


def sendable(value: object) -> Channel:
    """`value` as a channel a module sends by; ValueError when none does."""
    if isinstance(value, str) and value in CHANNELS:
        return CHANNELS[value].channel
    raise ValueError(f"no channel sends by {value!r}")


def ways() -> list[MessageChannel | ContactWay]:
    """Every way we may contact people: the registered channels in order, then by hand."""
    return [*CHANNELS.values(), *BY_HAND]


def contact_way(value: object) -> Channel:
    """`value` as a way of contact we know (a registered channel, phone or post); ValueError
    for any other, so a service can refuse it with its own words."""
    for way in ways():
        if value == way.channel:
            return way.channel
    raise ValueError(f"{value!r} is not a way we contact people")


def scope_of(channel: Channel | str) -> ConsentScope | None:
    """The consent a way of contact needs (None for a channel that needs none: staff's own)."""
    for way in ways():
        if channel == way.channel:
            return way.consent
    return None


def channel_of(scope: ConsentScope | str) -> Channel | None:
    """The way of contact that consent `scope` is for (None for keeping their details)."""
    for way in ways():
        if way.consent is not None and scope == way.consent:
            return way.channel
    return None


def consent_scopes() -> list[ConsentScope]:
    """Every consent a person may give: keeping their details, then each way's, in order."""
    scopes = [ConsentScope.STORE_DETAILS]
    for way in ways():
        if way.consent is not None and way.consent not in scopes:
            scopes.append(way.consent)
    return scopes


def consent_scope(value: object) -> ConsentScope:
    """`value` as a consent we know; ValueError for any other."""
    for scope in consent_scopes():
        if value == scope:
            return scope
    raise ValueError(f"{value!r} is not a consent we record")


def label_of(channel: Channel | str) -> str | None:
    """What people read for a way of contact ("Text message"); None for one we do not know."""
    for way in ways():
        if channel == way.channel:
            return way.label
    return None


def consent_by(scope: ConsentScope | str) -> str | None:
    """How a consent's way reads after "contact" ("by text message", "on Telegram")."""
    for way in ways():
        if way.consent is not None and scope == way.consent:
            return way.by
    return None


def check_settings(settings: Settings) -> None:
    """Every registered channel's table [channels.<key>] checked by its own model, and a table
    no channel has refused as a typo: SettingsError, one line naming the setting."""
    for key in settings.channels:
        if key not in CHANNELS:
            raise SettingsError(f"setting channels.{key}: no such channel (check the spelling)")
    for channel in CHANNELS.values():
        channel.settings_of(settings)
