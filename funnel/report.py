"""The weekly manager report: numbers, a plain-English summary, charts, HTML, CSV and the email.

One report, three outputs: an HTML email with the charts inline and a CSV of the tables
attached (`build_weekly_email`, which the scheduler calls at send time), files in a folder
(`write_report_files`, for `fostercrm report weekly --out`), and a printable page in the web
CRM (funnel.views). All of them come from `build_weekly_report`, which works on the frames of
`funnel.load` and never writes to the database.

Which figures cover what:
- headline numbers count what happened in the week (enquiries, first arrivals at each stage,
  leavers, deregistrations) beside last week and the average of the 4 weeks before;
- the funnel, time-to-stage, drop-off and channel tables follow the enquiries of the last
  `cohort_weeks` weeks (config/funnel.toml), because assessment takes months;
- stalled cases, panel deadlines and at-risk carers are as at the end of the week.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from sqlmodel import Session

from crm import clock
from crm.services import access
from crm.services.exports import SafeCsvWriter
from crm.settings import Settings
from funnel import charts, metrics
from funnel.config import FunnelConfig, load_funnel_config
from funnel.load import FUNNEL, FunnelData, load_funnel_data
from funnel.periods import IsoWeek, Period

TEMPLATES = Path(__file__).resolve().parent / "templates"
STYLESHEET = Path(__file__).resolve().parent / "static" / "weekly_report.css"
EMAIL_TEMPLATE = "weekly_funnel_report"


# -- tables -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    heading: str
    # text, int, signed, pct, days, number, money (pence), date
    kind: str = "text"


@dataclass
class Table:
    name: str
    title: str
    frame: pd.DataFrame
    columns: list[Column]
    note: str = ""
    empty: str = "Nothing to show."
    limit: int | None = None

    @property
    def total_rows(self) -> int:
        return len(self.frame)

    def rows(self, limit: int | None = None) -> list[list[str]]:
        frame = self.frame if limit is None else self.frame.head(limit)
        return [
            [format_value(row[c.key], c.kind) for c in self.columns]
            for row in frame.to_dict("records")
        ]

    def raw_rows(self) -> list[list[Any]]:
        return [
            [raw_value(row[c.key], c.kind) for c in self.columns]
            for row in self.frame.to_dict("records")
        ]


def _missing(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_value(value: Any, kind: str) -> str:
    """How a number reads in the report: counts with commas, shares as %, days to 1 place."""
    if _missing(value):
        return "–"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "signed":
        return f"{int(round(value)):+,}" if value else "0"
    if kind == "pct":
        return f"{float(value):.0%}"
    if kind == "days":
        return f"{float(value):.0f}"
    if kind == "number":
        return f"{float(value):,.1f}"
    if kind == "money":
        return f"£{float(value) / 100:,.0f}"
    if kind == "date":
        return f"{pd.Timestamp(value):%-d %b %Y}"
    return str(value)


def raw_value(value: Any, kind: str) -> Any:
    """What goes in the CSV: plain numbers (shares as fractions), ISO dates, no symbols."""
    if _missing(value):
        return ""
    if kind in ("int", "signed"):
        return int(round(float(value)))
    if kind in ("pct",):
        return round(float(value), 4)
    if kind in ("days", "number"):
        return round(float(value), 1)
    if kind == "money":
        return round(float(value) / 100, 2)
    if kind == "date":
        return pd.Timestamp(value).date().isoformat()
    return str(value)


# -- the numbers --------------------------------------------------------------------------


@dataclass
class WeeklyTables:
    """Every number in the weekly report (pure computation, no charts, no wording)."""

    week: IsoWeek
    as_of: pd.Timestamp
    cohort_period: Period
    activity: pd.DataFrame
    enquiries_trend: pd.DataFrame
    contact_by_week: list[dict[str, Any]]
    funnel: pd.DataFrame
    days_to_stage: pd.DataFrame
    time_in_stage: pd.DataFrame
    cohort_contact: dict[str, Any]
    outcomes: pd.DataFrame
    drop_off: pd.DataFrame
    leavers_this_week: pd.DataFrame
    channels: pd.DataFrame
    enquiry_channels: pd.DataFrame
    campaigns: pd.DataFrame
    areas: pd.DataFrame
    stalled: pd.DataFrame
    panel: pd.DataFrame
    movement: pd.DataFrame
    deregistration_reasons: pd.Series
    retention: dict[str, Any]
    utilisation: dict[str, Any]
    check_ins: pd.DataFrame
    at_risk: pd.DataFrame
    carer_households: int


def _target_days(settings: Settings) -> dict[str, int]:
    return settings.stage_target_days.model_dump()


def compute_weekly_tables(
    data: FunnelData, week: IsoWeek, settings: Settings, config: FunnelConfig | None = None
) -> WeeklyTables:
    config = config or load_funnel_config()
    rc = config.report
    rule = metrics.ResponseRule.from_settings(settings)
    cohort_period = Period(week.shift(-(rc.cohort_weeks - 1)).monday, week.sunday)
    group = metrics.cohort(data, cohort_period)
    activity = metrics.weekly_activity(data, week, rc.trend_weeks + 4)
    trend = metrics.trend(activity["enquiries"]).iloc[4:]
    trend.insert(0, "week_start", activity["week_start"].iloc[4:])
    trend = trend.rename(columns={"value": "enquiries"})

    # First contact for the enquiries of this week and the 5 before (headline comparisons).
    contact_by_week = []
    recent = metrics.cohort(data, Period(week.shift(-5).monday, week.sunday))
    recent_contacts = metrics.first_contact(data, recent, rule)
    enquired_local = recent["enquired_at"]
    for offset in range(5, -1, -1):
        w = week.shift(-offset)
        in_week = w.period.contains(enquired_local, data.tz).to_numpy()
        contact_by_week.append(
            {"week": str(w), **metrics.first_contact_summary(recent_contacts[in_week])}
        )

    month_end = week.sunday
    first_month = (pd.Timestamp(month_end) - pd.DateOffset(months=rc.retention_months - 1)).date()
    first_month = first_month.replace(day=1)
    year_period = Period(
        (pd.Timestamp(week.sunday) - pd.DateOffset(years=1)).date() + timedelta(days=1),
        week.sunday,
    )
    return WeeklyTables(
        week=week,
        as_of=data.as_of,
        cohort_period=cohort_period,
        activity=activity,
        enquiries_trend=trend,
        contact_by_week=contact_by_week,
        funnel=metrics.funnel_table(group),
        days_to_stage=metrics.days_to_stage(group),
        time_in_stage=metrics.time_in_stage(data, group),
        cohort_contact=metrics.first_contact_summary(metrics.first_contact(data, group, rule)),
        outcomes=metrics.stage_outcomes(group),
        drop_off=metrics.drop_off(group),
        leavers_this_week=metrics.leavers(data, week.period),
        channels=metrics.channel_table(group, "source_key"),
        enquiry_channels=metrics.channel_table(group, "enquiry_channel"),
        campaigns=metrics.campaign_table(data, group),
        areas=metrics.channel_table(group, "area"),
        stalled=metrics.stalled_cases(data, _target_days(settings)),
        panel=metrics.panel_deadlines(
            data, settings.reminders.panel_warning_months, settings.reminders.panel_deadline_months
        ),
        movement=metrics.carer_movement(data, first_month, month_end),
        deregistration_reasons=metrics.deregistration_reasons(data, year_period),
        retention=metrics.retention_12_months(data),
        utilisation=metrics.place_utilisation(data),
        check_ins=metrics.check_in_trend(data, first_month, month_end),
        at_risk=metrics.carers_at_risk(data, rc.low_check_in_score),
        carer_households=int(metrics.carer_households_on(data, week.sunday).sum()),
    )


# -- the report ---------------------------------------------------------------------------


@dataclass
class Headline:
    label: str
    this_week: float | None
    last_week: float | None
    average_4_weeks: float | None
    kind: str = "int"

    @property
    def change(self) -> float | None:
        if self.this_week is None or self.last_week is None:
            return None
        return self.this_week - self.last_week

    def cells(self) -> list[str]:
        change = self.change
        if self.kind == "pct":
            change_text = "–" if change is None else f"{change * 100:+.0f} points"
        else:
            change_text = format_value(change, "signed")
        average_kind = "pct" if self.kind == "pct" else "number"
        return [
            self.label,
            format_value(self.this_week, self.kind),
            format_value(self.last_week, self.kind),
            change_text,
            format_value(self.average_4_weeks, average_kind),
        ]


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


def _pooled_share(weeks: list[dict[str, Any]]) -> float | None:
    """The share contacted in time over several weeks' enquiries taken together."""
    on_time = sum(w["contacted_within_target"] for w in weeks)
    decided = sum(
        w["contacted_within_target"] + w["contacted_late"] + w["waiting_past_target"] for w in weeks
    )
    return on_time / decided if decided else None


