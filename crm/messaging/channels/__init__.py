"""The channels we send by, one module each, registered here explicitly: a new channel is its
module plus one line in CHANNELS (and its template files, and the channel in the catalogue
entries that may use it). The outbox asks this registry who each channel can reach, so the
rules in crm.services never name a channel. The order is the order of preference when a
household has no preferred channel of their own."""

from __future__ import annotations

from crm.messaging.channels.base import MessageChannel, PermanentFailure
from crm.messaging.channels.email import EMAIL
from crm.messaging.channels.sms import SMS
from crm.messaging.channels.telegram import TELEGRAM
from crm.models import Channel

CHANNELS: dict[Channel, MessageChannel] = {c.channel: c for c in (EMAIL, TELEGRAM, SMS)}


def channel_for(channel: Channel | str) -> MessageChannel:
    try:
        return CHANNELS[Channel(channel)]
    except (KeyError, ValueError):
        raise PermanentFailure(f"cannot send by {channel} yet") from None
