"""Checking one tracker row on its own: dates, names, contacts, postcode, the lists it names
(areas, sources, campaigns, reasons), stages in order. Every problem is reported with its
spreadsheet row and column; nothing here writes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from crm import clock
from crm.models import Area, Campaign, Reason, ReasonKind, Source, Stage
from crm.services.imports.columns import LEAVING_COLUMNS, STAGE_COLUMNS
from crm.services.validation import normalise_email, normalise_phone, normalise_postcode
from crm.settings import Settings

NO_REASON_TEXT = "No reason recorded in the tracker"

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_UK = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


@dataclass(frozen=True)
class Problem:
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"Row {self.row}, {self.column}: {self.message}"


def parse_date(text: str) -> date:
    """YYYY-MM-DD or DD/MM/YYYY (day first, as UK spreadsheets write it)."""
    text = text.strip()
    for pattern, order in ((_ISO, (0, 1, 2)), (_UK, (2, 1, 0))):
        match = pattern.match(text)
        if match:
            parts = [int(g) for g in match.groups()]
            year, month, day = (parts[i] for i in order)
            try:
                return date(year, month, day)
            except ValueError:
                raise ValueError(f"{text!r} is not a real date") from None
    raise ValueError(f"enter a date as YYYY-MM-DD or DD/MM/YYYY, not {text!r}")


@dataclass
class Leaving:
    stage: Stage
    on: date
    reason_code: str
    reason_text: str | None


@dataclass
class TrackerRow:
    """One checked row: what the household's history should be."""

    row: int
    reference: str
    enquired_on: date
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    postcode: str | None
    area_name: str | None
    source_key: str | None
    campaign_name: str | None
    first_contact_on: date | None
    stages: dict[Stage, date]
    leaving: Leaving | None

    def history(self) -> list[tuple[Stage, date]]:
        """(stage, date) in the order the moves happen, enquiry first."""
        moves = [(Stage.ENQUIRY, self.enquired_on), *self.stages.items()]
        if self.leaving:
            moves.append((self.leaving.stage, self.leaving.on))
        return moves


@dataclass
class Lists:
    """The database lists a row is checked against, read once per import."""

    areas: dict[str, str]
    sources: dict[str, str]
    source_names: list[str]
    campaigns: dict[str, str]
    reasons: dict[ReasonKind, dict[str, str]]

    @classmethod
    def read(cls, session: Session) -> Lists:
        areas = {name.casefold(): name for name in session.exec(select(Area.name)).all()}
        sources: dict[str, str] = {}
        names = []
        for source in session.exec(select(Source).where(Source.active.is_(True))).all():
            sources[source.key.casefold()] = source.key
            sources[source.label.casefold()] = source.key
            names.append(source.label)
        campaigns = {name.casefold(): name for name in session.exec(select(Campaign.name)).all()}
        reasons: dict[ReasonKind, dict[str, str]] = {}
        for reason in session.exec(select(Reason).where(Reason.active.is_(True))).all():
            kind = reasons.setdefault(ReasonKind(reason.kind), {})
            kind[reason.code.casefold()] = reason.code
            kind[reason.label.casefold()] = reason.code
        return cls(areas, sources, sorted(names), campaigns, reasons)


def local_today(settings: Settings) -> date:
    return clock.now().astimezone(ZoneInfo(settings.service.timezone)).date()


