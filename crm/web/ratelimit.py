"""The web's rate limits, on the `limits` library: a moving window per bucket and key.

Where the counts live is the setting `rate_limits.storage`: `memory://` (the default) counts in
each web process, which needs no extra service and is enough to slow down a spam script against
one process, but with N workers the real limit is up to N times the number given; a shared
`redis://` store makes every worker count together. Sign-in does not use these limits: failed
sign-ins are counted in the database, across processes (crm.services.throttle).
"""

from __future__ import annotations

import threading

from flask import abort, current_app
from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from crm.web import state

_EXTENSION = "fostercrm.ratelimit"
_lock = threading.Lock()


def limiter() -> MovingWindowRateLimiter:
    """The app's limiter, made on first use from the app's settings (one per app, so each
    test's app counts afresh)."""
    extensions = current_app.extensions
    found = extensions.get(_EXTENSION)
    if found is None:
        with _lock:
            found = extensions.get(_EXTENSION)
            if found is None:
                storage = storage_from_string(state().settings.rate_limits.storage)
                found = extensions[_EXTENSION] = MovingWindowRateLimiter(storage)
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
