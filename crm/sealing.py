"""Secrets we must be able to read back, sealed at rest: the shared secret of each member of
staff's one-time code app (crm.services.second_factor) cannot be a hash, so it is encrypted
with Fernet (AES-128-CBC with an HMAC-SHA256, from the `cryptography` library) before it is
stored, and a copy of the database alone gives nobody anyone's codes.

The key comes from the environment, never the database:
- `FOSTERCRM_MFA_KEY`: one or more Fernet keys, comma-separated
  (`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`).
  The first seals; every one opens, so a new key goes first and the old one stays after it
  until nothing sealed with it is left.
- otherwise a key derived (HKDF-SHA256) from `FOSTERCRM_SECRET_KEY`. It still opens what it
  sealed once FOSTERCRM_MFA_KEY is set, so a service can move to a dedicated key without
  anyone setting up their app again; but while it is the only key, changing the secret key
  makes every app unreadable (admins then reset everyone's second factor).
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_DERIVATION_INFO = b"fostercrm: one-time code app secrets"


class SealingKeyError(ValueError):
    """No key, or a key of the wrong shape; the message names the variable."""


class Unreadable(Exception):
    """A sealed value no key opens (the keys changed, or the value was tampered with)."""


def derived_key(secret_key: str) -> bytes:
    """The Fernet key derived from FOSTERCRM_SECRET_KEY."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_DERIVATION_INFO).derive(
        secret_key.encode()
    )
    return base64.urlsafe_b64encode(raw)


def _fernet(key: str) -> Fernet:
    try:
        return Fernet(key.strip().encode())
    except ValueError:
        raise SealingKeyError(
            "FOSTERCRM_MFA_KEY: not a Fernet key (32 bytes in URL-safe base64, 44 characters)"
        ) from None


class SecretBox:
    """Seals text with the first key, opens it with any of them."""

    def __init__(self, keys: list[Fernet]) -> None:
        if not keys:
            raise SealingKeyError(
                "FOSTERCRM_MFA_KEY or FOSTERCRM_SECRET_KEY: one is needed to seal one-time "
                "code app secrets"
            )
        self._keys = MultiFernet(keys)

    def seal(self, text: str) -> str:
        return self._keys.encrypt(text.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._keys.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise Unreadable("no key opens this sealed value") from None


def box_from(mfa_key: str | None, secret_key: str | None) -> SecretBox:
    """The box for FOSTERCRM_MFA_KEY (its keys in order) and, after them, the key derived from
    FOSTERCRM_SECRET_KEY; SealingKeyError when neither is set."""
    keys = [_fernet(part) for part in (mfa_key or "").split(",") if part.strip()]
    if secret_key:
        keys.append(Fernet(derived_key(secret_key)))
    return SecretBox(keys)
