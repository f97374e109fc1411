"""A small in-memory rate limiter (sliding window per key).

Memory-based on purpose: it needs no table and no extra service, and it is enough to slow down
a spam script against one process. Each web process counts on its own, so with N workers the
real limit is up to N times the number given. Sign-in does not use it: failed sign-ins are
counted in the database, across processes (crm.services.throttle).
"""

from __future__ import annotations

import threading
import time
from collections import deque

from flask import abort

from crm.web import state

_lock = threading.Lock()


def hit(bucket: str, key: str | None, allowed: int, window_seconds: float) -> bool:
    """Count one event; False when `key` has had more than `allowed` in the window."""
    # A monotonic clock: the business clock (crm.clock) is frozen in tests and would never let
    # a window pass; this limiter is about the machine's real time.
    now = time.monotonic()
    limiters = state().limiters
    with _lock:
        events = limiters.setdefault((bucket, key or "?"), deque())
        while events and events[0] <= now - window_seconds:
            events.popleft()
        if len(events) >= allowed:
            return False
        events.append(now)
        # Forget idle keys now and then, so the dictionary cannot grow without end.
        if len(limiters) > 10_000:
            for stale in [k for k, v in limiters.items() if not v or v[-1] <= now - 3600]:
                del limiters[stale]
        return True


def limit(bucket: str, key: str | None, allowed: int, window_seconds: float) -> None:
    """Abort with 429 Too Many Requests when over the limit."""
    if not hit(bucket, key, allowed, window_seconds):
        abort(429)
