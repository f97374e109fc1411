"""GOV.UK Notify through its official client (notifications-python-client): what the email
channel (when `messaging.email_by = "notify"`) and the SMS channel share.

Our templates stay the one place for words: Notify is given two templates of its own that pass
them through (email: subject `((subject))`, body `((body))`; text: `((body))`; their ids in
`notify.email_template_id` / `notify.sms_template_id`).

Each message carries a reference fixed per outbox message (`reference_for`). Before sending a
message again after an attempt whose answer never came (a crash, a dropped connection after
Notify accepted it), the dispatcher asks Notify for that reference (`notification_for`): if
Notify has it, it is recorded as sent instead of being sent twice.

Notify's answers, as the dispatcher understands them:
- 201: sent; the provider id is `notify:<notification id>`, which the delivery-status job reads
  back (`delivery_status`) onto the timeline as delivered or failed;
- 429 (rate limit or daily limit): RetryLater, every message of the channel waits a minute,
  using up no attempts;
- 403 (a revoked or wrong key): RetryLater for five minutes: every message waits for the key to
  be fixed rather than being given up on;
- 400 (a number or address Notify refuses, a missing template): PermanentFailure with Notify's
  words, which go on the household's timeline;
- 5xx and network trouble: an ordinary exception, retried with the outbox's backoff.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from crm.messaging.channels.base import PermanentFailure, RetryLater
from crm.messaging.channels.mime import WireEmail
from crm.models import OutboxMessage
from crm.settings import Settings

PROVIDER_PREFIX = "notify:"
RATE_LIMIT_WAIT_SECONDS = 60
BAD_KEY_WAIT_SECONDS = 300
# Notify's final statuses, and the words for the timeline.
DELIVERED = "delivered"
FAILURES = {
    "permanent-failure": "the number or address does not exist or cannot receive messages",
    "temporary-failure": "the phone or inbox was not accepting messages (off, or full)",
    "technical-failure": "a technical problem at Notify's provider",
    "validation-failed": "Notify could not send it",
}


def client(settings: Settings):  # noqa: ANN201
    from notifications_python_client import NotificationsAPIClient

    if not settings.notify_api_key:
        raise PermanentFailure("GOV.UK Notify is not set up (FOSTERCRM_NOTIFY_API_KEY is not set)")
    return NotificationsAPIClient(
        settings.notify_api_key.strip(), base_url=settings.notify.base_url.rstrip("/"), timeout=30
    )


def reference_for(message: OutboxMessage) -> str:
    digest = hashlib.sha256(message.unique_key.encode()).hexdigest()[:16]
    return f"outbox-{message.id}-{digest}"


def _errors_text(exc: Any) -> str:
    messages = getattr(exc, "message", None)
    if isinstance(messages, list):
        return "; ".join(
            str(m.get("message", m)) if isinstance(m, dict) else str(m) for m in messages
        )
    return str(messages or exc)


def call(what: str, send: Any) -> dict:
    """Make one Notify request, turning its errors into the dispatcher's."""
    from notifications_python_client.errors import HTTPError

    try:
        return send()
    except HTTPError as exc:
        status = getattr(exc, "status_code", None)
        words = _errors_text(exc)
        if status == 429:
            raise RetryLater(RATE_LIMIT_WAIT_SECONDS, f"Notify rate limit: {words}") from exc
        if status in (401, 403):
            raise RetryLater(BAD_KEY_WAIT_SECONDS, f"Notify refused our key: {words}") from exc
        if status == 400:
            raise PermanentFailure(f"Notify refused the {what}: {words}") from exc
        raise


class NotifyEmailSender:
    """Email by Notify: the rendered EmailMessage's recipient, subject and plain text. A
    calendar invite cannot travel through Notify's templates: the body still gives the time."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client = client(settings)

    def send(self, content: EmailMessage | WireEmail) -> str:
        if isinstance(content, WireEmail):
            # Most emails: read from their parts, never parsed as an EmailMessage (which cost
            # most of our CPU per message here, bench/dispatch.py).
            text = content.plain_text()

            def header(name: str) -> str:
                return content.value(name) or ""
        else:
            body = content.get_body(preferencelist=("plain",))
            text = body.get_content() if body is not None else ""

            def header(name: str) -> str:
                return str(content.get(name, ""))

        # <outbox-7-abc...@example.org> -> outbox-7-abc...: the same reference as reference_for.
        reference = header("Message-ID").strip("<>").split("@")[0] or None
        unsubscribe = header("List-Unsubscribe").strip("<>") or None
        if unsubscribe and not unsubscribe.startswith("https://"):
            unsubscribe = None  # Notify takes only https links (a test site's http one is left out)
        answer = call(
            "email",
            lambda: self._client.send_email_notification(
                email_address=header("To"),
                template_id=self.settings.notify.email_template_id,
                personalisation={"subject": header("Subject"), "body": text},
                reference=reference,
                one_click_unsubscribe_url=unsubscribe,
            ),
        )
        return PROVIDER_PREFIX + answer["id"]

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class TextMessage:
    phone: str
    body: str
    reference: str


class NotifySmsSender:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client = client(settings)

    def send(self, content: TextMessage) -> str:
        answer = call(
            "text message",
            lambda: self._client.send_sms_notification(
                phone_number=content.phone,
                template_id=self.settings.notify.sms_template_id,
                personalisation={"body": content.body},
                reference=content.reference,
            ),
        )
        return PROVIDER_PREFIX + answer["id"]

    def close(self) -> None:
        pass


def notification_for(settings: Settings, message: OutboxMessage) -> str | None:
    """The provider id of the notification Notify already has for this message, if any."""
    found = call(
        "lookup",
        lambda: client(settings).get_all_notifications(reference=reference_for(message)),
    )
    notifications = found.get("notifications") or []
    return PROVIDER_PREFIX + notifications[0]["id"] if notifications else None


@dataclass(frozen=True)
class DeliveryStatus:
    status: str
    final: bool
    delivered: bool
    reason: str | None


def delivery_status(settings: Settings, provider_message_id: str, notify_client=None):  # noqa: ANN001, ANN201
    """What Notify says happened to one notification (None if it is not Notify's)."""
    if not provider_message_id.startswith(PROVIDER_PREFIX):
        return None
    notify_client = notify_client or client(settings)
    found = call(
        "lookup",
        lambda: notify_client.get_notification_by_id(provider_message_id[len(PROVIDER_PREFIX) :]),
    )
    status = str(found.get("status", ""))
    return DeliveryStatus(
        status=status,
        final=status == DELIVERED or status in FAILURES,
        delivered=status == DELIVERED,
        reason=FAILURES.get(status),
    )


def received_texts(settings: Settings, seen: set[str] | None = None) -> Iterator[dict]:
    """Replies to our texts, newest first, stopping at the first one already `seen`."""
    notify_client = client(settings)
    older_than = None
    while True:
        page = call(
            "lookup", lambda before=older_than: notify_client.get_received_texts(older_than=before)
        )
        texts = page.get("received_text_messages") or []
        for text in texts:
            if seen is not None and text["id"] in seen:
                return
            yield text
        if not texts or not (page.get("links") or {}).get("next"):
            return
        older_than = texts[-1]["id"]
