"""`fostercrm report funnel|weekly`: the funnel reports for managers.

Thin: the work is in funnel.metrics and funnel.report. Errors end the command with one readable
line and a non-zero exit (click.ClickException).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click
from sqlmodel import Session

from crm.cli.common import cli_engine, cli_settings

if TYPE_CHECKING:
    # funnel imports pandas, which takes a second: only inside the commands that need it.
    from funnel.periods import IsoWeek


def _area_ids(session: Session, area: str | None) -> list[int] | None:
    if not area:
        return None
    from funnel.load import resolve_area_ids

    try:
        return resolve_area_ids(session, [area])
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


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
    from funnel import assessment, metrics
    from funnel.config import load_check_kinds, load_funnel_config
    from funnel.load import load_funnel_data
    from funnel.periods import Period

    if to.date() < from_.date():
        raise click.ClickException("--to is before --from")
    settings = cli_settings()
    with cli_engine(settings) as engine, Session(engine) as session:
        area_ids = _area_ids(session, area)
        data = load_funnel_data(session, area_ids=area_ids, tz=settings.service.timezone)
    period = Period(from_.date(), to.date())
    summary = metrics.funnel_summary(data, period, metrics.ResponseRule.from_settings(settings))
    summary["assessment"] = assessment.summary(
        data,
        period,
        settings.stage_target_days.model_dump(),
        at_risk_days=settings.panel.at_risk_days,
        deadline_months=settings.reminders.panel_deadline_months,
        kinds=load_check_kinds(),
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
    from funnel.periods import IsoWeek
    from funnel.report import load_weekly_report, render_text, write_report_files

    settings = cli_settings()
    tz = settings.service.timezone
    try:
        chosen = IsoWeek.parse(week) if week else IsoWeek.last_complete(clock.now(), tz)
    except ValueError as exc:
        raise click.ClickException(f"--week: {exc}") from None
    if chosen.monday > clock.now().astimezone(ZoneInfo(tz)).date():
        raise click.ClickException(f"--week: {chosen} has not started yet")
    with cli_engine(settings) as engine, Session(engine) as session:
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
    from crm.services.actors import Actor
    from crm.services.reports import queue_weekly_report

    result = queue_weekly_report(
        session,
        settings,
        week_ending=chosen.sunday,
        area_ids=area_ids,
        actor=Actor.system("command line"),
    )
    # Counts, never addresses: they are personal data and this output may end up in a log.
    left_out = []
    if result.without_access:
        left_out.append(
            f"{result.without_access} address(es) with no active manager's or admin's "
            "account got nothing"
        )
    if result.outside_areas:
        left_out.append(
            f"{result.outside_areas} manager(s) who do not work in {area} were left out"
        )
    if not result.recipients:
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
    already = result.already_queued
    click.echo(
        f"\nQueued for {result.queued} recipient(s); the outbox dispatcher sends it"
        + (f" ({already} already had this week's report)." if already else ".")
    )
    for line in left_out:
        click.echo(f"Not sent: {line}.")