def _headlines(t: WeeklyTables) -> list[Headline]:
    a = t.activity
    rows = []
    for column, label in (
        ("enquiries", "Enquiries"),
        ("initial_visits", "Initial visits"),
        ("applications", "Applications"),
        ("approvals", "Approvals"),
        ("withdrawn", "Withdrew"),
        ("not_progressed", "Not progressed"),
        ("deregistrations", "Carer households deregistered"),
    ):
        values = a[column].to_numpy()
        rows.append(Headline(label, int(values[-1]), int(values[-2]), float(values[-5:-1].mean())))
    shares = [c["share_within_target"] for c in t.contact_by_week]
    rows.append(
        Headline(
            "Enquiries contacted within the response target",
            shares[-1],
            shares[-2],
            _pooled_share(t.contact_by_week[-5:-1]),
            kind="pct",
        )
    )
    return rows


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _working_days(n: int) -> str:
    return "a working day" if n == 1 else f"{n} working days"


def summarise(
    t: WeeklyTables, data: FunnelData, settings: Settings, config: FunnelConfig
) -> tuple[list[str], list[str]]:
    """Plain-English sentences: what changed this week, and what needs attention."""
    a = t.activity
    this, last = a.iloc[-1], a.iloc[-2]
    average = a["enquiries"].iloc[-5:-1].mean()
    changes: list[str] = []
    enquiries = int(this["enquiries"])
    difference = enquiries - int(last["enquiries"])
    if difference == 0:
        versus_last = "the same as last week"
    else:
        versus_last = f"{abs(difference)} {'more' if difference > 0 else 'fewer'} than last week"
    if average > 0:
        ratio = enquiries / average - 1
        if abs(ratio) < 0.05:
            versus_average = f"about the 4-week average of {average:.1f}"
        else:
            direction = "above" if ratio > 0 else "below"
            versus_average = f"{abs(ratio):.0%} {direction} the 4-week average of {average:.1f}"
    else:
        versus_average = "there were none in the 4 weeks before"
    changes.append(
        f"{_plural(enquiries, 'enquiry', 'enquiries')} this week: {versus_last}, {versus_average}."
    )
    changes.append(
        f"{_plural(int(this['initial_visits']), 'household')} reached an initial visit, "
        f"{int(this['applications'])} an application and {int(this['approvals'])} "
        f"{'was' if int(this['approvals']) == 1 else 'were'} approved "
        f"(last week {int(last['initial_visits'])}, {int(last['applications'])} and "
        f"{int(last['approvals'])})."
    )
    leavers = t.leavers_this_week
    if len(leavers):
        counts = leavers["outcome"].value_counts()
        top = leavers.groupby(["outcome", "reason_code"]).size().sort_values(ascending=False)
        (outcome, code), n = top.index[0], int(top.iloc[0])
        changes.append(
            f"{_plural(int(counts.get('withdrawn', 0)), 'household')} withdrew and "
            f"{int(counts.get('not_progressed', 0))} did not progress; the most common reason "
            f"was \u201c{data.reason_label(outcome, code)}\u201d ({n})."
        )
    else:
        changes.append("Nobody withdrew or was stopped this week.")
    approved, dereg = int(this["carers_approved"]), int(this["deregistrations"])
    net = approved - dereg
    changes.append(
        f"{_plural(approved, 'carer household')} approved and {dereg} deregistered "
        f"({'no net change' if net == 0 else f'net {net:+d}'}); "
        f"{_plural(t.carer_households, 'approved carer household')} now."
    )

    attention: list[str] = []
    target = settings.response.target_working_days
    week_contact = t.contact_by_week[-1]
    slow = week_contact["contacted_late"] + week_contact["waiting_past_target"]
    if slow:
        waiting = week_contact["waiting_past_target"]
        attention.append(
            f"{_plural(slow, 'enquiry', 'enquiries')} waited more than {_working_days(target)} "
            f"for a first contact" + (f" ({waiting} still not contacted)." if waiting else ".")
        )
    elif enquiries:
        attention.append(
            f"Every enquiry this week was contacted within {_working_days(target)} "
            "(or is not yet due)."
        )
    if len(t.stalled):
        worst = t.stalled.iloc[0]
        attention.append(
            f"{_plural(len(t.stalled), 'case')} had no move or contact for longer than the "
            f"target for their stage; the longest is {worst['reference']} "
            f"({config.stage_label(worst['stage']).lower()}, "
            f"{int(worst['days_since_last_action'])} days)."
        )
    if len(t.panel):
        overdue = int((t.panel["status"] == "overdue").sum())
        approaching = len(t.panel) - overdue
        deadline = f"the {settings.reminders.panel_deadline_months}-month panel deadline"
        if approaching and overdue:
            attention.append(
                f"{_plural(approaching, 'application')} "
                f"{'is' if approaching == 1 else 'are'} nearing {deadline} and {overdue} "
                f"{'is' if overdue == 1 else 'are'} past it."
            )
        elif approaching:
            attention.append(
                f"{_plural(approaching, 'application')} "
                f"{'is' if approaching == 1 else 'are'} nearing {deadline}."
            )
        else:
            attention.append(
                f"{_plural(overdue, 'application')} {'is' if overdue == 1 else 'are'} past "
                f"{deadline}."
            )
    if len(t.at_risk):
        attention.append(f"{_plural(len(t.at_risk), 'carer household')} may be at risk of leaving.")
    if not attention:
        attention.append("Nothing needs attention this week.")
    return changes, attention


