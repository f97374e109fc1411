"""The weekly manager report as people read it: HTML (with its charts), plain text, CSV and the
email body. Rendering only: the figures, sentences and tables come from funnel.weekly, the
charts from funnel.charts, and nothing here writes to the database.

One report, several outputs: the email with the charts inline and a CSV of the tables attached
(`email_for_report`; crm.services.reports builds it for the outbox dispatcher), files in a
folder (`write_report_files`, for `fostercrm report weekly --out`), and a printable page in
the web CRM. All of them come from `build_weekly_report`.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session

from crm import clock
from crm.exports import SafeCsvWriter
from crm.settings import Settings
from funnel import charts
from funnel.config import FunnelConfig, load_funnel_config
from funnel.frames import FunnelData
from funnel.load import load_funnel_data
from funnel.periods import IsoWeek
from funnel.tables import Table, raw_value
from funnel.weekly import (
    Action,
    Headline,
    Verdict,
    WeeklyTables,
    assessment_summary,
    benchmark_note,
    clip,
    compute_weekly_tables,
    headline_numbers,
    report_as_of,
    report_tables,
    stage_labels,
    summarise,
    top_actions,
    verdicts,
)

TEMPLATES = Path(__file__).resolve().parent / "templates"
STYLESHEET = Path(__file__).resolve().parent / "static" / "weekly_report.css"


@dataclass
class WeeklyReport:
    title: str
    service_name: str
    area_label: str
    week: IsoWeek
    as_of: pd.Timestamp
    generated_at: datetime
    headlines: list[Headline]
    changes: list[str]
    attention: list[str]
    tables: list[Table]
    charts: list[charts.Chart] = field(default_factory=list)
    max_rows: int = 25
    tz: str = "Europe/London"
    verdicts: list[Verdict] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    # The web page of this report (the email links to it).
    page_url: str = ""
    # The assessment measures in a few lines (on the page below the verdicts and the top
    # actions, and in the CSV; not in the email).
    assessment: list[str] = field(default_factory=list)
    # The sources of the national figures the verdicts quote, cited once.
    benchmark_note: str = ""

    @property
    def week_unfinished(self) -> bool:
        """The week had not ended when the figures were read: they are figures so far."""
        return self.as_of < self.week.end_utc(self.tz)

    @property
    def as_of_label(self) -> str:
        return self.as_of.tz_convert(self.tz).strftime("%-d %B %Y, %H:%M")

    @property
    def slug(self) -> str:
        return f"weekly-report-{self.week}"

    @property
    def subject(self) -> str:
        where = "" if self.area_label == "All areas" else f" ({self.area_label})"
        return f"Weekly fostering report{where}: {self.week.label}"

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)

    def chart(self, name: str) -> charts.Chart:
        return next(c for c in self.charts if c.name == name)


def _charts(
    report_tables: list[Table], t: WeeklyTables, config: FunnelConfig
) -> list[charts.Chart]:
    labels = stage_labels(config)
    by_name = {table.name: table for table in report_tables}
    cohort_heading = f"How far enquiries got (mature cohort, {t.mature_period.label})"
    return [
        charts.funnel_chart(t.funnel["reached"], labels, cohort_heading),
        charts.trend_chart(t.enquiries_trend),
        charts.time_to_stage_chart(t.days_to_stage, labels),
        charts.drop_off_chart(
            by_name["drop_off_reasons"].frame.loc[
                lambda f: f["households"] > 0, ["label", "outcome", "households"]
            ]
        ),
        charts.channels_chart(by_name["channels"].frame),
        charts.retention_chart(t.movement),
        charts.check_in_chart(t.check_ins),
    ]


def area_label(names: list[str] | None) -> str:
    """ "All areas", one or two area names, or the first and how many more ("Northshire and 4
    more areas"); each name clipped, so the caption and the subject are bounded."""
    if names is None:
        return "All areas"
    if len(names) <= 2:
        return ", ".join(clip(name) for name in names)
    return f"{clip(names[0])} and {len(names) - 1} more areas"


def build_weekly_report(
    data: FunnelData,
    week: IsoWeek,
    settings: Settings,
    *,
    config: FunnelConfig | None = None,
    with_charts: bool = True,
) -> WeeklyReport:
    """The whole report for `week` from data loaded as at the end of that week."""
    config = config or load_funnel_config()
    t = compute_weekly_tables(data, week, settings, config)
    changes, attention = summarise(t, data, settings, config)
    tables = report_tables(t, data, settings, config)
    said = verdicts(t, data, settings, config)
    return WeeklyReport(
        title=config.report.title,
        service_name=settings.service.name,
        area_label=area_label(data.area_names),
        week=week,
        as_of=data.as_of,
        generated_at=clock.now(),
        headlines=headline_numbers(t),
        verdicts=said,
        benchmark_note=benchmark_note(said, config),
        actions=top_actions(t, settings, config),
        assessment=assessment_summary(t, settings, config),
        page_url=f"{settings.service.public_base_url.rstrip('/')}/reports/weekly/{week}",
        changes=changes,
        attention=attention,
        tables=tables,
        charts=_charts(tables, t, config) if with_charts else [],
        max_rows=config.report.max_rows,
        tz=data.tz,
    )


def load_weekly_report(
    session: Session,
    settings: Settings,
    week: IsoWeek,
    *,
    area_ids: list[int] | None = None,
    config: FunnelConfig | None = None,
    with_charts: bool = True,
    visible: sa.ColumnElement[bool] | None = None,
) -> WeeklyReport:
    """`visible`: the reader's WHERE clause on Household (crm.services.access), for the lists
    that name households (see funnel.load.load_funnel_data)."""
    data = load_funnel_data(
        session,
        as_of=report_as_of(week, settings),
        area_ids=area_ids,
        tz=settings.service.timezone,
        visible=visible,
    )
    return build_weekly_report(data, week, settings, config=config, with_charts=with_charts)


# -- outputs ------------------------------------------------------------------------------


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    return env


def render_html(
    report: WeeklyReport, image_src: Callable[[charts.Chart], str], footer: str = ""
) -> str:
    """The whole report as one HTML document with its styles inside; `image_src` says where
    each chart's PNG is (a file name next to the HTML)."""
    return (
        _environment()
        .get_template("funnel/weekly_report.html")
        .render(
            report=report,
            image_src=image_src,
            case_url=None,
            css=STYLESHEET.read_text(encoding="utf-8"),
            footer=footer,
        )
    )


# The four charts the email carries (the page has them all).
EMAIL_CHARTS = ("enquiries_trend", "funnel", "drop_off", "retention")


def render_email_html(
    report: WeeklyReport, image_src: Callable[[charts.Chart], str], footer: str = ""
) -> str:
    """The short email: verdicts, the top actions, a link to the page and four charts."""
    return (
        _environment()
        .get_template("funnel/weekly_email.html")
        .render(
            report=report,
            image_src=image_src,
            email_charts=list(EMAIL_CHARTS) if report.charts else [],
            css=STYLESHEET.read_text(encoding="utf-8"),
            footer=footer,
        )
    )


EMAIL_TEXT_FOOTER = "Every table is attached as a CSV file."

# The email's bounds, whatever the size of the data (funnel/README.md, "The weekly email"):
# its HTML part's visible text (tags stripped, whitespace collapsed) and its text part, in
# characters. Every list in it holds at most three households and every name from the data
# is clipped (funnel.weekly.clip), so neither grows with the number of households or areas.
EMAIL_MAX_HTML_TEXT = 2_500
EMAIL_MAX_TEXT_PART = 2_800


class _VisibleText(HTMLParser):
    """The text a reader sees: every text node outside <head>, <style> and <script>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("head", "style", "script", "title"):
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("head", "style", "script", "title") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    """An HTML document's visible text, tags stripped and whitespace collapsed: what
    EMAIL_MAX_HTML_TEXT bounds."""
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    return " ".join(" ".join(parser.parts).split())


def render_text(report: WeeklyReport, footer: str = EMAIL_TEXT_FOOTER) -> str:
    """The email's text part: the verdicts, the top actions, the headline numbers (one short
    line each, no padding) and the link to the page."""
    lines = [
        report.title,
        f"{report.service_name} · {report.area_label}",
        f"{report.week.title}. Figures as at {report.as_of_label}.",
        "",
    ]
    if report.week_unfinished:
        lines += ["This week is not over yet: these are the figures so far.", ""]
    lines += ["The five questions"]
    lines += [f"- {v.status_label}: {v.text}" for v in report.verdicts]
    if report.benchmark_note:
        lines += [report.benchmark_note]
    lines += ["", "Top actions"]
    lines += [f"{i}. {a.text}" for i, a in enumerate(report.actions, 1)] or ["- Nothing overdue."]
    lines += ["", "This week (last week, change; average of the 4 weeks before)"]
    for h in report.headlines:
        label, this_week, last_week, change, average = h.cells()
        lines.append(f"- {label}: {this_week} ({last_week}, {change}; {average})")
    lines += ["", f"The full report: {report.page_url}"]
    if footer:
        lines += [footer]
    return "\n".join(lines) + "\n"


def report_csv(report: WeeklyReport) -> str:
    """Every table of the report in one CSV: a title line, a header row, the rows, a blank
    line. Shares are fractions (0.25), money in pounds, dates YYYY-MM-DD; text that would run
    as a spreadsheet formula starts with an apostrophe (crm.exports)."""
    buffer = io.StringIO()
    # Text from staff and settings (reasons, campaign names, why a carer is at risk) must not
    # run as a formula when a manager opens the file.
    writer = SafeCsvWriter(buffer, lineterminator="\r\n")
    writer.writerow([report.title])
    writer.writerow([report.service_name, report.area_label, str(report.week)])
    writer.writerow([f"Figures as at {report.as_of.isoformat()}"])
    writer.writerow([])
    writer.writerow(["Summary"])
    for sentence in [
        *(v.text for v in report.verdicts),
        *([report.benchmark_note] if report.benchmark_note else []),
        *report.assessment,
        *report.changes,
        *report.attention,
    ]:
        writer.writerow([sentence])
    writer.writerow([])
    writer.writerow(["Headline numbers"])
    writer.writerow(["Measure", "This week", "Last week", "4-week average"])
    for h in report.headlines:
        kind = "pct" if h.kind == "pct" else "number"
        writer.writerow(
            [
                h.label,
                raw_value(h.this_week, h.kind),
                raw_value(h.last_week, h.kind),
                raw_value(h.average_4_weeks, kind),
            ]
        )
    for table in report.tables:
        writer.writerow([])
        writer.writerow([table.title])
        writer.writerow([c.heading for c in table.columns])
        writer.writerows(table.raw_rows())
    return buffer.getvalue()


def write_report_files(report: WeeklyReport, out_dir: Path) -> list[Path]:
    """The HTML (charts beside it as PNG files), the PNGs and the CSV, in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for chart in report.charts:
        path = out_dir / f"{report.week}-{chart.filename}"
        path.write_bytes(chart.png)
        written.append(path)
    html = render_html(
        report,
        lambda chart: f"{report.week}-{chart.filename}",
        footer=f"The tables are in {report.slug}.csv beside this file.",
    )
    html_path = out_dir / f"{report.slug}.html"
    html_path.write_text(html, encoding="utf-8")
    csv_path = out_dir / f"{report.slug}.csv"
    csv_path.write_text(report_csv(report), encoding="utf-8-sig")
    return [html_path, *written, csv_path]


