"""A real local HTTP server that speaks enough of the GOV.UK Notify API (v2) for our tests.

The official client (notifications-python-client 13.x) pointed at it works unchanged::

    from notifications_python_client import NotificationsAPIClient
    from crm.testing.notify_api import FakeNotifyServer

    with FakeNotifyServer() as notify:
        welcome = notify.add_template(
            "email", "Dear ((first name)), thank you for your enquiry.", subject="Your enquiry"
        )
        reminder = notify.add_template("sms", "Your visit is on ((date)).")
        client = NotificationsAPIClient(notify.api_key, base_url=notify.base_url)
        # or, for our settings: the Notify key = notify.api_key, base URL = notify.base_url
        sent = client.send_email_notification(
            "sam@example.com", welcome.id, personalisation={"first name": "Sam"}, reference="o-7"
        )
        [email] = notify.sent_emails()             # what Notify was asked to send
        email.body, email.subject, email.reference, email.status        # status: "created"
        notify.set_status(sent["id"], "delivered")          # delivery receipt (and callback)
        client.get_notification_by_id(sent["id"])["status"]               # "delivered"
        notify.set_outcome("07700900999", "permanent-failure")  # every text to it fails
        notify.settle()                   # everything still in progress: its outcome or delivered
        notify.inject_received_text("07700900123", "STOP")     # a reply; listed by
        client.get_received_texts()                   # GET /v2/received-text-messages

It is a threaded HTTP server on 127.0.0.1 and an ephemeral port. `base_url` is the server's
root (the client joins absolute paths such as /v2/notifications/email onto it).

Authentication is Notify's own: the API key is `{key_name}-{service_id}-{secret}` (two UUIDs);
each request carries a JWT (HS256, signed with the secret, `iss` = service id, `iat` within 30
seconds), checked with the same `decode_jwt_token` that Notify's API uses. A missing header is
401, anything else wrong is 403 `AuthError` with Notify's messages ("Invalid token: API key not
found", "Invalid token: service not found", "Error: Your system clock must be accurate to within
30 seconds", "Invalid token: API key revoked"). `add_api_key()` and `revoke_api_key()` manage
more keys.

Endpoints, with Notify's request validation and error bodies (`{"status_code": N, "errors":
[{"error": "...", "message": "..."}]}`, which the client raises as `HTTPError` with
`status_code` and `message` = that list):

- POST /v2/notifications/email and /v2/notifications/sms (201): template_id, personalisation,
  reference, email_reply_to_id / sms_sender_id, one_click_unsubscribe_url, scheduled_for.
  `ValidationError`: "template_id is a required property", "email_address Not a valid email
  address", "phone_number Too many digits" / "Not enough digits" / "Must not contain letters or
  symbols" / "Not a valid country prefix", "Additional properties are not allowed (...)";
  `BadRequestError`: "Template not found", "sms template is not suitable for email
  notification", "Missing personalisation: name, date", "Cannot send to international mobile
  numbers" (unless `international_sms=True`), "email_reply_to_id ... does not exist in database
  for service id ...", "Template has been deleted", "Your message is too long. ...", and in
  `trial_mode` "Can’t send to this recipient when service is in trial mode – see ...";
  `InvalidPhoneError` "Not a UK mobile number" for a UK landline. Letters: "Service is not
  allowed to send letters".
- GET /v2/notifications/{id}: the notification (404 `NoResultFound` "No result found").
- GET /v2/notifications?status=&template_type=&reference=&older_than=: newest first, pages of
  `page_size`, `links.next` with `older_than` (what `get_all_notifications_iterator` follows);
  status "failed" means every failure status, as in Notify.
- GET /v2/received-text-messages?older_than=: received texts, newest first, same paging.
- GET /v2/template/{id}, /v2/template/{id}/version/{n}, GET /v2/templates?type=, POST
  /v2/template/{id}/preview.

Statuses move only when the test says so: a notification starts `created`; `set_status(id,
status)` moves it (`sending`, `pending`, `sent`, `delivered`, `permanent-failure`,
`temporary-failure`, `technical-failure`); `set_outcome(recipient, status)` makes every later
notification to that recipient go straight to `status` (through `sending`); `settle()` finishes
everything still in progress. A final status (delivered or a failure) POSTs Notify's delivery
receipt to the URL given by `set_delivery_callback(url, bearer_token)`, with `Authorization:
Bearer <token>`; `set_status` and `settle` send it before they return, a receipt caused by
`set_outcome` is sent from another thread after the 201 answer has been written.
`inject_received_text` likewise POSTs Notify's received-text callback when
`set_received_text_callback` was given. Every attempt is in `callbacks()`.

Scripted failures, per endpoint (or "*") and optionally per recipient, for the next N calls or
for ever; they are decided after authentication, before validation::

    notify.fail("send_email", status=429)                  # RateLimitError, next call
    notify.fail("send_sms", status=429, error="TooManyRequestsError", times=3)
    notify.fail("send_email", status=400, message="Can’t send to this recipient using a "
                "team-only API key")                         # BadRequestError
    notify.fail("*", status=500, times=None)                  # Exception, for ever
    notify.fail("send_sms", recipient="07700900111", status=403)       # AuthError
    notify.fail("send_email", drop_connection=True)   # no answer at all: the client sees 503
    notify.fail("send_email", accept_first=True)   # accepted and sent, but the answer is lost

Endpoint names: send_email, send_sms, send_letter, get_notification, get_notifications,
get_received_texts, get_template, get_templates, preview_template.

Everything recorded (requests, notifications, received texts, callbacks) is guarded by one lock;
the accessors (`requests()`, `notifications()`, `sent_emails()`, `sent_sms()`,
`received_texts()`, `callbacks()`) return copies. `wait_for(predicate, timeout)` blocks on a
condition variable, woken by every request and callback, until the predicate holds or the
deadline passes: no sleeping. Timestamps come from the wall clock (Notify's clock, not the
product's frozen test clock) unless `now=` is given.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import re
import string
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import phonenumbers
from notifications_python_client.authentication import decode_jwt_token, get_token_issuer
from notifications_python_client.errors import (
    TokenAlgorithmError,
    TokenDecodeError,
    TokenError,
    TokenExpiredError,
    TokenIssuerError,
)

DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
GENERAL_TOKEN_ERROR_MESSAGE = (
    "Invalid token: make sure your API token matches the example at "
    "https://docs.notifications.service.gov.uk/rest-api.html#authorisation-header"
)
TRIAL_MODE_MESSAGE = (
    "Can’t send to this recipient when service is in trial mode "
    "– see https://www.notifications.service.gov.uk/trial-mode"
)
SMS_CHAR_COUNT_LIMIT = 918
EMAIL_SIZE_LIMIT = 2_000_000
DEFAULT_PAGE_SIZE = 250  # Notify's API_PAGE_SIZE

IN_PROGRESS_STATUSES = ("created", "sending", "pending")
FAILURE_STATUSES = ("permanent-failure", "temporary-failure", "technical-failure")
FINAL_STATUSES = ("delivered", *FAILURE_STATUSES)
STATUSES = {
    "email": ("created", "sending", "delivered", *FAILURE_STATUSES),
    "sms": ("created", "sending", "pending", "sent", "delivered", *FAILURE_STATUSES),
}
# Notify's filter for GET /v2/notifications (NOTIFICATION_STATUS_TYPES and the letter ones).
FILTER_STATUSES = (
    "cancelled",
    "created",
    "sending",
    "sent",
    "delivered",
    "pending",
    "failed",
    "technical-failure",
    "temporary-failure",
    "permanent-failure",
    "pending-virus-check",
    "validation-failed",
    "virus-scan-failed",
    "returned-letter",
    "accepted",
    "received",
)
COMPLETED_STATUSES = ("sent", "delivered", "failed", *FAILURE_STATUSES, "cancelled")
TEMPLATE_TYPES = ("sms", "email", "letter")
ENDPOINTS = (
    "send_email",
    "send_sms",
    "send_letter",
    "get_notification",
    "get_notifications",
    "get_received_texts",
    "get_template",
    "get_templates",
    "preview_template",
)


def _now_utc() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime(DATETIME_FORMAT)


# -- what is recorded -------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiKey:
    name: str
    secret: str
    revoked: bool = False


@dataclass(frozen=True)
class ApiRequest:
    """One request the server received, with the status it answered."""

    method: str
    path: str
    endpoint: str | None  # one of ENDPOINTS, None for an unknown path
    query: dict[str, list[str]]
    json: Any  # the decoded body (None when there was none or it was not JSON)
    headers: dict[str, str]
    status: int
    errors: tuple[dict[str, str], ...]  # Notify's error list when refused
    key_name: str | None  # the API key that signed it, once authenticated
    at: float  # time.monotonic() when it was answered


@dataclass(frozen=True)
class TemplateVersion:
    id: str
    type: str  # "email", "sms" or "letter"
    name: str
    body: str
    subject: str | None
    version: int
    created_at: datetime
    archived: bool = False

    def placeholders(self) -> list[str]:
        """Placeholder names in order (subject first), each once, as Notify lists them."""
        names: list[str] = []
        seen: set[str] = set()
        for text in (self.subject or "", self.body):
            for match in PLACEHOLDER.finditer(text):
                name = match.group(1).split("??")[0]
                if _key(name) not in seen:
                    seen.add(_key(name))
                    names.append(name)
        return names


@dataclass(frozen=True)
class Notification:
    id: str
    type: str  # "email" or "sms"
    to: str  # as the client gave it
    normalised_to: str  # lower-case email, or the phone number in international digits
    template_id: str
    template_version: int
    personalisation: dict[str, Any]
    reference: str | None
    body: str
    subject: str | None
    sender: str  # from_email or from_number
    reply_to: str | None
    email_reply_to_id: str | None
    sms_sender_id: str | None
    one_click_unsubscribe_url: str | None
    scheduled_for: str | None
    status: str
    created_at: datetime
    sent_at: datetime | None
    updated_at: datetime | None
    key_name: str
    history: tuple[tuple[str, datetime], ...]  # every status with when it was set

    @property
    def statuses(self) -> list[str]:
        return [status for status, _at in self.history]

    @property
    def billable_units(self) -> int:
        if self.type != "sms":
            return 0
        return 1 if len(self.body) <= 160 else math.ceil(len(self.body) / 153)

    def as_json(self, base_url: str) -> dict[str, Any]:
        """GET /v2/notifications/{id} (Notification.serialize_with_cost_data in Notify)."""
        completed = self.updated_at if self.status in COMPLETED_STATUSES else None
        data: dict[str, Any] = {
            "id": self.id,
            "reference": self.reference,
            "email_address": self.to if self.type == "email" else None,
            "phone_number": self.to if self.type == "sms" else None,
            "line_1": None,
            "line_2": None,
            "line_3": None,
            "line_4": None,
            "line_5": None,
            "line_6": None,
            "postcode": None,
            "type": self.type,
            "status": self.status,
            "template": {
                "version": self.template_version,
                "id": self.template_id,
                "uri": f"{base_url}/v2/template/{self.template_id}/version/{self.template_version}",
            },
            "body": self.body,
            "subject": self.subject,
            "created_at": _iso(self.created_at),
            "created_by_name": None,
            "sent_at": _iso(self.sent_at),
            "completed_at": _iso(completed),
            "scheduled_for": self.scheduled_for,
            "postage": None,
            "one_click_unsubscribe_url": self.one_click_unsubscribe_url,
            "cost_details": {},
            "cost_in_pounds": 0.0,
            "is_cost_data_ready": True,
        }
        if self.type == "sms":
            data["cost_details"] = {
                "billable_sms_fragments": self.billable_units,
                "international_rate_multiplier": 1.0,
                "sms_rate": 0.0227,
            }
            data["cost_in_pounds"] = round(self.billable_units * 0.0227, 4)
        return data


@dataclass(frozen=True)
class ReceivedText:
    id: str
    user_number: str  # who sent it, in international digits (447700900123)
    notify_number: str  # the service's inbound number
    content: str
    created_at: datetime
    service_id: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": _iso(self.created_at),
            "service_id": self.service_id,
            "notify_number": self.notify_number,
            "user_number": self.user_number,
            "content": self.content,
        }


@dataclass(frozen=True)
class CallbackAttempt:
    kind: str  # "delivery-status" or "received-text"
    url: str
    authorization: str
    payload: dict[str, Any]
    status: int | None  # the receiver's HTTP status, None when it could not be reached
    error: str | None
    at: float


@dataclass
class FailureRule:
    endpoint: str  # one of ENDPOINTS or "*"
    status: int
    error: str
    message: str
    recipient: str | None
    times: int | None  # None: for ever
    drop_connection: bool = False
    accept_first: bool = False  # the call succeeds, then the answer is lost
    used: int = 0


@dataclass
class _State:
    requests: list[ApiRequest] = field(default_factory=list)
    notifications: dict[str, Notification] = field(default_factory=dict)  # in creation order
    received: list[ReceivedText] = field(default_factory=list)
    callbacks: list[CallbackAttempt] = field(default_factory=list)
    failures: list[FailureRule] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)  # normalised recipient -> status


class _Refusal(Exception):
    """Notify answering `status` with one or more errors of one kind."""

    def __init__(self, status: int, error: str, *messages: str) -> None:
        super().__init__(messages[0] if messages else error)
        self.status = status
        self.errors = [{"error": error, "message": message} for message in messages]


class _Drop(Exception):
    """Close the connection without answering (then run `jobs`, receipts of what was done)."""

    def __init__(self, jobs: list[Callable[[], None]]) -> None:
        super().__init__("connection dropped")
        self.jobs = jobs


# -- the server ----------------------------------------------------------------------------


class FakeNotifyServer:
    """Start with `start()` or `with FakeNotifyServer() as notify:`; stop with `stop()`."""

    def __init__(
        self,
        *,
        service_id: str | None = None,
        key_name: str = "fostercrm_test",
        secret: str | None = None,
        service_name: str = "Fostercrm test",
        sms_sender: str = "GOVUK",
        inbound_number: str = "07700900000",
        international_sms: bool = False,
        uk_landlines: bool = False,
        trial_mode: bool = False,
        guest_list: Iterable[str] = (),
        page_size: int = DEFAULT_PAGE_SIZE,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        """`trial_mode=True` refuses every recipient outside `guest_list`, as a service that has
        not gone live does. `now` gives Notify's clock (timezone-aware) for timestamps only;
        tokens are always checked against the real time, as Notify does."""
        self.service_id = service_id or str(uuid.uuid4())
        self.service_name = service_name
        self.sms_sender = sms_sender
        self.inbound_number = inbound_number
        self.international_sms = international_sms
        self.uk_landlines = uk_landlines
        self.trial_mode = trial_mode
        self.page_size = page_size
        self.from_email = (
            re.sub(r"[^a-z0-9]+", ".", service_name.lower()).strip(".")
            + "@notifications.service.gov.uk"
        )
        self._clock = now or _now_utc
        self._guest_list = {_normalise_recipient(r) for r in guest_list}
        self._keys: list[ApiKey] = [ApiKey(key_name, secret or str(uuid.uuid4()))]
        self._templates: dict[str, list[TemplateVersion]] = {}
        self._reply_to: dict[str, str] = {}  # email_reply_to_id -> address
        self._sms_senders: dict[str, str] = {}  # sms_sender_id -> sender
        self._delivery_callback: tuple[str, str] | None = None
        self._received_callback: tuple[str, str] | None = None
        self._state = _State()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._sequence = itertools.count(1)
        self._order: dict[str, int] = {}  # id -> creation sequence (ties in created_at)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._background: list[threading.Thread] = []

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> FakeNotifyServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        # A short poll: stop() waits for the serving loop to notice, one poll at most.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-notify",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        for thread in list(self._background):
            thread.join(timeout=10)
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeNotifyServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the fake Notify server is not running")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """For `NotificationsAPIClient(api_key, base_url=...)`."""
        return f"http://127.0.0.1:{self.port}"

    # -- keys, templates, senders -------------------------------------------------------------

    @property
    def api_key(self) -> str:
        """The first key: `{key_name}-{service_id}-{secret}`."""
        return self.key_for(self._keys[0].name)

    def key_for(self, name: str) -> str:
        with self._lock:
            found = [k for k in self._keys if k.name == name]
        if not found:
            raise KeyError(f"no API key called {name!r}")
        return f"{found[0].name}-{self.service_id}-{found[0].secret}"

    def add_api_key(self, name: str) -> str:
        """Another key for the same service; returns it in full."""
        with self._lock:
            self._keys.append(ApiKey(name, str(uuid.uuid4())))
        return self.key_for(name)

    def revoke_api_key(self, name: str) -> None:
        with self._lock:
            self._keys = [replace(k, revoked=True) if k.name == name else k for k in self._keys]

    def add_template(
        self,
        type: str,  # noqa: A002 - Notify's word
        body: str,
        *,
        subject: str | None = None,
        name: str | None = None,
        id: str | None = None,  # noqa: A002
    ) -> TemplateVersion:
        """A template of the service (`type` email, sms or letter); `((name))` placeholders,
        `((name??text))` conditional text. Email templates need a subject."""
        if type not in TEMPLATE_TYPES:
            raise ValueError(f"type must be one of {TEMPLATE_TYPES}")
        if type in ("email", "letter") and not subject:
            raise ValueError(f"a {type} template needs a subject")
        template = TemplateVersion(
            id=str(uuid.UUID(id)) if id else str(uuid.uuid4()),
            type=type,
            name=name or f"{type} template",
            body=body,
            subject=subject if type != "sms" else None,
            version=1,
            created_at=self._clock(),
        )
        with self._lock:
            if template.id in self._templates:
                raise ValueError(f"template {template.id} exists already")
            self._templates[template.id] = [template]
        return template

    def update_template(
        self, template_id: str, *, body: str | None = None, subject: str | None = None
    ) -> TemplateVersion:
        """A new version of a template (Notify keeps the old ones)."""
        with self._lock:
            versions = self._templates[template_id]
            latest = versions[-1]
            new = replace(
                latest,
                body=latest.body if body is None else body,
                subject=latest.subject if subject is None else subject,
                version=latest.version + 1,
                created_at=self._clock(),
            )
            versions.append(new)
            return new

    def archive_template(self, template_id: str) -> None:
        """Deleted in Notify: sending with it is refused "Template has been deleted"."""
        with self._lock:
            versions = self._templates[template_id]
            versions[-1] = replace(versions[-1], archived=True)

    def templates(self) -> list[TemplateVersion]:
        """The latest version of every template."""
        with self._lock:
            return [versions[-1] for versions in self._templates.values()]

    def add_email_reply_to(self, address: str) -> str:
        """An email reply-to address of the service; returns its email_reply_to_id."""
        reply_to_id = str(uuid.uuid4())
        with self._lock:
            self._reply_to[reply_to_id] = address
        return reply_to_id

    def add_sms_sender(self, sender: str) -> str:
        """A text message sender of the service; returns its sms_sender_id."""
        sender_id = str(uuid.uuid4())
        with self._lock:
            self._sms_senders[sender_id] = sender
        return sender_id

    # -- scripting ----------------------------------------------------------------------------

    def fail(
        self,
        endpoint: str = "send_email",
        *,
        status: int = 429,
        error: str | None = None,
        message: str | None = None,
        recipient: str | None = None,
        times: int | None = 1,
        drop_connection: bool = False,
        accept_first: bool = False,
    ) -> FailureRule:
        """Answer the next `times` matching calls (None: all of them) with an error, worded as
        Notify words it unless `error` / `message` are given. `recipient` limits the rule to
        sends to that address or number. `drop_connection` closes the connection unanswered;
        with `accept_first` the call is carried out first (the message is accepted, and sent),
        only its answer is lost: what a retry must not send twice."""
        if endpoint != "*" and endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be '*' or one of {ENDPOINTS}")
        default_error, default_message = _default_failure(endpoint, status, error)
        rule = FailureRule(
            endpoint=endpoint,
            status=status,
            error=error or default_error,
            message=message or default_message,
            recipient=None if recipient is None else _normalise_recipient(recipient),
            times=times,
            drop_connection=drop_connection or accept_first,
            accept_first=accept_first,
        )
        with self._lock:
            self._state.failures.append(rule)
        return rule

    def clear_failures(self) -> None:
        with self._lock:
            self._state.failures.clear()

    def set_outcome(self, recipient: str, status: str) -> None:
        """Every notification created from now on for `recipient` goes straight to `status`
        (through `sending`). A delivery receipt follows when a callback is set."""
        if status not in STATUSES["sms"]:
            raise ValueError(f"status must be one of {STATUSES['sms']}")
        with self._lock:
            self._state.outcomes[_normalise_recipient(recipient)] = status

    def set_delivery_callback(self, url: str | None, bearer_token: str = "") -> None:
        """Where Notify POSTs delivery receipts (None: nowhere)."""
        if url is not None and len(bearer_token) < 10:
            raise ValueError("Notify requires a bearer token of at least 10 characters")
        with self._lock:
            self._delivery_callback = None if url is None else (url, bearer_token)

    def set_received_text_callback(self, url: str | None, bearer_token: str = "") -> None:
        """Where Notify POSTs received text messages (None: nowhere)."""
        if url is not None and len(bearer_token) < 10:
            raise ValueError("Notify requires a bearer token of at least 10 characters")
        with self._lock:
            self._received_callback = None if url is None else (url, bearer_token)

    def set_status(self, notification_id: str, status: str) -> Notification:
        """Move a notification to `status`, as the provider's receipt would; a final status
        sends the delivery receipt callback (when set) before this returns."""
        with self._changed:
            notification = self._state.notifications.get(str(notification_id))
            if notification is None:
                raise KeyError(f"no notification {notification_id}")
            if status not in STATUSES[notification.type]:
                raise ValueError(f"{status!r} is not a status of {notification.type} messages")
            notification = self._move(notification, status)
            job = self._receipt_job(notification)
            self._changed.notify_all()
        if job is not None:
            job()
        return notification

    def settle(self, default: str = "delivered") -> list[Notification]:
        """Finish every notification still in progress: its recipient's outcome if one was set,
        else `default`. Delivery receipts are sent before this returns."""
        jobs = []
        settled = []
        with self._changed:
            for notification in list(self._state.notifications.values()):
                if notification.status not in IN_PROGRESS_STATUSES:
                    continue
                outcome = self._state.outcomes.get(notification.normalised_to, default)
                if outcome in IN_PROGRESS_STATUSES:
                    outcome = default
                if notification.status == "created":
                    notification = self._move(notification, "sending")
                notification = self._move(notification, outcome)
                settled.append(notification)
                job = self._receipt_job(notification)
                if job is not None:
                    jobs.append(job)
            self._changed.notify_all()
        for job in jobs:
            job()
        return settled

    def inject_received_text(
        self, user_number: str, content: str, *, notify_number: str | None = None
    ) -> ReceivedText:
        """Someone texts the service's inbound number (a "STOP" reply, say). Listed by GET
        /v2/received-text-messages; POSTed to the received-text callback when one is set."""
        try:
            normalised = _normalise_phone(user_number)
        except _Refusal:
            normalised = user_number
        text = ReceivedText(
            id=str(uuid.uuid4()),
            user_number=normalised,
            notify_number=notify_number or self.inbound_number,
            content=content,
            created_at=self._clock(),
            service_id=self.service_id,
        )
        with self._changed:
            self._order[text.id] = next(self._sequence)
            self._state.received.append(text)
            target = self._received_callback
            self._changed.notify_all()
        if target is not None:
            payload = {
                "id": text.id,
                "source_number": text.user_number,
                "destination_number": text.notify_number,
                "message": text.content,
                "date_received": _iso(text.created_at),
            }
            self._post_callback("received-text", target, payload)
        return text

    def reset(self) -> None:
        """Forget everything recorded and scripted (keys, templates and callbacks stay)."""
        with self._lock:
            self._state = _State()

    # -- what the product did -----------------------------------------------------------------

    def requests(self, endpoint: str | None = None) -> list[ApiRequest]:
        with self._lock:
            found = [r for r in self._state.requests if endpoint in (None, r.endpoint)]
        return copy.deepcopy(found)

    def notifications(self, type: str | None = None) -> list[Notification]:  # noqa: A002
        """Every notification accepted, oldest first."""
        with self._lock:
            found = [n for n in self._state.notifications.values() if type in (None, n.type)]
        return copy.deepcopy(found)

    def notification(self, notification_id: str) -> Notification:
        with self._lock:
            return copy.deepcopy(self._state.notifications[str(notification_id)])

    def sent_emails(
        self, *, to: str | None = None, reference: str | None = None
    ) -> list[Notification]:
        return self._sent("email", to, reference)

    def sent_sms(
        self, *, to: str | None = None, reference: str | None = None
    ) -> list[Notification]:
        return self._sent("sms", to, reference)

    def _sent(self, kind: str, to: str | None, reference: str | None) -> list[Notification]:
        wanted = None if to is None else _normalise_recipient(to)
        return [
            n
            for n in self.notifications(kind)
            if wanted in (None, n.normalised_to) and reference in (None, n.reference)
        ]

    def received_texts(self) -> list[ReceivedText]:
        with self._lock:
            return copy.deepcopy(self._state.received)

    def callbacks(self, kind: str | None = None) -> list[CallbackAttempt]:
        with self._lock:
            found = [c for c in self._state.callbacks if kind in (None, c.kind)]
        return copy.deepcopy(found)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Block until `predicate()` is true (re-checked after every request and callback) or
        `timeout` seconds pass; returns whether it became true."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                self._lock.release()
                try:
                    if predicate():
                        return True
                finally:
                    self._lock.acquire()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.5))

    def wait_for_notifications(
        self,
        count: int,
        *,
        type: str | None = None,
        timeout: float = 10.0,  # noqa: A002
    ) -> list[Notification]:
        """Wait until at least `count` notifications (of `type`) were accepted."""
        if not self.wait_for(lambda: len(self.notifications(type)) >= count, timeout):
            raise TimeoutError(
                f"expected {count} Notify notification(s), got "
                f"{len(self.notifications(type))} in {timeout}s"
            )
        return self.notifications(type)

    # -- status changes and callbacks (called holding the lock) -------------------------------

    def _move(self, notification: Notification, status: str) -> Notification:
        at = self._clock()
        moved = replace(
            notification,
            status=status,
            sent_at=notification.sent_at
            or (at if status not in ("created", "technical-failure") else None),
            updated_at=at,
            history=(*notification.history, (status, at)),
        )
        self._state.notifications[moved.id] = moved
        return moved

    def _receipt_job(self, notification: Notification) -> Callable[[], None] | None:
        if notification.status not in FINAL_STATUSES or self._delivery_callback is None:
            return None
        payload = {
            "id": notification.id,
            "reference": notification.reference,
            "to": notification.to,
            "status": notification.status,
            "created_at": _iso(notification.created_at),
            "completed_at": _iso(notification.updated_at),
            "sent_at": _iso(notification.sent_at),
            "notification_type": notification.type,
            "template_id": notification.template_id,
            "template_version": notification.template_version,
        }
        target = self._delivery_callback
        return lambda: self._post_callback("delivery-status", target, payload)

    def _post_callback(self, kind: str, target: tuple[str, str], payload: dict) -> None:
        url, token = target
        authorization = f"Bearer {token}"
        request = urllib.request.Request(
            url,
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json", "Authorization": authorization},
            method="POST",
        )
        status: int | None = None
        error: str | None = None
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as exc:
            status, error = exc.code, str(exc.reason)
        except (urllib.error.URLError, OSError) as exc:
            error = str(getattr(exc, "reason", exc))
        with self._changed:
            self._state.callbacks.append(
                CallbackAttempt(kind, url, authorization, payload, status, error, time.monotonic())
            )
            self._changed.notify_all()

    def _run_later(self, jobs: list[Callable[[], None]]) -> None:
        """Receipts caused by a request, sent once its answer is out."""
        if not jobs:
            return

        def run() -> None:
            for job in jobs:
                job()

        thread = threading.Thread(target=run, name="fake-notify-callback", daemon=True)
        self._background = [t for t in self._background if t.is_alive()]
        self._background.append(thread)
        thread.start()

    # -- the API ------------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        raw: bytes,
    ) -> tuple[int, dict[str, Any], list[Callable[[], None]]]:
        """Answer one request: (HTTP status, JSON body, jobs to run after answering)."""
        endpoint, args = _route(method, path)
        parsed: Any = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
        jobs: list[Callable[[], None]] = []
        key_name: str | None = None
        with self._changed:
            try:
                if endpoint is None:
                    raise _Refusal(404, "NotFound", "Not found")
                key_name = self._authenticate(headers)
                rule = self._scripted_failure(endpoint, parsed)
                if rule is not None and not rule.accept_first:
                    if rule.drop_connection:
                        raise _Drop(jobs)
                    raise _Refusal(rule.status, rule.error, rule.message)
                status, body = self._dispatch(endpoint, args, query, raw, parsed, key_name, jobs)
                if rule is not None:  # accepted, and the answer lost on the way
                    raise _Drop(jobs)
                errors: tuple[dict[str, str], ...] = ()
            except _Refusal as refusal:
                status = refusal.status
                body = {"status_code": refusal.status, "errors": refusal.errors}
                errors = tuple(refusal.errors)
            except _Drop:
                self._record(method, path, endpoint, query, parsed, headers, 0, (), key_name)
                raise
            self._record(method, path, endpoint, query, parsed, headers, status, errors, key_name)
        return status, body, jobs

    def _record(self, method, path, endpoint, query, parsed, headers, status, errors, key_name):
        self._state.requests.append(
            ApiRequest(
                method=method,
                path=path,
                endpoint=endpoint,
                query={k: list(v) for k, v in query.items()},
                json=copy.deepcopy(parsed),
                headers=dict(headers),
                status=status,
                errors=errors,
                key_name=key_name,
                at=time.monotonic(),
            )
        )
        self._changed.notify_all()

    def _authenticate(self, headers: dict[str, str]) -> str:
        """Notify's requires_auth; returns the name of the key that signed the token."""
        header = headers.get("authorization")
        if not header:
            raise _Refusal(401, "AuthError", "Unauthorized: authentication token must be provided")
        if header[:7].title() != "Bearer ":
            raise _Refusal(
                401, "AuthError", "Unauthorized: authentication bearer scheme must be used"
            )
        token = header[7:]
        try:
            issuer = get_token_issuer(token)
        except TokenIssuerError:
            raise _Refusal(403, "AuthError", "Invalid token: iss field not provided") from None
        except Exception:  # anything PyJWT cannot read
            raise _Refusal(403, "AuthError", GENERAL_TOKEN_ERROR_MESSAGE) from None
        try:
            service_id = str(uuid.UUID(str(issuer)))
        except ValueError:
            raise _Refusal(
                403, "AuthError", "Invalid token: service id is not the right data type"
            ) from None
        if service_id != self.service_id:
            raise _Refusal(403, "AuthError", "Invalid token: service not found")
        for key in self._keys:
            try:
                decode_jwt_token(token, key.secret)
            except TokenExpiredError:
                raise _Refusal(
                    403,
                    "AuthError",
                    "Error: Your system clock must be accurate to within 30 seconds",
                ) from None
            except TokenAlgorithmError:
                raise _Refusal(
                    403, "AuthError", "Invalid token: algorithm used is not HS256"
                ) from None
            except TokenDecodeError:
                continue  # not signed with this key: try the next one
            except TokenError:
                raise _Refusal(403, "AuthError", GENERAL_TOKEN_ERROR_MESSAGE) from None
            if key.revoked:
                raise _Refusal(403, "AuthError", "Invalid token: API key revoked")
            return key.name
        raise _Refusal(403, "AuthError", "Invalid token: API key not found")

    def _scripted_failure(self, endpoint: str, parsed: Any) -> FailureRule | None:
        recipient = None
        if isinstance(parsed, dict):
            to = parsed.get("email_address") or parsed.get("phone_number")
            if isinstance(to, str):
                recipient = _normalise_recipient(to)
        for rule in self._state.failures:
            if rule.endpoint not in ("*", endpoint):
                continue
            if rule.recipient is not None and rule.recipient != recipient:
                continue
            if rule.times is not None and rule.used >= rule.times:
                continue
            rule.used += 1
            return rule
        return None

    def _dispatch(self, endpoint, args, query, raw, parsed, key_name, jobs):
        if endpoint == "send_email":
            return 201, self._send("email", raw, parsed, key_name, jobs)
        if endpoint == "send_sms":
            return 201, self._send("sms", raw, parsed, key_name, jobs)
        if endpoint == "send_letter":
            _json_object(raw, parsed)
            raise _Refusal(400, "BadRequestError", "Service is not allowed to send letters")
        if endpoint == "get_notification":
            return 200, self._get_notification(args[0])
        if endpoint == "get_notifications":
            return 200, self._get_notifications(query)
        if endpoint == "get_received_texts":
            return 200, self._get_received_texts(query)
        if endpoint == "get_template":
            return 200, self._get_template(*args)
        if endpoint == "get_templates":
            return 200, self._get_templates(query)
        if endpoint == "preview_template":
            return 200, self._preview_template(args[0], raw, parsed)
        raise _Refusal(404, "NotFound", "Not found")

    def _send(self, kind: str, raw: bytes, parsed: Any, key_name: str, jobs: list) -> dict:
        form = _json_object(raw, parsed)
        _validate_send(kind, form)
        template = self._template(form["template_id"], kind)
        personalisation = form.get("personalisation") or {}
        body, subject = _render(template, personalisation)
        recipient = form["email_address"] if kind == "email" else form["phone_number"]
        normalised = _normalise_recipient(recipient)
        if self.trial_mode and normalised not in self._guest_list:
            raise _Refusal(400, "BadRequestError", TRIAL_MODE_MESSAGE)
        if kind == "sms":
            self._check_phone_permissions(recipient)
        reply_to = self._reply_to_for(kind, form)
        if kind == "sms":
            if len(body) > SMS_CHAR_COUNT_LIMIT:
                raise _Refusal(
                    400,
                    "BadRequestError",
                    f"Your message is too long. Text messages cannot be longer than "
                    f"{SMS_CHAR_COUNT_LIMIT} characters. Your message is {len(body)} characters "
                    "long.",
                )
        elif len(body.encode()) > EMAIL_SIZE_LIMIT:
            raise _Refusal(
                400,
                "BadRequestError",
                f"Your message is too long. Emails cannot be longer than {EMAIL_SIZE_LIMIT} "
                f"bytes. Your message is {len(body.encode())} bytes.",
            )
        now = self._clock()
        sender = self.from_email if kind == "email" else (reply_to or self.sms_sender)
        notification = Notification(
            id=str(uuid.uuid4()),
            type=kind,
            to=recipient.strip(),
            normalised_to=normalised,
            template_id=template.id,
            template_version=template.version,
            personalisation=copy.deepcopy(personalisation),
            reference=form.get("reference"),
            body=body,
            subject=subject,
            sender=sender,
            reply_to=reply_to if kind == "email" else None,
            email_reply_to_id=form.get("email_reply_to_id"),
            sms_sender_id=form.get("sms_sender_id"),
            one_click_unsubscribe_url=form.get("one_click_unsubscribe_url"),
            scheduled_for=form.get("scheduled_for"),
            status="created",
            created_at=now,
            sent_at=None,
            updated_at=None,
            key_name=key_name,
            history=(("created", now),),
        )
        self._order[notification.id] = next(self._sequence)
        self._state.notifications[notification.id] = notification
        outcome = self._state.outcomes.get(normalised)
        if outcome is not None and outcome != "created":
            moved = self._move(notification, "sending")
            if outcome != "sending":
                moved = self._move(moved, outcome)
            job = self._receipt_job(moved)
            if job is not None:
                jobs.append(job)
        response: dict[str, Any] = {
            "id": notification.id,
            "reference": notification.reference,
            "uri": f"{self.base_url}/v2/notifications/{notification.id}",
            "template": {
                "id": template.id,
                "version": template.version,
                "uri": f"{self.base_url}/services/{self.service_id}/templates/{template.id}",
            },
            "scheduled_for": None,
        }
        if kind == "email":
            response["content"] = {
                "from_email": self.from_email,
                "body": body,
                "subject": subject,
                "one_click_unsubscribe_url": notification.one_click_unsubscribe_url,
            }
        else:
            response["content"] = {"from_number": sender, "body": body}
        return response

    def _template(self, template_id: str, kind: str) -> TemplateVersion:
        versions = self._templates.get(str(template_id).lower())
        if not versions:
            raise _Refusal(400, "BadRequestError", "Template not found")
        template = versions[-1]
        if template.type != kind:
            raise _Refusal(
                400,
                "BadRequestError",
                f"{template.type} template is not suitable for {kind} notification",
            )
        if template.archived:
            raise _Refusal(400, "BadRequestError", "Template has been deleted")
        return template

    def _check_phone_permissions(self, number: str) -> None:
        parsed = _parse_phone(number)
        if parsed.country_code != 44:
            if not self.international_sms:
                raise _Refusal(
                    400, "BadRequestError", "Cannot send to international mobile numbers"
                )
        elif not self.uk_landlines and phonenumbers.number_type(parsed) in LANDLINE_TYPES:
            raise _Refusal(400, "InvalidPhoneError", "Not a UK mobile number")

    def _reply_to_for(self, kind: str, form: dict) -> str | None:
        if kind == "email":
            reply_to_id = form.get("email_reply_to_id")
            if reply_to_id is None:
                return None
            if str(reply_to_id).lower() not in self._reply_to:
                raise _Refusal(
                    400,
                    "BadRequestError",
                    f"email_reply_to_id {reply_to_id} does not exist in database for service "
                    f"id {self.service_id}",
                )
            return self._reply_to[str(reply_to_id).lower()]
        sender_id = form.get("sms_sender_id")
        if sender_id is None:
            return None
        if str(sender_id).lower() not in self._sms_senders:
            raise _Refusal(
                400,
                "BadRequestError",
                f"sms_sender_id {sender_id} does not exist in database for service id "
                f"{self.service_id}",
            )
        return self._sms_senders[str(sender_id).lower()]

    def _get_notification(self, notification_id: str) -> dict:
        if not _is_uuid(notification_id):
            raise _Refusal(400, "ValidationError", "notification_id is not a valid UUID")
        notification = self._state.notifications.get(notification_id.lower())
        if notification is None:
            raise _Refusal(404, "NoResultFound", "No result found")
        return notification.as_json(self.base_url)

    def _get_notifications(self, query: dict[str, list[str]]) -> dict:
        errors = _unexpected(
            query, {"reference", "status", "template_type", "include_jobs", "older_than"}
        )
        statuses = query.get("status", [])
        kinds = query.get("template_type", [])
        errors += [
            f"status {s} is not one of [{', '.join(FILTER_STATUSES)}]"
            for s in statuses
            if s not in FILTER_STATUSES
        ]
        errors += [
            f"template_type {t} is not one of [{', '.join(TEMPLATE_TYPES)}]"
            for t in kinds
            if t not in TEMPLATE_TYPES
        ]
        older_than = (query.get("older_than") or [None])[0]
        if older_than is not None and not _is_uuid(older_than):
            errors.append("older_than is not a valid UUID")
        if errors:
            raise _Refusal(400, "ValidationError", *errors)
        wanted = set()
        for status in statuses:
            wanted.update(FAILURE_STATUSES if status == "failed" else (status,))
        reference = (query.get("reference") or [None])[0]
        found = sorted(
            self._state.notifications.values(), key=lambda n: self._order[n.id], reverse=True
        )
        found = [
            n
            for n in found
            if (not wanted or n.status in wanted)
            and (not kinds or n.type in kinds)
            and reference in (None, n.reference)
        ]
        found = self._older_than(found, older_than)[: self.page_size]
        params = {k: v for k, v in query.items() if k != "older_than"}
        return {
            "notifications": [n.as_json(self.base_url) for n in found],
            "links": self._links("/v2/notifications", params, found),
        }

    def _get_received_texts(self, query: dict[str, list[str]]) -> dict:
        errors = _unexpected(query, {"older_than"})
        older_than = (query.get("older_than") or [None])[0]
        if older_than is not None and not _is_uuid(older_than):
            errors.append("older_than is not a valid UUID")
        if errors:
            raise _Refusal(400, "ValidationError", *errors)
        found = sorted(self._state.received, key=lambda t: self._order[t.id], reverse=True)
        found = self._older_than(found, older_than)[: self.page_size]
        return {
            "received_text_messages": [t.as_json() for t in found],
            "links": self._links("/v2/received-text-messages", {}, found),
        }

    def _older_than(self, newest_first: list, older_than: str | None) -> list:
        if older_than is None:
            return newest_first
        # Notify compares creation times: an unknown id finds nothing.
        position = self._order.get(older_than.lower())
        if position is None:
            return []
        return [item for item in newest_first if self._order[item.id] < position]

    def _links(self, path: str, params: dict[str, list[str]], page: list) -> dict[str, str]:
        links = {"current": f"{self.base_url}{path}" + _query_string(params)}
        if page:
            links["next"] = f"{self.base_url}{path}" + _query_string(
                {**params, "older_than": [page[-1].id]}
            )
        return links

    def _template_version(self, template_id: str, version: int | None) -> TemplateVersion:
        versions = self._templates.get(template_id.lower()) if _is_uuid(template_id) else None
        if not versions:
            raise _Refusal(404, "NoResultFound", "No result found")
        if version is None:
            return versions[-1]
        matching = [v for v in versions if v.version == version]
        if not matching:
            raise _Refusal(404, "NoResultFound", "No result found")
        return matching[0]

    def _template_json(self, template: TemplateVersion) -> dict:
        return {
            "id": template.id,
            "type": template.type,
            "created_at": _iso(template.created_at),
            "updated_at": None if template.version == 1 else _iso(template.created_at),
            "created_by": "test@digital.cabinet-office.gov.uk",
            "version": template.version,
            "body": template.body,
            "subject": template.subject,
            "name": template.name,
            "personalisation": {name: {"required": True} for name in template.placeholders()},
            "postage": "second" if template.type == "letter" else None,
            "letter_contact_block": None,
        }

    def _get_template(self, template_id: str, version: str | None = None) -> dict:
        if not _is_uuid(template_id):
            raise _Refusal(400, "ValidationError", "id is not a valid UUID")
        number = int(version) if version is not None else None
        if number is not None and number < 1:
            raise _Refusal(
                400, "ValidationError", f"version {number} is less than the minimum of 1"
            )
        return self._template_json(self._template_version(template_id, number))

    def _get_templates(self, query: dict[str, list[str]]) -> dict:
        errors = _unexpected(query, {"type"})
        kind = (query.get("type") or [None])[0]
        if kind is not None and kind not in TEMPLATE_TYPES:
            errors.append(f"type {kind} is not one of [{', '.join(TEMPLATE_TYPES)}]")
        if errors:
            raise _Refusal(400, "ValidationError", *errors)
        latest = [versions[-1] for versions in self._templates.values()]
        return {
            "templates": [
                self._template_json(t) for t in latest if kind in (None, t.type) and not t.archived
            ]
        }

    def _preview_template(self, template_id: str, raw: bytes, parsed: Any) -> dict:
        form = _json_object(raw, parsed) if raw else {}
        errors = _unexpected({k: [] for k in form}, {"personalisation"})
        personalisation = form.get("personalisation") or {}
        if not isinstance(personalisation, dict):
            errors.append(f"personalisation {_plain(personalisation)} is not of type object")
        if not _is_uuid(template_id):
            errors.append("id is not a valid UUID")
        if errors:
            raise _Refusal(400, "ValidationError", *errors)
        template = self._template_version(template_id, None)
        body, subject = _render(template, personalisation)
        return {
            "id": template.id,
            "type": template.type,
            "version": template.version,
            "body": body,
            "html": None,
            "subject": subject,
            "postage": "second" if template.type == "letter" else None,
        }


