"""Import the tracker spreadsheets services keep today (CSV or Excel) as households and their
stage history, through the same services as everything else.

How it behaves, in the words of a team moving from its spreadsheet:

- A CSV file may be UTF-8 (with or without a byte-order mark) or Windows-1252 / Latin-1, with
  any line endings (Windows, Unix, old Mac); a file that is none of those is refused in one
  line. Every cell is cleaned of control characters (crm.text) before it is checked.
- The whole file is checked first. Any bad row (a date that is not a date, stages out of order,
  an unknown area, source or campaign...) is listed with its spreadsheet row number and column,
  and nothing is imported, unless `skip_invalid` is asked for: then the good rows go in and the
  bad ones are listed.
- A row becomes a household through `create_enquiry` (channel "import") and its later stages
  through `move_stage`, each dated at noon (UK time) on the tracker's date. A withdrawn or
  not-progressed reason is matched to the configured list by code or label; anything else is
  filed under "other" with the tracker's words kept.
- Rows are keyed on `reference`. Importing the same file again changes nothing. Importing an
  updated tracker applies only what is new at the end of each household's history (a later
  stage, a withdrawal, a first contact). A row that disagrees with what the CRM has (different
  dates, or the CRM has moved the household on differently) is reported as a conflict and left
  alone: the CRM's record wins.
- A row whose email or phone belongs to a household we already have (or to an earlier row of
  the file) is reported as a duplicate and skipped, rather than adding its stages to someone
  else's history.
- The call-back task `create_enquiry` opens for an enquiry with no first contact is closed
  when the tracker shows the household had already moved on or left: nobody needs to call
  back someone who withdrew two years ago.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from charset_normalizer import from_bytes
from sqlmodel import Session, select

from crm import clock
from crm.models import (
    Area,
    Campaign,
    EnquiryChannel,
    Household,
    Reason,
    ReasonKind,
    Source,
    Stage,
    StageEvent,
    Task,
    TaskKind,
)
from crm.services.actors import Actor
from crm.services.enquiries import (
    ApplicantDetails,
    EnquiryInput,
    create_enquiry,
    find_existing_household,
)
from crm.services.errors import ServiceError
from crm.services.pipeline import move_stage
from crm.services.tasks import complete_task
from crm.services.timeline import log_activity
from crm.services.validation import normalise_email, normalise_phone, normalise_postcode
from crm.settings import Settings
from crm.text import clean_text

ACTOR_LABEL = "import"
STAGE_COLUMNS = {
    "initial_visit_date": Stage.INITIAL_VISIT,
    "application_date": Stage.APPLICATION,
    "stage_one_date": Stage.STAGE_ONE,
    "stage_two_date": Stage.STAGE_TWO,
    "panel_date": Stage.PANEL,
    "approval_date": Stage.APPROVED,
}
LEAVING_COLUMNS = {
    Stage.WITHDRAWN: ("withdrawn_date", "withdrawn_reason"),
    Stage.NOT_PROGRESSED: ("not_progressed_date", "not_progressed_reason"),
}
COLUMNS = [
    "reference",
    "enquiry_date",
    "first_name",
    "last_name",
    "email",
    "phone",
    "postcode",
    "area",
    "source",
    "campaign",
    "first_contact_date",
    *STAGE_COLUMNS,
    "withdrawn_date",
    "withdrawn_reason",
    "not_progressed_date",
    "not_progressed_reason",
]
REQUIRED_COLUMNS = ["reference", "enquiry_date", "first_name", "last_name"]
NO_REASON_TEXT = "No reason recorded in the tracker"
PLANNED = {"create": "would create", "update": "would update"}
CLOSED = (Stage.WITHDRAWN, Stage.NOT_PROGRESSED, Stage.DEREGISTERED)
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_UK = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


class TrackerError(Exception):
    """The file as a whole cannot be read (wrong type, no header, missing columns)."""


@dataclass(frozen=True)
class Problem:
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"Row {self.row}, {self.column}: {self.message}"


@dataclass
class TrackerFile:
    columns: list[str]
    ignored_columns: list[str]
    # (spreadsheet row number, {column: text}) for every non-empty row after the header.
    rows: list[tuple[int, dict[str, str]]]


# -- reading the file ---------------------------------------------------------------------


def _header_name(value: Any) -> str:
    return re.sub(r"[\s\-]+", "_", clean_text(str(value or "")).strip().lower())


def _cell_text(value: Any, column: str) -> str:
    """Excel gives numbers and dates; the checks want text (a date keeps its ISO form), cleaned
    of control characters before any check sees it (crm.text)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
        # A UK number typed into Excel loses its leading zero (07700900123 -> 7700900123).
        if column == "phone" and len(text) == 10 and text[0] in "1237":
            text = "0" + text
        return text
    return clean_text(str(value)).strip()


