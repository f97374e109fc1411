"""`fostercrm db`: the database schema."""

from __future__ import annotations

import click
import sqlalchemy as sa

from crm.cli.common import cli_settings, friendly_errors, safe_url, upgrade_database


@click.group()
def db() -> None:
    """Database commands."""


@db.command("upgrade")
@friendly_errors
def db_upgrade() -> None:
    """Create or migrate the database to the newest schema."""
    settings = cli_settings()
    try:
        version = upgrade_database(settings)
    except sa.exc.OperationalError as exc:
        raise click.ClickException(
            f"database {safe_url(settings.database.url)}: cannot connect ({exc.orig})"
        ) from None
    click.echo(f"Database {safe_url(settings.database.url)} is at revision {version}.")
