"""Slowing down password guessing without letting anyone lock anyone out.

The rule (crm.services.auth applies it to every sign-in):

- Only failures count, never successful sign-ins. Each failure is counted against the address
  it came from, the email typed (normalised, whether or not any account has it, so unknown and
  known emails behave the same) and the pair of the two.
- A key with few failures carries no delay. From its threshold on, each further failure
  doubles the wait before the next attempt on that key is checked: 1 s, 2 s, 4 s ... never more
  than MAX_DELAY. An attempt during a wait is refused without being checked or counted, so a
  correct password once the wait is over signs in. Nothing is ever locked.
- One address's failures count towards the email's own key only until that address is itself
  being delayed on that email. So one address, however hard it tries, slows down only itself:
  the owner signing in from anywhere else is not delayed at all. Guessing from many addresses
  delays the email for everyone, which is what the email's key is for.
- A key with no failure for its quiet period starts again from nothing. A successful sign-in
  clears the email's and the pair's counts, not the address's (an office shares one address).

Counts live behind `ThrottleStore` so that every web process sees the same ones: the database
(`DatabaseThrottleStore`, table `sign_in_throttle`) today; a Redis store can take its place.
Keys are HMACs under the app's secret key, so the store never holds an email or an address.

Why not the `limits` library, like the web's other rate limits (crm.web.ratelimit)? This is not a
count in a window: it is a doubling wait per key, a claim that lets one of a burst of parallel
guesses through, and counters an admin can see and clear. And it must hold across every web
process with no service beyond the database, which `limits` has no storage for.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from crm.models import SignInCounter
from crm.services.validation import normalise_email

MAX_DELAY = timedelta(minutes=5)
# How long a check that could start a delay holds its keys, so that parallel attempts cannot
# all be checked at once. Released (or replaced by the real delay) as soon as the check ends.
CLAIM = timedelta(seconds=10)
# Rows with no failure for this long are deleted (longer than any quiet period).
FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Rule:
    kind: str
    # Failures that carry no delay; the next one waits 1 s, then 2 s, 4 s ...
    free_failures: int
    # A key with no failure for this long starts again.
    quiet: timedelta

    def delay(self, failures: int) -> timedelta:
        over = failures - self.free_failures
        if over <= 0:
            return timedelta(0)
        return min(MAX_DELAY, timedelta(seconds=2 ** min(over - 1, 20)))


# A person mistyping at their own desk; many people behind one office address; an email
# tried from several addresses.
PAIR = Rule("pair", free_failures=4, quiet=timedelta(hours=1))
ACCOUNT = Rule("account", free_failures=9, quiet=timedelta(hours=1))
ADDRESS = Rule("address", free_failures=19, quiet=timedelta(minutes=15))


@dataclass(frozen=True)
class Counter:
    failures: int
    last_failure_at: datetime
    next_attempt_at: datetime


class ThrottleStore(Protocol):
    """Where the counts live. Every method is one atomic step on one key (or a few)."""

    def read(self, keys: Collection[str]) -> dict[str, Counter]: ...

    def for_account(self, account_hash: str) -> dict[str, Counter]:
        """The email's own counter and its per-address ones, by key."""

    def claim(self, key: str, now: datetime, until: datetime) -> bool:
        """Hold `key` until `until` if nobody holds it and no wait runs; False otherwise."""

    def release(self, key: str, now: datetime) -> None: ...

    def add_failure(
        self,
        key: str,
        *,
        now: datetime,
        rule: Rule,
        account_hash: str | None,
    ) -> Counter:
        """Count one failure (from 1 again after the rule's quiet period) and set the wait."""

    def clear(self, keys: Collection[str]) -> None: ...

    def clear_account(self, account_hash: str) -> None: ...

    def forget_before(self, moment: datetime) -> None: ...


