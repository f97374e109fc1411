"""The web's rate limits (crm.web.ratelimit, on the `limits` library): per bucket and key, in
each process's memory by default, or shared by every worker through Redis."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.exceptions import TooManyRequests

from crm.settings import RateLimitSettings
from crm.testing.fixtures import make_test_settings
from crm.web import create_app
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