def _labels(config: FunnelConfig) -> dict[str, str]:
    return {stage: config.stage_label(stage) for stage in [*FUNNEL, "on_hold"]}


def _stage_frame(frame: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    out = frame.reset_index()
    out.insert(0, "label", out["stage"].map(labels))
    return out


def _tables(
    t: WeeklyTables, data: FunnelData, settings: Settings, config: FunnelConfig
) -> list[Table]:
    labels = _labels(config)
    rc = config.report
    cohort_note = (
        f"Households whose enquiry fell between {t.cohort_period.label}, and how far they "
        f"have got so far. A household that skipped a stage still counts as reaching it."
    )
    funnel = _stage_frame(t.funnel.join(t.days_to_stage[["median", "p75"]]), labels)
    trend = t.enquiries_trend.reset_index()
    contact_rows = pd.DataFrame(
        [{"group": f"Enquiries in {c['week']}", **c} for c in t.contact_by_week[-2:][::-1]]
        + [{"group": f"Enquiries {t.cohort_period.label}", **t.cohort_contact}]
    )
    outcomes = _stage_frame(t.outcomes, labels)
    outcomes["open"] = outcomes["in_progress"] + outcomes["on_hold"]
    drops = t.drop_off.copy()
    if len(drops):
        drops["reason"] = [
            data.reason_label(o, c)
            for o, c in zip(drops["outcome"], drops["reason_code"], strict=True)
        ]
        drops["stage_label"] = drops["stage"].map(labels)
        drops["outcome_label"] = drops["outcome"].map(
            {"withdrawn": "Withdrew", "not_progressed": "Not progressed"}
        )
    else:
        drops = pd.DataFrame(columns=["outcome_label", "reason", "stage_label", "households"])
    reasons = _reason_table(t, data)

    def with_labels(frame: pd.DataFrame, label: Callable[[Any], str]) -> pd.DataFrame:
        out = frame.reset_index()
        out.insert(0, "label", [label(k) for k in out.iloc[:, 0]])
        return out

    channels = with_labels(t.channels, data.source_label)
    enquiry_channels = with_labels(
        t.enquiry_channels, lambda k: str(k).replace("_", " ").capitalize()
    )
    areas = with_labels(t.areas, lambda k: "Not yet in an area" if k == "not_recorded" else k)
    campaigns = t.campaigns.reset_index(drop=True)
    stalled = t.stalled.copy()
    stalled["stage_label"] = stalled["stage"].map(labels)
    panel = t.panel.copy()
    panel["stage_label"] = panel["stage"].map(labels)
    panel["status_label"] = panel["status"].map(
        {"overdue": "Past the deadline", "approaching": "Deadline approaching"}
    )
    movement = t.movement.reset_index()
    dereg = t.deregistration_reasons.reset_index()
    dereg.columns = ["code", "carers"]
    dereg.insert(0, "reason", [data.reason_label("deregistered", c) for c in dereg["code"]])
    retention = pd.DataFrame(
        [
            {
                "measure": f"Still approved 12 months after approval (approved "
                f"{t.retention['approved_from']} to {t.retention['approved_to']})",
                "value": t.retention["retention_rate"],
                "detail": f"{t.retention['retained']} of {t.retention['approved']}",
                "kind": "pct",
            },
            {
                "measure": f"Place utilisation on {t.utilisation['on']} (filled over approved)",
                "value": t.utilisation["utilisation"],
                "detail": f"{t.utilisation['filled_places']} of "
                f"{t.utilisation['approved_places']} places",
                "kind": "pct",
            },
            {
                "measure": "Approved carer households at the end of the week",
                "value": t.carer_households,
                "detail": "",
                "kind": "int",
            },
        ]
    )
    retention["shown"] = [
        format_value(v, k) for v, k in zip(retention["value"], retention["kind"], strict=True)
    ]
    check_ins = t.check_ins.reset_index()
    at_risk = t.at_risk.reset_index(drop=True)
    time_in = _stage_frame(t.time_in_stage, labels)
    target_days = _target_days(settings)
    time_in["target"] = time_in["stage"].map(target_days)
    response_days = settings.response.target_working_days

    return [
        Table(
            "enquiries_trend",
            "Enquiries per week",
            trend,
            [
                Column("week", "Week"),
                Column("week_start", "Starting", "date"),
                Column("enquiries", "Enquiries", "int"),
                Column("change_on_previous_week", "Change on the week before", "signed"),
                Column("average_previous_4_weeks", "Average of the 4 weeks before", "number"),
            ],
        ),
        Table(
            "first_contact",
            "First contact",
            contact_rows,
            [
                Column("group", "Enquiries"),
                Column("enquiries", "Number", "int"),
                Column("contacted_within_target", "Contacted in time", "int"),
                Column("contacted_late", "Contacted late", "int"),
                Column("waiting_past_target", "Still waiting, past target", "int"),
                Column("share_within_target", "Share in time", "pct"),
                Column("median_working_days", "Median working days", "number"),
            ],
            note=f"Target: a first contact within {_working_days(response_days)} of office "
            "time. Households that moved on with no contact recorded are left out.",
        ),
        Table(
            "funnel",
            "How far enquiries got",
            funnel,
            [
                Column("label", "Stage"),
                Column("reached", "Reached", "int"),
                Column("conversion_from_previous", "From the stage before", "pct"),
                Column("conversion_from_enquiry", "From enquiry", "pct"),
                Column("median", "Median days from enquiry", "days"),
                Column("p75", "3 in 4 within (days)", "days"),
            ],
            note=cohort_note,
        ),
        Table(
            "time_in_stage",
            "Time in each stage",
            time_in,
            [
                Column("label", "Stage"),
                Column("finished", "Stays finished", "int"),
                Column("median", "Median days", "days"),
                Column("p75", "3 in 4 within (days)", "days"),
                Column("target", "Target days", "int"),
                Column("ongoing", "Still in the stage", "int"),
                Column("ongoing_median", "Median days so far", "days"),
            ],
            note="For the same households. On hold pauses the assessment.",
        ),
        Table(
            "outcomes",
            "Where households stopped",
            outcomes,
            [
                Column("label", "Furthest stage"),
                Column("withdrawn", "Withdrew", "int"),
                Column("not_progressed", "Not progressed", "int"),
                Column("open", "Still open", "int"),
                Column("approved", "Approved", "int"),
                Column("deregistered", "Approved, since deregistered", "int"),
            ],
            note="Each household once, at the furthest stage it reached.",
        ),
        Table(
            "drop_off_reasons",
            "Why households left",
            reasons,
            [
                Column("label", "Reason"),
                Column("outcome_label", "Who decided"),
                Column("this_week", "This week", "int"),
                Column("households", f"Enquiries of the last {rc.cohort_weeks} weeks", "int"),
            ],
            empty="Nobody withdrew or was not progressed.",
        ),
        Table(
            "drop_off",
            "Leavers by stage and reason",
            drops,
            [
                Column("outcome_label", "Outcome"),
                Column("stage_label", "Left at"),
                Column("reason", "Reason"),
                Column("households", "Households", "int"),
            ],
            empty="Nobody withdrew or was not progressed.",
        ),
        Table(
            "channels",
            "Sources: where enquirers heard about us",
            channels,
            [
                Column("label", "Source"),
                Column("enquiries", "Enquiries", "int"),
                Column("initial_visits", "Initial visits", "int"),
                Column("applications", "Applications", "int"),
                Column("approvals", "Approvals", "int"),
                Column("to_initial_visit", "To initial visit", "pct"),
                Column("to_approval", "To approval", "pct"),
            ],
            empty="No enquiries in this period.",
        ),
        Table(
            "enquiry_channels",
            "Channels: how the enquiry reached us",
            enquiry_channels,
            [
                Column("label", "Channel"),
                Column("enquiries", "Enquiries", "int"),
                Column("initial_visits", "Initial visits", "int"),
                Column("applications", "Applications", "int"),
                Column("approvals", "Approvals", "int"),
                Column("to_approval", "To approval", "pct"),
            ],
            empty="No enquiries in this period.",
        ),
        Table(
            "campaigns",
            "Campaigns",
            campaigns,
            [
                Column("campaign", "Campaign"),
                Column("enquiries", "Enquiries", "int"),
                Column("initial_visits", "Initial visits", "int"),
                Column("approvals", "Approvals", "int"),
                Column("cost_pence", "Cost", "money"),
                Column("approvals_all_time", "Approvals since it began", "int"),
                Column("cost_per_approval_pence", "Cost per approval", "money"),
            ],
            note="Cost per approval divides the campaign's whole cost by every approval it "
            "has brought so far.",
            empty="No enquiries came from a campaign in this period.",
        ),
        Table(
            "areas",
            "Areas",
            areas,
            [
                Column("label", "Area"),
                Column("enquiries", "Enquiries", "int"),
                Column("initial_visits", "Initial visits", "int"),
                Column("applications", "Applications", "int"),
                Column("approvals", "Approvals", "int"),
                Column("to_approval", "To approval", "pct"),
            ],
            empty="No enquiries in this period.",
        ),
        Table(
            "stalled",
            "Stalled cases",
            stalled,
            [
                Column("reference", "Household"),
                Column("area", "Area"),
                Column("stage_label", "Stage"),
                Column("last_action_at", "Last move or contact", "date"),
                Column("days_since_last_action", "Days since", "int"),
                Column("target_days", "Target days", "int"),
                Column("days_over_target", "Days over", "int"),
            ],
            note="Open households with no stage move, note, call or completed task for longer "
            "than their stage's target.",
            empty="No stalled cases.",
            limit=rc.max_rows,
        ),
        Table(
            "panel_deadlines",
            "Applications nearing the panel deadline",
            panel,
            [
                Column("reference", "Household"),
                Column("area", "Area"),
                Column("stage_label", "Stage"),
                Column("application_on", "Application", "date"),
                Column("deadline_on", "Panel due by", "date"),
                Column("days_left", "Days left", "int"),
                Column("status_label", "Status"),
            ],
            note=f"National Minimum Standard 14: a panel recommendation within "
            f"{settings.reminders.panel_deadline_months} months of the application. Listed "
            f"from {settings.reminders.panel_warning_months} months.",
            empty="No application is near the panel deadline.",
            limit=rc.max_rows,
        ),
        Table(
            "retention_summary",
            "Retention",
            retention,
            [
                Column("measure", "Measure"),
                Column("shown", "Value"),
                Column("detail", "Detail"),
            ],
        ),
        Table(
            "carer_movement",
            "Carer households approved and deregistered",
            movement,
            [
                Column("month", "Month"),
                Column("approvals", "Approved", "int"),
                Column("deregistrations", "Deregistered", "int"),
                Column("net_change", "Net change", "signed"),
                Column("carer_households_at_end", "Carer households at month end", "int"),
            ],
        ),
        Table(
            "deregistration_reasons",
            "Why carers deregistered (last 12 months)",
            dereg,
            [Column("reason", "Reason"), Column("carers", "Carer households", "int")],
            empty="No deregistrations in the last 12 months.",
        ),
        Table(
            "check_ins",
            "Carer check-ins",
            check_ins,
            [
                Column("month", "Month"),
                Column("sent", "Sent", "int"),
                Column("answered", "Answered", "int"),
                Column("response_rate", "Answered share", "pct"),
                Column("average_score", "Average score (1 to 5)", "number"),
                Column("low_scores", f"Scores of {rc.low_check_in_score} or less", "int"),
                Column("wants_call", "Asked for a call", "int"),
            ],
        ),
        Table(
            "at_risk",
            "Carers who may be at risk of leaving",
            at_risk,
            [
                Column("reference", "Household"),
                Column("area", "Area"),
                Column("approved_on", "Approved", "date"),
                Column("why", "Why"),
            ],
            empty="No carer household is flagged or scored low at their last check-in.",
            limit=rc.max_rows,
        ),
    ]


def _reason_table(t: WeeklyTables, data: FunnelData) -> pd.DataFrame:
    cohort = (
        t.drop_off.groupby(["outcome", "reason_code"])["households"].sum()
        if len(t.drop_off)
        else pd.Series(dtype=np.int64)
    )
    week = (
        t.leavers_this_week.groupby(["outcome", "reason_code"]).size()
        if len(t.leavers_this_week)
        else pd.Series(dtype=np.int64)
    )
    keys = sorted(set(cohort.index) | set(week.index))
    rows = [
        {
            "outcome": outcome,
            "reason_code": code,
            "label": data.reason_label(outcome, code),
            "outcome_label": "Withdrew" if outcome == "withdrawn" else "Not progressed",
            "this_week": int(week.get((outcome, code), 0)),
            "households": int(cohort.get((outcome, code), 0)),
        }
        for outcome, code in keys
    ]
    frame = pd.DataFrame(
        rows,
        columns=["outcome", "reason_code", "label", "outcome_label", "this_week", "households"],
    )
    return frame.sort_values(["households", "this_week"], ascending=False).reset_index(drop=True)


def _charts(
    report_tables: list[Table], t: WeeklyTables, config: FunnelConfig
) -> list[charts.Chart]:
    labels = _labels(config)
    by_name = {table.name: table for table in report_tables}
    cohort_heading = f"How far enquiries got ({t.cohort_period.label})"
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
    tables = _tables(t, data, settings, config)
    return WeeklyReport(
        title=config.report.title,
        service_name=settings.service.name,
        area_label="All areas" if data.area_names is None else ", ".join(data.area_names),
        week=week,
        as_of=data.as_of,
        generated_at=clock.now(),
        headlines=_headlines(t),
        changes=changes,
        attention=attention,
        tables=tables,
        charts=_charts(tables, t, config) if with_charts else [],
        max_rows=config.report.max_rows,
        tz=data.tz,
    )


def report_as_of(week: IsoWeek, settings: Settings) -> datetime:
    """The end of the week, or now if the week has not ended yet."""
    end = week.end_utc(settings.service.timezone).to_pydatetime()
    return min(end, clock.now())


def load_weekly_report(
    session: Session,
    settings: Settings,
    week: IsoWeek,
    *,
    area_ids: list[int] | None = None,
    config: FunnelConfig | None = None,
    with_charts: bool = True,
) -> WeeklyReport:
    data = load_funnel_data(
        session,
        as_of=report_as_of(week, settings),
        area_ids=area_ids,
        tz=settings.service.timezone,
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
    """The report as one HTML document with its styles inside; `image_src` says where each
    chart's PNG is (a cid: in the email, a file name next to the HTML)."""
    return (
        _environment()
        .get_template("funnel/weekly_report.html")
        .render(
            report=report,
            image_src=image_src,
            css=STYLESHEET.read_text(encoding="utf-8"),
            footer=footer,
        )
    )


EMAIL_TEXT_FOOTER = (
    "The full report, with charts, is in the HTML version of this email; the tables are "
    "attached as a CSV file."
)


def render_text(report: WeeklyReport, footer: str = EMAIL_TEXT_FOOTER) -> str:
    """The summary and the headline numbers as plain text (the email's text part)."""
    lines = [
        report.title,
        f"{report.service_name} · {report.area_label}",
        f"{report.week.title}. Figures as at {report.as_of_label}.",
        "",
    ]
    lines += ["What changed", *[f"- {s}" for s in report.changes], ""]
    lines += ["Needs attention", *[f"- {s}" for s in report.attention], ""]
    header = ["", "This week", "Last week", "Change", "4-week average"]
    cells = [h.cells() for h in report.headlines]
    widths = [max(len(r[i]) for r in [header, *cells]) for i in range(len(header))]
    for row in [header, *cells]:
        lines.append(
            "  ".join(
                cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                for i, cell in enumerate(row)
            ).rstrip()
        )
    if footer:
        lines += ["", footer]
    return "\n".join(lines) + "\n"


def report_csv(report: WeeklyReport) -> str:
    """Every table of the report in one CSV: a title line, a header row, the rows, a blank
    line. Shares are fractions (0.25), money in pounds, dates YYYY-MM-DD; text that would run
    as a spreadsheet formula starts with an apostrophe (crm.services.exports)."""
    buffer = io.StringIO()
    # Text from staff and settings (reasons, campaign names, why a carer is at risk) must not
    # run as a formula when a manager opens the file.
    writer = SafeCsvWriter(buffer, lineterminator="\r\n")
    writer.writerow([report.title])
    writer.writerow([report.service_name, report.area_label, str(report.week)])
    writer.writerow([f"Figures as at {report.as_of.isoformat()}"])
    writer.writerow([])
    writer.writerow(["Summary"])
    for sentence in [*report.changes, *report.attention]:
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


def weekly_report_recipients(
    session: Session, settings: Settings, *, area_ids: list[int] | None = None
) -> access.ReportAudience:
    """Who gets the weekly report, each for the areas they work in (narrowed to `area_ids`):
    every active manager, then settings.report.recipients, each address once, and only
    addresses of an active manager's or admin's account (the rest are counted, not named)."""
    return access.report_recipients(session, settings.report.recipients, only_area_ids=area_ids)


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
    cids = {chart.name: f"<{chart.name}.{token}@{domain}>" for chart in report.charts}
    html = render_html(
        report,
        lambda chart: f"cid:{cids[chart.name][1:-1]}",
        footer="The tables are attached as a CSV file.",
    )
    message.add_alternative(html, subtype="html")
    html_part = message.get_payload()[1]
    for chart in report.charts:
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


def build_weekly_email(
    session: Session,
    settings: Settings,
    week_ending: date,
    recipients: list[str],
    *,
    area_ids: list[int] | None = None,
) -> EmailMessage:
    """Build the weekly funnel report email for the ISO week (Monday to Sunday, in the
    service's time zone) that contains `week_ending` — pass that week's Sunday.

    The scheduler enqueues an outbox message with template "weekly_funnel_report" (payload
    {"week_ending": "2026-03-08"}, and "area_ids" when sent for some areas only) and calls
    this at send time: ``build_weekly_email(session, settings,
    date.fromisoformat(payload["week_ending"]), [message.recipient],
    area_ids=payload.get("area_ids"))``, then sends the result.

    The report covers only the areas every recipient may read (crm.services.access: the
    areas of their active manager's account, the whole hub for an admin), narrowed to
    `area_ids`. Raises NotAllowed, naming no address, when a recipient has no such account or
    nothing is left to show; ValueError for an empty recipient list.

    Figures are as at the end of that week (or now, for a week not yet over). Reads the
    database only.
    """
    if not recipients:
        raise ValueError("the weekly report needs at least one recipient")
    scope = area_ids
    for address in recipients:
        scope = access.report_scope_for_address(session, address, only_area_ids=scope)
    report = load_weekly_report(session, settings, IsoWeek.containing(week_ending), area_ids=scope)
    return email_for_report(report, recipients, settings.smtp.from_address)


def outbox_key(week: IsoWeek, recipient: str, area_ids: list[int] | None = None) -> str:
    """The outbox unique key for one recipient's copy of one week's report: the same key the
    scheduler's Monday job writes (crm.scheduler.scans.weekly_funnel_report), so sending from
    the command line and the job never send a week twice to the same person. A copy for some
    areas only (--area) has a key of its own."""
    key = f"weekly_report:{week.sunday.isoformat()}:{recipient}"
    if area_ids is not None:
        key += ":areas:" + ",".join(str(a) for a in sorted(area_ids))
    return key


def outbox_payload(week: IsoWeek, area_ids: list[int] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"week_ending": week.sunday.isoformat()}
    if area_ids is not None:
        payload["area_ids"] = sorted(area_ids)
    return payload
