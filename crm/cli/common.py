"""What every command shares: settings, the engine, the database upgrade, and the rule that
bad input or a bad setting ends a command with one readable line and a non-zero exit."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
import sqlalchemy as sa
from sqlmodel import Session

from crm.settings import Settings, SettingsError, load_settings


def friendly_errors(func: Callable) -> Callable:
    """Turn our errors into one line on stderr and exit status 1."""
    from crm.services.errors import ServiceError

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (SettingsError, ServiceError) as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def cli_settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def safe_url(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)


@contextmanager
def cli_engine(settings: Settings) -> Iterator[sa.Engine]:
    from crm.db import make_engine

    engine = make_engine(settings.database.url)
    try:
        yield engine
    finally:
        engine.dispose()


def upgrade_database(settings: Settings, *, secret_key: str | None = None) -> str:
    """Migrate to the newest schema; `secret_key` is the one the web will use when it is not
    in the settings (`up --demo`), so the one-time code apps' secrets are sealed with the key
    that will open them."""
    from crm.migrate import upgrade
    from crm.services.reference import ensure_reference_data

    try:
        box = settings.secret_box(secret_key)
    except SettingsError:
        box = None  # an empty database needs none; one with secrets says which key is missing
    upgrade(settings.database.url, secret_box=box)
    with cli_engine(settings) as engine, Session(engine) as session:
        ensure_reference_data(session)
        versions = session.exec(sa.text("SELECT version_num FROM alembic_version")).all()
        return ", ".join(sorted(row[0] for row in versions))