# -- routing and the HTTP handler ----------------------------------------------------------

_UUIDISH = r"([^/]+)"
_ROUTES = (
    ("POST", re.compile(r"^/v2/notifications/email$"), "send_email"),
    ("POST", re.compile(r"^/v2/notifications/sms$"), "send_sms"),
    ("POST", re.compile(r"^/v2/notifications/letter$"), "send_letter"),
    ("GET", re.compile(r"^/v2/notifications/?$"), "get_notifications"),
    ("GET", re.compile(rf"^/v2/notifications/{_UUIDISH}$"), "get_notification"),
    ("GET", re.compile(r"^/v2/received-text-messages/?$"), "get_received_texts"),
    ("GET", re.compile(rf"^/v2/template/{_UUIDISH}/version/([0-9]+)$"), "get_template"),
    ("GET", re.compile(rf"^/v2/template/{_UUIDISH}$"), "get_template"),
    ("GET", re.compile(r"^/v2/templates/?$"), "get_templates"),
    ("POST", re.compile(rf"^/v2/template/{_UUIDISH}/preview$"), "preview_template"),
)


def _route(method: str, path: str) -> tuple[str | None, tuple[str, ...]]:
    for route_method, pattern, endpoint in _ROUTES:
        match = pattern.match(path)
        if match and route_method == method:
            return endpoint, match.groups()
    return None, ()