class DatabaseThrottleStore:
    """`sign_in_throttle` rows, written in the caller's transaction (the caller commits)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def read(self, keys: Collection[str]) -> dict[str, Counter]:
        rows = self.session.exec(select(SignInCounter).where(SignInCounter.key_hash.in_(keys)))
        return {row.key_hash: _counter(row) for row in rows}

    def for_account(self, account_hash: str) -> dict[str, Counter]:
        rows = self.session.exec(
            select(SignInCounter).where(SignInCounter.account_hash == account_hash)
        )
        return {row.key_hash: _counter(row) for row in rows}

    def claim(self, key: str, now: datetime, until: datetime) -> bool:
        # One conditional UPDATE: of parallel claims exactly one matches (PostgreSQL re-checks
        # the condition after waiting for the row; SQLite has one writer at a time).
        table = SignInCounter.__table__
        result = self.session.execute(
            sa.update(table)
            .where(table.c.key_hash == key, table.c.next_attempt_at <= now)
            .values(next_attempt_at=until)
        )
        return result.rowcount == 1

    def release(self, key: str, now: datetime) -> None:
        table = SignInCounter.__table__
        self.session.execute(
            sa.update(table)
            .where(table.c.key_hash == key, table.c.next_attempt_at > now)
            .values(next_attempt_at=now)
        )

    def add_failure(
        self, key: str, *, now: datetime, rule: Rule, account_hash: str | None
    ) -> Counter:
        table = SignInCounter.__table__
        insert = (
            postgresql.insert if self.session.bind.dialect.name == "postgresql" else sqlite.insert
        )
        stale = table.c.last_failure_at < now - rule.quiet
        statement = (
            insert(table)
            .values(
                key_hash=key,
                account_hash=account_hash,
                failures=1,
                last_failure_at=now,
                next_attempt_at=now,
            )
            .on_conflict_do_update(
                index_elements=[table.c.key_hash],
                set_={
                    # Counted in the database, so parallel failures each add one.
                    "failures": sa.case((stale, 1), else_=table.c.failures + 1),
                    "last_failure_at": now,
                    "account_hash": account_hash,
                },
            )
            .returning(table.c.failures)
        )
        failures = self.session.execute(statement).scalar_one()
        next_attempt_at = now + rule.delay(failures)
        self.session.execute(
            sa.update(table).where(table.c.key_hash == key).values(next_attempt_at=next_attempt_at)
        )
        return Counter(failures, now, next_attempt_at)

    def clear(self, keys: Collection[str]) -> None:
        table = SignInCounter.__table__
        self.session.execute(sa.delete(table).where(table.c.key_hash.in_(keys)))

    def clear_account(self, account_hash: str) -> None:
        table = SignInCounter.__table__
        self.session.execute(
            sa.delete(table).where(
                sa.or_(table.c.key_hash == account_hash, table.c.account_hash == account_hash)
            )
        )

    def forget_before(self, moment: datetime) -> None:
        table = SignInCounter.__table__
        self.session.execute(sa.delete(table).where(table.c.last_failure_at < moment))


def _counter(row: SignInCounter) -> Counter:
    return Counter(row.failures, row.last_failure_at, row.next_attempt_at)


def account_text(email: str | None) -> str:
    """The email as typed, normalised; text that is not an email is still a key of its own."""
    try:
        return normalise_email(email or "")
    except ValueError:
        return " ".join((email or "").split()).lower()[:254]


def address_text(address: str | None) -> str:
    """One key per IPv4 address and per IPv6 /64 (one household or office line has a /64)."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass(frozen=True)
class Keys:
    address: str
    account: str
    pair: str


@dataclass
class Attempt:
    """One sign-in attempt going through the throttle: `wait` is zero when it may be checked."""

    throttle: SignInThrottle
    keys: Keys
    wait: timedelta
    pair_failures: int = 0
    claimed: list[str] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return self.wait <= timedelta(0)

    def failed(self, now: datetime) -> timedelta:
        """Count the failure; the wait now before the next attempt from here on this email."""
        store, keys = self.throttle.store, self.keys
        counters = [
            store.add_failure(keys.address, now=now, rule=ADDRESS, account_hash=None),
            store.add_failure(keys.pair, now=now, rule=PAIR, account_hash=keys.account),
        ]
        if _counts_towards_account(self.pair_failures):
            counters.append(
                store.add_failure(keys.account, now=now, rule=ACCOUNT, account_hash=keys.account)
            )
        store.forget_before(now - FORGET_AFTER)
        return max(c.next_attempt_at - now for c in counters)

    def succeeded(self, now: datetime) -> None:
        self.throttle.store.clear([self.keys.pair, self.keys.account])
        if self.keys.address in self.claimed:
            self.throttle.store.release(self.keys.address, now)


