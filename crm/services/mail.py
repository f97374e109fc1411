"""Sending one email over SMTP. Only the outbox dispatcher (and tests of it) call this:
every message to a person goes through the outbox first."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

from crm.settings import Settings


def send_email(settings: Settings, message: EmailMessage, timeout: float = 30) -> str:
    """Send `message`; returns its Message-ID (our record of the provider's id)."""
    if "Message-ID" not in message:
        message["Message-ID"] = make_msgid(domain=settings.smtp.from_address.split("@")[-1])
    if "From" not in message:
        message["From"] = settings.smtp.from_address
    smtp_class = smtplib.SMTP_SSL if settings.smtp.use_tls else smtplib.SMTP
    with smtp_class(settings.smtp.host, settings.smtp.port, timeout=timeout) as smtp:
        if settings.smtp.username:
            smtp.login(settings.smtp.username, settings.smtp_password or "")
        smtp.send_message(message)
    return message["Message-ID"]