class _Handler(BaseHTTPRequestHandler):
    fake: FakeNotifyServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed ACK

    def log_message(self, *_args: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def do_PUT(self) -> None:  # noqa: N802
        self._serve()

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve()

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            status, body, jobs = self.fake.handle(self.command, parts.path, query, headers, raw)
        except _Drop as drop:
            self.close_connection = True
            self.fake._run_later(drop.jobs)
            return
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        self.fake._run_later(jobs)


# -- Notify's validation, ported ---------------------------------------------------------------

PLACEHOLDER = re.compile(r"\({2}([^()]+)\){2}")
LANDLINE_TYPES = {
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    phonenumbers.PhoneNumberType.UAN,
}
ALLOWED_PHONE_TYPES = LANDLINE_TYPES | {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
}
PHONE_CHARACTERS = set(string.whitespace + "()-+0123456789")
INVALID_NUMBER = "Number is not valid – double check the phone number you entered"
_SEND_FIELDS = {
    "email": (
        "reference",
        "email_address",
        "template_id",
        "personalisation",
        "scheduled_for",
        "email_reply_to_id",
        "one_click_unsubscribe_url",
        "sanitise_content_for",
    ),
    "sms": (
        "reference",
        "phone_number",
        "template_id",
        "personalisation",
        "scheduled_for",
        "sms_sender_id",
    ),
}


def _default_failure(endpoint: str, status: int, error: str | None) -> tuple[str, str]:
    kind = {"send_sms": "sms", "send_letter": "letter"}.get(endpoint, "email")
    if status == 429 and error == "TooManyRequestsError":
        return error, f"Exceeded send limits ({kind}: 250000) for today"
    return {
        400: ("BadRequestError", "Can’t send to this recipient using a team-only API key"),
        401: ("AuthError", "Unauthorized: authentication token must be provided"),
        403: ("AuthError", "Invalid token: API key not found"),
        404: ("NoResultFound", "No result found"),
        429: (
            "RateLimitError",
            "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds",
        ),
        500: ("Exception", "Internal server error"),
        503: ("Exception", "Service Unavailable"),
        504: ("EventletTimeout", "Timeout serving request"),
    }.get(status, ("BadRequestError", "An error occurred"))


def _json_object(raw: bytes, parsed: Any) -> dict:
    if raw and parsed is None:
        try:
            json.loads(raw)
        except ValueError:
            raise _Refusal(400, "BadRequestError", "Invalid JSON supplied in POST data") from None
    if parsed is None:
        return {}
    if not isinstance(parsed, dict):
        raise _Refusal(400, "ValidationError", f"{_plain(parsed)} is not of type object")
    return parsed


def _plain(value: Any) -> str:
    """jsonschema's repr of a value, with Notify's quotes removed."""
    return repr(value).replace("'", "")


def _unexpected(given: dict, allowed: set[str]) -> list[str]:
    extra = [k for k in given if k not in allowed]
    if not extra:
        return []
    verb = "was" if len(extra) == 1 else "were"
    return [f"Additional properties are not allowed ({', '.join(extra)} {verb} unexpected)"]


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return isinstance(value, str)


def _validate_send(kind: str, form: dict) -> None:
    """Notify's JSON schema for POST /v2/notifications/{email,sms}, with its messages: every
    property's errors in schema order, then missing ones, then unexpected ones."""
    recipient_field = "email_address" if kind == "email" else "phone_number"
    errors: list[str] = []
    for name in _SEND_FIELDS[kind]:
        if name not in form:
            continue
        value = form[name]
        if name in ("template_id", "email_reply_to_id", "sms_sender_id"):
            if not _is_uuid(value):
                errors.append(f"{name} is not a valid UUID")
        elif name == "reference":
            if not isinstance(value, str):
                errors.append(f"reference {_plain(value)} is not of type string")
            elif len(value) > 1000:
                errors.append(f"reference {value} is too long")
        elif name == "personalisation":
            if not isinstance(value, dict):
                errors.append(f"personalisation {_plain(value)} is not of type object")
        elif name == recipient_field:
            if not isinstance(value, str):
                errors.append(f"{name} {_plain(value)} is not of type string")
            elif kind == "email":
                if not _valid_email(value):
                    errors.append("email_address Not a valid email address")
            else:
                try:
                    _parse_phone(value)
                except _Refusal as refusal:
                    errors.append(f"phone_number {refusal.errors[0]['message']}")
        elif name == "one_click_unsubscribe_url":
            if not isinstance(value, str) or not value.startswith("https"):
                errors.append("one_click_unsubscribe_url is not a valid https url")
        elif name == "scheduled_for" and value is not None and not isinstance(value, str):
            errors.append(f"scheduled_for {_plain(value)} is not of type string, null")
    errors += [
        f"{name} is a required property"
        for name in (recipient_field, "template_id")
        if name not in form
    ]
    errors += _unexpected(form, set(_SEND_FIELDS[kind]))
    if errors:
        raise _Refusal(400, "ValidationError", *dict.fromkeys(errors))


def _key(name: str) -> str:
    """Notify matches personalisation keys ignoring case, spaces, underscores and hyphens."""
    return name.translate({ord(c): None for c in " _-"}).lower()


def _render(template: TemplateVersion, personalisation: dict) -> tuple[str, str | None]:
    """The template with its placeholders filled in; refuses missing personalisation."""
    values = {_key(str(k)): v for k, v in personalisation.items()}
    missing = [name for name in template.placeholders() if values.get(_key(name)) is None]
    if missing:
        message = f"Missing personalisation: {', '.join(missing)}"
        raise _Refusal(400, "BadRequestError", message)

    def fill(match: re.Match) -> str:
        name, _, conditional = match.group(1).partition("??")
        value = values[_key(name)]
        if "??" in match.group(1):
            shown = bool(value) and str(value).lower() in (
                "yes",
                "y",
                "true",
                "t",
                "1",
                "include",
                "show",
            )
            return conditional if shown else ""
        if isinstance(value, list):
            items = [str(v).strip() for v in value if v is not None and str(v).strip()]
            if template.type == "email":
                return "\n\n" + "\n".join(f"* {item}" for item in items) if items else ""
            if len(items) <= 1:
                return "".join(items)
            return ", ".join(items[:-1]) + " and " + items[-1]
        return str(value)

    body = PLACEHOLDER.sub(fill, template.body)
    subject = PLACEHOLDER.sub(fill, template.subject) if template.subject else None
    if not body.strip():
        raise _Refusal(400, "BadRequestError", "Your message is empty.")
    return body, subject


def _parse_phone(number: str) -> phonenumbers.PhoneNumber:
    """notifications-utils' PhoneNumber parsing, raising with the v2 API's legacy wording."""
    try:
        return _parse_phone_once(number)
    except _Refusal:
        # Notify gives the benefit of the doubt to "0+447700900100", "+07700900100" and such.
        cleaned = number.replace("+", "").lstrip("0")
        cleaned = "".join(c for c in cleaned if c.isascii())
        return _parse_phone_once(cleaned)


def _parse_phone_once(number: str) -> phonenumbers.PhoneNumber:
    if set(number) - PHONE_CHARACTERS:
        raise _Refusal(400, "ValidationError", "Must not contain letters or symbols")
    if not number.strip():
        raise _Refusal(400, "ValidationError", "Not enough digits")
    try:
        parsed = phonenumbers.parse(number, "GB")
    except phonenumbers.NumberParseException:
        raise _Refusal(400, "ValidationError", INVALID_NUMBER) from None
    reason = phonenumbers.is_possible_number_with_reason(parsed)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        forced = None
        try:
            forced = phonenumbers.parse("+" + re.sub(r"\D", "", number))
        except phonenumbers.NumberParseException:
            forced = None
        if forced is not None and phonenumbers.is_possible_number(forced):
            parsed = forced
        else:
            raise _Refusal(400, "ValidationError", _phone_reason(reason))
    valid = phonenumbers.is_valid_number(parsed) and (
        phonenumbers.number_type(parsed) in ALLOWED_PHONE_TYPES
    )
    # Ofcom's numbers for drama (07700 900000 to 900999) are not valid to phonenumbers, but
    # Notify accepts them: they are what tests and examples use.
    national = str(parsed.national_number)
    drama = parsed.country_code == 44 and len(national) == 10 and national.startswith("7700900")
    if not valid and not drama:
        raise _Refusal(400, "ValidationError", INVALID_NUMBER)
    return parsed


def _phone_reason(reason: int) -> str:
    result = phonenumbers.ValidationResult
    if reason == result.TOO_LONG:
        return "Too many digits"
    if reason in (result.TOO_SHORT, result.IS_POSSIBLE_LOCAL_ONLY):
        return "Not enough digits"
    if reason == result.INVALID_COUNTRY_CODE:
        return "Not a valid country prefix"
    return INVALID_NUMBER


def _normalise_phone(number: str) -> str:
    """International digits without the plus, as Notify hands numbers to its providers."""
    parsed = _parse_phone(number)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)[1:]


