"""`fostercrm demo-data`: made-up households for trying the product (never for live use)."""

from __future__ import annotations

import click

from crm.cli.common import cli_engine, cli_settings, friendly_errors, upgrade_database

DEMO_HOUSEHOLDS = 2000


@click.command("demo-data")
@click.option(
    "--households",
    type=click.IntRange(1, 2_000_000),
    default=DEMO_HOUSEHOLDS,
    show_default=True,
    help="How many households to create.",
)
@click.option(
    "--seed", type=int, default=1, show_default=True, help="Same seed and date, same data."
)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="The day the demo histories run up to (default: today).",
)
@friendly_errors
def demo_data(households: int, seed: int, as_of) -> None:  # noqa: ANN001
    """Fill the database with realistic, made-up demo data (never for live use)."""
    from crm.db import refresh_statistics
    from crm.demo import generate

    settings = cli_settings()
    upgrade_database(settings)
    with cli_engine(settings) as engine:
        summary = generate(
            engine,
            settings,
            households=households,
            seed=seed,
            as_of=as_of.date() if as_of else None,
            progress=True,
        )
        if engine.dialect.name == "postgresql":
            # generate() analysed the tables; VACUUM too marks the pages all-visible, so counts
            # and the carers list read narrow indexes alone.
            refresh_statistics(engine)
    click.echo(summary.describe())
