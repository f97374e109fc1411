"""`fostercrm import tracker`: bring in a recruitment tracker kept elsewhere.

Thin: the work is in crm.services.imports. Errors end the command with one readable line and a
non-zero exit (click.ClickException).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlmodel import Session

from crm.cli.common import cli_engine, cli_settings


@click.group("import")
def import_group() -> None:
    """Bring in records kept elsewhere."""


@import_group.command("tracker")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Import the good rows and list the bad ones.")
@click.option(
    "--dry-run", is_flag=True, help="Check the file and say what would happen; change nothing."
)
@click.option("--verbose", "-v", is_flag=True, help="List every row, not just the ones to look at.")
def import_tracker_command(file: Path, skip_invalid: bool, dry_run: bool, verbose: bool) -> None:
    """Import a recruitment tracker spreadsheet (CSV or Excel).

    Columns: reference, enquiry_date, first_name, last_name, email, phone, postcode, area,
    source, campaign, first_contact_date, initial_visit_date, application_date,
    stage_one_date, stage_two_date, panel_date, approval_date, withdrawn_date,
    withdrawn_reason, not_progressed_date, not_progressed_reason. Dates as YYYY-MM-DD or
    DD/MM/YYYY; an empty date means the stage was not reached. The whole file is checked
    first: if any row is bad nothing is imported (unless --skip-invalid). Importing the same
    file again changes nothing; an updated tracker adds only what is new.
    """
    from tqdm import tqdm

    from crm.services.imports.columns import TrackerError
    from crm.services.imports.tracker import import_tracker

    settings = cli_settings()
    progress = tqdm(desc="Importing", unit=" rows", disable=not sys.stderr.isatty(), leave=False)
    with cli_engine(settings) as engine, Session(engine) as session:
        try:
            report = import_tracker(
                session,
                settings,
                file,
                skip_invalid=skip_invalid,
                dry_run=dry_run,
                on_row=progress.update,
            )
        except TrackerError as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            progress.close()
    if report.ignored_columns:
        click.echo(f"Columns not used: {', '.join(report.ignored_columns)}", err=True)
    for problem in report.problems:
        click.echo(str(problem), err=True)
    if report.dry_run:
        for result in report.results:
            if verbose or result.status in ("duplicate", "conflict"):
                click.echo(str(result))
        click.echo(report.summary())
        return
    if not report.imported:
        raise click.ClickException(report.summary())
    for result in report.results:
        if verbose or result.status in ("duplicate", "conflict", "failed"):
            click.echo(str(result))
    click.echo(report.summary())
    if report.count("failed"):
        raise click.ClickException(
            f"{report.count('failed')} row(s) could not be imported; see above. "
            "Importing the file again retries them."
        )