def _normalise_recipient(recipient: str) -> str:
    recipient = recipient.strip()
    if "@" in recipient:
        return recipient.lower()
    try:
        return _normalise_phone(recipient)
    except _Refusal:
        return recipient


_HOSTNAME_PART = re.compile(r"^(xn|[a-z0-9]+)(-?-[a-z0-9]+)*$", re.IGNORECASE)
_TLD_PART = re.compile(r"^([a-z]{2,63}|xn--([a-z0-9]+-)*[a-z0-9]+)$", re.IGNORECASE)
_EMAIL = re.compile(r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~\-]+@([^.@][^@\s]+)$")


def _valid_email(address: str) -> bool:
    """notifications-utils' validate_email_address (stricter than RFC 5322 on purpose)."""
    address = address.strip()
    match = _EMAIL.match(address)
    if not match or len(address) > 320 or ".." in address:
        return False
    try:
        hostname = match.group(1).encode("idna").decode("ascii")
    except UnicodeError:
        return False
    parts = hostname.split(".")
    if len(hostname) > 253 or len(parts) < 2:
        return False
    if any(not part or len(part) > 63 or not _HOSTNAME_PART.match(part) for part in parts):
        return False
    return bool(_TLD_PART.match(parts[-1]))


def _query_string(params: dict[str, list[str]]) -> str:
    pairs = [(k, v) for k, values in params.items() for v in values]
    return "?" + urlencode(pairs) if pairs else ""


__all__ = [
    "ENDPOINTS",
    "ApiKey",
    "ApiRequest",
    "CallbackAttempt",
    "FailureRule",
    "FakeNotifyServer",
    "Notification",
    "ReceivedText",
    "TemplateVersion",
]
