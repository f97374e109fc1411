"""Helpers for the chat assistant's tests (imported by tests/bot/*; pytest puts this folder
on sys.path)."""

from __future__ import annotations

import re

from bot.assistant import Assistant, Incoming, Outcome
from crm.models import ChatChannel

_TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


class Chat:
    """A person chatting: says things, presses buttons by their label."""

    def __init__(
        self, assistant: Assistant, session, channel=ChatChannel.WEBCHAT, external_id="w1"
    ):
        self.assistant = assistant
        self.session = session
        self.channel = channel
        self.external_id = external_id
        self.last: Outcome | None = None
        # Messages (typed or pressed) the person has sent.
        self.sent = 0

    def say(self, text: str) -> Outcome:
        self.sent += 1
        self.last = self.assistant.reply(
            self.session, self.channel, self.external_id, Incoming.message(text)
        )
        return self.last

    def button(self, label: str) -> str:
        assert self.last is not None
        found = [b for b in self.last.buttons if b.label == label or b.label.startswith(label)]
        assert found, f"no button {label!r} in {[b.label for b in self.last.buttons]}"
        return found[0].data

    def press(self, label: str) -> Outcome:
        return self.press_data(self.button(label))

    def press_data(self, data: str) -> Outcome:
        self.sent += 1
        self.last = self.assistant.reply(
            self.session, self.channel, self.external_id, Incoming.press(data)
        )
        return self.last

    def give_details(
        self,
        name: str = "Sam Patel",
        contact: str = "sam.patel@example.com",
        postcode: str = "LE1 6ZG",
    ) -> Outcome:
        """Five messages from "I'd like to book a visit" to the offered times."""
        self.say("I'd like to book a visit")
        self.say(name)
        self.say(contact)
        self.say(postcode)
        return self.press("Yes, I agree")

    def answer_optional(self, interest: str = "Teenagers", source: str = "Social media"):
        """The two optional questions asked after the booking."""
        self.press(interest)
        return self.press(source)


class WebClient:
    """A Flask test client that posts forms with their CSRF token, like a browser."""

    def __init__(self, client) -> None:
        self.http = client

    def token(self, url: str = "/chat") -> str:
        match = _TOKEN.search(self.http.get(url).get_data(as_text=True))
        assert match, f"no CSRF token on {url}"
        return match.group(1)

    def post(self, url: str, data: dict, token_from: str = "/chat", **kw):
        data = dict(data)
        data.setdefault("csrf_token", self.token(token_from))
        return self.http.post(url, data=data, **kw)