def check_row(
    number: int, values: dict[str, str], lists: Lists, today: date
) -> tuple[TrackerRow | None, list[Problem]]:
    """Check one row on its own (no history comparison); every problem is reported."""
    problems: list[Problem] = []

    def problem(column: str, message: str) -> None:
        problems.append(Problem(number, column, message))

    def text(column: str, limit: int = 200) -> str | None:
        value = " ".join(values.get(column, "").split())
        if len(value) > limit:
            problem(column, f"longer than {limit} characters")
        return value or None

    def day(column: str) -> date | None:
        raw = values.get(column, "").strip()
        if not raw:
            return None
        try:
            parsed = parse_date(raw)
        except ValueError as exc:
            problem(column, str(exc)[0].upper() + str(exc)[1:])
            return None
        if parsed > today:
            problem(column, f"{parsed:%d/%m/%Y} is in the future")
            return None
        return parsed

    reference = text("reference", 40)
    if not reference:
        problem("reference", "Enter the household's reference")
    enquired_on = day("enquiry_date")
    if enquired_on is None and not values.get("enquiry_date", "").strip():
        problem("enquiry_date", "Enter the date of the enquiry")
    first_name, last_name = text("first_name", 100), text("last_name", 100)
    if not first_name:
        problem("first_name", "Enter a first name")
    if not last_name:
        problem("last_name", "Enter a last name")
    email = phone = postcode = None
    if values.get("email", "").strip():
        try:
            email = normalise_email(values["email"])
        except ValueError as exc:
            problem("email", str(exc))
    if values.get("phone", "").strip():
        try:
            phone = normalise_phone(values["phone"])
        except ValueError as exc:
            problem("phone", str(exc))
    if not values.get("email", "").strip() and not values.get("phone", "").strip():
        problem("email", "Enter an email address or a telephone number")
    if values.get("postcode", "").strip():
        try:
            postcode = normalise_postcode(values["postcode"])
        except ValueError as exc:
            problem("postcode", str(exc))

    area_name = source_key = campaign_name = None
    if area := text("area"):
        area_name = lists.areas.get(area.casefold())
        if area_name is None:
            known = ", ".join(sorted(lists.areas.values())) or "none yet"
            problem("area", f"Unknown area {area!r}. Areas are: {known}")
    if source := text("source"):
        source_key = lists.sources.get(source.casefold())
        if source_key is None:
            problem(
                "source",
                f"Unknown source {source!r}. Use one of: {', '.join(lists.source_names)}",
            )
    if campaign := text("campaign"):
        campaign_name = lists.campaigns.get(campaign.casefold())
        if campaign_name is None:
            problem("campaign", f"Unknown campaign {campaign!r}")

    first_contact_on = day("first_contact_date")
    if enquired_on and first_contact_on and first_contact_on < enquired_on:
        problem("first_contact_date", "First contact cannot be before the enquiry")

    stages: dict[Stage, date] = {}
    latest: tuple[str, date] | None = ("enquiry_date", enquired_on) if enquired_on else None
    for column, stage in STAGE_COLUMNS.items():
        when = day(column)
        if when is None:
            continue
        if latest and when < latest[1]:
            problem(column, f"{when:%d/%m/%Y} is before the {latest[0]} ({latest[1]:%d/%m/%Y})")
        else:
            latest = (column, when)
        stages[stage] = when

    leaving = None
    given = {
        stage: (day(date_column), text(reason_column, 2000), date_column, reason_column)
        for stage, (date_column, reason_column) in LEAVING_COLUMNS.items()
    }
    dated = [stage for stage, (when, *_rest) in given.items() if when is not None]
    for when, reason, date_column, reason_column in given.values():
        if when is None and reason and not values.get(date_column, "").strip():
            problem(reason_column, f"A reason needs a date in {date_column}")
    if len(dated) > 1:
        problem(
            "not_progressed_date", "A household either withdrew or was not progressed, not both"
        )
    elif dated:
        stage = dated[0]
        when, reason, date_column, reason_column = given[stage]
        if Stage.APPROVED in stages:
            problem(date_column, "An approved household leaves by deregistration, not here")
        elif latest and when < latest[1]:
            problem(
                date_column, f"{when:%d/%m/%Y} is before the {latest[0]} ({latest[1]:%d/%m/%Y})"
            )
        else:
            code, reason_text = _match_reason(lists, stage, reason)
            if code is None:
                problem(
                    reason_column,
                    f"No reason matches {reason!r} and there is no 'other' reason to use",
                )
            else:
                leaving = Leaving(stage, when, code, reason_text)

    if problems:
        return None, problems
    assert reference and enquired_on and first_name and last_name
    return (
        TrackerRow(
            row=number,
            reference=reference,
            enquired_on=enquired_on,
            first_name=first_name,
            last_name=last_name,
            email=email,
            phone=phone,
            postcode=postcode,
            area_name=area_name,
            source_key=source_key,
            campaign_name=campaign_name,
            first_contact_on=first_contact_on,
            stages=stages,
            leaving=leaving,
        ),
        [],
    )


def _match_reason(lists: Lists, stage: Stage, text: str | None) -> tuple[str | None, str | None]:
    options = lists.reasons.get(ReasonKind(stage.value), {})
    if text and text.casefold() in options:
        return options[text.casefold()], None
    return options.get("other"), text or NO_REASON_TEXT
