"""`fostercrm import tracker` and `fostercrm report funnel|weekly`.

Thin: the work is in funnel.importer, funnel.metrics and funnel.report. Errors end the command
with one readable line and a non-zero exit (click.ClickException). crm.cli picks up COMMANDS.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from sqlmodel import Session

from funnel.periods import IsoWeek, Period


def _settings():
    # Imported here: crm.cli imports this module while it is itself being imported.
    from crm.cli import cli_settings

    return cli_settings()


def _engine(settings):
    from crm.cli import cli_engine

    return cli_engine(settings)


def _area_ids(session: Session, area: str | None) -> list[int] | None:
    if not area:
        return None
    from funnel.load import resolve_area_ids

    try:
        return resolve_area_ids(session, [area])
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


# -- import -------------------------------------------------------------------------------


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

    settings = _settings()
    progress = tqdm(desc="Importing", unit=" rows", disable=not sys.stderr.isatty(), leave=False)
    with _engine(settings) as engine, Session(engine) as session:
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


# -- reports ------------------------------------------------------------------------------


@click.group("report")
def report_group() -> None:
    """Funnel reports for managers."""


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _days(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def _print_funnel(summary: dict, data, labels: dict[str, str]) -> None:  # noqa: ANN001
    area = summary["area"] or "all areas"
    as_of = data.as_of.tz_convert(data.tz).strftime("%-d %B %Y, %H:%M")
    click.echo(
        f"Enquiries from {summary['from']} to {summary['to']} ({area}): "
        f"{summary['cohort_size']:,} households, as at {as_of}"
    )
    click.echo("")
    header = f"{'Stage':<15}{'Reached':>9}{'From previous':>15}{'From enquiry':>14}"
    header += f"{'Median days':>13}{'75th pct':>10}"
    click.echo(header)
    click.echo("-" * len(header))
    total = summary["cohort_size"]
    previous = None
    for stage, count in summary["reached"].items():
        step = "" if previous is None else _pct(count / previous if previous else None)
        click.echo(
            f"{labels[stage]:<15}{count:>9,}{step:>15}"
            f"{_pct(count / total if total else None):>14}"
            f"{_days(summary['median_days_from_enquiry'][stage]):>13}"
            f"{_days(summary['p75_days_from_enquiry'][stage]):>10}"
        )
        previous = count
    contact = summary["first_contact"]
    median = contact["median_working_days"]
    click.echo("")
    click.echo(
        f"First contact: {contact['contacted_within_target']:,} of "
        f"{contact['contacted'] + contact['waiting_past_target']:,} within the target "
        f"({_pct(contact['share_within_target'])}); {contact['waiting_past_target']:,} still "
        f"waiting past it; median {_days(median)} working day{'' if median == 1 else 's'}."
    )
    for title, key, kind in (
        ("Withdrew", "withdrawn_by_reason", "withdrawn"),
        ("Not progressed", "not_progressed_by_reason", "not_progressed"),
    ):
        reasons = summary[key]
        text = ", ".join(f"{data.reason_label(kind, k)} {v:,}" for k, v in reasons.items())
        click.echo(f"{title}: {sum(reasons.values()):,}" + (f" ({text})" if text else ""))
    click.echo("")
    click.echo(f"{'Source':<36}{'Enquiries':>10}{'Visits':>8}{'Applied':>9}{'Approved':>10}")
    for key, counts in summary["by_source"].items():
        click.echo(
            f"{data.source_label(None if key == 'not_recorded' else key)[:35]:<36}"
            f"{counts['enquiry']:>10,}{counts['initial_visit']:>8,}"
            f"{counts['application']:>9,}{counts['approved']:>10,}"
        )


@report_group.command("funnel")
@click.option(
    "--from",
    "from_",
    required=True,
    type=click.DateTime(["%Y-%m-%d"]),
    help="First day of enquiries (YYYY-MM-DD).",
)
@click.option(
    "--to",
    "to",
    required=True,
    type=click.DateTime(["%Y-%m-%d"]),
    help="Last day of enquiries (YYYY-MM-DD), included.",
)
@click.option("--area", default=None, help="Only this area (its name).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def report_funnel(from_: datetime, to: datetime, area: str | None, as_json: bool) -> None:
    """The cohort funnel: of the households that enquired between --from and --to, how many
    reached each stage, how fast, where the rest stopped and why, and by source."""
    from funnel import metrics
    from funnel.config import load_funnel_config
    from funnel.load import load_funnel_data

    if to.date() < from_.date():
        raise click.ClickException("--to is before --from")
    settings = _settings()
    with _engine(settings) as engine, Session(engine) as session:
        area_ids = _area_ids(session, area)
        data = load_funnel_data(session, area_ids=area_ids, tz=settings.service.timezone)
    summary = metrics.funnel_summary(
        data, Period(from_.date(), to.date()), metrics.ResponseRule.from_settings(settings)
    )
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    config = load_funnel_config()
    labels = {stage: config.stage_label(stage) for stage in summary["reached"]}
    _print_funnel(summary, data, labels)


@report_group.command("weekly")
@click.option("--week", default=None, help="ISO week, e.g. 2026-W10 (default: last full week).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write the HTML, the charts (PNG) and the CSV into this folder.",
)
@click.option(
    "--send",
    is_flag=True,
    help="Email it to the managers (through the outbox), each for the areas they work in.",
)
@click.option("--area", default=None, help="Only this area (its name); with --send, too.")
def report_weekly(week: str | None, out: Path | None, send: bool, area: str | None) -> None:
    """The weekly manager report: headline numbers, what changed, what needs attention, and
    the tables and charts behind them. Prints the summary; --out writes the full report.

    --send queues one email per recipient: every active manager, for the areas they work in,
    and the [report] recipients that are active managers' or admins' accounts. Any other
    address gets nothing (the command says how many). With --area, only that area, and only
    to those who work in it."""
    from crm import clock
    from funnel.report import load_weekly_report, render_text, write_report_files

    settings = _settings()
    tz = settings.service.timezone
    try:
        chosen = IsoWeek.parse(week) if week else IsoWeek.last_complete(clock.now(), tz)
    except ValueError as exc:
        raise click.ClickException(f"--week: {exc}") from None
    if chosen.monday > clock.now().astimezone(ZoneInfo(tz)).date():
        raise click.ClickException(f"--week: {chosen} has not started yet")
    with _engine(settings) as engine, Session(engine) as session:
        area_ids = _area_ids(session, area)
        report = load_weekly_report(
            session, settings, chosen, area_ids=area_ids, with_charts=bool(out)
        )
        session.rollback()
        footer = "" if out else "For the full report with charts, add --out DIR."
        click.echo(render_text(report, footer), nl=False)
        if out:
            paths = write_report_files(report, out)
            click.echo(f"\nWrote {len(paths)} files to {out}:")
            for path in paths:
                click.echo(f"  {path.name}")
        if send:
            _queue_weekly(session, settings, chosen, area, area_ids)


def _queue_weekly(
    session: Session,
    settings,  # noqa: ANN001
    chosen: IsoWeek,
    area: str | None,
    area_ids: list[int] | None,
) -> None:
    """Queue this week's report for each recipient, for the areas they may read."""
    from crm import clock
    from crm.models import Channel
    from crm.services.outbox import enqueue_message
    from crm.services.reports import (
        EMAIL_TEMPLATE,
        outbox_key,
        outbox_payload,
        weekly_report_recipients,
    )

    audience = weekly_report_recipients(session, settings, area_ids=area_ids)
    # Counts, never addresses: they are personal data and this output may end up in a log.
    left_out = []
    if audience.without_access:
        left_out.append(
            f"{audience.without_access} address(es) with no active manager's or admin's "
            "account got nothing"
        )
    if audience.outside_areas:
        left_out.append(
            f"{audience.outside_areas} manager(s) who do not work in {area} were left out"
        )
    if not audience.recipients:
        raise click.ClickException(
            "No one to send it to: "
            + (
                f"no active manager or admin among the recipients works in {area}"
                if area
                else "no active manager, and no [report] recipients address belongs to an "
                "active manager or admin"
            )
            + (f" ({'; '.join(left_out)})" if left_out else "")
        )
    queued = 0
    for recipient in audience.recipients:
        message = enqueue_message(
            session,
            channel=Channel.EMAIL,
            recipient=recipient.address,
            template=EMAIL_TEMPLATE,
            payload=outbox_payload(chosen, area_ids),
            due_at=clock.now(),
            unique_key=outbox_key(chosen, recipient.address, area_ids),
            staff_id=recipient.staff_id,
        )
        queued += message is not None
    session.commit()
    already = len(audience.recipients) - queued
    click.echo(
        f"\nQueued for {queued} recipient(s); the outbox dispatcher sends it"
        + (f" ({already} already had this week's report)." if already else ".")
    )
    for line in left_out:
        click.echo(f"Not sent: {line}.")


COMMANDS = [import_group, report_group]
