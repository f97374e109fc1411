"""The second factor at password sign-in: a time-based one-time code (TOTP, RFC 6238) from an
app on the person's phone, or one of their single-use recovery codes.

Who needs one: the roles named in `sign_in.mfa_required_roles` (admins, managers and decision
makers by default), or everyone with `sign_in.mfa_for_everyone`; anyone else may set one up.
Role names are strings in the settings so a role that another release adds (decision_maker)
can be named before it exists here: `unknown_role_names` lists the names no role has, which
start-up logs as a warning instead of refusing to start; they simply match nobody until then.

Rules:
- The app's secret is stored sealed (crm.sealing: Fernet, with FOSTERCRM_MFA_KEY or a key
  derived from FOSTERCRM_SECRET_KEY); every function here that reads or writes it is given the
  box. A secret no key opens (the keys changed) refuses every code with a message to ask an
  admin for a reset, and says so in the log.
- A code is accepted for the 30-second step it belongs to, one step either side for a phone's
  clock drift, and only if that step is later than the last one accepted for the person (one
  UPDATE that checks and moves it, so two requests racing with one code cannot both win). A
  code seen over someone's shoulder, or sent twice, is refused.
- Recovery codes (ten, 80 random bits each) are shown once, when the app is set up; only their
  sha256 is kept (the randomness makes a salt or a slow hash unnecessary, as for session
  tokens). Each works once.
- Wrong codes are slowed down like wrong passwords (crm.services.throttle), on a key of their
  own for the account.
- An admin can reset someone's second factor (a lost phone): the app and the recovery codes
  go, every session of theirs ends, and the audit log records it. They set it up again at
  their next sign-in.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

import pyotp
import qrcode
import sqlalchemy as sa
from sqlmodel import Session, select

from crm import clock
from crm.db import transaction
from crm.models import (
    AuditAction,
    Role,
    SessionEndReason,
    StaffRecoveryCode,
    StaffTotp,
    StaffUser,
)
from crm.sealing import SecretBox, Unreadable
from crm.services import audit
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed, NotFound
from crm.services.sessions import end_all_sessions
from crm.services.throttle import SignInThrottle, wait_in_words
from crm.settings import Settings

log = logging.getLogger(__name__)

STEP_SECONDS = 30
# Steps either side of now that are accepted (a phone's clock a little out).
DRIFT_STEPS = 1
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
_RECOVERY_LENGTH = 16  # 16 characters of 31: about 79 bits
WRONG_CODE = "Enter the code from your authenticator app, or one of your recovery codes"
UNREADABLE = (
    "Your authenticator app cannot be checked at the moment. Use one of your recovery codes, "
    "or ask an admin to reset your app"
)
ISSUER = "Fostercrm"


def unknown_role_names(settings: Settings) -> list[str]:
    """The names in sign_in.mfa_required_roles that no role has (yet)."""
    known = {role.value for role in Role}
    return [name for name in settings.sign_in.mfa_required_roles if name not in known]


def required_for(settings: Settings, user: StaffUser) -> bool:
    return settings.sign_in.mfa_for_everyone or str(user.role) in set(
        settings.sign_in.mfa_required_roles
    )


def _totp(session: Session, staff_id: int) -> StaffTotp | None:
    return session.get(StaffTotp, staff_id)


def is_set_up(session: Session, user: StaffUser) -> bool:
    found = _totp(session, user.id)
    return found is not None and found.confirmed_at is not None


def next_step(session: Session, settings: Settings, user: StaffUser) -> str:
    """After a right password: "code" (they have an app), "set_up" (they must get one) or
    "done" (they may go in)."""
    if is_set_up(session, user):
        return "code"
    if required_for(settings, user):
        return "set_up"
    return "done"


# -- setting the app up --------------------------------------------------------------------


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str  # otpauth://..., what the QR code holds

    @property
    def grouped_secret(self) -> str:
        """The secret in fours, for typing into an app by hand."""
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


def _open(box: SecretBox, found: StaffTotp) -> str | None:
    try:
        return box.open(found.secret_sealed)
    except Unreadable:
        # No personal data: which account it is shows on the admin's page (reset it there).
        log.warning(
            "a one-time code app's secret cannot be opened with the keys set "
            "(FOSTERCRM_MFA_KEY / FOSTERCRM_SECRET_KEY changed?); its owner needs a reset"
        )
        return None


def begin_set_up(
    session: Session, settings: Settings, user: StaffUser, *, box: SecretBox
) -> Enrolment:
    """A secret for the person's app, kept unconfirmed (and sealed) until a code from the app
    proves it was scanned. Asking again before confirming gives the same secret (a reloaded
    page shows the same QR code); someone with a confirmed app must be reset by an admin
    first."""
    with transaction(session):
        found = _totp(session, user.id)
        if found is not None and found.confirmed_at is not None:
            raise NotAllowed("A code app is already set up for this account")
        secret = _open(box, found) if found is not None else None
        if secret is None:
            # New, or an unconfirmed one sealed with a key we no longer have: nobody uses it.
            secret = pyotp.random_base32(32)
            if found is None:
                found = StaffTotp(staff_id=user.id, secret_sealed=box.seal(secret))
            else:
                found.secret_sealed = box.seal(secret)
            session.add(found)
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return Enrolment(secret, uri)


def _current_step() -> int:
    return int(clock.now().timestamp()) // STEP_SECONDS


def _matching_step(secret: str, code: str) -> int | None:
    totp = pyotp.TOTP(secret)
    now = _current_step()
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _six_digits(code: str | None) -> str | None:
    digits = "".join((code or "").split())
    return digits if len(digits) == 6 and digits.isdigit() else None


def _spend_step(session: Session, staff_id: int, step: int, *, confirm: bool) -> bool:
    values: dict = {"last_used_step": step}
    if confirm:
        values["confirmed_at"] = clock.now()
    result = session.execute(
        sa.update(StaffTotp)
        .where(
            StaffTotp.staff_id == staff_id,
            sa.or_(StaffTotp.last_used_step.is_(None), StaffTotp.last_used_step < step),
            StaffTotp.confirmed_at.is_(None) if confirm else StaffTotp.confirmed_at.is_not(None),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _recovery_hash(code: str) -> str:
    normalised = "".join(ch for ch in code.lower() if ch.isalnum())
    return hashlib.sha256(normalised.encode()).hexdigest()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4))


def confirm_set_up(
    session: Session, user: StaffUser, code: str | None, *, box: SecretBox
) -> list[str]:
    """The first code from the newly set-up app: the app is confirmed, and the person's
    recovery codes are made and returned (the only time they are seen). InvalidInput when
    the code is wrong."""
    found = _totp(session, user.id)
    if found is None or found.confirmed_at is not None:
        raise InvalidInput("Start again: the set-up has expired", "code")
    digits = _six_digits(code)
    secret = _open(box, found)
    if secret is None:
        raise InvalidInput("Start again: the set-up has expired", "code")
    step = _matching_step(secret, digits) if digits else None
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    with transaction(session):
        if step is None or not _spend_step(session, user.id, step, confirm=True):
            raise InvalidInput("Enter the 6-digit code your app shows now", "code")
        session.exec(sa.delete(StaffRecoveryCode).where(StaffRecoveryCode.staff_id == user.id))
        session.add_all(
            StaffRecoveryCode(staff_id=user.id, code_hash=_recovery_hash(c)) for c in codes
        )
        audit.record(
            session, Actor.for_staff(session, user), AuditAction.UPDATE, "staff_user", user.id,
            second_factor="set_up",
        )  # fmt: skip
    session.expire(found)
    return codes


# -- signing in with it ----------------------------------------------------------------------


@dataclass(frozen=True)
class CodeCheck:
    ok: bool
    message: str | None = None
    used_recovery_code: bool = False
    recovery_codes_left: int | None = None
    retry_after: int | None = None


def _throttle_key(user: StaffUser) -> str:
    # Not an email, so a key of its own beside the password's (crm.services.throttle).
    return f"one-time code for {user.email}"


def recovery_codes_left(session: Session, staff_id: int) -> int:
    return session.exec(
        select(sa.func.count())
        .select_from(StaffRecoveryCode)
        .where(StaffRecoveryCode.staff_id == staff_id, StaffRecoveryCode.used_at.is_(None))
    ).one()


def check_code(
    session: Session,
    user: StaffUser,
    code: str | None,
    *,
    address: str | None,
    throttle: SignInThrottle,
    box: SecretBox,
) -> CodeCheck:
    """The second step of a password sign-in: a code from the app, or a recovery code."""
    now = clock.now()
    with transaction(session):
        attempt = throttle.begin(_throttle_key(user), address, now)
    if not attempt.allowed:
        seconds = max(1, int(attempt.wait.total_seconds()))
        return CodeCheck(
            False,
            f"There have been too many wrong codes. Wait {wait_in_words(attempt.wait)}",
            retry_after=seconds,
        )
    found = _totp(session, user.id)
    accepted = recovery = unreadable = False
    with transaction(session):
        if found is not None and found.confirmed_at is not None:
            digits = _six_digits(code)
            secret = _open(box, found) if digits else None
            if digits and secret is None:
                unreadable = True
            elif digits:
                step = _matching_step(secret, digits)
                accepted = step is not None and _spend_step(session, user.id, step, confirm=False)
            elif (code or "").strip():
                recovery = accepted = (
                    session.execute(
                        sa.update(StaffRecoveryCode)
                        .where(
                            StaffRecoveryCode.staff_id == user.id,
                            StaffRecoveryCode.code_hash == _recovery_hash(code),
                            StaffRecoveryCode.used_at.is_(None),
                        )
                        .values(used_at=now)
                        .execution_options(synchronize_session=False)
                    ).rowcount
                    == 1
                )
        if accepted:
            attempt.succeeded(now)
            if recovery:
                audit.record(
                    session, Actor.for_staff(session, user), AuditAction.UPDATE, "staff_user",
                    user.id, recovery_code_used=True,
                )  # fmt: skip
    if accepted:
        session.expire_all()
        left = recovery_codes_left(session, user.id) if recovery else None
        return CodeCheck(True, used_recovery_code=recovery, recovery_codes_left=left)
    with transaction(session):
        # Counted as a failure even when the secret is unreadable: the keys this attempt holds
        # are released, and nobody learns more by trying faster.
        wait = attempt.failed(now)
    if unreadable:
        return CodeCheck(False, UNREADABLE)
    if wait > timedelta(0):
        return CodeCheck(
            False,
            f"{WRONG_CODE}. Wait {wait_in_words(wait)} before you try again",
            retry_after=max(1, int(wait.total_seconds())),
        )
    return CodeCheck(False, WRONG_CODE)


# -- for admins ------------------------------------------------------------------------------


def reset_by_admin(session: Session, actor: Actor, staff_id: int) -> StaffUser:
    """A lost phone: the person's app and recovery codes go, and every session of theirs ends.
    They set up a new app at their next sign-in (if their role needs one)."""
    if actor.is_system or actor.role != Role.ADMIN:
        raise NotAllowed("Only admins reset a second factor")
    user = session.get(StaffUser, staff_id)
    if user is None:
        raise NotFound(f"No member of staff with id {staff_id}")
    with transaction(session):
        had = session.execute(sa.delete(StaffTotp).where(StaffTotp.staff_id == staff_id)).rowcount
        session.execute(sa.delete(StaffRecoveryCode).where(StaffRecoveryCode.staff_id == staff_id))
        end_all_sessions(session, actor, staff_id, SessionEndReason.SECOND_FACTOR_RESET)
        audit.record(
            session, actor, AuditAction.UPDATE, "staff_user", staff_id,
            second_factor="reset", had_one=bool(had),
        )  # fmt: skip
    return user


# -- the QR code -----------------------------------------------------------------------------


@dataclass(frozen=True)
class QrCode:
    """A QR code as runs of dark modules per row, for the template to draw as SVG rects."""

    size: int  # modules per side, quiet zone included
    runs: list[tuple[int, int, int]]  # (x, y, width)


def qr_code(data: str, quiet_zone: int = 4) -> QrCode:
    code = qrcode.QRCode(border=quiet_zone, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(data)
    code.make(fit=True)
    matrix = code.get_matrix()
    runs: list[tuple[int, int, int]] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                runs.append((start, y, x - start))
            else:
                x += 1
    return QrCode(len(matrix), runs)