def _decode(raw: bytes, name: str) -> str:
    """The text of a CSV file. UTF-8 (with or without the byte-order mark Excel's "CSV UTF-8"
    writes) is taken as it is; otherwise it must be in the code page Excel on Windows saves
    "CSV" in (Windows-1252, or Latin-1). Anything else is refused in one line."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # charset-normalizer tells text in those code pages from anything else (UTF-16, a workbook
    # or a photo renamed .csv), which would otherwise be read as nonsense.
    if from_bytes(raw, cp_isolation=["cp1252", "latin_1"]).best() is None:
        raise TrackerError(
            f"{name}: the text is not in UTF-8 or Windows-1252, so it cannot be read "
            '(is it a CSV file?). In Excel, save it as "CSV UTF-8 (Comma delimited)".'
        )
    # Either way read it as Windows-1252: it is Latin-1 with letters and punctuation (’ – €)
    # where Latin-1 has control codes. Its five unassigned bytes are dropped, as Windows reads
    # them as control characters, which crm.text would remove anyway.
    return raw.decode("cp1252", errors="ignore")


def _read_csv(path: Path) -> list[list[str]]:
    text = _decode(path.read_bytes(), path.name)
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample.splitlines()[0] if sample else "", delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        # newline="": the reader itself then ends rows at CRLF (Windows), LF, or a lone CR
        # (old Mac files), and keeps line breaks inside quoted cells.
        return [list(row) for row in csv.reader(io.StringIO(text, newline=""), dialect)]
    except csv.Error as exc:
        raise TrackerError(f"{path.name}: not a readable CSV file ({exc})") from None


def _read_excel(path: Path) -> list[list[Any]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise TrackerError(f"{path.name}: not a readable Excel workbook ({exc})") from None
    try:
        sheet = workbook.worksheets[0]
        return [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def read_tracker(path: Path) -> TrackerFile:
    """Read a tracker (.csv, .xlsx or .xlsm). Row numbers are the spreadsheet's own (the
    header is usually row 1), so a problem can be found and fixed in Excel."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        table = _read_csv(path)
    elif suffix in (".xlsx", ".xlsm"):
        table = _read_excel(path)
    elif suffix == ".xls":
        raise TrackerError(f"{path.name}: old .xls workbooks cannot be read; save it as .xlsx")
    else:
        raise TrackerError(f"{path.name}: expected a .csv or .xlsx file")

    header_at = next(
        (i for i, row in enumerate(table) if any(_cell_text(v, "") for v in row)), None
    )
    if header_at is None:
        raise TrackerError(f"{path.name}: the file is empty")
    header = [_header_name(v) for v in table[header_at]]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise TrackerError(
            f"{path.name}: missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (the header row has: {', '.join(h for h in header if h)})"
        )
    if "email" not in header and "phone" not in header:
        raise TrackerError(f"{path.name}: needs an email or a phone column")
    duplicated = sorted({h for h in header if h and header.count(h) > 1})
    if duplicated:
        raise TrackerError(f"{path.name}: column {duplicated[0]} appears twice")
    known = [h for h in header if h in COLUMNS]
    ignored = [h for h in header if h and h not in COLUMNS]
    rows = []
    for offset, values in enumerate(table[header_at + 1 :], start=header_at + 2):
        record = {
            name: _cell_text(value, name)
            for name, value in zip(header, values, strict=False)
            if name in COLUMNS
        }
        if any(record.values()):
            rows.append((offset, {c: record.get(c, "") for c in COLUMNS}))
    return TrackerFile(columns=known, ignored_columns=ignored, rows=rows)


# -- checking rows ------------------------------------------------------------------------


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


def _local_today(settings: Settings) -> date:
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


# -- comparing with what the CRM has --------------------------------------------------------


@dataclass
class Plan:
    """What importing one row will do."""

    row: TrackerRow
    # "create", "update", "unchanged", "duplicate" or "conflict"
    action: str
    detail: str = ""
    household_id: int | None = None
    moves: list[tuple[Stage, date]] = field(default_factory=list)
    first_contact: date | None = None


