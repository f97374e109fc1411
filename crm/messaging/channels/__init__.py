"""The channels we send by, one module each, registered here explicitly: a new channel is its
module plus one line in CHANNELS (and its template files, and the channel in the catalogue
entries that may use it)."""

from __future__ import annotations

from crm.messaging.channels.base import MessageChannel, PermanentFailure
from crm.messaging.channels.email import EMAIL
from crm.messaging.channels.telegram import TELEGRAM
from crm.models import Channel

CHANNELS: dict[Channel, MessageChannel] = {c.channel: c for c in (EMAIL, TELEGRAM)}


def channel_for(channel: Channel | str) -> MessageChannel:
    try:
        return CHANNELS[Channel(channel)]
    except (KeyError, ValueError):
        raise PermanentFailure(f"cannot send by {channel} yet") from None
