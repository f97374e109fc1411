"""Who is signed in, and how hard someone has been guessing.

`staff_session` is the server's record of each signed-in browser. The cookie carries only a
random token; the table keeps a hash of it, so a copy of the database cannot be used to sign
in, and ending the row ends the session wherever the cookie has been copied to.

`sign_in_throttle` counts failed sign-ins per typed email, per address and per pair of the two
(see crm.services.throttle). Keys are keyed hashes: the table never holds an email or an
address, so it discloses nothing about who tried to sign in.
"""

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm.models.base import created_at_field, enum_column


class SessionEndReason(StrEnum):
    SIGNED_OUT = "signed_out"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET = "password_reset"
    ROLE_CHANGED = "role_changed"
    DEACTIVATED = "deactivated"
    ENDED_BY_ADMIN = "ended_by_admin"
    # An admin reset their one-time code app (the column holds 16 characters).
    SECOND_FACTOR_RESET = "code_reset"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class SignInMethod(StrEnum):
    """How the person proved who they are."""

    PASSWORD = "password"
    # The password and a one-time code from their app (or a recovery code).
    PASSWORD_TOTP = "password_totp"
    # The council's identity provider (OpenID Connect), with its own multi-factor rules.
    SINGLE_SIGN_ON = "single_sign_on"


class StaffSession(SQLModel, table=True):
    __tablename__ = "staff_session"
    __table_args__ = (sa.Index("ix_staff_session_staff_ended", "staff_id", "ended_at"),)

    id: int | None = Field(default=None, primary_key=True)
    # sha256 of the cookie's random token (hex). The token has 256 bits, so no salt is needed.
    token_hash: str = Field(max_length=64, unique=True)
    staff_id: int = Field(foreign_key="staff_user.id", ondelete="CASCADE")
    method: SignInMethod = enum_column(SignInMethod)
    created_at: datetime = created_at_field()
    last_seen_at: datetime
    # Refused from these moments on, whatever else happens.
    expires_at: datetime
    idle_expires_at: datetime
    ended_at: datetime | None = None
    end_reason: SessionEndReason | None = enum_column(SessionEndReason, default=None, nullable=True)


class SignInCounter(SQLModel, table=True):
    """Consecutive failed sign-ins for one key (an email typed, an address, or both)."""

    __tablename__ = "sign_in_throttle"

    key_hash: str = Field(primary_key=True, max_length=64)
    # The hash of the email's own key, on the email's row and on its per-address rows, so an
    # admin can clear them all without knowing the addresses.
    account_hash: str | None = Field(default=None, max_length=64, index=True)
    failures: int = 0
    last_failure_at: datetime = Field(index=True)
    # No attempt on this key is checked before this moment. Also set briefly while an attempt
    # that could start a delay is being checked, so parallel attempts cannot slip past it.
    next_attempt_at: datetime
