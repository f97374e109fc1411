"""A member of staff's second factor: a time-based one-time code app, and recovery codes.

`staff_totp` holds the app's shared secret (the code app and we both need it; it cannot be a
hash) from the moment enrolment starts, sealed with a key from the environment (crm.sealing:
a Fernet token, never the secret itself); `confirmed_at` is set once a first code from the app
proves it was scanned. `last_used_step` is the 30-second step of the last code accepted, so a
code (or an older one) is never accepted twice: a code read over someone's shoulder is spent.

`staff_recovery_code` keeps only the sha256 of each recovery code (80 random bits: no salt or
slow hash is needed, as for session tokens); each is used once.
"""

from datetime import datetime

from sqlmodel import Field, SQLModel

from crm.models.base import created_at_field


class StaffTotp(SQLModel, table=True):
    __tablename__ = "staff_totp"

    staff_id: int = Field(foreign_key="staff_user.id", primary_key=True, ondelete="CASCADE")
    # A Fernet token of the base32 secret (140 characters for today's 32-character secrets).
    secret_sealed: str = Field(max_length=255)
    created_at: datetime = created_at_field()
    confirmed_at: datetime | None = None
    last_used_step: int | None = None


class StaffRecoveryCode(SQLModel, table=True):
    __tablename__ = "staff_recovery_code"

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staff_user.id", index=True, ondelete="CASCADE")
    code_hash: str = Field(max_length=255)
    created_at: datetime = created_at_field()
    used_at: datetime | None = None
