"""Checking one tracker row on its own: dates, names, contacts, postcode, the lists it names
(areas, sources, campaigns, reasons), stages in order. Every problem is reported with its
spreadsheet row and column; nothing here writes."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from crm import clock
from crm.models import Area, Campaign, Reason, ReasonKind, Source, Stage
from crm.services.imports.columns import LEAVING_COLUMNS, STAGE_COLUMNS
from crm.services.imports.dates import DAY_FIRST, date_order, parse_date  # noqa: F401
from crm.services.imports.mapping import (
    NEW,
    OTHER,
    ImportMapping,
    MappingError,
    normalise,
)
from crm.services.validation import normalise_email, normalise_phone, normalise_postcode
from crm.settings import Settings

NO_REASON_TEXT = "No reason recorded in the tracker"


@dataclass(frozen=True)
class Problem:
    row: int
    column: str
    message: str
    sheet: str | None = None

    def __str__(self) -> str:
        from crm.services.imports.columns import display_row

        where = f"Sheet {self.sheet!r}, row" if self.sheet else "Row"
        return f"{where} {display_row(self.row)}, {self.column}: {self.message}"


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
    # The file's own words for a source or campaign filed under "other".
    source_text: str | None = None
    campaign_text: str | None = None
    sheet: str | None = None

    def history(self) -> list[tuple[Stage, date]]:
        """(stage, date) in the order the moves happen, enquiry first."""
        moves = [(Stage.ENQUIRY, self.enquired_on), *self.stages.items()]
        if self.leaving:
            moves.append((self.leaving.stage, self.leaving.on))
        return moves


def slug(text: str, limit: int) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.casefold()).strip("_")[:limit] or "value"


@dataclass
class NewEntry:
    """A list entry the import adds (--create-missing, or "new" in the mapping), keeping the
    file's wording as its label."""

    kind: str  # source, campaign, withdrawn, not_progressed
    key: str
    label: str
    rows: int = 0


@dataclass
class Lists:
    """The database lists a row is checked against, read once per import, and what the mapping
    and --create-missing say about values the lists do not have."""

    areas: dict[str, str]
    sources: dict[str, str]
    source_names: list[str]
    campaigns: dict[str, str]
    reasons: dict[ReasonKind, dict[str, str]]
    mapping: ImportMapping = field(default_factory=ImportMapping)
    create_missing: bool = False
    # kind -> normalised value -> the entry to add
    new: dict[str, dict[str, NewEntry]] = field(default_factory=dict)
    # value list -> the file's words filed under "other" -> rows
    other: dict[str, Counter] = field(default_factory=dict)

    @classmethod
    def read(
        cls, session: Session, mapping: ImportMapping | None = None, create_missing: bool = False
    ) -> Lists:
        areas = {normalise(name): name for name in session.exec(select(Area.name)).all()}
        sources: dict[str, str] = {}
        names = []
        for source in session.exec(select(Source).where(Source.active.is_(True))).all():
            sources[normalise(source.key)] = source.key
            sources[normalise(source.label)] = source.key
            names.append(source.label)
        campaigns = {
            normalise(name): name
            for name in session.exec(select(Campaign.name).where(Campaign.active.is_(True))).all()
        }
        reasons: dict[ReasonKind, dict[str, str]] = {}
        for reason in session.exec(select(Reason).where(Reason.active.is_(True))).all():
            kind = reasons.setdefault(ReasonKind(reason.kind), {})
            kind[normalise(reason.code)] = reason.code
            kind[normalise(reason.label)] = reason.code
        lists = cls(
            areas, sources, sorted(names), campaigns, reasons, mapping or ImportMapping(),
            create_missing,
        )  # fmt: skip
        lists._check_mapping()
        return lists

    def _table(self, kind: str) -> dict[str, str]:
        if kind == "source":
            return self.sources
        if kind == "campaign":
            return self.campaigns
        if kind == "area":
            return self.areas
        stage = kind.removesuffix("_reason")
        return self.reasons.get(ReasonKind(stage), {})

    def knows(self, kind: str, text: str) -> bool:
        """Whether the CRM's list has this value already (by key or label)."""
        return normalise(text) in self._table(kind)

    def _check_mapping(self) -> None:
        """A mapping to an entry we do not have is the mapping's mistake: say so before any
        row is read."""
        for kind, choices in self.mapping.values.items():
            kinds = ["withdrawn_reason", "not_progressed_reason"] if kind == "reason" else [kind]
            for choice in choices.values():
                if choice.casefold() in (NEW, OTHER):
                    if choice.casefold() == NEW and kind == "area":
                        raise MappingError(
                            "areas cannot be added by an import (they need their postcode "
                            "districts): an admin adds them in the CRM first"
                        )
                    continue
                if not any(normalise(choice) in self._table(k) for k in kinds):
                    raise MappingError(
                        f"the mapping's [values.{kind}] names {choice!r}, which is not in the "
                        f"CRM's list of {kind.replace('_', ' ')}s"
                    )

    def resolve(self, kind: str, text: str) -> tuple[str | None, str | None]:
        """(the entry's key, the file's words when filed under other) for a value in the file;
        ValueError with a sentence when the value cannot be placed."""
        table = self._table(kind)
        choice = self.mapping.value_choice(kind, text)
        if choice is not None and choice.casefold() not in (NEW, OTHER):
            return table[normalise(choice)], None
        if choice is None and normalise(text) in table:
            return table[normalise(text)], None
        if choice is not None and choice.casefold() == OTHER:
            return self._other(kind, text)
        if (choice is not None and choice.casefold() == NEW) or (
            self.create_missing and kind != "area"
        ):
            return self._add(kind, text), None
        if kind.endswith("_reason"):
            # A reason in the team's own words is kept as they wrote it, under "other", and
            # shown in the reports' breakdown of "other"; the dry run lists every one.
            return self._other(kind, text)
        noun = kind.replace("_", " ")
        if kind == "area":
            known = ", ".join(sorted(self.areas.values())) or "none yet"
            raise ValueError(
                f"Unknown area {text!r}. Areas are: {known}. Map it to one, or to other "
                "(the hub's triage queue), in the mapping's [values.area]"
            )
        listed = f" Use one of: {', '.join(self.source_names)}." if kind == "source" else ""
        raise ValueError(
            f"Unknown {noun} {text!r}.{listed} Map it in the mapping's [values.{kind}], file it "
            f"under other, or add it with --create-missing"
        )

    def _other(self, kind: str, text: str) -> tuple[str | None, str | None]:
        self.other.setdefault(kind, Counter())[text] += 1
        if kind == "source":
            return self.sources.get("other"), text
        if kind.endswith("_reason"):
            code = self._table(kind).get("other")
            if code is None:
                raise ValueError(
                    f"No reason matches {text!r} and there is no 'other' reason to use"
                )
            return code, text
        return None, text

    def _add(self, kind: str, text: str) -> str:
        list_kind = kind.removesuffix("_reason")
        pending = self.new.setdefault(list_kind, {})
        key = normalise(text)
        if key not in pending:
            if kind == "campaign":
                code = text[:200]
            else:
                limit = 40 if kind == "source" else 60
                taken = set(self._table(kind).values()) | {e.key for e in pending.values()}
                code, n = slug(text, limit), 1
                while code in taken:
                    n += 1
                    code = f"{slug(text, limit - 3)}_{n}"
            pending[key] = NewEntry(
                list_kind, code, text[:200] if kind == "campaign" else text[:100]
            )
        pending[key].rows += 1
        return pending[key].key


