"""The sign-in throttle on its own: the delay rule, and counts that hold when several web
processes (here: threads with their own database sessions) work at once."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlmodel import Session, select

import crm.models as m
from crm import clock
from crm.services.throttle import (
    ACCOUNT,
    ADDRESS,
    CLAIM,
    MAX_DELAY,
    PAIR,
    DatabaseThrottleStore,
    SignInThrottle,
    address_text,
    wait_in_words,
)

SECRET = "test-secret-key-0123456789abcdef"
EMAIL = "someone@test.example"


def throttle_on(session: Session) -> SignInThrottle:
    return SignInThrottle(DatabaseThrottleStore(session), SECRET)


def fail(session: Session, email: str = EMAIL, address: str = "198.51.100.1") -> timedelta:
    throttle = throttle_on(session)
    attempt = throttle.begin(email, address, clock.now())
    session.commit()
    assert attempt.allowed
    wait = attempt.failed(clock.now())
    session.commit()
    return wait


def test_the_delay_doubles_from_the_threshold_up_to_the_cap():
    assert [PAIR.delay(n).total_seconds() for n in range(1, 11)] == [
        0, 0, 0, 0, 1, 2, 4, 8, 16, 32,
    ]  # fmt: skip
    assert PAIR.delay(14) == MAX_DELAY == timedelta(minutes=5)
    assert PAIR.delay(10_000) == MAX_DELAY
    assert ACCOUNT.delay(ACCOUNT.free_failures) == timedelta(0)
    assert ADDRESS.delay(ADDRESS.free_failures + 1) == timedelta(seconds=1)


def test_waits_in_plain_words():
    assert wait_in_words(timedelta(seconds=1)) == "1 second"
    assert wait_in_words(timedelta(milliseconds=1200)) == "2 seconds"
    assert wait_in_words(timedelta(seconds=59)) == "59 seconds"
    assert wait_in_words(timedelta(seconds=64)) == "2 minutes"
    assert wait_in_words(MAX_DELAY) == "5 minutes"


def test_one_key_per_ipv4_address_and_per_ipv6_network():
    assert address_text("2001:db8:1:2:aaaa::1") == address_text("2001:db8:1:2:bbbb::9")
    assert address_text("2001:db8:1:2::1") != address_text("2001:db8:1:3::1")
    assert address_text("::ffff:198.51.100.1") == address_text("198.51.100.1")
    assert address_text("not an address") == address_text(None) == "unknown"


def test_email_keys_are_normalised_and_need_no_account(session):
    throttle = throttle_on(session)
    same = throttle.keys("  Someone@TEST.example ", "198.51.100.1")
    assert same == throttle.keys(EMAIL, "198.51.100.1")
    # Text that is not an email is still counted on a key of its own.
    assert throttle.keys("not an email", "198.51.100.1").account != same.account


def test_parallel_checks_when_a_wait_ends_get_one_through(engine, session):
    # Four failures: the next one would start a wait, so the next check holds the keys.
    for _ in range(PAIR.free_failures):
        assert fail(session) == timedelta(0)
    with Session(engine) as first, Session(engine) as second:
        a = throttle_on(first).begin(EMAIL, "198.51.100.1", clock.now())
        first.commit()
        b = throttle_on(second).begin(EMAIL, "198.51.100.1", clock.now())
        second.commit()
        assert a.allowed and not b.allowed
        assert b.wait == CLAIM
        # The first check fails: the real wait replaces the hold.
        assert a.failed(clock.now()) == timedelta(seconds=1)
        first.commit()
    clock.advance(timedelta(seconds=1))
    assert fail(session) == timedelta(seconds=2)


def test_a_held_key_is_released_after_a_success(engine, session):
    for n in range(ADDRESS.free_failures):
        fail(session, email=f"person{n}@test.example", address="203.0.113.9")
    with Session(engine) as first:
        a = throttle_on(first).begin(EMAIL, "203.0.113.9", clock.now())
        first.commit()
        assert a.allowed and a.claimed
        a.succeeded(clock.now())
        first.commit()
    assert throttle_on(session).begin("other@test.example", "203.0.113.9", clock.now()).allowed


def test_parallel_attempts_each_get_counted_and_only_one_passes_a_hold(engine, session):
    for _ in range(PAIR.free_failures):
        fail(session)
    workers = 6
    barrier = threading.Barrier(workers)
    allowed: list[bool] = []
    errors: list[BaseException] = []

    def attempt() -> None:
        try:
            with Session(engine) as own:
                throttle = throttle_on(own)
                barrier.wait(timeout=30)
                result = throttle.begin(EMAIL, "198.51.100.1", clock.now())
                own.commit()
                allowed.append(result.allowed)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sorted(allowed) == [False] * (workers - 1) + [True]


def test_parallel_failures_below_the_threshold_are_all_counted(engine, session):
    workers = 4
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def failure(n: int) -> None:
        try:
            with Session(engine) as own:
                throttle = throttle_on(own)
                attempt = throttle.begin(EMAIL, f"198.51.100.{n}", clock.now())
                own.commit()
                barrier.wait(timeout=30)
                attempt.failed(clock.now())
                own.commit()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=failure, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    session.expire_all()
    account = throttle_on(session).account_key(EMAIL)
    row = session.get(m.SignInCounter, account)
    assert row.failures == workers
    assert len(session.exec(select(m.SignInCounter)).all()) == 1 + 2 * workers


def test_old_rows_are_forgotten(session):
    fail(session, address="198.51.100.1")
    clock.advance(timedelta(days=2))
    fail(session, email="another@test.example", address="198.51.100.2")
    keys = throttle_on(session).keys(EMAIL, "198.51.100.1")
    assert session.get(m.SignInCounter, keys.pair) is None
    assert session.get(m.SignInCounter, keys.account) is None
