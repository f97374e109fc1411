"""Email over SMTP: the message built from subject.txt, email.txt and (when there is one)
email.html, with the visit's calendar invite and, for the public, a one-click unsubscribe link.
"""

from __future__ import annotations

import contextlib
import hashlib
import smtplib
import time
from collections import defaultdict
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import make_msgid

from sqlmodel import Session, select

from crm.messaging.calendar import calendar_invite, is_cancellation, payload_sequence
from crm.messaging.channels.base import (
    Draft,
    MessageChannel,
    Outgoing,
    PermanentFailure,
    Templates,
)
from crm.messaging.channels.mime import WireEmail
from crm.models import Applicant, Channel, ConsentScope, OutboxMessage
from crm.settings import Settings

CHUNK = 900  # stays under SQLite's limit on bound parameters


def message_id_for(message: OutboxMessage, settings: Settings) -> str:
    """A Message-ID fixed per outbox message, so a resend after a crash is the same email."""
    digest = hashlib.sha256(message.unique_key.encode()).hexdigest()[:16]
    domain = settings.smtp.from_address.split("@")[-1]
    return f"<outbox-{message.id}-{digest}@{domain}>"


def render(templates: Templates, draft: Draft) -> Outgoing:
    settings, message, context = templates.settings, draft.message, draft.context
    context["unsubscribe_url"] = templates.unsubscribe_url(draft, ConsentScope.EMAIL)
    subject = " ".join(templates.text(draft, "subject.txt").split())
    text = templates.text(draft, "email.txt")
    headers = [
        ("Subject", subject),
        ("To", message.recipient),
        ("From", settings.smtp.from_address),
        ("Message-ID", message_id_for(message, settings)),
        ("Auto-Submitted", "auto-generated"),
    ]
    if context["unsubscribe_url"]:
        headers.append(("List-Unsubscribe", f"<{context['unsubscribe_url']}>"))
        headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    html = templates.text(draft, "email.html") if templates.has(draft, "email.html") else None
    email = WireEmail(headers, text + "\n", html)
    appointment = draft.appointment
    if appointment is not None and draft.template.calendar_invite:
        # With an attachment it is an EmailMessage after all (fewer of these go).
        cancel = is_cancellation(message, appointment)
        email.message.add_attachment(
            calendar_invite(
                appointment,
                settings,
                message.recipient,
                context,
                cancel=cancel,
                sequence=payload_sequence(message),
            ),
            maintype="text",
            subtype="calendar",
            filename="invite.ics",
            params={"method": "CANCEL" if cancel else "REQUEST"},
        )
        return Outgoing(email.message, subject)
    return Outgoing(email, subject)


class EmailSender:
    """SMTP, keeping one connection open while a batch goes out instead of connecting,
    greeting and signing in for every message. A connection idle for a while is checked (NOOP)
    before it is trusted again."""

    IDLE_CHECK_SECONDS = 5

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._last_used = 0.0

    def _connect(self) -> smtplib.SMTP:
        smtp_settings = self.settings.smtp
        smtp_class = smtplib.SMTP_SSL if smtp_settings.use_tls else smtplib.SMTP
        smtp = smtp_class(smtp_settings.host, smtp_settings.port, timeout=30)
        if smtp_settings.username:
            smtp.login(smtp_settings.username, self.settings.smtp_password or "")
        return smtp

    def send(self, content: EmailMessage | WireEmail) -> str:
        email = content
        if "Message-ID" not in email:
            domain = self.settings.smtp.from_address.split("@")[-1]
            email["Message-ID"] = make_msgid(domain=domain)
        if "From" not in email:
            email["From"] = self.settings.smtp.from_address
        if self._smtp is not None and time.monotonic() - self._last_used > self.IDLE_CHECK_SECONDS:
            try:
                self._smtp.noop()
            except (smtplib.SMTPException, OSError):
                self.close()
        if self._smtp is None:
            self._smtp = self._connect()
        wire = email.wire() if isinstance(email, WireEmail) else None
        try:
            if wire is not None:  # the bytes written directly (mime.py), not through smtplib
                self._smtp.sendmail(*wire)
            else:
                self._smtp.send_message(email.message if isinstance(email, WireEmail) else email)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentFailure(
                f"the mail server refused the address: {exc.recipients}"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentFailure(
                    f"mail server said {exc.smtp_code} {exc.smtp_error!r}"
                ) from exc
            self.close()
            raise
        except (smtplib.SMTPException, OSError):
            self.close()
            raise
        self._last_used = time.monotonic()
        if isinstance(email, WireEmail):
            return str(email.value("Message-ID"))
        return str(email["Message-ID"])

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()
            with contextlib.suppress(OSError):
                smtp.close()


class EmailAddresses:
    """Each applicant's email address, first applicant first."""

    def __init__(self, session: Session, households: Sequence[int], carers: Sequence[int]) -> None:
        self.by_household: dict[int, list[str]] = defaultdict(list)
        ids = sorted(set(households))
        for start in range(0, len(ids), CHUNK):
            for household_id, address in session.exec(
                select(Applicant.household_id, Applicant.email)
                .where(
                    Applicant.household_id.in_(ids[start : start + CHUNK]),
                    Applicant.email.is_not(None),
                )
                .order_by(Applicant.household_id, Applicant.position)
            ):
                if address not in self.by_household[household_id]:
                    self.by_household[household_id].append(address)

    def of(self, household_id: int, carer_id: int | None = None) -> list[str]:
        return list(self.by_household.get(household_id, []))


def sender(settings: Settings):  # noqa: ANN201
    """SMTP, or GOV.UK Notify when `messaging.email_by` says so."""
    if settings.messaging.email_by == "notify":
        from crm.messaging.channels.notify import NotifyEmailSender

        return NotifyEmailSender(settings)
    return EmailSender(settings)


def already_sent(settings: Settings, message: OutboxMessage) -> str | None:
    if settings.messaging.email_by != "notify":
        return None  # a resent email keeps its Message-ID: the mailbox sees one message
    from crm.messaging.channels.notify import notification_for

    return notification_for(settings, message)


EMAIL = MessageChannel(
    channel=Channel.EMAIL,
    parts=("subject.txt", "email.txt"),
    label="Email",
    render=render,
    sender=sender,
    consent=ConsentScope.EMAIL,
    addresses=EmailAddresses,
    already_sent=already_sent,
)
