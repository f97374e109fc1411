"""The annual figures: for a year from 1 April to 31 March, the recruitment and retention counts
Ofsted's annual fostering data collection asks of a fostering service, as a page and an Excel
workbook. Definitions are in funnel/README.md ("The annual figures").

Everything is as at the end of the year (or now, for a year not over yet), so a past year reads
the same whenever it is opened. Reads the database only.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd
from sqlmodel import Session

from crm import clock
from crm.exports import safe_row
from crm.settings import Settings
from funnel import metrics
from funnel.config import FunnelConfig, load_funnel_config
from funnel.frames import FUNNEL, LEAVING, FunnelData
from funnel.leavers import SERVICE_BANDS, band_counts
from funnel.load import load_funnel_data
from funnel.periods import Period, local_midnight_utc
from funnel.tables import Column, Table, raw_value


def year_period(start_year: int) -> Period:
    """1 April `start_year` to 31 March the year after (2025 -> 2025-26)."""
    return Period(date(start_year, 4, 1), date(start_year + 1, 3, 31))


def year_label(start_year: int) -> str:
    return f"{start_year}-{(start_year + 1) % 100:02d}"


def current_year(today: date) -> int:
    """The start year of the year (from 1 April) that `today` falls in."""
    return today.year if today >= date(today.year, 4, 1) else today.year - 1


def _service_bands(years: pd.Series) -> pd.Series:
    return band_counts(years, SERVICE_BANDS)


def _years_between(start: pd.Series, end: pd.Timestamp | pd.Series) -> pd.Series:
    return (end - start).dt.days / 365.25


@dataclass
class AnnualFigures:
    start_year: int
    period: Period
    as_of: pd.Timestamp
    area_label: str
    service_name: str
    counts: pd.DataFrame
    leaving_by_stage: pd.DataFrame
    deregistrations: pd.DataFrame
    service_length: pd.DataFrame
    tz: str = "Europe/London"

    @property
    def label(self) -> str:
        return year_label(self.start_year)

    @property
    def year_unfinished(self) -> bool:
        return self.as_of < local_midnight_utc(self.period.end + timedelta(days=1), self.tz)

    def tables(self, config: FunnelConfig) -> list[Table]:
        stage = Column("label", "Stage")
        return [
            Table(
                "annual_counts",
                "Recruitment and households",
                self.counts,
                [Column("measure", "Measure"), Column("value", "Number", "int")],
            ),
            Table(
                "leaving_by_stage",
                "Withdrawn and not progressed, by stage",
                self.leaving_by_stage,
                [
                    stage,
                    Column("withdrawn", "Withdrew", "int"),
                    Column("not_progressed", "Not progressed", "int"),
                ],
                note="Moves made in the year, by the stage the household was at when it left.",
            ),
            Table(
                "deregistrations",
                "Deregistrations by reason",
                self.deregistrations,
                [Column("reason", "Reason"), Column("carers", "Carer households", "int")],
                empty="No carer household was deregistered in the year.",
            ),
            Table(
                "service_length",
                "Carers' length of service",
                self.service_length,
                [
                    Column("band", "Length of service"),
                    Column("at_year_end", "Approved at 31 March", "int"),
                    Column("deregistered", "Deregistered in the year", "int"),
                ],
                note="From approval to 31 March (or to deregistration).",
            ),
        ]


def annual_figures(
    data: FunnelData,
    start_year: int,
    service_name: str = "",
    config: FunnelConfig | None = None,
) -> AnnualFigures:
    """The year's counts from data loaded as at its end (see module docstring)."""
    config = config or load_funnel_config()
    period = year_period(start_year)
    last_day = min(period.end, data.as_of.tz_convert(data.tz).date())
    j = data.journeys
    in_year = {
        stage: int(period.contains(j[f"reach_{stage}"], data.tz).sum())
        for stage in ("application", "approved")
    }
    enquiries = int(period.contains(j["enquired_at"], data.tz).sum())
    ev = data.events
    leaving = ev[(ev["to_stage"].isin(LEAVING) & period.contains(ev["occurred_at"], data.tz))]
    # The stage left from: a household on hold left from the stage it paused at.
    left_from = leaving["household_id"].map(j["funnel_stage"].astype(str))
    from_stage = leaving["from_stage"].astype(str)
    stage = from_stage.where(from_stage.isin(FUNNEL), left_from)
    table = pd.crosstab(stage, leaving["to_stage"].astype(str)).reindex(
        index=FUNNEL[:-1], columns=list(LEAVING), fill_value=0
    )
    table.index.name = "stage"
    table.columns.name = None
    leaving_by_stage = table.reset_index()
    leaving_by_stage.insert(0, "label", leaving_by_stage["stage"].map(config.stage_label))

    carers = data.carers
    current = metrics.carer_households_on(data, last_day).to_numpy()
    places = int(carers.loc[current, "places"].sum())
    dereg_reasons = metrics.deregistration_reasons(data, Period(period.start, last_day))
    deregistrations = dereg_reasons.reset_index()
    deregistrations.columns = ["code", "carers"]
    deregistrations.insert(
        0, "reason", [data.reason_label("deregistered", c) for c in deregistrations["code"]]
    )
    counts = pd.DataFrame(
        [
            ("Enquiries", enquiries),
            ("Applications", in_year["application"]),
            ("Households approved", in_year["approved"]),
            ("Withdrawn (all stages)", int(leaving_by_stage["withdrawn"].sum())),
            ("Not progressed (all stages)", int(leaving_by_stage["not_progressed"].sum())),
            ("Approved fostering households at the year end", int(current.sum())),
            ("Approved places at the year end", places),
            ("Households deregistered", int(dereg_reasons.sum())),
        ],
        columns=["measure", "value"],
    )
    end = pd.Timestamp(last_day)
    at_end = _service_bands(_years_between(carers.loc[current, "approved_on"], end))
    left = carers[Period(period.start, last_day).contains_dates(carers["deregistered_on"])]
    left_bands = _service_bands(_years_between(left["approved_on"], left["deregistered_on"]))
    service_length = pd.DataFrame(
        {"band": at_end.index, "at_year_end": at_end.to_numpy(), "deregistered": left_bands}
    ).reset_index(drop=True)
    return AnnualFigures(
        start_year=start_year,
        period=period,
        as_of=data.as_of,
        area_label="All areas" if data.area_names is None else ", ".join(data.area_names),
        service_name=service_name,
        counts=counts,
        leaving_by_stage=leaving_by_stage,
        deregistrations=deregistrations,
        service_length=service_length,
        tz=data.tz,
    )


