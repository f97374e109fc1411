"""Run Alembic from code: `fostercrm db upgrade`, tests, and `fostercrm up`."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from crm.sealing import SecretBox
from crm.settings import PROJECT_ROOT


def alembic_config(database_url: str, *, secret_box: SecretBox | None = None) -> Config:
    """Alembic's configuration for this database. `secret_box` seals (and, going down, opens)
    the one-time code apps' secrets in 0028_totp_sealed; without it that migration builds one
    from the environment's settings when it has any to change."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    if secret_box is not None:
        config.attributes["secret_box"] = secret_box
    return config


def upgrade(
    database_url: str, revision: str = "head", *, secret_box: SecretBox | None = None
) -> None:
    command.upgrade(alembic_config(database_url, secret_box=secret_box), revision)
    # Start-up runs this too (`fostercrm up`): a database that has never been analysed (a bulk
    # load, a copy restored from a backup) gets statistics before the first page is served.
    from crm.db import make_engine, refresh_statistics

    engine = make_engine(database_url)
    try:
        refresh_statistics(engine, only_if_missing=True)
    finally:
        engine.dispose()


def heads(database_url: str = "sqlite://") -> list[str]:
    return list(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())
