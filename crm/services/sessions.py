"""Signed-in sessions: the server's record of each browser a member of staff signed in on.

The cookie carries a random token and nothing else about the person; `staff_session` keeps
only its sha256. A session is refused from the moment it is ended (signing out, a new
password, a change of role, deactivation, an admin) or runs past its absolute or idle expiry,
on every request, wherever the cookie has been copied to.

Later ways of signing in (a second factor, single sign-on) start their sessions here too, with
their own `SignInMethod`.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

from crm import clock
from crm.db import transaction
from crm.models import (
    AuditAction,
    Role,
    SessionEndReason,
    SignInMethod,
    StaffSession,
    StaffUser,
)
from crm.services import audit
from crm.services.actors import Actor
from crm.services.errors import NotAllowed, NotFound

# A working day, however active: then sign in again.
ABSOLUTE_LIFETIME = timedelta(hours=10)
# Long enough to write up a visit without being thrown out, short enough for a shared office.
IDLE_LIFETIME = timedelta(hours=1)
# Last seen is written at most this often, not on every request.
TOUCH_EVERY = timedelta(minutes=1)
# Ended and expired rows are kept this long (the audit log keeps the events for good).
KEEP_FINISHED_FOR = timedelta(days=30)


@dataclass(frozen=True)
class StartedSession:
    record: StaffSession
    # The only copy of the token: it goes into the cookie and is never stored.
    token: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_live(record: StaffSession, now: datetime) -> bool:
    return record.ended_at is None and now < record.expires_at and now < record.idle_expires_at


def _staff_actor(user: StaffUser) -> Actor:
    return Actor(label=f"staff:{user.id}", user_id=user.id, role=user.role)


def start_session(
    session: Session, user: StaffUser, *, method: SignInMethod = SignInMethod.PASSWORD
) -> StartedSession:
    """Open a session for someone who has just proved who they are (the caller checked)."""
    now = clock.now()
    token = secrets.token_urlsafe(32)
    expires_at = now + ABSOLUTE_LIFETIME
    with transaction(session):
        old = now - KEEP_FINISHED_FOR
        session.exec(
            sa.delete(StaffSession).where(
                StaffSession.staff_id == user.id,
                sa.or_(StaffSession.expires_at < old, StaffSession.ended_at < old),
            )
        )
        record = StaffSession(
            token_hash=token_hash(token),
            staff_id=user.id,
            method=method,
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
            idle_expires_at=min(now + IDLE_LIFETIME, expires_at),
        )
        session.add(record)
        user.last_sign_in_at = now
        session.add(user)
        session.flush()
        audit.record(
            session, _staff_actor(user), AuditAction.CREATE, "staff_session", record.id,
            signed_in=True, method=method.value,
        )  # fmt: skip
    return StartedSession(record, token)


def session_for_token(session: Session, token: str | None) -> tuple[StaffUser, StaffSession] | None:
    """The person and session a cookie's token belongs to, if that session is still live."""
    if not token or not isinstance(token, str) or len(token) > 128:
        return None
    record = session.exec(
        select(StaffSession).where(StaffSession.token_hash == token_hash(token))
    ).first()
    now = clock.now()
    if record is None or not is_live(record, now):
        return None
    user = session.get(StaffUser, record.staff_id)
    if user is None or not user.active:
        return None
    if now - record.last_seen_at >= TOUCH_EVERY:
        _touch(session, record, now)
    return user, record


def _touch(session: Session, record: StaffSession, now: datetime) -> None:
    # Never commit someone else's unit of work: with anything pending, the next request will.
    if session.new or session.dirty or session.deleted:
        return
    idle_until = min(now + IDLE_LIFETIME, record.expires_at)
    table = StaffSession.__table__
    with transaction(session):
        session.execute(
            sa.update(table)
            .where(table.c.id == record.id, table.c.ended_at.is_(None))
            .values(last_seen_at=now, idle_expires_at=idle_until)
        )
    set_committed_value(record, "last_seen_at", now)
    set_committed_value(record, "idle_expires_at", idle_until)


def _end(
    session: Session, actor: Actor, records: list[StaffSession], reason: SessionEndReason
) -> int:
    """End these sessions inside the caller's transaction."""
    now = clock.now()
    ended = 0
    for record in records:
        if record.ended_at is not None:
            continue
        record.ended_at = now
        record.end_reason = reason
        session.add(record)
        ended += 1
        audit.record(
            session, actor, AuditAction.UPDATE, "staff_session", record.id,
            ended=reason.value, staff_id=record.staff_id,
        )  # fmt: skip
    return ended


def _open_sessions(
    session: Session, staff_id: int, now: datetime, *, keep_id: int | None = None
) -> list[StaffSession]:
    query = select(StaffSession).where(
        StaffSession.staff_id == staff_id,
        StaffSession.ended_at.is_(None),
        StaffSession.expires_at > now,
    )
    if keep_id is not None:
        query = query.where(StaffSession.id != keep_id)
    return list(session.exec(query.order_by(StaffSession.created_at.desc())).all())


def end_all_sessions(
    session: Session,
    actor: Actor,
    staff_id: int,
    reason: SessionEndReason,
    *,
    keep_id: int | None = None,
) -> int:
    """End every session of one person (but `keep_id`), inside the caller's transaction: the
    change that called for it and the sign-outs land together or not at all."""
    records = _open_sessions(session, staff_id, clock.now(), keep_id=keep_id)
    return _end(session, actor, records, reason)


def sign_out(session: Session, token: str | None) -> bool:
    """End the session this token belongs to; False when there was none live."""
    found = session_for_token(session, token)
    if found is None:
        return False
    user, record = found
    with transaction(session):
        _end(session, _staff_actor(user), [record], SessionEndReason.SIGNED_OUT)
    return True


# -- what admins see and do on a person's page --------------------------------------------


def _admin_only(actor: Actor) -> None:
    if not actor.is_system and actor.role != Role.ADMIN:
        raise NotAllowed("Only admins see and end other people's sessions")


def live_sessions(session: Session, actor: Actor, staff_id: int) -> list[StaffSession]:
    _admin_only(actor)
    now = clock.now()
    return [r for r in _open_sessions(session, staff_id, now) if is_live(r, now)]


def end_session_by_admin(session: Session, actor: Actor, staff_id: int, session_id: int) -> None:
    _admin_only(actor)
    record = session.get(StaffSession, session_id)
    if record is None or record.staff_id != staff_id:
        raise NotFound(f"No session {session_id} for member of staff {staff_id}")
    with transaction(session):
        _end(session, actor, [record], SessionEndReason.ENDED_BY_ADMIN)


def end_all_by_admin(session: Session, actor: Actor, staff_id: int) -> int:
    _admin_only(actor)
    if session.get(StaffUser, staff_id) is None:
        raise NotFound(f"No member of staff with id {staff_id}")
    with transaction(session):
        return end_all_sessions(session, actor, staff_id, SessionEndReason.ENDED_BY_ADMIN)
