"""The weekly report's figures: every number in it, its plain-English sentences and its tables,
computed from the frames of funnel.load (pure: no database, no charts, no markup).

Which figures cover what:
- headline numbers count what happened in the week (enquiries, first arrivals at each stage,
  leavers, deregistrations) beside last week and the average of the 4 weeks before;
- the funnel, time-to-stage, drop-off and channel tables follow the enquiries of the last
  `cohort_weeks` weeks (config/funnel.toml), because assessment takes months;
- stalled cases, panel deadlines and at-risk carers are as at the end of the week.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from crm import clock
from crm.settings import Settings
from funnel import metrics
from funnel.config import FunnelConfig, load_funnel_config
from funnel.frames import FUNNEL, FunnelData
from funnel.periods import IsoWeek, Period
from funnel.tables import Column, Table, format_value

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


# -- headlines and sentences ----------------------------------------------------------------


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


def _pooled_share(weeks: list[dict[str, Any]]) -> float | None:
    """The share contacted in time over several weeks' enquiries taken together."""
    on_time = sum(w["contacted_within_target"] for w in weeks)
    decided = sum(
        w["contacted_within_target"] + w["contacted_late"] + w["waiting_past_target"] for w in weeks
    )
    return on_time / decided if decided else None


def headline_numbers(t: WeeklyTables) -> list[Headline]:
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


def stage_labels(config: FunnelConfig) -> dict[str, str]:
    return {stage: config.stage_label(stage) for stage in [*FUNNEL, "on_hold"]}


def _stage_frame(frame: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    out = frame.reset_index()
    out.insert(0, "label", out["stage"].map(labels))
    return out


def report_tables(
    t: WeeklyTables, data: FunnelData, settings: Settings, config: FunnelConfig
) -> list[Table]:
    labels = stage_labels(config)
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


def report_as_of(week: IsoWeek, settings: Settings) -> datetime:
    """The end of the week, or now if the week has not ended yet."""
    end = week.end_utc(settings.service.timezone).to_pydatetime()
    return min(end, clock.now())
