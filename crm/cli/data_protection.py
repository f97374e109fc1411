"""`fostercrm data-protection`: the retention rule."""

from __future__ import annotations

import click

from crm.cli.common import cli_settings, friendly_errors


@click.group("data-protection")
def data_protection() -> None:
    """Data protection: the retention rule."""


@data_protection.command("apply-retention")
@friendly_errors
def apply_retention_command() -> None:
    """Anonymise households that left longer ago than the retention rule (the scheduler runs
    this nightly; safe to run again)."""
    from crm.db import make_engine, session_scope
    from crm.services.actors import Actor
    from crm.services.data_protection import apply_retention

    settings = cli_settings()
    engine = make_engine(settings.database.url)
    try:
        with session_scope(engine) as session:
            done = apply_retention(session, Actor.system("retention rule"), settings)
    finally:
        engine.dispose()
    months = settings.retention.anonymise_closed_after_months
    click.echo(f"Anonymised {done} household(s) closed more than {months} months ago.")
