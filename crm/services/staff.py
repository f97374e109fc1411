"""Staff accounts: creating them and checking passwords (argon2)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from crm.db import transaction
from crm.models import Area, AuditAction, Role, StaffArea, StaffUser
from crm.services import audit
from crm.services.actors import Actor
from crm.services.errors import InvalidInput
from crm.services.validation import normalise_email

MIN_PASSWORD_LENGTH = 12
# argon2-cffi's own defaults (RFC 9106's low-memory profile: argon2id, 64 MiB, 3 passes). Only
# the test plugin swaps in cheaper ones (use_password_hasher, from crm.testing.fixtures), from
# Python: no setting or environment variable can make a deployment's hashes weak by mistake.
_hasher = PasswordHasher()
_TIMING_PASSWORD = "not a real password, only for timing"
_timing_hash = _hasher.hash(_TIMING_PASSWORD)


def use_password_hasher(hasher: PasswordHasher) -> None:
    """Hash (and check the timing hash) with `hasher` from now on. For the test plugin only."""
    global _hasher, _timing_hash
    _hasher, _timing_hash = hasher, hasher.hash(_TIMING_PASSWORD)


def timing_hash() -> str:
    """A hash made with the current parameters that no typed password matches: checking an
    unknown email against it costs the same as checking a real account."""
    return _timing_hash


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_staff_user(
    session: Session,
    actor: Actor,
    *,
    email: str,
    name: str,
    role: str | Role,
    password: str,
    area_names: list[str] | None = None,
) -> StaffUser:
    errors: dict[str, str] = {}
    try:
        email = normalise_email(email)
    except ValueError as exc:
        errors["email"] = str(exc)
    name = " ".join((name or "").split())
    if not name:
        errors["name"] = "Enter the person's name"
    try:
        role = Role(role)
    except ValueError:
        errors["role"] = f"Unknown role {role!r}. Roles are: {', '.join(r.value for r in Role)}"
    if len(password or "") < MIN_PASSWORD_LENGTH:
        errors["password"] = f"Use a password of at least {MIN_PASSWORD_LENGTH} characters"
    areas: list[Area] = []
    for area_name in area_names or []:
        area = session.exec(select(Area).where(Area.name == area_name)).first()
        if area is None:
            errors["areas"] = f"Unknown area {area_name!r}"
        else:
            areas.append(area)
    if (
        "email" not in errors
        and session.exec(select(StaffUser.id).where(StaffUser.email == email)).first()
    ):
        errors["email"] = "A member of staff with that email already exists"
    if errors:
        raise InvalidInput(errors)

    with transaction(session):
        user = StaffUser(email=email, name=name, role=role, password_hash=hash_password(password))
        session.add(user)
        session.flush()
        for area in areas:
            session.add(StaffArea(staff_id=user.id, area_id=area.id))
        audit.record(session, actor, AuditAction.CREATE, "staff_user", user.id, role=role.value)
    session.refresh(user)
    return user
