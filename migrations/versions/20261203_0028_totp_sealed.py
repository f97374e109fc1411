"""totp sealed: the one-time code apps' secrets encrypted at rest

staff_totp.secret (the base32 secret in plain text) becomes staff_totp.secret_sealed, a Fernet
token (crm.sealing) sealed with FOSTERCRM_MFA_KEY, or a key derived from FOSTERCRM_SECRET_KEY.
Every existing secret is sealed on the way up, so apps already set up keep working; the way
down opens them again. Either way needs the key when there are rows: the caller passes the box
(`crm.migrate.upgrade(..., secret_box=...)`, as `fostercrm db upgrade` and `up` do), or it is
built from the environment's settings. last_used_step (a code is never accepted twice) is
already there, from 0017_prod.

Revision ID: 0028_totp_sealed
Revises: 0021_carer_status
Create Date: 2026-12-03 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import context, op

revision: str = "0028_totp_sealed"
down_revision: str | None = "0021_carer_status"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOTP = sa.table(
    "staff_totp",
    sa.column("staff_id", sa.Integer()),
    sa.column("secret", sa.String()),
    sa.column("secret_sealed", sa.String()),
)


def _box():  # noqa: ANN202
    given = context.config.attributes.get("secret_box")
    if given is not None:
        return given
    from crm.settings import SettingsError, load_settings

    try:
        return load_settings().secret_box()
    except SettingsError as exc:
        raise RuntimeError(
            f"staff_totp has secrets to seal or open, and no key to do it with: {exc}"
        ) from None


def _rewrite(read: str, write: str, change) -> None:  # noqa: ANN001
    connection = op.get_bind()
    rows = connection.execute(sa.select(TOTP.c.staff_id, TOTP.c[read])).all()
    if not rows:
        return
    box = _box()
    for staff_id, value in rows:
        connection.execute(
            sa.update(TOTP).where(TOTP.c.staff_id == staff_id).values({write: change(box, value)})
        )


def upgrade() -> None:
    with op.batch_alter_table("staff_totp") as batch:
        batch.add_column(
            sa.Column("secret_sealed", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True)
        )
    _rewrite("secret", "secret_sealed", lambda box, secret: box.seal(secret))
    with op.batch_alter_table("staff_totp") as batch:
        batch.alter_column(
            "secret_sealed",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=255),
            nullable=False,
        )
        batch.drop_column("secret")


def downgrade() -> None:
    with op.batch_alter_table("staff_totp") as batch:
        batch.add_column(
            sa.Column("secret", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
    _rewrite("secret_sealed", "secret", lambda box, sealed: box.open(sealed))
    with op.batch_alter_table("staff_totp") as batch:
        batch.alter_column(
            "secret", existing_type=sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        )
        batch.drop_column("secret_sealed")
