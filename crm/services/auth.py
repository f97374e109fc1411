"""Signing staff in: the password check, slowed down by crm.services.throttle.

Whoever types whatever, the answer depends only on what was typed and on earlier failures from
there, never on whether an account exists: a wrong password, an unknown email and a
deactivated account get the same words, the same status and the same delays, and an unknown
email costs the same argon2 check as a real one. There is no lock-out anyone could trigger.

Once the password is right, crm.services.sessions.start_session opens the session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, select

from crm import clock
from crm.db import transaction
from crm.models import AuditAction, SessionEndReason, StaffUser
from crm.services import audit
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed
from crm.services.sessions import end_all_sessions
from crm.services.staff import (
    MIN_PASSWORD_LENGTH,
    hash_password,
    timing_hash,
    verify_password,
)
from crm.services.throttle import SignInThrottle, wait_in_words
from crm.services.validation import normalise_email
from crm.settings import Settings

GENERIC_FAILURE = "Enter a correct email address and password"


@dataclass(frozen=True)
class SignInResult:
    user: StaffUser | None
    message: str | None = None
    # Whole seconds to wait before the next attempt is checked (None: no wait).
    retry_after: int | None = None
    # True when the attempt was refused unchecked because a wait was running.
    refused_unchecked: bool = False

    @property
    def ok(self) -> bool:
        return self.user is not None


def waiting_message(wait: timedelta) -> str:
    return (
        "There have been too many failed attempts to sign in. "
        f"Wait {wait_in_words(wait)} before you try again"
    )


def failed_message(wait: timedelta) -> str:
    if wait <= timedelta(0):
        return GENERIC_FAILURE
    return f"{GENERIC_FAILURE}. Wait {wait_in_words(wait)} before you try again"


def _seconds(wait: timedelta) -> int:
    return max(1, -(-int(wait.total_seconds() * 1000) // 1000))


def _active_user(session: Session, email: str | None) -> StaffUser | None:
    try:
        email = normalise_email(email or "")
    except ValueError:
        return None
    user = session.exec(select(StaffUser).where(StaffUser.email == email)).first()
    return user if user is not None and user.active else None


def authenticate(
    session: Session,
    email: str | None,
    password: str | None,
    *,
    address: str | None,
    throttle: SignInThrottle,
) -> SignInResult:
    """Check an email and password typed at `address`. On success the caller starts a session."""
    now = clock.now()
    with transaction(session):
        attempt = throttle.begin(email, address, now)
    if not attempt.allowed:
        return SignInResult(
            None, waiting_message(attempt.wait), _seconds(attempt.wait), refused_unchecked=True
        )
    user = _active_user(session, email)
    # Verifying against a real hash when the email is unknown keeps the timing the same.
    matches = verify_password(user.password_hash if user else timing_hash(), password or "")
    if user is not None and matches:
        with transaction(session):
            attempt.succeeded(now)
        return SignInResult(user)
    with transaction(session):
        wait = attempt.failed(now)
    return SignInResult(None, failed_message(wait), _seconds(wait) if wait > timedelta(0) else None)


def change_own_password(
    session: Session,
    settings: Settings,
    actor: Actor,
    *,
    current_password: str | None,
    new_password: str | None,
    keep_session_id: int | None,
    address: str | None,
    throttle: SignInThrottle,
) -> StaffUser:
    """A member of staff sets a new password. Every other session of theirs ends at once (a
    copied cookie, another browser); the one they changed it from stays signed in. Refused
    while password sign-in is switched off (everyone signs in through the council's identity
    provider): a password nobody can sign in with is not one to keep changing."""
    if not settings.sign_in.password:
        raise NotAllowed("Password sign-in is switched off: you sign in with your council account")
    user = session.get(StaffUser, actor.user_id) if actor.user_id is not None else None
    if user is None or not user.active:
        raise NotAllowed("Sign in to change your password")
    errors: dict[str, str] = {}
    # The same throttled check as the sign-in page, so that a borrowed session cannot be used
    # to guess the password any faster.
    check = authenticate(session, user.email, current_password, address=address, throttle=throttle)
    if not check.ok:
        errors["current_password"] = (
            check.message if check.retry_after else "Enter your current password correctly"
        )
    if len(new_password or "") < MIN_PASSWORD_LENGTH:
        errors["new_password"] = f"Use a password of at least {MIN_PASSWORD_LENGTH} characters"
    elif check.ok and verify_password(user.password_hash, new_password or ""):
        errors["new_password"] = "Choose a password different from your current one"
    if errors:
        raise InvalidInput(errors)
    with transaction(session):
        user.password_hash = hash_password(new_password)
        session.add(user)
        end_all_sessions(
            session, actor, user.id, SessionEndReason.PASSWORD_CHANGED, keep_id=keep_session_id
        )
        audit.record(session, actor, AuditAction.UPDATE, "staff_user", user.id, password=True)
    session.refresh(user)
    return user


# -- single sign-on ------------------------------------------------------------------------

SSO_UNVERIFIED = (
    "Your council account's email address is not verified, so it cannot sign you in here. "
    "Ask your IT service desk"
)
SSO_NO_ACCOUNT = (
    "There is no active staff account here for your council account's email address. "
    "Ask an admin to add you"
)


def staff_for_identity(session: Session, claims: dict) -> SignInResult:
    """Who a sign-in at the council's identity provider is: the active member of staff whose
    email is the one the provider has verified. An account is never made by signing in, and
    an email the provider has not verified signs nobody in (anyone can type an address into
    some providers' profiles). The ID token's signature, issuer, audience, expiry and nonce
    were checked by the caller (Authlib)."""
    if claims.get("email_verified") is not True:
        return SignInResult(None, SSO_UNVERIFIED)
    user = _active_user(session, claims.get("email"))
    if user is None:
        return SignInResult(None, SSO_NO_ACCOUNT)
    return SignInResult(user)
