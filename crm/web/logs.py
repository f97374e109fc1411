"""Structured logs: one JSON object a line, each web request's lines carrying its request id.

A request id comes from the X-Request-Id header when the proxy in front sent one of a sane
shape (so one id follows a request through the load balancer's log and ours), or is made here;
it goes back in the response's X-Request-Id, and people quote it to support.

No personal data: a request's line names its route's template (`/households/<int:household_id>`),
never the address it was asked for (which may hold a search for a surname, or a check-in
link's token), nor the query, the form, the visitor's address, or who is signed in. An
exception is logged as its class and where it happened, without its message (which may quote
what someone typed).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import traceback
import uuid
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-Id"
# What a proxy's request id may look like to be kept: letters, digits and a few separators,
# never so long that a log line could be padded out with it.
_REQUEST_ID_SHAPE = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
log = logging.getLogger("crm.web.requests")
# The attributes every LogRecord has: anything else was passed as `extra=` and goes in the line.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def request_id() -> str | None:
    """This request's id, or None outside a request."""
    if has_request_context():
        return g.get("request_id")
    return None


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        # Formatted as it is logged, so inside the request that logged it.
        rid = getattr(record, "request_id", None) or request_id()
        if rid:
            line["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            kind, _exc, tb = record.exc_info
            line["exception"] = kind.__name__
            # Where, not what: file, line and function of each frame, no message.
            line["stack"] = [
                f"{frame.filename}:{frame.lineno} in {frame.name}"
                for frame in traceback.extract_tb(tb)
            ]
        return json.dumps(line, default=str, ensure_ascii=False)


def configure_logging(level: int = logging.INFO) -> None:
    """JSON lines on standard error for the whole process (a web worker: `fostercrm serve`)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Flask's app logger has a handler of its own only when nothing else is configured;
    # werkzeug's request lines quote the whole address, so ours replace them.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def route_template() -> str:
    """The request's route as declared, or a fixed word: one series per page, never per URL."""
    rule = request.url_rule
    return rule.rule if rule is not None else "(no route)"


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_finish)


def _start() -> None:
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = offered if _REQUEST_ID_SHAPE.match(offered) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish(response):  # noqa: ANN001, ANN202
    rid = g.get("request_id") or uuid.uuid4().hex
    response.headers[REQUEST_ID_HEADER] = rid
    started = g.get("request_started")
    seconds = time.perf_counter() - started if started is not None else 0.0
    g.request_seconds = seconds
    log.info(
        "request",
        extra={
            "request_id": rid,
            "method": request.method,
            "route": route_template(),
            "status": response.status_code,
            "duration_ms": round(seconds * 1000, 1),
        },
    )
    return response
