"""The web's rate limits (crm.web.ratelimit, on the `limits` library): per bucket and key, in
each process's memory by default, or shared by every worker through Redis."""

from __future__ import annotations

import logging
import socket
import uuid

import pytest
import sqlalchemy as sa
from flask import Flask
from limits.storage import RedisStorage, storage_from_string
from werkzeug.exceptions import TooManyRequests

from crm.settings import RateLimitSettings
from crm.testing.fixtures import make_test_settings
from crm.web import create_app, ratelimit
from crm.web.ratelimit import hit, limit, limiter

SECRET = "test-secret-key-0123456789abcdef"


def make_app(storage: str = "memory://") -> Flask:
    """One web process (a worker) with its rate limits counted in `storage`."""
    settings = make_test_settings().model_copy(
        update={"rate_limits": RateLimitSettings(storage=storage)}
    )
    return create_app(settings, engine=sa.create_engine("sqlite://"), secret_key=SECRET)


def hits(app: Flask, bucket: str, key: str, n: int, allowed: int = 3) -> list[bool]:
    with app.app_context():
        return [hit(bucket, key, allowed, 3600) for _ in range(n)]


def test_each_bucket_and_key_counts_on_its_own():
    app = make_app()
    assert hits(app, "enquiry", "198.51.100.1", 5) == [True, True, True, False, False]
    assert hits(app, "enquiry", "198.51.100.2", 1) == [True]
    assert hits(app, "webchat", "198.51.100.1", 1) == [True]
    # No address at all is a key of its own, not a way round the limit.
    with app.app_context():
        assert [hit("enquiry", None, 1, 3600) for _ in range(2)] == [True, False]


def test_over_the_limit_the_request_is_refused_with_429():
    app = make_app()
    with app.test_request_context("/enquire", method="POST"):
        limit("enquiry", "198.51.100.1", 1, 3600)
        with pytest.raises(TooManyRequests):
            limit("enquiry", "198.51.100.1", 1, 3600)


def test_in_memory_each_process_counts_alone():
    first, second = make_app(), make_app()
    assert hits(first, "enquiry", "198.51.100.1", 4) == [True, True, True, False]
    assert hits(second, "enquiry", "198.51.100.1", 1) == [True]


def test_workers_sharing_redis_count_together(redis_url):
    # A bucket of its own, so that other runs on the same Redis never meet this one.
    bucket = f"test-{uuid.uuid4().hex}"
    first, second = make_app(redis_url), make_app(redis_url)
    try:
        assert hits(first, bucket, "198.51.100.1", 2) == [True, True]
        assert hits(second, bucket, "198.51.100.1", 2) == [True, False]
        assert hits(first, bucket, "198.51.100.1", 1) == [False]
        assert hits(second, bucket, "198.51.100.2", 1) == [True]
    finally:
        with first.app_context():
            storage = limiter().storage
            for key in storage.get_connection().scan_iter(f"*{bucket}*"):
                storage.get_connection().delete(key)


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_redis_url_secret_is_where_workers_count(redis_url):
    settings = make_test_settings().model_copy(update={"redis_url": redis_url})
    app = create_app(settings, engine=sa.create_engine("sqlite://"), secret_key=SECRET)
    with app.app_context():
        assert limiter().shared
        assert isinstance(limiter().storage, RedisStorage)


def test_redis_down_each_process_counts_alone_and_says_so_once(caplog):
    # Nothing listens on this port: every connection is refused at once.
    app = make_app(f"redis://127.0.0.1:{unused_port()}/0")
    with caplog.at_level(logging.ERROR, logger="crm.web.ratelimit"):
        # Enquiries are still taken, and the limit still holds within this process.
        assert hits(app, "enquiry", "198.51.100.1", 4) == [True, True, True, False]
    with app.app_context():
        assert limiter().counting_in_memory
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1
    assert "not reachable" in said[0] and "counts on its own" in said[0]
    # The address (which may hold a password) is never in the line.
    assert "127.0.0.1" not in said[0]


def test_redis_back_the_shared_count_resumes(redis_url, monkeypatch, caplog):
    bucket = f"test-{uuid.uuid4().hex}"
    app = make_app(redis_url)
    with app.app_context():
        limits = limiter()
        real = limits.storage
        # Redis "goes down": the same storage, pointed at a port where nothing listens.
        limits.storage = limits._limiter.storage = storage_from_string(
            f"redis://127.0.0.1:{unused_port()}/0", wrap_exceptions=True
        )
        assert hit(bucket, "198.51.100.1", 3, 3600)
        assert limits.counting_in_memory
        limits.storage = limits._limiter.storage = real
        # Not retried on every request: only once the retry time has come.
        monkeypatch.setattr(ratelimit, "RETRY_REDIS_AFTER_SECONDS", 0.0)
        limits._retry_at = 0.0
        with caplog.at_level(logging.WARNING, logger="crm.web.ratelimit"):
            assert hit(bucket, "198.51.100.1", 3, 3600)
        assert not limits.counting_in_memory
        assert any("answers again" in r.getMessage() for r in caplog.records)
        connection = real.get_connection()
        for key in connection.scan_iter(f"*{bucket}*"):
            connection.delete(key)