def email_for_report(
    report: WeeklyReport, recipients: list[str], from_address: str
) -> EmailMessage:
    """The report as an email: text and HTML alternatives, the charts as inline PNG parts the
    HTML refers to by Content-ID, and the CSV attached."""
    if not recipients:
        raise ValueError("the weekly report needs at least one recipient")
    domain = from_address.split("@")[-1] or "fostercrm.invalid"
    message = EmailMessage()
    message["Subject"] = report.subject
    message["From"] = from_address
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(report.generated_at.timestamp(), localtime=False)
    # No Message-ID: the sender (the outbox dispatcher's email channel) gives one.
    message.set_content(render_text(report))
    # Short Content-IDs, so the header is never folded over two lines.
    token = secrets.token_hex(4)
    shown = [chart for chart in report.charts if chart.name in EMAIL_CHARTS]
    cids = {chart.name: f"<{chart.name}.{token}@{domain}>" for chart in shown}
    html = render_email_html(
        report,
        lambda chart: f"cid:{cids[chart.name][1:-1]}",
        footer="Every table is attached as a CSV file.",
    )
    message.add_alternative(html, subtype="html")
    html_part = message.get_payload()[1]
    for chart in shown:
        html_part.add_related(
            chart.png,
            maintype="image",
            subtype="png",
            cid=cids[chart.name],
            filename=chart.filename,
            disposition="inline",
        )
    message.add_attachment(
        report_csv(report).encode("utf-8-sig"),
        maintype="text",
        subtype="csv",
        filename=f"{report.slug}.csv",
    )
    return message
