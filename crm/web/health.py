"""Health checks for the load balancer and the orchestrator.

`/healthz`: this process is alive and answering (nothing else asked, so a database outage does
not get every worker restarted). `/readyz`: this process can do its work: the database answers,
and Redis too when one is set (the shared rate limits); otherwise 503 with which part is not
reachable, so the load balancer stops sending people here. The reasons name the part, never
its address or error (which may hold a password)."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint

from crm.web import state

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)
REDIS_TIMEOUT_SECONDS = 1.0


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


def _database_reachable() -> bool:
    try:
        # A connection of its own: the request's session must not be left in a failed state.
        with state().engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        log.error("readiness: the database is not reachable (%s)", type(exc).__name__)
        return False
    return True


def _redis_reachable(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(
        url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        log.error("readiness: Redis is not reachable (%s)", type(exc).__name__)
        return False
    finally:
        client.close()
    return True


@bp.get("/readyz")
def readyz():
    settings = state().settings
    checks = {"database": _database_reachable()}
    storage = settings.rate_limit_storage
    if not storage.startswith("memory://"):
        checks["redis"] = _redis_reachable(storage.replace("redis+unix://", "unix://", 1))
    failing = [name for name, ok in checks.items() if not ok]
    body = {
        "status": "unavailable" if failing else "ok",
        "checks": {name: "ok" if ok else "not reachable" for name, ok in checks.items()},
    }
    return body, 503 if failing else 200
