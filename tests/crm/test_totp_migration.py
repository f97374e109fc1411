"""0028_totp_sealed: an app set up while its secret was kept in plain text still gives codes
that sign in after the upgrade, with the secret sealed; the way down opens it again; and with
secrets to seal but no key, the upgrade stops saying which key is missing."""

from __future__ import annotations

import os

import pyotp
import pytest
import sqlalchemy as sa
from alembic import command
from cryptography.fernet import Fernet
from sqlmodel import Session
from sqlmodel.sql.sqltypes import UTCDateTime

from crm import clock
from crm.db import make_engine
from crm.migrate import alembic_config, upgrade
from crm.sealing import Unreadable, box_from
from crm.services import second_factor
from crm.services.throttle import DatabaseThrottleStore, SignInThrottle
from crm.testing.fixtures import drop_postgres_schema, postgres_url

BEFORE = "0021_carer_status"
SECRET = pyotp.random_base32(32)
STAFF = sa.table(
    "staff_user", *(sa.column(c) for c in ("id", "email", "name", "role", "password_hash",
                                           "active")),
    sa.column("created_at", UTCDateTime()),
)  # fmt: skip
PLAIN_TOTP = sa.table(
    "staff_totp",
    sa.column("staff_id"),
    sa.column("secret"),
    sa.column("created_at", UTCDateTime()),
    sa.column("confirmed_at", UTCDateTime()),
    sa.column("last_used_step"),
)


@pytest.fixture
def old_database(backend, tmp_path):
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    schema = f"fostercrm_totp_migration_{os.getpid()}"
    yield postgres_url(schema)
    drop_postgres_schema(schema)


def with_a_plain_secret(url: str) -> int:
    upgrade(url, BEFORE)
    engine = make_engine(url)
    now = clock.now()
    try:
        with engine.begin() as conn:
            staff_id = conn.execute(
                sa.insert(STAFF)
                .values(email="m@test.example", name="M", role="manager", password_hash="x",
                        active=True, created_at=now)
                .returning(STAFF.c.id)
            ).scalar_one()  # fmt: skip
            conn.execute(
                sa.insert(PLAIN_TOTP).values(
                    staff_id=staff_id,
                    secret=SECRET,
                    created_at=now,
                    confirmed_at=now,
                    last_used_step=None,
                )
            )
    finally:
        engine.dispose()
    return staff_id


def stored(url: str, column: str) -> str:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(f"SELECT {column} FROM staff_totp")).scalar_one()
    finally:
        engine.dispose()


def test_a_plain_secret_is_sealed_and_its_codes_still_sign_in(old_database):
    staff_id = with_a_plain_secret(old_database)
    box = box_from(Fernet.generate_key().decode(), None)
    upgrade(old_database, "head", secret_box=box)

    sealed = stored(old_database, "secret_sealed")
    assert SECRET not in sealed and box.open(sealed) == SECRET
    engine = make_engine(old_database)
    try:
        with Session(engine) as session:
            import crm.models as m

            user = session.get(m.StaffUser, staff_id)
            throttle = SignInThrottle(DatabaseThrottleStore(session), "test-secret-key-0123")
            code = pyotp.TOTP(SECRET).at(clock.now())

            def check(code: str, box=box):  # noqa: ANN001, ANN202
                return second_factor.check_code(
                    session, user, code, address="198.51.100.70", throttle=throttle, box=box
                )

            assert check(code).ok
            assert not check(code).ok, "a code is accepted once"
            # Another key opens nothing: refused, with a message to get a reset.
            other = box_from(Fernet.generate_key().decode(), None)
            refused = check(pyotp.TOTP(SECRET).at(clock.now(), counter_offset=1), box=other)
            assert not refused.ok and refused.message == second_factor.UNREADABLE
    finally:
        engine.dispose()

    command.downgrade(alembic_config(old_database, secret_box=box), BEFORE)
    assert stored(old_database, "secret") == SECRET


def test_secrets_to_seal_without_a_key_stop_the_upgrade(old_database, monkeypatch):
    with_a_plain_secret(old_database)
    monkeypatch.delenv("FOSTERCRM_SECRET_KEY", raising=False)
    monkeypatch.delenv("FOSTERCRM_MFA_KEY", raising=False)
    with pytest.raises(RuntimeError, match="FOSTERCRM_MFA_KEY or FOSTERCRM_SECRET_KEY"):
        upgrade(old_database, "head")
    assert stored(old_database, "secret") == SECRET, "nothing changed"


def test_the_key_derived_from_the_secret_key_still_opens_after_a_dedicated_key_is_set():
    derived = box_from(None, "a-long-enough-secret-key")
    sealed = derived.seal(SECRET)
    moved = box_from(Fernet.generate_key().decode(), "a-long-enough-secret-key")
    assert moved.open(sealed) == SECRET
    with pytest.raises(Unreadable):
        derived.open(moved.seal(SECRET))