def _local_date(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


@dataclass
class CrmHistory:
    stages: dict[Stage, date]  # first local date each funnel stage was entered
    closing: tuple[Stage, date] | None  # the move that closed it, if it is closed now
    current: Stage
    last_move_on: date | None


def _crm_history(session: Session, household: Household, tz: ZoneInfo) -> CrmHistory:
    events = session.exec(
        select(StageEvent)
        .where(StageEvent.household_id == household.id)
        .order_by(StageEvent.occurred_at, StageEvent.id)
    ).all()
    stages: dict[Stage, date] = {Stage.ENQUIRY: _local_date(household.enquired_at, tz)}
    closing = None
    for event in events:
        stage = Stage(event.to_stage)
        if stage.funnel_index is not None:
            if stage != Stage.ENQUIRY:
                stages.setdefault(stage, _local_date(event.occurred_at, tz))
            closing = None
        elif stage in CLOSED:
            closing = (stage, _local_date(event.occurred_at, tz))
    return CrmHistory(
        stages=stages,
        closing=closing,
        current=Stage(events[-1].to_stage) if events else Stage.ENQUIRY,
        last_move_on=_local_date(events[-1].occurred_at, tz) if events else None,
    )


def _describe(stages: Iterable[tuple[Stage, date]]) -> str:
    return ", ".join(f"{s.label.lower()} {d:%d/%m/%Y}" for s, d in stages) or "nothing"


def plan_existing(session: Session, row: TrackerRow, household: Household, tz: ZoneInfo) -> Plan:
    """Compare a row with the household the CRM already has under its reference.

    Same history: unchanged. The tracker only adds to the end (later stages, a withdrawal,
    a first contact): update with just those. The CRM knows more (it has moved on since the
    tracker was last written): unchanged. Anything else: conflict, and the CRM's record wins.
    """
    crm = _crm_history(session, household, tz)
    tracker = {Stage.ENQUIRY: row.enquired_on, **row.stages}
    tracker_closing = (row.leaving.stage, row.leaving.on) if row.leaving else None

    def conflict(detail: str) -> Plan:
        return Plan(row, "conflict", detail + "; left as the CRM has it", household.id)

    differing = sorted(
        (s for s in tracker.keys() & crm.stages.keys() if tracker[s] != crm.stages[s]),
        key=lambda s: s.funnel_index,
    )
    if differing:
        stage = differing[0]
        return conflict(
            f"{stage.label.lower()} is {tracker[stage]:%d/%m/%Y} in the tracker but "
            f"{crm.stages[stage]:%d/%m/%Y} in the CRM"
        )
    furthest = max(crm.stages, key=lambda s: s.funnel_index)
    moves = sorted(
        ((s, tracker[s]) for s in tracker.keys() - crm.stages.keys()),
        key=lambda move: move[0].funnel_index,
    )
    if moves and moves[0][0].funnel_index < furthest.funnel_index:
        return conflict(
            f"the tracker has {_describe(moves[:1])}, before the household's furthest stage "
            f"in the CRM ({furthest.label.lower()})"
        )
    if tracker_closing and tracker_closing != crm.closing:
        if crm.closing is not None:
            return conflict(
                f"the tracker says {_describe([tracker_closing])} but the CRM has "
                f"{_describe([crm.closing])}"
            )
        moves.append(tracker_closing)
    if moves:
        if crm.current in CLOSED:
            return conflict(
                f"the tracker adds {_describe(moves)} but the household is "
                f"{crm.current.label.lower()} in the CRM (reopen it there if that is right)"
            )
        if crm.current == Stage.APPROVED and moves[-1][0] in CLOSED:
            return conflict(f"the tracker adds {_describe(moves)} to an approved household")
        if crm.last_move_on and moves[0][1] < crm.last_move_on:
            return conflict(
                f"the tracker adds {_describe(moves[:1])}, before the CRM's latest move "
                f"({crm.last_move_on:%d/%m/%Y})"
            )
    first_contact = (
        row.first_contact_on
        if row.first_contact_on and household.first_contact_at is None
        else None
    )
    if not moves and first_contact is None:
        moved_on = bool(crm.stages.keys() - tracker.keys()) or (
            crm.closing is not None and tracker_closing is None
        )
        detail = "already imported" + ("; the CRM has moved on since" if moved_on else "")
        return Plan(row, "unchanged", detail, household.id)
    parts = [f"adds {_describe(moves)}"] if moves else []
    if first_contact:
        parts.append(f"records first contact {first_contact:%d/%m/%Y}")
    return Plan(
        row,
        "update",
        "; ".join(parts),
        household.id,
        moves=moves,
        first_contact=first_contact,
    )


def plan_rows(session: Session, rows: list[TrackerRow], tz: ZoneInfo) -> list[Plan]:
    """Decide, for every checked row, whether it creates, updates, or is left alone."""
    plans = []
    seen_contacts: dict[str, int] = {}
    references = [r.reference for r in rows]
    existing = {
        h.reference: h
        for h in session.exec(select(Household).where(Household.reference.in_(references))).all()
    }
    for row in rows:
        household = existing.get(row.reference)
        if household is not None:
            if household.anonymised_at is not None:
                plans.append(
                    Plan(row, "unchanged", "the household has been anonymised", household.id)
                )
            else:
                plans.append(plan_existing(session, row, household, tz))
            continue
        contacts = [c for c in (row.email, row.phone) if c]
        earlier = next((seen_contacts[c] for c in contacts if c in seen_contacts), None)
        if earlier is not None:
            plans.append(
                Plan(row, "duplicate", f"same email or phone as row {earlier}; not imported")
            )
            continue
        match = find_existing_household(
            session, [row.email] if row.email else [], [row.phone] if row.phone else []
        )
        if match is not None:
            plans.append(
                Plan(
                    row,
                    "duplicate",
                    f"the email or phone belongs to household {match.reference}; not imported",
                    match.id,
                )
            )
            continue
        for contact in contacts:
            seen_contacts[contact] = row.row
        moves = list(row.stages.items())
        if row.leaving:
            moves.append((row.leaving.stage, row.leaving.on))
        plans.append(Plan(row, "create", _describe(row.history()), moves=moves))
    return plans


# -- importing ----------------------------------------------------------------------------


@dataclass
class RowResult:
    row: int
    reference: str
    status: str
    detail: str = ""

    def __str__(self) -> str:
        return f"Row {self.row} ({self.reference}): {self.status}" + (
            f" – {self.detail}" if self.detail else ""
        )


@dataclass
class ImportReport:
    file_name: str
    rows_read: int
    problems: list[Problem]
    results: list[RowResult]
    ignored_columns: list[str]
    imported: bool
    dry_run: bool = False

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def invalid_rows(self) -> int:
        return len({p.row for p in self.problems})

    def summary(self) -> str:
        if self.dry_run:
            parts = [
                f"would create {self.count('would create')}",
                f"update {self.count('would update')}",
                f"leave {self.count('unchanged')} unchanged",
            ]
            for status in ("duplicate", "conflict"):
                if self.count(status):
                    parts.append(f"{self.count(status)} {status}")
            if self.invalid_rows:
                parts.append(f"{self.invalid_rows} invalid")
            return (
                f"{self.file_name}: {self.rows_read} rows read; "
                + ", ".join(parts)
                + ". Dry run: nothing was imported."
            )
        if not self.imported:
            return (
                f"{self.file_name}: {self.invalid_rows} of {self.rows_read} rows have problems; "
                "nothing was imported. Fix them, or use --skip-invalid to import the rest."
            )
        parts = [
            f"{self.count('created')} created",
            f"{self.count('updated')} updated",
            f"{self.count('unchanged')} unchanged",
        ]
        for status in ("duplicate", "conflict", "failed"):
            if self.count(status):
                parts.append(f"{self.count(status)} {status}")
        if self.invalid_rows:
            parts.append(f"{self.invalid_rows} skipped as invalid")
        return f"{self.file_name}: {self.rows_read} rows read; " + ", ".join(parts) + "."


def _noon(day: date, tz: ZoneInfo) -> datetime:
    """A tracker date as a moment: noon UK time, or now for today's date before noon."""
    return min(datetime.combine(day, time(12), tzinfo=tz).astimezone(UTC), clock.now())


def _close_call_back(session: Session, actor: Actor, household_id: int) -> None:
    open_tasks = session.exec(
        select(Task.id).where(
            Task.household_id == household_id,
            Task.kind.in_([TaskKind.RESPOND_TO_ENQUIRY, TaskKind.SECOND_ATTEMPT]),
            Task.done_at.is_(None),
        )
    ).all()
    for task_id in open_tasks:
        complete_task(session, actor, task_id)


def _apply(session: Session, actor: Actor, settings: Settings, plan: Plan, tz: ZoneInfo) -> str:
    row = plan.row
    if plan.action == "create":
        result = create_enquiry(
            session,
            actor,
            EnquiryInput(
                applicant=ApplicantDetails(row.first_name, row.last_name, row.email, row.phone),
                enquiry_channel=EnquiryChannel.IMPORT,
                postcode=row.postcode,
                area_name=row.area_name,
                source_key=row.source_key,
                campaign_name=row.campaign_name,
                enquired_at=_noon(row.enquired_on, tz),
                first_contact_at=_noon(row.first_contact_on, tz) if row.first_contact_on else None,
                reference=row.reference,
            ),
            settings,
        )
        if not result.created:
            # Someone with this email or phone arrived between the check and now.
            return "duplicate"
        household_id = result.household.id
    else:
        household_id = plan.household_id
        if plan.first_contact:
            log_activity(
                session,
                actor,
                household_id,
                "call",
                summary="First contact (from the tracker)",
                call_outcome="spoke",
                occurred_at=_noon(plan.first_contact, tz),
            )
    for stage, on in plan.moves:
        reason_code = reason_text = None
        if row.leaving and stage == row.leaving.stage:
            reason_code, reason_text = row.leaving.reason_code, row.leaving.reason_text
        move_stage(
            session,
            actor,
            household_id,
            stage,
            reason_code=reason_code,
            reason_text=reason_text,
            occurred_at=_noon(on, tz),
        )
    moved_on = bool(row.stages) or row.leaving is not None
    if moved_on:
        _close_call_back(session, actor, household_id)
    return "created" if plan.action == "create" else "updated"


def import_tracker(
    session: Session,
    settings: Settings,
    path: Path,
    *,
    skip_invalid: bool = False,
    dry_run: bool = False,
    on_row: Callable[[], None] | None = None,
) -> ImportReport:
    """Check the whole file, then (if it is clean, or `skip_invalid`) import it row by row.
    `dry_run` checks and plans but changes nothing; `on_row` is called after each row is
    imported (for a progress bar). Raises TrackerError when the file itself cannot be read."""
    tracker = read_tracker(path)
    tz = ZoneInfo(settings.service.timezone)
    lists = Lists.read(session)
    today = _local_today(settings)
    checked: list[TrackerRow] = []
    problems: list[Problem] = []
    first_row_of: dict[str, int] = {}
    for number, values in tracker.rows:
        row, row_problems = check_row(number, values, lists, today)
        reference = " ".join(values.get("reference", "").split()).casefold()
        if reference:
            if reference in first_row_of:
                row_problems.append(
                    Problem(
                        number,
                        "reference",
                        f"The same reference is on row {first_row_of[reference]}",
                    )
                )
                row = None
            else:
                first_row_of[reference] = number
        problems.extend(row_problems)
        if row is not None:
            checked.append(row)
    report = ImportReport(
        file_name=path.name,
        rows_read=len(tracker.rows),
        problems=problems,
        results=[],
        ignored_columns=tracker.ignored_columns,
        imported=False,
    )
    if problems and not skip_invalid:
        session.rollback()
        return report

    plans = plan_rows(session, checked, tz)
    # The checks above only read; end that transaction so each service call runs its own.
    session.rollback()
    if dry_run:
        report.dry_run = True
        report.results = [
            RowResult(p.row.row, p.row.reference, PLANNED.get(p.action, p.action), p.detail)
            for p in plans
        ]
        return report
    actor = Actor.system(ACTOR_LABEL)
    for plan in plans:
        if on_row is not None:
            on_row()
        if plan.action in ("create", "update"):
            try:
                status = _apply(session, actor, settings, plan, tz)
            except ServiceError as exc:
                session.rollback()
                report.results.append(
                    RowResult(plan.row.row, plan.row.reference, "failed", str(exc))
                )
                continue
            detail = plan.detail
            if status == "duplicate":
                detail = "the email or phone now belongs to another household; not imported"
            report.results.append(RowResult(plan.row.row, plan.row.reference, status, detail))
        else:
            report.results.append(
                RowResult(plan.row.row, plan.row.reference, plan.action, plan.detail)
            )
    report.imported = True
    return report
