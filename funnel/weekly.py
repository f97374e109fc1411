"""The weekly report's figures: every number in it, its plain-English sentences and its tables,
computed from the frames of funnel.load (pure: no database, no charts, no markup).

Which figures cover what:
- headline numbers count what happened in the week (enquiries, first arrivals at each stage,
  leavers, deregistrations) beside last week and the average of the 4 weeks before;
- conversion, time to approval, drop-off and channel tables follow a *mature* cohort: the
  enquiries made 9 to 21 months before the end of the week (config/funnel.toml), old enough
  to have been approved; the enquiries of the last `cohort_weeks` weeks are shown too, with
  what is too early to tell said so;
- response is the team's speed: a first attempt within the target, every enquiry counted;
- stalled cases, households at risk of missing the panel timescale and at-risk carers are
  as at the end of the week.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from crm import clock
from crm.settings import Settings
from funnel import assessment, leavers, metrics
from funnel.config import FunnelConfig, load_check_kinds, load_funnel_config
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
    funnel: pd.DataFrame
    days_to_stage: pd.DataFrame
    time_in_stage: pd.DataFrame
    outcomes: pd.DataFrame
    drop_off: pd.DataFrame
    leavers_this_week: pd.DataFrame
    channels: pd.DataFrame
    enquiry_channels: pd.DataFrame
    campaigns: pd.DataFrame
    areas: pd.DataFrame
    stalled: pd.DataFrame
    movement: pd.DataFrame
    retention: dict[str, Any]
    utilisation: dict[str, Any]
    check_ins: pd.DataFrame
    at_risk: pd.DataFrame
    carer_households: int
    # The cohort conversion and time to approval are read from (see mature_period).
    mature_period: Period
    young_funnel: pd.DataFrame
    # The team's response for the enquiries of this week and the 5 before (oldest first),
    # and over the last `response_weeks` weeks per area and per officer.
    response_by_week: list[dict[str, Any]]
    response_period: Period
    response_areas: pd.DataFrame
    response_officers: pd.DataFrame
    area_table: pd.DataFrame
    campaign_costs: pd.DataFrame
    referrals: pd.DataFrame
    # The words behind each "Other" (sources, campaigns, reasons), see metrics.other_words.
    other_words: pd.DataFrame
    # The same figures for the mature cohort a quarter earlier, for the verdicts' trend.
    previous_mature_funnel: pd.DataFrame
    previous_mature_days: pd.DataFrame
    previous_retention: dict[str, Any]
    # The assessment measures (funnel.assessment), as at the end of the week: checks
    # outstanding by type, time in stage one and two against target over `year_period`, the
    # households at risk of missing the 8-month timescale, and panel outcomes (this week and
    # the 12 months to its end).
    year_period: Period | None = None
    checks_outstanding: pd.DataFrame | None = None
    time_in_assessment: pd.DataFrame | None = None
    timescale_at_risk: pd.DataFrame | None = None
    panel_outcomes: pd.DataFrame | None = None
    # Connected persons (kinship) apart: the conversion tables above are mainstream only.
    kinship_funnel: pd.DataFrame | None = None
    kinship_young_funnel: pd.DataFrame | None = None
    # Carers who left in `year_period` and those under notice at the end of the week, one row
    # each (funnel.leavers.leavers): the reason, time since approval and age group tables.
    carer_leavers: pd.DataFrame | None = None


def _mainstream(group: pd.DataFrame) -> pd.DataFrame:
    return group[~group["is_kinship"].to_numpy(dtype=bool)]


def _kinship(group: pd.DataFrame) -> pd.DataFrame:
    return group[group["is_kinship"].to_numpy(dtype=bool)]


def _year_before(day: date, months_back: int) -> Period:
    """The 12 months that ended `months_back` months before `day`."""
    end = (pd.Timestamp(day) - pd.DateOffset(months=months_back)).date()
    return Period((pd.Timestamp(end) - pd.DateOffset(years=1)).date() + timedelta(days=1), end)


def _target_days(settings: Settings) -> dict[str, int]:
    return settings.stage_target_days.model_dump()


def compute_weekly_tables(
    data: FunnelData, week: IsoWeek, settings: Settings, config: FunnelConfig | None = None
) -> WeeklyTables:
    config = config or load_funnel_config()
    rc = config.report
    rule = metrics.ResponseRule.from_settings(settings)
    cohort_period = Period(week.shift(-(rc.cohort_weeks - 1)).monday, week.sunday)
    everyone = metrics.cohort(data, cohort_period)
    # Conversion is read from mainstream households: connected persons (kinship) come with a
    # child already placed and have their own rows (kinship_funnel).
    group = _mainstream(everyone)
    activity = metrics.weekly_activity(data, week, rc.trend_weeks + 4)
    trend = metrics.trend(activity["enquiries"]).iloc[4:]
    trend.insert(0, "week_start", activity["week_start"].iloc[4:])
    trend = trend.rename(columns={"value": "enquiries"})

    # The team's response for the enquiries of this week and the 5 before (headline comparisons).
    recent = metrics.cohort(data, Period(week.shift(-5).monday, week.sunday))
    enquired_local = recent["enquired_at"]

    month_end = week.sunday
    first_month = (pd.Timestamp(month_end) - pd.DateOffset(months=rc.retention_months - 1)).date()
    first_month = first_month.replace(day=1)
    year_period = Period(
        (pd.Timestamp(week.sunday) - pd.DateOffset(years=1)).date() + timedelta(days=1),
        week.sunday,
    )
    # As at the end of the week: the last day of it (a report of a week still going: today).
    last_day = min(week.sunday, data.as_of.tz_convert(data.tz).date())
    mature_period = metrics.mature_period(week.sunday, rc.mature_from_months, rc.mature_to_months)
    mature_everyone = metrics.cohort(data, mature_period)
    mature = _mainstream(mature_everyone)
    previous_mature = _mainstream(
        metrics.cohort(
            data,
            metrics.mature_period(
                (pd.Timestamp(week.sunday) - pd.DateOffset(months=3)).date(),
                rc.mature_from_months,
                rc.mature_to_months,
            ),
        )
    )
    offer_days = settings.response.offer_initial_visit_within_working_days
    recent_times = metrics.response_times(data, recent, rule, offer_days)
    response_by_week = []
    for offset in range(5, -1, -1):
        w = week.shift(-offset)
        in_week = w.period.contains(enquired_local, data.tz).to_numpy()
        response_by_week.append({"week": str(w), **metrics.response_summary(recent_times[in_week])})
    response_period = Period(week.shift(-(rc.response_weeks - 1)).monday, week.sunday)
    response_group = metrics.cohort(data, response_period)
    response_times = metrics.response_times(data, response_group, rule, offer_days)
    stalled = metrics.stalled_cases(data, _target_days(settings))
    return WeeklyTables(
        week=week,
        as_of=data.as_of,
        cohort_period=cohort_period,
        mature_period=mature_period,
        young_funnel=metrics.funnel_table(group),
        response_by_week=response_by_week,
        response_period=response_period,
        response_areas=metrics.response_by(
            response_times, response_group["area"], "Not yet in an area"
        ),
        response_officers=metrics.response_by(
            response_times, response_group["officer"], "No officer assigned"
        ),
        area_table=metrics.area_comparison(response_group, response_times, mature, stalled),
        campaign_costs=metrics.campaign_costs(data, mature_period.end),
        referrals=metrics.referrals(data),
        other_words=metrics.other_words(data, mature, year_period),
        previous_mature_funnel=metrics.funnel_table(previous_mature),
        previous_mature_days=metrics.days_to_stage(previous_mature),
        previous_retention=metrics.retention_12_months(data, _year_before(last_day, 15)),
        activity=activity,
        enquiries_trend=trend,
        funnel=metrics.funnel_table(mature),
        days_to_stage=metrics.days_to_stage(mature),
        time_in_stage=metrics.time_in_stage(data, mature),
        outcomes=metrics.stage_outcomes(mature),
        drop_off=metrics.drop_off(mature),
        leavers_this_week=metrics.leavers(data, week.period),
        channels=metrics.channel_table(mature, "source_key"),
        enquiry_channels=metrics.channel_table(mature, "enquiry_channel"),
        campaigns=metrics.campaign_table(data, everyone),
        areas=metrics.channel_table(mature, "area"),
        stalled=stalled,
        movement=metrics.carer_movement(data, first_month, month_end),
        retention=metrics.retention_12_months(data),
        # On the week's last day: a carer approved after the week is not in it.
        utilisation=metrics.place_utilisation(data, last_day),
        check_ins=metrics.check_in_trend(data, first_month, month_end),
        at_risk=metrics.carers_at_risk(data, rc.low_check_in_score),
        carer_households=int(metrics.carer_households_on(data, week.sunday).sum()),
        year_period=year_period,
        checks_outstanding=assessment.checks_outstanding(data, load_check_kinds()),
        time_in_assessment=assessment.time_in_assessment(data, year_period, _target_days(settings)),
        timescale_at_risk=assessment.timescale_at_risk(
            data, settings.panel.at_risk_days, settings.reminders.panel_deadline_months
        ),
        panel_outcomes=assessment.panel_outcomes(
            data, {"this_week": week.period, "last_12_months": year_period}
        ),
        kinship_funnel=metrics.funnel_table(_kinship(mature_everyone)),
        kinship_young_funnel=metrics.funnel_table(_kinship(everyone)),
        carer_leavers=leavers.leavers(data, year_period),
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
    """The share first attempted in time over several weeks' enquiries taken together."""
    on_time = sum(w["attempted_in_time"] for w in weeks)
    due = sum(w["due"] for w in weeks)
    return on_time / due if due else None


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
    shares = [c["attempted_share"] for c in t.response_by_week]
    rows.append(
        Headline(
            "Enquiries first attempted within the response target",
            shares[-1],
            shares[-2],
            _pooled_share(t.response_by_week[-5:-1]),
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
    week_response = t.response_by_week[-1]
    slow = week_response["due"] - week_response["attempted_in_time"]
    if slow:
        attention.append(
            f"{_plural(slow, 'enquiry', 'enquiries')} had no first call or email within "
            f"{_working_days(target)}."
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
            f"target for their stage; the most over target is {worst['reference']} "
            f"({config.stage_label(worst['stage']).lower()}, "
            f"{int(worst['days_since_last_action'])} days without a move or contact, "
            f"{int(worst['days_over_target'])} over its {int(worst['target_days'])}-day target)."
        )
    risk = t.timescale_at_risk
    if len(risk):
        overdue = int((risk["status"] == "overdue").sum())
        approaching = len(risk) - overdue
        deadline = f"the {settings.reminders.panel_deadline_months}-month panel timescale"
        if approaching and overdue:
            attention.append(
                f"{_plural(approaching, 'household')} {'is' if approaching == 1 else 'are'} "
                f"at risk of missing {deadline} and {overdue} "
                f"{'is' if overdue == 1 else 'are'} past it."
            )
        elif approaching:
            attention.append(
                f"{_plural(approaching, 'household')} {'is' if approaching == 1 else 'are'} "
                f"at risk of missing {deadline}."
            )
        else:
            attention.append(
                f"{_plural(overdue, 'household')} {'is' if overdue == 1 else 'are'} past "
                f"{deadline} with no panel recommendation."
            )
    if len(t.at_risk):
        attention.append(f"{_plural(len(t.at_risk), 'carer household')} may be at risk of leaving.")
    if not attention:
        attention.append("Nothing needs attention this week.")
    return changes, attention


def stage_labels(config: FunnelConfig) -> dict[str, str]:
    return {stage: config.stage_label(stage) for stage in [*FUNNEL, "on_hold"]}


def _stage_frame(frame: pd.DataFrame, labels: dict[str, str], key: str = "stage") -> pd.DataFrame:
    """The frame with its index as columns and, first, the words for its `key` column."""
    out = frame.reset_index()
    out.insert(0, "label", out[key].map(labels))
    return out


def report_tables(
    t: WeeklyTables, data: FunnelData, settings: Settings, config: FunnelConfig
) -> list[Table]:
    labels = stage_labels(config)
    rc = config.report
    mature_note = (
        f"The mature cohort: households whose enquiry fell between {t.mature_period.label} "
        f"({rc.mature_from_months} to {rc.mature_to_months} months before the end of the week, "
        "old enough to have been approved), and how far they have got. A household that "
        "skipped a stage still counts as reaching it. Mainstream households only: connected "
        "persons (family and friends) are counted apart, below."
    )
    young = _stage_frame(t.young_funnel, labels)
    # After the application, younger enquiries have not had time: say so rather than
    # showing a share that will only grow.
    early = young["stage"].isin(FUNNEL[FUNNEL.index("application") + 1 :])
    young["shown_from_enquiry"] = [
        "Too early to tell" if too_early else format_value(value, "pct")
        for too_early, value in zip(early, young["conversion_from_enquiry"], strict=True)
    ]
    funnel = _stage_frame(t.funnel.join(t.days_to_stage[["median", "p75"]]), labels)
    trend = t.enquiries_trend.reset_index()
    response_rows = pd.DataFrame(
        [{"group": f"Enquiries in {c['week']}", **c} for c in t.response_by_week[::-1]]
    )
    area_table = t.area_table.reset_index()
    officers = t.response_officers.reset_index(names="officer")
    costs = t.campaign_costs.reset_index(drop=True)
    if len(costs):
        costs["shown_per_approval"] = [
            "Too early to tell" if early else format_value(value, "money")
            for early, value in zip(
                costs["approval_too_early"], costs["cost_per_approval_pence"], strict=True
            )
        ]
    else:
        costs["shown_per_approval"] = pd.Series(dtype=object)
    referrals = t.referrals.reset_index(drop=True)
    other = t.other_words.copy()
    other.insert(0, "list_label", other["list"].map(metrics.OTHER_LISTS))
    left_week = _left_this_week(t, data)
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
    reasons = _reason_table(t.drop_off, data)

    def with_labels(frame: pd.DataFrame, label: Callable[[Any], str]) -> pd.DataFrame:
        out = frame.reset_index()
        out.insert(0, "label", [label(k) for k in out.iloc[:, 0]])
        return out

    channels = with_labels(t.channels, data.source_label)
    enquiry_channels = with_labels(
        t.enquiry_channels, lambda k: str(k).replace("_", " ").capitalize()
    )
    stalled = t.stalled.copy()
    stalled["stage_label"] = stalled["stage"].map(labels)
    stalled["household_id"] = stalled.index
    movement = t.movement.reset_index()
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
            "response",
            "Responding to enquiries",
            response_rows,
            [
                Column("group", "Enquiries"),
                Column("enquiries", "Number", "int"),
                Column("due", "Due a response", "int"),
                Column("attempted_in_time", "First attempt in time", "int"),
                Column("attempted_share", "Share attempted in time", "pct"),
                Column("contacted_share", "Share spoken to in time", "pct"),
                Column("median_working_days", "Median working days to first attempt", "number"),
                Column("offered_share", "Initial visit offered in time", "pct"),
            ],
            note=f"The team's speed: a first call or email within {_working_days(response_days)} "
            "of office time, answered or not. Every enquiry whose target has passed counts, "
            "including those we could not reach. Initial visit offered: of those spoken to, "
            f"a visit booked within {settings.response.offer_initial_visit_within_working_days} "
            "working days of the enquiry.",
        ),
        Table(
            "areas_side_by_side",
            "Areas side by side",
            area_table,
            [
                Column("area", "Area"),
                Column("enquiries", f"Enquiries (last {rc.response_weeks} weeks)", "int"),
                Column("attempted_share", "First attempt in time", "pct"),
                Column("offered_share", "Visit offered in time", "pct"),
                Column("mature_enquiries", "Mature cohort", "int"),
                Column("enquiry_initial_visit", "Enquiry to visit", "pct"),
                Column("initial_visit_application", "Visit to application", "pct"),
                Column("application_approved", "Application to approval", "pct"),
                Column("enquiry_approved", "Enquiry to approval", "pct"),
                Column("days_enquiry_initial_visit", "Median days to visit", "days"),
                Column("days_application_approved", "Median days application to approval", "days"),
                Column("days_enquiry_approved", "Median days to approval", "days"),
                Column("stalled", "Stalled now", "int"),
            ],
            note=f"Response: enquiries of {t.response_period.label}. Conversion and days: the "
            f"mature cohort ({t.mature_period.label}). The last row is every area together.",
        ),
        Table(
            "officers",
            "Response by recruitment officer",
            officers,
            [
                Column("officer", "Officer"),
                Column("enquiries", "Enquiries", "int"),
                Column("due", "Due a response", "int"),
                Column("attempted_share", "First attempt in time", "pct"),
                Column("contacted_share", "Spoken to in time", "pct"),
                Column("median_working_days", "Median working days", "number"),
                Column("offered_share", "Visit offered in time", "pct"),
            ],
            note=f"Enquiries of {t.response_period.label}, by the officer they are assigned to.",
            empty="No enquiries in these weeks.",
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
            note=mature_note,
        ),
        Table(
            "young_funnel",
            "Younger enquiries so far",
            young,
            [
                Column("label", "Stage"),
                Column("reached", "Reached so far", "int"),
                Column("shown_from_enquiry", "From enquiry"),
            ],
            note=f"Enquiries of {t.cohort_period.label}: most have not had time to be approved, "
            "so their conversion after the application is too early to tell.",
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
            note="For the mature cohort. On hold pauses the assessment.",
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
            note="The mature cohort, each household once, at the furthest stage it reached.",
        ),
        Table(
            "drop_off_reasons",
            "Why households left",
            reasons,
            [
                Column("label", "Reason"),
                Column("outcome_label", "Who decided"),
                Column("households", "Households", "int"),
            ],
            note=f"Households of the mature cohort ({t.mature_period.label}) who left.",
            empty="Nobody withdrew or was not progressed.",
        ),
        Table(
            "left_this_week",
            "Who left this week, and why",
            left_week,
            [
                Column("label", "Reason"),
                Column("outcome_label", "Who decided"),
                Column("households", "Households", "int"),
            ],
            note="Moves to withdrawn or not progressed made this week, whenever the household "
            "enquired.",
            empty="Nobody withdrew or was not progressed this week.",
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
            "Campaigns: what each step cost",
            costs,
            [
                Column("campaign", "Campaign"),
                Column("enquiries", "Enquiries", "int"),
                Column("initial_visits", "Initial visits", "int"),
                Column("applications", "Applications", "int"),
                Column("approvals", "Approvals", "int"),
                Column("cost_pence", "Cost", "money"),
                Column("cost_per_enquiry_pence", "Per enquiry", "money"),
                Column("cost_per_initial_visit_pence", "Per initial visit", "money"),
                Column("shown_per_approval", "Per approval"),
            ],
            note="Every enquiry a campaign has brought, whenever it came. Cost per approval "
            f"only once all its enquiries are in the mature cohort (made by "
            f"{t.mature_period.end:%-d %B %Y}); before that it is too early to tell.",
            empty="No enquiries came from a campaign yet.",
        ),
        Table(
            "other_words",
            "What \u201cOther\u201d means, in the words given",
            other,
            [
                Column("list_label", "Filed as other"),
                Column("words", "The words given"),
                Column("households", "Households", "int"),
            ],
            note=f"Sources, campaigns and reasons for leaving of the mature cohort "
            f"({t.mature_period.label}), and reasons for deregistering in the last 12 months, "
            "that were filed under \u201cOther\u201d (or named a campaign we do not run), with "
            "the words the team or the imported tracker gave.",
            empty="Nothing was filed under \u201cOther\u201d.",
        ),
        Table(
            "referrals",
            "Refer a friend: referrals per referring carer",
            referrals,
            [
                Column("referrer", "Referring carer household"),
                Column("referrals", "Households referred", "int"),
                Column("initial_visits", "Reached an initial visit", "int"),
                Column("applications", "Applied", "int"),
                Column("approvals", "Approved", "int"),
            ],
            empty="No household has been referred by a carer yet.",
            limit=rc.max_rows,
        ),
        Table(
            "stalled",
            "Stalled cases",
            stalled,
            [
                Column("reference", "Household", link="household_id"),
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
        *leaver_tables(t, data),
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
        *assessment_tables(t, data, settings, config),
    ]


def leaver_tables(t: WeeklyTables, data: FunnelData) -> list[Table]:
    """Carers deregistered in the 12 months to the end of the week and those under notice
    then, by reason, by time since approval and by age group (funnel.leavers)."""
    frame = t.carer_leavers
    period = t.year_period.label
    counts = [
        Column(leavers.DEREGISTERED, "Deregistered (last 12 months)", "int"),
        Column(leavers.UNDER_NOTICE, "Under notice now", "int"),
    ]
    reasons = leavers.by_reason(data, frame).reset_index()
    service = leavers.by_time_approved(frame).reset_index()
    ages = leavers.by_age(frame).reset_index()
    gone = int((frame["status"] == leavers.DEREGISTERED).sum())
    noticed = int((frame["status"] == leavers.UNDER_NOTICE).sum())
    return [
        Table(
            "leavers_by_reason",
            "Why carers left (last 12 months)",
            reasons,
            [
                Column("reason", "Reason"),
                *counts,
                Column("with_words", "Of them, in their own words", "int"),
            ],
            note=f"Carer households whose approval ended between {period} "
            f"({gone} in all), and those who have given notice and whose approval has not "
            f"ended yet ({noticed}), by the reason recorded. For \u201cOther\u201d, how many "
            "gave the reason in their own words (the words themselves are in the table of what "
            "\u201cOther\u201d means).",
            empty="No carer household deregistered in the last 12 months or is under notice.",
        ),
        Table(
            "leavers_by_time_approved",
            "Carers who left, by time since approval",
            service,
            [Column("service_band", "Time since approval"), *counts],
            note="Years from approval to the day the approval ended (or ends, for those under "
            "notice), lower bound included.",
        ),
        Table(
            "leavers_by_age",
            "Carers who left, by age group",
            ages,
            [Column("age_band", "Age group"), *counts],
            note="The first applicant\u2019s age on the day the approval ended (or ends), from "
            "their date of birth.",
        ),
    ]


def _reason_frame(counts: pd.Series, data: FunnelData) -> pd.DataFrame:
    rows = [
        {
            "outcome": outcome,
            "reason_code": code,
            "label": data.reason_label(outcome, code),
            "outcome_label": "Withdrew" if outcome == "withdrawn" else "Not progressed",
            "households": int(n),
        }
        for (outcome, code), n in counts.items()
    ]
    frame = pd.DataFrame(
        rows, columns=["outcome", "reason_code", "label", "outcome_label", "households"]
    )
    return frame.sort_values(["households", "label"], ascending=[False, True]).reset_index(
        drop=True
    )


def _reason_table(drops: pd.DataFrame, data: FunnelData) -> pd.DataFrame:
    """Leavers of the mature cohort by reason (never mixed with this week's leavers)."""
    counts = (
        drops.groupby(["outcome", "reason_code"])["households"].sum()
        if len(drops)
        else pd.Series(dtype=np.int64)
    )
    return _reason_frame(counts, data)


def _left_this_week(t: WeeklyTables, data: FunnelData) -> pd.DataFrame:
    week = t.leavers_this_week
    counts = (
        week.groupby(["outcome", "reason_code"]).size() if len(week) else pd.Series(dtype=np.int64)
    )
    return _reason_frame(counts, data)


def report_as_of(week: IsoWeek, settings: Settings) -> datetime:
    """The end of the week, or now if the week has not ended yet."""
    end = week.end_utc(settings.service.timezone).to_pydatetime()
    return min(end, clock.now())


# -- verdicts: one line per question a manager asks ------------------------------------------


@dataclass
class Verdict:
    """One question a manager asks, answered in one plain line: this week, the trend, the
    target (config/funnel.toml [targets]) and the national benchmark (config/benchmarks.toml).
    `status`: good, watch, concern, or unknown (too early to tell / nothing to compare)."""

    key: str
    question: str
    status: str
    text: str
    # The national benchmarks the line quotes (keys of config/benchmarks.toml): their sources
    # are cited once, below the verdicts (`benchmark_note`), not in every line.
    benchmarks: tuple[str, ...] = ()

    @property
    def status_label(self) -> str:
        return {
            "good": "On track",
            "watch": "Watch",
            "concern": "Needs action",
            "unknown": "Too early to tell",
        }[self.status]


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _versus(now: float | None, before: float | None, kind: str = "pct", when: str = "") -> str:
    """ "up from 71% last week", "down from ...", "the same as ..." ("" if either is missing)."""
    if now is None or before is None:
        return ""
    shown = _pct(before) if kind == "pct" else f"{before:,.0f}"
    now_shown = _pct(now) if kind == "pct" else f"{now:,.0f}"
    if now_shown == shown:
        return f"the same as {when}".strip()
    return f"{'up' if now > before else 'down'} from {shown} {when}".strip()


def _against(value: float | None, target: float | None, lower_is_better: bool = False) -> str:
    if value is None or target is None:
        return "unknown"
    ratio = (target / value if value else 0.0) if lower_is_better else value / target
    if ratio >= 1:
        return "good"
    return "watch" if ratio >= 0.8 else "concern"


def _benchmark(config: FunnelConfig, key: str, kind: str = "pct") -> str:
    """ " (national 31%)", or "" when config/benchmarks.toml has no such figure. The source is
    in the footnote (`benchmark_note`)."""
    b = config.benchmarks.get(key)
    if b is None:
        return ""
    shown = _pct(b.value) if kind == "pct" else f"{b.value:,.0f} days"
    return f" (national {shown})"


def benchmark_note(verdicts: list[Verdict], config: FunnelConfig) -> str:
    """The sources of the national figures the verdicts quote, each named once: "National
    figures: The Fostering Network, recruitment benchmark 2024; Ofsted, ... 2023-24." """
    sources: list[str] = []
    for v in verdicts:
        for key in v.benchmarks:
            b = config.benchmarks.get(key)
            if b is not None and f"{b.source} {b.year}" not in sources:
                sources.append(f"{b.source} {b.year}")
    return f"National figures: {'; '.join(sources)}." if sources else ""


# The longest a name from the data may run in a verdict or an action, so every line of the
# email is bounded (funnel/README.md, "The weekly email"): a source, a campaign, a reason or
# an area; a household reference (ours are 12 characters, FC-XXXX-XXXX); why a carer is at
# risk (the social worker's words, up to 500 characters).
NAME_MAX = 32
REFERENCE_MAX = 24
WHY_MAX = 40


def clip(text: str, limit: int = NAME_MAX) -> str:
    """`text` cut to at most `limit` characters, an ellipsis saying so."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def _join(parts: list[str]) -> str:
    return ", ".join(p for p in parts if p)


def verdicts(
    t: WeeklyTables, data: FunnelData, settings: Settings, config: FunnelConfig
) -> list[Verdict]:
    targets = config.targets
    a = t.activity
    out: list[Verdict] = []

    # Enough enquiries?
    this, last = int(a["enquiries"].iloc[-1]), int(a["enquiries"].iloc[-2])
    average = float(a["enquiries"].iloc[-5:-1].mean())
    if targets.enquiries_per_week is not None:
        status = _against(this, targets.enquiries_per_week)
        target = f"target {targets.enquiries_per_week:,.0f} a week"
    else:
        status = "good" if average == 0 or this >= 0.9 * average else "watch"
        target = "no weekly target set"
    out.append(
        Verdict(
            "enquiries",
            "Are we getting enough enquiries?",
            status,
            f"Enquiries: {this:,} this week, {target}, "
            f"{_versus(this, last, 'int', 'last week') or 'none last week'} "
            f"(4-week average {average:,.1f}).",
        )
    )

    # Responding fast enough?
    days = _working_days(settings.response.target_working_days)
    offer_days = settings.response.offer_initial_visit_within_working_days
    now, before = t.response_by_week[-1], t.response_by_week[-2]
    share = now["attempted_share"]
    if share is None:
        text = (
            f"Responding: no enquiry this week is due a first attempt yet; last week "
            f"{_pct(before['attempted_share'])} were first attempted within {days}."
        )
        status = _against(before["attempted_share"], targets.first_attempt_share)
    else:
        text = (
            f"Responding: {_pct(share)} first attempted within {days}, target "
            f"{_pct(targets.first_attempt_share)}"
            + (
                f", {_versus(share, before['attempted_share'], when='last week')}"
                if before["attempted_share"] is not None
                else ""
            )
            + f"; {_pct(now['contacted_share'])} spoken to within {days}"
        )
        offered = t.response_by_week[-2]["offered_share"]
        if offered is not None:
            text += (
                f"; {_pct(offered)} of those spoken to last week were offered an initial "
                f"visit within {offer_days} working days (target "
                f"{_pct(targets.visit_offer_share)})"
            )
        text += "."
        status = _against(share, targets.first_attempt_share)
    out.append(Verdict("response", "Are we responding fast enough?", status, text))

    # Where do people drop out, and why?
    f = t.funnel["reached"]
    previous = t.previous_mature_funnel["reached"]
    if int(f["enquiry"]) == 0:
        out.append(
            Verdict(
                "drop_out",
                "Where do people drop out and why?",
                "unknown",
                f"Dropping out: too early to tell, no enquiries from {t.mature_period.label} "
                f"(9 to 21 months ago) yet.",
            )
        )
    else:
        total = int(f["enquiry"])
        visit, applied, approved = (
            f["initial_visit"] / total,
            f["application"] / total,
            f["approved"] / total,
        )
        before_approved = (
            previous["approved"] / previous["enquiry"] if previous["enquiry"] else None
        )
        median = t.days_to_stage.loc["approved", "median"]
        left_at = {
            stage: metrics.by_left_stage(t.drop_off, "withdrawn")[stage]
            + metrics.by_left_stage(t.drop_off, "not_progressed")[stage]
            for stage in FUNNEL[:-1]
        }
        worst_stage, lost = max(left_at.items(), key=lambda item: item[1])
        reasons = metrics.by_reason(t.drop_off, "withdrawn")
        reason = next(iter(reasons), None)
        benchmark_target = targets.enquiry_to_approval or (
            config.benchmarks["enquiry_to_approval"].value
            if "enquiry_to_approval" in config.benchmarks
            else None
        )
        has_median = median is not None and not pd.isna(median)
        text = (
            f"Dropping out: of {_plural(total, 'enquiry', 'enquiries')} made "
            f"{t.mature_period.label}, "
            f"{_pct(visit)} reached an initial visit"
            + _benchmark(config, "enquiry_to_initial_visit")
            + f", {_pct(applied)} applied"
            + _benchmark(config, "enquiry_to_application")
            + f" and {_pct(approved)} were approved"
            + _benchmark(config, "enquiry_to_approval")
            + (
                f", {_versus(approved, before_approved, when='a quarter earlier')}"
                if before_approved is not None
                else ""
            )
            + (
                f"; a median of {median:,.0f} days to approval"
                + _benchmark(config, "days_to_approval", "days")
                if has_median
                else ""
            )
            + (
                f". Most leave at {config.stage_label(worst_stage).lower()} ({lost:,})"
                if lost
                else ". Nobody in it has left"
            )
            + (
                f"; the commonest reason for withdrawing is "
                f"\u201c{clip(data.reason_label('withdrawn', reason))}\u201d."
                if reason
                else "."
            )
        )
        cited = ["enquiry_to_initial_visit", "enquiry_to_application", "enquiry_to_approval"]
        out.append(
            Verdict(
                "drop_out",
                "Where do people drop out and why?",
                _against(approved, benchmark_target),
                text,
                tuple(cited + ["days_to_approval"] if has_median else cited),
            )
        )

    # Which channels work?
    channels = t.channels
    sized = channels[channels["enquiries"] >= max(5, int(0.05 * channels["enquiries"].sum()))]
    if sized.empty:
        out.append(
            Verdict(
                "channels",
                "Which channels work?",
                "unknown",
                "Channels: too early to tell, too few enquiries 9 to 21 months old to compare "
                "sources.",
            )
        )
    else:
        best = sized.sort_values("to_approval", ascending=False, kind="stable").iloc[0]
        most = sized.iloc[0]
        total = int(channels["enquiries"].sum())
        text = (
            f"Channels: {clip(data.source_label(best.name))} approves the most "
            f"({_pct(best['to_approval'])} of its enquiries)"
        )
        if most.name != best.name:
            text += (
                f"; {clip(data.source_label(most.name))} brings the most enquiries "
                f"({_pct(most['enquiries'] / total)}) and approves {_pct(most['to_approval'])}"
            )
        costs = t.campaign_costs
        priced = costs[costs["cost_per_approval_pence"].notna()] if len(costs) else costs
        if len(priced):
            cheapest = priced.sort_values("cost_per_approval_pence").iloc[0]
            text += (
                f"; cheapest approvals: {clip(cheapest['campaign'])} at "
                f"{format_value(cheapest['cost_per_approval_pence'], 'money')} each"
            )
        out.append(Verdict("channels", "Which channels work?", "good", text + "."))

    # Are carers staying?
    r, before_r = t.retention, t.previous_retention
    movement = t.movement
    net_year = int(movement["net_change"].sum())
    this_week = a.iloc[-1]
    text = (
        f"Carers staying: {_plural(t.carer_households, 'approved household')}, "
        f"{int(this_week['carers_approved'])} approved and {int(this_week['deregistrations'])} "
        f"deregistered this week, net {net_year:+d} over {len(movement)} months"
    )
    if r["retention_rate"] is not None:
        text += f"; {_pct(r['retention_rate'])} still approved a year after approval"
        if targets.retention_12_months is not None:
            text += f" (target {_pct(targets.retention_12_months)})"
        versus = _versus(r["retention_rate"], before_r["retention_rate"], when="a quarter earlier")
        text += f", {versus}" if versus else ""
    if len(t.at_risk):
        text += f"; {_plural(len(t.at_risk), 'carer household')} at risk"
    if targets.retention_12_months is not None and r["retention_rate"] is not None:
        status = _against(r["retention_rate"], targets.retention_12_months)
    else:
        status = "good" if net_year >= 0 else "concern"
    out.append(Verdict("retention", "Are carers staying?", status, text + "."))
    return out


@dataclass
class Action:
    """One of the top actions: what to do, and the households it names (id, reference)."""

    text: str
    households: list[tuple[int, str]]


def _days_left(days: int) -> str:
    return f"{_plural(-days, 'day')} overdue" if days < 0 else f"{_plural(days, 'day')} left"


def top_actions(
    t: WeeklyTables, settings: Settings, config: FunnelConfig, limit: int = 3
) -> list[Action]:
    """The three things to do first: the stalled cases most over target, the households
    nearest to (or past) the panel timescale with no recommendation yet, and the carers at
    risk of leaving, each naming at most `limit` households (the whole lists are on the page
    and in the CSV). Every name from the data is clipped, so each line is bounded."""
    actions = []

    def ids(top: pd.DataFrame) -> list[tuple[int, str]]:
        return [(int(i), str(r)) for i, r in zip(top.index, top["reference"], strict=True)]

    def of(top: pd.DataFrame, whole: pd.DataFrame) -> str:
        return f" (of {len(whole):,})" if len(whole) > len(top) else ""

    if len(t.stalled):
        top = t.stalled.head(limit)
        actions.append(
            Action(
                f"Move on the {_plural(len(top), 'stalled case')} most over target"
                f"{of(top, t.stalled)}: "
                + "; ".join(
                    f"{clip(row.reference, REFERENCE_MAX)} "
                    f"({clip(config.stage_label(row.stage).lower())}, "
                    f"{int(row.days_over_target):,} days over)"
                    for row in top.itertuples()
                )
                + ".",
                ids(top),
            )
        )
    risk = t.timescale_at_risk
    if risk is not None and len(risk):
        top = risk.head(limit)
        months = settings.reminders.panel_deadline_months
        actions.append(
            Action(
                f"Get a panel recommendation for the {_plural(len(top), 'household')} nearest "
                f"the {months}-month timescale{of(top, risk)}: "
                + "; ".join(
                    f"{clip(row.reference, REFERENCE_MAX)} ({_days_left(int(row.days_left))})"
                    for row in top.itertuples()
                )
                + ".",
                ids(top),
            )
        )
    if len(t.at_risk):
        top = t.at_risk.head(limit)
        actions.append(
            Action(
                f"Call the {_plural(len(top), 'carer household')} at risk of leaving first"
                f"{of(top, t.at_risk)}: "
                + "; ".join(
                    f"{clip(row.reference, REFERENCE_MAX)} ({clip(row.why, WHY_MAX)})"
                    for row in top.itertuples()
                )
                + ".",
                [],
            )
        )
    return actions


# -- the assessment measures (issue 11) ------------------------------------------------------

_RECOMMENDATION_LABELS = {
    "approve": "Panel recommended: approve",
    "do_not_approve": "Panel recommended: do not approve",
    "defer": "Panel deferred",
}
_DECISION_LABELS = {
    "approved": "Agency decision: approved",
    "not_approved": "Agency decision: not approved",
}


def _stays_frame(t: WeeklyTables, config: FunnelConfig) -> pd.DataFrame:
    frame = t.time_in_assessment.reset_index()
    frame.insert(
        0,
        "label",
        [
            config.stage_label(stage) + (" (connected persons)" if kinship else "")
            for stage, kinship in zip(frame["stage"], frame["kinship"], strict=True)
        ],
    )
    return frame


def _panel_frame(t: WeeklyTables) -> pd.DataFrame:
    labels = {**_RECOMMENDATION_LABELS, **_DECISION_LABELS}
    return _stage_frame(t.panel_outcomes, labels, key="outcome")


def assessment_tables(
    t: WeeklyTables, data: FunnelData, settings: Settings, config: FunnelConfig
) -> list[Table]:
    """The tables of the assessment measures and of connected persons, for the page and CSV."""
    labels = stage_labels(config)
    rc = config.report
    checks = t.checks_outstanding.reset_index()
    at_risk = t.timescale_at_risk.copy()
    at_risk["household_id"] = at_risk.index
    at_risk["stage_label"] = at_risk["stage"].map(lambda s: config.stage_label(s))
    at_risk["pathway"] = np.where(at_risk["kinship"], "Connected person", "Mainstream")
    at_risk["status_label"] = at_risk["status"].map(
        {"overdue": "Past the deadline", "approaching": "At risk"}
    )
    kinship = _stage_frame(t.kinship_funnel, labels).merge(
        t.kinship_young_funnel[["reached"]].rename(columns={"reached": "young_reached"}),
        left_on="stage",
        right_index=True,
    )
    year = t.year_period.label
    deadline = settings.reminders.panel_deadline_months
    return [
        Table(
            "checks_outstanding",
            "Checks outstanding, by type",
            checks,
            [
                Column("label", "Check"),
                Column("outstanding", "Outstanding", "int"),
                Column("past_target", "Past the chase target", "int"),
                Column("median_days", "Median days waiting", "days"),
                Column("oldest_days", "Longest wait (days)", "int"),
                Column("under_4_weeks", "Under 4 weeks", "int"),
                Column("weeks_4_to_8", "4 to 8 weeks", "int"),
                Column("over_8_weeks", "Over 8 weeks", "int"),
            ],
            note="Stage one checks requested and not yet received, for households still open, "
            "at the end of the week. The chase target is each check's working days in "
            "config/checks.toml, counted from the request.",
            empty="No check is outstanding.",
        ),
        Table(
            "time_in_assessment",
            "Time in stage one and stage two against target",
            _stays_frame(t, config),
            [
                Column("label", "Stage"),
                Column("target_days", "Target days", "int"),
                Column("finished", f"Stays finished ({year})", "int"),
                Column("median_days", "Median days", "days"),
                Column("within_target_share", "Within target", "pct"),
                Column("ongoing", "Still in the stage", "int"),
                Column("ongoing_over_target", "Over target now", "int"),
                Column("ongoing_median_days", "Median days so far", "days"),
            ],
            note="A stay runs from the move into the stage to the next move (on hold pauses "
            "it). Connected persons (family and friends) have their own rows.",
        ),
        Table(
            "timescale_at_risk",
            f"Households at risk of missing the {deadline}-month timescale",
            at_risk,
            [
                Column("reference", "Household", link="household_id"),
                Column("area", "Area"),
                Column("stage_label", "Stage"),
                Column("pathway", "Pathway"),
                Column("application_on", "Application", "date"),
                Column("deadline_on", "Recommendation due by", "date"),
                Column("days_left", "Days left", "int"),
                Column("panel_on", "Listed for panel", "date"),
                Column("status_label", "Status"),
            ],
            note=f"National Minimum Standard 14: the panel's recommendation within {deadline} "
            f"months of the application. Households in assessment with no recommendation and "
            f"{settings.panel.at_risk_days} days or fewer left, or past the deadline (the rule "
            "of the panel timescales page); only households you may open.",
            empty="No household is at risk of missing the timescale.",
            limit=rc.max_rows,
        ),
        Table(
            "panel_outcomes",
            "Panel recommendations and agency decisions",
            _panel_frame(t),
            [
                Column("label", "Outcome"),
                Column("this_week", "This week", "int"),
                Column("last_12_months", f"Last 12 months ({year})", "int"),
                Column("this_week_kinship", "Connected persons, this week", "int"),
                Column("last_12_months_kinship", "Connected persons, 12 months", "int"),
            ],
            note="Recommendations and decisions dated in the week and in the 12 months to its "
            "end; mainstream and connected persons apart.",
        ),
        Table(
            "kinship_funnel",
            "Connected persons (family and friends): how far they got",
            kinship,
            [
                Column("label", "Stage"),
                Column("reached", "Mature cohort: reached", "int"),
                Column("conversion_from_enquiry", "From enquiry", "pct"),
                Column("young_reached", "Younger enquiries: reached so far", "int"),
            ],
            note=f"Connected persons households of the mature cohort ({t.mature_period.label}) "
            f"and of the younger enquiries ({t.cohort_period.label}). They are left out of the "
            "conversion, time, drop-off and channel tables above, which are mainstream only.",
        ),
    ]


def assessment_summary(t: WeeklyTables, settings: Settings, config: FunnelConfig) -> list[str]:
    """The assessment measures in four short lines (the email carries them below the
    verdicts; the lists behind them are on the page): checks, time in stage one and two,
    the 8-month timescale, panel outcomes."""
    lines = []
    checks = t.checks_outstanding
    if len(checks):
        total, past = int(checks["outstanding"].sum()), int(checks["past_target"].sum())
        oldest = checks.sort_values("oldest_days", ascending=False, kind="stable").iloc[0]
        lines.append(
            f"Checks: {total:,} outstanding, {past:,} past the chase target; longest wait "
            f"{int(oldest['oldest_days']):,} days ({oldest['label']})."
        )
    else:
        lines.append("Checks: none outstanding.")
    parts = []
    stays = t.time_in_assessment
    for stage in ("stage_one", "stage_two"):
        row = stays.loc[(stage, False)]
        label = config.stage_label(stage)
        if row["finished"]:
            part = (
                f"{label}: median {row['median_days']:,.0f} days (target "
                f"{row['target_days']:,.0f}, {_pct(row['within_target_share'])} within)"
            )
        else:
            part = f"{label}: none finished"
        if row["ongoing"]:
            part += (
                f", {int(row['ongoing_over_target'] or 0):,} of {int(row['ongoing']):,} now over"
            )
        parts.append(part)
    lines.append("; ".join(parts) + " (last 12 months, mainstream).")
    risk = t.timescale_at_risk
    months = settings.reminders.panel_deadline_months
    if len(risk):
        overdue = int((risk["status"] == "overdue").sum())
        lines.append(
            f"{months}-month timescale: {_plural(len(risk), 'household')} at risk, "
            f"{overdue:,} past it."
        )
    else:
        lines.append(f"{months}-month timescale: no household at risk.")
    panel = t.panel_outcomes

    def said(column: str) -> str:
        # Every pathway together here; the page's table has connected persons apart.
        recs = (
            panel.loc["recommendation", column] + panel.loc["recommendation", f"{column}_kinship"]
        )
        decs = panel.loc["decision", column] + panel.loc["decision", f"{column}_kinship"]
        shown = [
            f"{int(n)} {word}"
            for n, word in (
                (recs["approve"], "approve"),
                (recs["do_not_approve"], "do not approve"),
                (recs["defer"], "deferred"),
            )
            if n
        ]
        text = _plural(int(recs.sum()), "recommendation")
        text += f" ({', '.join(shown)})" if shown else ""
        text += f", {_plural(int(decs.sum()), 'decision')}"
        if decs.sum():
            text += f" ({int(decs['approved'])} approved)"
        return text

    lines.append(f"Panel this week: {said('this_week')}; 12 months: {said('last_12_months')}.")
    return lines
