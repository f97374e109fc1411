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
@click.option(
    "--mapping",
    "mapping_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A TOML file saying which column is which, what list values mean, date order.",
)
@click.option(
    "--create-missing",
    is_flag=True,
    help="Add unknown sources, campaigns and reasons to the lists, in the file's wording.",
)
@click.option("--sheet", help='The sheet to import (a workbook with several), or "all".')
@click.option("--header-row", type=click.IntRange(min=1), help="The row the headings are on.")
@click.option("--skip-invalid", is_flag=True, help="Import the good rows and list the bad ones.")
@click.option(
    "--dry-run", is_flag=True, help="Check the file and say what would happen; change nothing."
)
@click.option("--verbose", "-v", is_flag=True, help="List every row, not just the ones to look at.")
def import_tracker_command(
    file: Path,
    mapping_file: Path | None,
    create_missing: bool,
    sheet: str | None,
    header_row: int | None,
    skip_invalid: bool,
    dry_run: bool,
    verbose: bool,
) -> None:
    """Import a recruitment tracker spreadsheet (CSV, Excel or OpenDocument).

    The header row is found below any title rows, and columns are recognised by the names
    teams use ("Ref", "Date of enquiry", "Surname", "How did you hear about us", "IV date",
    "Stage 1 start", "Panel", "Withdrawn", "Reason"...; config/imports.toml). Anything else is
    said in the mapping file. A column left unmapped that holds dates or is named like a stage
    stops the import until it is mapped or ignored. Dates may be 01/02/2023 (day first), 1 Feb
    23, 2023-02-01 or Excel dates. The whole file is checked first: if any row is bad nothing
    is imported (unless --skip-invalid), and the import is one transaction. Importing the same
    file again changes nothing; an updated tracker adds only what is new.
    """
    from tqdm import tqdm

    from crm.services.errors import ServiceError
    from crm.services.imports.columns import TrackerError
    from crm.services.imports.mapping import ImportMapping, MappingError
    from crm.services.imports.tracker import import_tracker

    settings = cli_settings()
    try:
        mapping = ImportMapping.from_toml(mapping_file) if mapping_file else ImportMapping()
    except MappingError as exc:
        raise click.ClickException(str(exc)) from None
    if sheet is not None:
        mapping.sheet = sheet
    if header_row is not None:
        mapping.header_row = header_row
    progress = tqdm(desc="Checking", unit=" rows", disable=not sys.stderr.isatty(), leave=False)
    with cli_engine(settings) as engine, Session(engine) as session:
        try:
            report = import_tracker(
                session,
                settings,
                file,
                mapping=mapping,
                create_missing=create_missing,
                skip_invalid=skip_invalid,
                dry_run=dry_run,
                on_row=progress.update,
            )
        except (TrackerError, MappingError, ServiceError) as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            progress.close()
    for line in report.explanations():
        click.echo(line, err=True)
    for problem in report.problems:
        click.echo(str(problem), err=True)
    for result in report.results:
        if verbose or result.status in ("duplicate", "conflict"):
            click.echo(str(result))
    if report.failed or (not report.imported and not report.dry_run):
        raise click.ClickException(report.summary())
    click.echo(report.summary())
