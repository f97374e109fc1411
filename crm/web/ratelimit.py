"""The web's rate limits, on the `limits` library: a moving window per bucket and key.

Where the counts live: FOSTERCRM_REDIS_URL when it is set (Settings.rate_limit_storage), else
the setting `rate_limits.storage`. `memory://` (the default) counts in each web process, which
needs no extra service and is enough to slow down a spam script against one process, but with
N workers the real limit is up to N times the number given; a shared Redis makes every worker
count together (`fostercrm serve` with several workers). Sign-in does not use these limits:
failed sign-ins are counted in the database, across processes (crm.services.throttle).

When Redis cannot be reached, each process counts in its own memory until Redis answers again,
and says so in the log once per outage. That is neither failing closed nor fully open, and it is
chosen for the public enquiry form above all: refusing every enquiry while Redis is down would
turn away families who took the step (the very people the service exists to call back) for as
long as an outage lasts, whereas counting per process still stops a script after N times the
limit, and the form's CSRF token and honeypot still stand. The limit is a brake on spam, not a
security boundary (sign-in's slowing-down lives in the database, so it does not weaken).
"""

from __future__ import annotations

import logging
import threading
import time

from flask import abort, current_app
from limits import RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from crm.web import state

_EXTENSION = "fostercrm.ratelimit"
_lock = threading.Lock()
log = logging.getLogger(__name__)
# A request waits at most this long for Redis before counting in memory instead: far less than
# a person notices, far more than Redis on the same network takes.
REDIS_TIMEOUT_SECONDS = 0.5
# While Redis is down, try it again after this long (not on every request, each of which would
# wait out the timeout).
RETRY_REDIS_AFTER_SECONDS = 10.0


class Limits:
    """The counts of one app: in the configured storage, and in this process's memory while a
    shared storage cannot be reached."""

    def __init__(self, storage_url: str) -> None:
        self.shared = not storage_url.startswith("memory://")
        options = (
            {
                "wrap_exceptions": True,
                "socket_timeout": REDIS_TIMEOUT_SECONDS,
                "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
            }
            if self.shared
            else {}
        )
        self.storage: Storage = storage_from_string(storage_url, **options)
        self._limiter = MovingWindowRateLimiter(self.storage)
        self._fallback = MovingWindowRateLimiter(MemoryStorage())
        self._retry_at: float | None = None
        self._state_lock = threading.Lock()

    @property
    def counting_in_memory(self) -> bool:
        """True while a shared storage is down and this process counts alone."""
        return self._retry_at is not None

    def hit(self, item: RateLimitItemPerSecond, bucket: str, key: str) -> bool:
        retry_at = self._retry_at
        if retry_at is None or time.monotonic() >= retry_at:
            try:
                allowed = self._limiter.hit(item, bucket, key)
            except StorageError as exc:
                self._went_down(exc.storage_error)
            else:
                self._came_back()
                return allowed
        return self._fallback.hit(item, bucket, key)

    def _went_down(self, error: Exception) -> None:
        with self._state_lock:
            first = self._retry_at is None
            self._retry_at = time.monotonic() + RETRY_REDIS_AFTER_SECONDS
        if first:
            # The error's class only: its text may carry the storage's address.
            log.error(
                "rate limits: the shared store (Redis) is not reachable (%s); each web process "
                "now counts on its own, so with N workers a limit allows up to N times as many, "
                "until Redis answers again (tried every %.0f s)",
                type(error).__name__,
                RETRY_REDIS_AFTER_SECONDS,
            )

    def _came_back(self) -> None:
        if self._retry_at is None:
            return
        with self._state_lock:
            self._retry_at = None
        log.warning("rate limits: the shared store (Redis) answers again; counting there")


def limiter() -> Limits:
    """The app's limits, made on first use from the app's settings (one per app, so each
    test's app counts afresh)."""
    extensions = current_app.extensions
    found = extensions.get(_EXTENSION)
    if found is None:
        with _lock:
            found = extensions.get(_EXTENSION)
            if found is None:
                found = extensions[_EXTENSION] = Limits(state().settings.rate_limit_storage)
    return found


def hit(bucket: str, key: str | None, allowed: int, window_seconds: int) -> bool:
    """Count one event; False when `key` has had `allowed` already in the window."""
    # The storage's own clock is the machine's real time: the business clock (crm.clock) is
    # frozen in tests and would never let a window pass.
    item = RateLimitItemPerSecond(allowed, window_seconds, namespace="fostercrm")
    return limiter().hit(item, bucket, key or "?")


def limit(bucket: str, key: str | None, allowed: int, window_seconds: int) -> None:
    """Abort with 429 Too Many Requests when over the limit."""
    if not hit(bucket, key, allowed, window_seconds):
        abort(429)
