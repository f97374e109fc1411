"""Signing staff in: password check, lock-out after repeated failures.

The web layer keeps the session; this module decides whether a sign-in succeeds and records
the attempt. A wrong password, an unknown email and a locked account give the same answer to
the person signing in, so the form cannot be used to find out who has an account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, select

from crm import clock
from crm.db import transaction
from crm.models import AuditAction, StaffUser
from crm.services import audit
from crm.services.actors import Actor
from crm.services.staff import hash_password, verify_password
from crm.services.validation import normalise_email

MAX_FAILED_SIGN_INS = 5
LOCK_MINUTES = 15
GENERIC_FAILURE = "Enter a correct email address and password"
# Verifying against a real hash when the email is unknown keeps the timing the same.
_DUMMY_HASH = hash_password("not a real password, only for timing")


@dataclass(frozen=True)
class SignInResult:
    user: StaffUser | None
    message: str | None = None
    locked: bool = False

    @property
    def ok(self) -> bool:
        return self.user is not None


def authenticate(session: Session, email: str, password: str) -> SignInResult:
    """Check an email and password. Five failures in a row lock the account for 15 minutes."""
    try:
        email = normalise_email(email or "")
    except ValueError:
        verify_password(_DUMMY_HASH, password or "")
        return SignInResult(None, GENERIC_FAILURE)
    user = session.exec(select(StaffUser).where(StaffUser.email == email)).first()
    if user is None or not user.active:
        verify_password(_DUMMY_HASH, password or "")
        return SignInResult(None, GENERIC_FAILURE)
    now = clock.now()
    if user.locked_until is not None and user.locked_until > now:
        return SignInResult(None, locked_message(), locked=True)
    with transaction(session):
        if verify_password(user.password_hash, password or ""):
            user.failed_sign_ins = 0
            user.locked_until = None
            user.last_sign_in_at = now
            session.add(user)
            audit.record(
                session, Actor(label=f"staff:{user.id}", user_id=user.id, role=user.role),
                AuditAction.UPDATE, "staff_user", user.id, signed_in=True,
            )  # fmt: skip
            result = SignInResult(user)
        else:
            user.failed_sign_ins += 1
            locked = user.failed_sign_ins >= MAX_FAILED_SIGN_INS
            if locked:
                user.locked_until = now + timedelta(minutes=LOCK_MINUTES)
                user.failed_sign_ins = 0
                audit.record(
                    session, Actor.system("sign-in"), AuditAction.UPDATE, "staff_user", user.id,
                    locked=True,
                )  # fmt: skip
            session.add(user)
            result = SignInResult(
                None, locked_message() if locked else GENERIC_FAILURE, locked=locked
            )
    session.refresh(user)
    return result


def locked_message() -> str:
    return (
        "There have been too many attempts to sign in to this account. "
        f"Wait {LOCK_MINUTES} minutes and try again, or ask an administrator to unlock it."
    )


def session_token(user: StaffUser) -> str:
    """A fingerprint of the password hash kept in the session cookie: changing the password
    (or an admin resetting it) signs the person out everywhere."""
    return user.password_hash[-16:]


def user_for_session(session: Session, user_id: int | None, token: str | None) -> StaffUser | None:
    if user_id is None or token is None:
        return None
    user = session.get(StaffUser, user_id)
    if user is None or not user.active or session_token(user) != token:
        return None
    return user