def local_today(settings: Settings) -> date:
    return clock.now().astimezone(ZoneInfo(settings.service.timezone)).date()


def check_row(
    number: int,
    values: dict[str, str],
    lists: Lists,
    today: date,
    orders: dict[str, str] | None = None,
    sheet: str | None = None,
) -> tuple[TrackerRow | None, list[Problem]]:
    """Check one row on its own (no history comparison); every problem is reported. `orders`
    says which way round each date column is (day-first unless said)."""
    problems: list[Problem] = []
    orders = orders or {}

    def problem(column: str, message: str) -> None:
        problems.append(Problem(number, column, message, sheet))

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
            parsed = parse_date(raw, orders.get(column, DAY_FIRST))
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

    area_name = source_key = campaign_name = source_text = campaign_text = None

    def listed(column: str) -> tuple[str | None, str | None]:
        value = text(column)
        if not value:
            return None, None
        try:
            return lists.resolve(column, value)
        except ValueError as exc:
            problem(column, str(exc))
            return None, None

    area_name, _ = listed("area")
    source_key, source_text = listed("source")
    campaign_name, campaign_text = listed("campaign")

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
            code, reason_text = _match_reason(lists, stage, reason, problem, reason_column)
            if code is not None:
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
            source_text=source_text,
            campaign_text=campaign_text,
            first_contact_on=first_contact_on,
            stages=stages,
            leaving=leaving,
        ),
        [],
    )


def _match_reason(
    lists: Lists,
    stage: Stage,
    text: str | None,
    problem: Callable[[str, str], None],
    column: str,
) -> tuple[str | None, str | None]:
    if not text:
        code = lists.reasons.get(ReasonKind(stage.value), {}).get("other")
        if code is None:
            problem(column, "No reason is given and there is no 'other' reason to use")
        return code, NO_REASON_TEXT
    try:
        return lists.resolve(f"{stage.value}_reason", text)
    except ValueError as exc:
        problem(column, str(exc))
        return None, None