def annual_as_of(start_year: int, settings: Settings) -> datetime:
    end = year_period(start_year).end + timedelta(days=1)
    return min(local_midnight_utc(end, settings.service.timezone).to_pydatetime(), clock.now())


def load_annual_figures(
    session: Session, settings: Settings, start_year: int, *, area_ids: list[int] | None = None
) -> AnnualFigures:
    data = load_funnel_data(
        session,
        as_of=annual_as_of(start_year, settings),
        area_ids=area_ids,
        tz=settings.service.timezone,
    )
    return annual_figures(data, start_year, settings.service.name)


def annual_workbook(figures: AnnualFigures, config: FunnelConfig | None = None) -> bytes:
    """An Excel workbook: one sheet per table, text cells neutralised (crm.exports)."""
    from openpyxl import Workbook

    config = config or load_funnel_config()
    workbook = Workbook(write_only=True)
    for table in figures.tables(config):
        sheet = workbook.create_sheet(table.title[:31])
        sheet.append(safe_row([f"{figures.service_name} · {figures.area_label} · {figures.label}"]))
        sheet.append(safe_row([c.heading for c in table.columns]))
        for row in table.frame.to_dict("records"):
            sheet.append(safe_row(raw_value(row[c.key], c.kind) for c in table.columns))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


__all__ = [
    "AnnualFigures",
    "annual_figures",
    "annual_workbook",
    "current_year",
    "load_annual_figures",
    "year_label",
    "year_period",
]