class SignInThrottle:
    def __init__(self, store: ThrottleStore, secret: str | bytes) -> None:
        self.store = store
        secret = secret.encode() if isinstance(secret, str) else secret
        # A key of its own, derived from the app's secret, for this one purpose.
        self._secret = hmac.new(secret, b"fostercrm sign-in throttle", hashlib.sha256).digest()

    def _hash(self, *parts: str) -> str:
        message = "\x00".join(parts).encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def keys(self, email: str | None, address: str | None) -> Keys:
        account, where = account_text(email), address_text(address)
        return Keys(
            address=self._hash("address", where),
            account=self._hash("account", account),
            pair=self._hash("pair", account, where),
        )

    def begin(self, email: str | None, address: str | None, now: datetime) -> Attempt:
        """Whether this attempt may be checked now; if so, hold the keys it could delay."""
        keys = self.keys(email, address)
        live = self._live(keys, now)
        wait = _longest_wait(live.values(), now)
        attempt = Attempt(self, keys, wait, pair_failures=_failures(live, keys.pair))
        if not attempt.allowed:
            return attempt
        # Hold the keys on which one more failure starts or lengthens a wait, so that a burst
        # of parallel guesses at the moment a wait ends gets one of them checked, not all.
        candidates = [
            (keys.address, ADDRESS, _failures(live, keys.address)),
            (keys.pair, PAIR, attempt.pair_failures),
        ]
        if _counts_towards_account(attempt.pair_failures):
            candidates.append((keys.account, ACCOUNT, _failures(live, keys.account)))
        for key, rule, failures in candidates:
            if rule.delay(failures + 1) <= timedelta(0):
                continue
            if self.store.claim(key, now, now + CLAIM):
                attempt.claimed.append(key)
                continue
            for held in attempt.claimed:
                self.store.release(held, now)
            attempt.claimed = []
            attempt.wait = max(_longest_wait(self._live(keys, now).values(), now), _SECOND)
            return attempt
        return attempt

    def account_key(self, email: str) -> str:
        return self._hash("account", account_text(email))

    def account_counters(self, email: str, now: datetime) -> dict[str, Counter]:
        """The live counters of this email: its own (key `account_key`) and one per address."""
        return {
            key: counter
            for key, counter in self.store.for_account(self.account_key(email)).items()
            if counter.last_failure_at >= now - PAIR.quiet
        }

    def clear_account(self, email: str) -> None:
        self.store.clear_account(self.account_key(email))

    def _live(self, keys: Keys, now: datetime) -> dict[str, Counter]:
        quiet = {keys.address: ADDRESS.quiet, keys.account: ACCOUNT.quiet, keys.pair: PAIR.quiet}
        return {
            key: counter
            for key, counter in self.store.read(list(quiet)).items()
            if counter.last_failure_at >= now - quiet[key]
        }


_SECOND = timedelta(seconds=1)


def _counts_towards_account(pair_failures: int) -> bool:
    # Until this address is itself being delayed on this email (see the rule above).
    return PAIR.delay(pair_failures) <= timedelta(0)


def _failures(live: dict[str, Counter], key: str) -> int:
    counter = live.get(key)
    return counter.failures if counter else 0


def _longest_wait(counters: Collection[Counter], now: datetime) -> timedelta:
    return max([c.next_attempt_at - now for c in counters] + [timedelta(0)])


def wait_in_words(wait: timedelta) -> str:
    """'1 second', '8 seconds', '2 minutes': rounded up, so waiting that long is enough."""
    seconds = max(1, -(-int(wait.total_seconds() * 1000) // 1000))
    if seconds < 60:
        return "1 second" if seconds == 1 else f"{seconds} seconds"
    minutes = -(-seconds // 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"
