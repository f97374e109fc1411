"""A real local SMTP server for our tests, keeping every message it receives.

It is aiosmtpd (a test dependency) on 127.0.0.1 and an ephemeral port, so tests running side
by side never clash. Our senders (crm.messaging.channels.email's EmailSender, the outbox
dispatcher, the scheduler process) talk to it over a socket exactly as they would to a mail relay::

    from crm.testing.smtp import SmtpCapture

    with SmtpCapture() as smtp:
        EmailSender(smtp.settings_for(settings)).send(message)    # settings.smtp -> this server
        # or, for a subprocess: FOSTERCRM_SMTP_HOST=127.0.0.1, FOSTERCRM_SMTP_PORT=smtp.port
        [received] = smtp.messages()
        received.recipients, received.subject, received.text(), received.message
        smtp.to("sam@example.com")       # what reached one address
        smtp.wait_for(5)                 # block until 5 messages are in (another thread/process)

A sender returns only after the server has accepted the DATA, so in a single thread a message
is here by the time the send returns: no waiting. Across threads and processes `wait_for`
blocks on a condition variable (woken by every message) until the count is reached or a
deadline passes: no sleeping.

Controls, for failure tests::

    smtp.refuse.add("nobody@example.com")   # RCPT TO that address: 550 No such user
    smtp.hold_at = 12                       # the 12th message is taken in, but its "250 OK"
    ...                                     # is held back (a slow server) until
    smtp.released.set()
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
from collections import Counter
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING

from aiosmtpd.controller import Controller

if TYPE_CHECKING:
    from crm.settings import Settings

__all__ = ["Received", "SmtpCapture"]


@dataclass
class Received:
    """One message as the server got it: the envelope, and the parsed message."""

    envelope_from: str
    recipients: list[str]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def text(self) -> str:
        return self.message.get_body(("plain",)).get_content()

    def html(self) -> str:
        return self.message.get_body(("html",)).get_content()

    def attachments(self) -> list[EmailMessage]:
        return list(self.message.iter_attachments())


class _Handler:
    def __init__(self, owner: SmtpCapture) -> None:
        self.owner = owner

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, N802
        if address in self.owner.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.owner.changed:
            self.owner.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), parsed)
            )
            count = len(self.owner.received)
            self.owner.changed.notify_all()
        if self.owner.hold_at is not None and count == self.owner.hold_at:
            # A slow server: the message is in, the "250 OK" not yet given (until released).
            while not self.owner.released.is_set():
                await asyncio.sleep(0.02)
        return "250 Message accepted for delivery"


class _Controller(Controller):
    def _trigger_server(self):  # noqa: ANN202
        # Bound to port 0: learn the port the system gave us before the first connection.
        self.port = self.server.sockets[0].getsockname()[1]
        return super()._trigger_server()


class SmtpCapture:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 and an ephemeral port, recording what it
    receives. Use it as a context manager: the server runs inside the `with` block."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refuse: set[str] = set()
        self.hold_at: int | None = None
        self.released = threading.Event()
        self.changed = threading.Condition()
        self.controller = _Controller(_Handler(self), hostname=self.host, port=0)

    def __enter__(self) -> SmtpCapture:
        self.controller.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.controller.stop()

    @property
    def port(self) -> int:
        return self.controller.port

    def settings_for(self, settings: Settings) -> Settings:
        """A copy of `settings` whose SMTP host and port point at this server."""
        return settings.model_copy(
            update={"smtp": settings.smtp.model_copy(update={"host": self.host, "port": self.port})}
        )

    def messages(self) -> list[Received]:
        """Everything received so far, in order (a copy)."""
        with self.changed:
            return list(self.received)

    def to(self, address: str) -> list[Received]:
        """The messages with `address` among their envelope recipients."""
        return [r for r in self.messages() if address in r.recipients]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """Block until at least `count` messages are in; TimeoutError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(self.received) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"expected {count} emails, got {len(self.received)}")
                self.changed.wait(remaining)
            return list(self.received)

    def message_id_counts(self) -> Counter:
        """How often each Message-ID arrived (a mailbox counts by Message-ID)."""
        return Counter(r.message_id for r in self.messages())
