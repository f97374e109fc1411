"""The import wizard: the steps a team takes in the browser to bring in its tracker, on top of
the one import entry point (`tracker.import_tracker`), so the web and the command line import
alike.

1. `start`: the file is kept (in the database, so any web worker can answer the next step) for
   the person who uploaded it.
2. `describe`: what the importer makes of it with the mapping so far (a saved mapping for the
   same layout of headings is used first): each sheet's columns, with a few values from each,
   what each column is read as, and the columns that must be mapped or ignored before anything
   can go in; then, once the columns are settled, each list value (source, campaign, area,
   reasons) the CRM does not know, to be matched to an entry, filed under "other" or added.
3. `run`: a dry run, or the import itself. A successful import saves the mapping for the layout,
   so the next upload of the same tracker needs no questions, and forgets the file.
"""

from __future__ import annotations

import secrets
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlmodel import Session, col, delete, select

from crm import clock
from crm.models import (
    Area,
    AuditAction,
    Campaign,
    ImportUpload,
    Reason,
    ReasonKind,
    SavedImportMapping,
    Source,
)
from crm.services import audit
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotFound
from crm.services.imports.columns import (
    SheetLayout,
    TrackerError,
    column_letter,
    lay_out,
    missing_columns,
    read_tracker,
)
from crm.services.imports.fields import ALL_COLUMNS, DATE_COLUMNS
from crm.services.imports.mapping import (
    NEW,
    OTHER,
    ImportMapping,
    MappingError,
    known_names,
    normalise,
)
from crm.services.imports.sheets import SpreadsheetError, read_sheets
from crm.services.imports.tracker import ImportReport, check_may_import, import_tracker
from crm.services.imports.values import Lists
from crm.settings import Settings

# The web takes smaller files than the command line (which takes up to sheets.MAX_BYTES): a
# file is held in the database between the wizard's steps, and every request is capped at this
# size (crm.web's MAX_CONTENT_LENGTH). Ten thousand rows of a tracker are about 1.5 MB of CSV.
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
SUFFIXES = (".csv", ".xlsx", ".xlsm", ".ods")
KEPT_FOR = timedelta(days=1)
SAMPLES = 3
PREVIEW_ROWS = 5

COLUMN_LABELS = {
    "reference": "Reference",
    "enquiry_date": "Enquiry date",
    "first_name": "First name",
    "last_name": "Last name",
    "full_name": "Full name (first and last in one cell)",
    "email": "Email",
    "phone": "Phone",
    "postcode": "Postcode",
    "area": "Area",
    "source": "Source (how they heard about us)",
    "campaign": "Campaign",
    "first_contact_date": "First contact date",
    "initial_visit_date": "Initial visit date",
    "application_date": "Application date",
    "stage_one_date": "Stage one date",
    "stage_two_date": "Stage two date",
    "panel_date": "Panel date",
    "approval_date": "Approval date",
    "withdrawn_date": "Withdrawn date",
    "withdrawn_reason": "Withdrawn reason",
    "not_progressed_date": "Not progressed date",
    "not_progressed_reason": "Not progressed reason",
    "leaving_reason": "Reason for leaving (withdrawn or not progressed)",
}
# The list a column's values are checked against, in the order the wizard asks about them.
VALUE_COLUMNS = {
    "source": "source",
    "campaign": "campaign",
    "area": "area",
    "withdrawn_reason": "withdrawn_reason",
    "not_progressed_reason": "not_progressed_reason",
}
VALUE_NOUNS = {
    "source": "Source",
    "campaign": "Campaign",
    "area": "Area",
    "withdrawn_reason": "Withdrawal reason",
    "not_progressed_reason": "Not-progressed reason",
}


def column_choices() -> list[tuple[str, str]]:
    """(value, label) for a column's drop-down, in the order a tracker usually has them."""
    return [(c, COLUMN_LABELS.get(c, c.replace("_", " ").capitalize())) for c in ALL_COLUMNS]


# -- the uploaded file --------------------------------------------------------------------


def start(session: Session, actor: Actor, file_name: str, content: bytes) -> str:
    """Keep an uploaded tracker for the next steps; the token that names it."""
    check_may_import(actor)
    name = " ".join((file_name or "").replace("\\", "/").rsplit("/", 1)[-1].split())[:200]
    if not content:
        raise InvalidInput({"file": "The file is empty: choose the tracker file to upload"})
    if not name.casefold().endswith(SUFFIXES):
        raise InvalidInput(
            {"file": "The file must be a spreadsheet: CSV, Excel (.xlsx) or OpenDocument (.ods)"}
        )
    if len(content) > MAX_UPLOAD_BYTES:
        raise InvalidInput({"file": too_big_message(len(content))})
    session.exec(delete(ImportUpload).where(col(ImportUpload.uploaded_at) < clock.now() - KEPT_FOR))
    token = secrets.token_urlsafe(32)
    upload = ImportUpload(
        token=token,
        file_name=name,
        content=content,
        size=len(content),
        uploaded_by_id=actor.user_id,
    )
    session.add(upload)
    session.flush()
    audit.record(session, actor, AuditAction.CREATE, "import_upload", upload.id, size=len(content))
    session.commit()
    return token


def too_big_message(size: int | None) -> str:
    shown = f" is {size / 1024 / 1024:.0f} MB:" if size else " is too big:"
    return (
        f"The file{shown} the wizard takes files up to {MAX_UPLOAD_BYTES // 1024 // 1024} MB. "
        "Split it (by year, say), or import it with the command `fostercrm import tracker`"
    )


def load(session: Session, actor: Actor, token: str) -> ImportUpload:
    """The upload, for the person who made it only (it holds families' names)."""
    check_may_import(actor)
    upload = session.exec(select(ImportUpload).where(ImportUpload.token == token)).first()
    if (
        upload is None
        or upload.uploaded_by_id != actor.user_id
        or upload.uploaded_at < clock.now() - KEPT_FOR
    ):
        raise NotFound("That upload has gone (uploads are kept for a day): upload the file again")
    return upload


def discard(session: Session, actor: Actor, token: str) -> None:
    upload = load(session, actor, token)
    session.delete(upload)
    session.commit()


@contextmanager
def _as_file(upload: ImportUpload) -> Iterator[Path]:
    # The readers take a path (openpyxl and odfpy read zip files by name); the copy lives only
    # for one step.
    suffix = Path(upload.file_name).suffix.casefold()
    with tempfile.TemporaryDirectory(prefix="fostercrm-import-") as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(upload.content)
        yield path


# -- what the importer makes of it --------------------------------------------------------


@dataclass
class ColumnQuestion:
    key: str  # the normalised heading: the mapping's key and the form field's name
    letter: str
    heading: str
    target: str | None  # a CRM column, IGNORE, or None when not used
    samples: list[str]
    must_map: str = ""  # why it cannot be left unmapped
    from_mapping: bool = False  # chosen in the mapping (not recognised by name)


@dataclass
class SheetView:
    name: str
    header_row: int | None
    rows: int
    columns: list[ColumnQuestion]
    missing: list[str]
    headings: list[str] = field(default_factory=list)
    preview: list[list[str]] = field(default_factory=list)  # the first rows, as read

    @property
    def looks_like_tracker(self) -> bool:
        return self.header_row is not None


@dataclass
class ValueQuestion:
    kind: str
    value: str
    rows: int
    choice: str | None
    options: list[tuple[str, str]]

    @property
    def noun(self) -> str:
        return VALUE_NOUNS[self.kind]


@dataclass
class WizardView:
    file_name: str
    size: int
    mapping: ImportMapping
    sheets: list[SheetView] = field(default_factory=list)
    values: list[ValueQuestion] = field(default_factory=list)
    # Why the file cannot be imported yet with this mapping (a sentence), or None.
    problem: str | None = None
    saved_mapping_used: bool = False
    date_order: str = ""

    @property
    def ready(self) -> bool:
        return self.problem is None


def saved_mapping(session: Session, layout_key: str) -> ImportMapping | None:
    saved = session.exec(
        select(SavedImportMapping).where(SavedImportMapping.layout_key == layout_key)
    ).first()
    if saved is None:
        return None
    try:
        return ImportMapping.from_dict(saved.mapping)
    except MappingError:
        # A saved mapping naming a column an older release had: ask again instead.
        return None


def describe(
    session: Session,
    settings: Settings,
    actor: Actor,
    token: str,
    mapping: ImportMapping | None = None,
) -> WizardView:
    """What the file looks like with `mapping` (or the mapping saved for its layout)."""
    upload = load(session, actor, token)
    with _as_file(upload) as path:
        try:
            sheets = read_sheets(path, upload.file_name)
        except SpreadsheetError as exc:
            return WizardView(upload.file_name, upload.size, mapping or ImportMapping(), [], [],
                              str(exc))  # fmt: skip
        names = known_names()
        view = WizardView(upload.file_name, upload.size, mapping or ImportMapping())
        if mapping is None:
            for sheet in sheets:
                layout = lay_out(sheet, ImportMapping(), names)
                if layout.looks_like_tracker:
                    found = saved_mapping(session, layout.layout_key)
                    if found is not None:
                        view.mapping, view.saved_mapping_used = found, True
                    break
        mapping = view.mapping
        for sheet in sheets:
            wanted = mapping.sheet is None or mapping.sheet.casefold() in (
                "all",
                sheet.name.casefold(),
            )
            own = mapping if wanted else ImportMapping(mapping.columns)
            try:
                layout = lay_out(sheet, own, names)
            except TrackerError as exc:
                view.problem = str(exc)
                layout = lay_out(sheet, ImportMapping(), names)
            view.sheets.append(_sheet_view(sheet.name, sheet.rows, layout, mapping))
        orders = {mapping.dates.get(normalise(c)) for c in DATE_COLUMNS}
        view.date_order = orders.pop() if len(orders) == 1 and None not in orders else ""
        if view.problem is None:
            try:
                tracker = read_tracker(path, mapping, name=upload.file_name)
            except (TrackerError, MappingError) as exc:
                view.problem = str(exc)
                return view
            try:
                view.values = _value_questions(session, mapping, tracker.rows)
            except MappingError as exc:
                view.problem = str(exc)
    return view


def _sheet_view(
    name: str, rows: list[list], layout: SheetLayout, mapping: ImportMapping
) -> SheetView:
    if not layout.looks_like_tracker:
        return SheetView(name, None, layout.rows, [], [])
    body = rows[layout.header_row :]
    must_map = {b.letter: b.why for b in layout.blockers}
    columns = []
    for index, heading in enumerate(layout.headings):
        values = [r[index] if index < len(r) else None for r in body]
        shown = [str(v).strip() for v in values if v is not None and str(v).strip()]
        letter = column_letter(index)
        if not normalise(heading):
            if not shown:
                continue
            heading = f"column {letter}"
        key = normalise(heading)
        columns.append(
            ColumnQuestion(
                key=key,
                letter=letter,
                heading=heading,
                target=layout.mapping.get(index),
                samples=list(dict.fromkeys(shown))[:SAMPLES],
                must_map=must_map.get(letter, ""),
                from_mapping=key in mapping.columns,
            )
        )
    return SheetView(
        name,
        layout.header_row,
        layout.rows,
        columns,
        missing_columns(layout),
        headings=list(layout.headings),
        preview=[row[: len(layout.headings)] for row in layout.preview[:PREVIEW_ROWS]],
    )


def _value_questions(
    session: Session, mapping: ImportMapping, rows: list[tuple[int, dict[str, str]]]
) -> list[ValueQuestion]:
    lists = Lists.read(session, mapping)
    options = _options(session)
    questions = []
    for column, kind in VALUE_COLUMNS.items():
        seen: Counter[str] = Counter()
        spelling: dict[str, str] = {}
        for _, values in rows:
            text = values.get(column, "").strip()
            if text:
                seen[normalise(text)] += 1
                spelling.setdefault(normalise(text), text)
        for key, count in seen.items():
            text = spelling[key]
            choice = mapping.value_choice(kind, text)
            if choice is None and lists.knows(kind, text):
                continue
            questions.append(ValueQuestion(kind, text, count, choice, options[kind]))
    return questions


def _options(session: Session) -> dict[str, list[tuple[str, str]]]:
    other = (OTHER, "File under other, keeping the file's words")
    new = (NEW, "Add it to the list, in the file's words (admins)")
    sources = [(s.key, s.label) for s in session.exec(select(Source).where(Source.active)).all()]
    campaigns = [
        (c.name, c.name) for c in session.exec(select(Campaign).where(Campaign.active)).all()
    ]
    areas = [(a.name, a.name) for a in session.exec(select(Area).order_by(Area.name)).all()]
    reasons: dict[str, list[tuple[str, str]]] = {}
    for reason in session.exec(select(Reason).where(Reason.active).order_by(Reason.label)).all():
        reasons.setdefault(reason.kind, []).append((reason.code, reason.label))
    return {
        "source": [*sorted(sources, key=lambda o: o[1]), other, new],
        "campaign": [*sorted(campaigns, key=lambda o: o[1]), other, new],
        "area": [*areas, (OTHER, "Other (the hub's triage queue)")],
        "withdrawn_reason": [*reasons.get(ReasonKind.WITHDRAWN, []), other, new],
        "not_progressed_reason": [*reasons.get(ReasonKind.NOT_PROGRESSED, []), other, new],
    }


# -- the mapping the wizard's form says ---------------------------------------------------


def mapping_from_answers(
    columns: dict[str, str],
    values: list[tuple[str, str, str]],
    *,
    sheet: str | None = None,
    header_row: str = "",
    date_order: str = "",
) -> ImportMapping:
    """The mapping from the wizard's answers: {normalised heading: CRM column, "ignore" or ""},
    [(list, the file's value, choice or "")], the sheet, the header row as typed, the date
    order ("" to let the importer tell). MappingError, a sentence, when an answer is wrong."""
    data: dict = {"columns": {k: v for k, v in columns.items() if v}, "values": {}, "dates": {}}
    for kind, value, choice in values:
        if choice:
            data["values"].setdefault(kind, {})[value] = choice
    if date_order:
        data["dates"] = {c: date_order for c in DATE_COLUMNS}
    if sheet:
        data["sheet"] = sheet
    if header_row.strip():
        if not header_row.strip().isdigit() or int(header_row) < 1:
            raise MappingError("The header row must be the spreadsheet's row number, like 3")
        data["header_row"] = int(header_row)
    return ImportMapping.from_dict(data)


# -- checking and importing ---------------------------------------------------------------


def run(
    session: Session,
    settings: Settings,
    actor: Actor,
    token: str,
    mapping: ImportMapping,
    *,
    dry_run: bool,
    skip_invalid: bool = False,
) -> ImportReport:
    """A dry run or the import, through the one import entry point. After an import, the
    mapping is saved for the layout and the uploaded file is forgotten."""
    upload = load(session, actor, token)
    file_name, upload_id = upload.file_name, upload.id
    with _as_file(upload) as path:
        report = import_tracker(
            session,
            settings,
            path,
            mapping=mapping,
            skip_invalid=skip_invalid,
            dry_run=dry_run,
            actor=actor,
            file_name=file_name,
        )
        if dry_run or not report.imported:
            session.rollback()
            return report
        layouts = _tracker_layouts(path, file_name, mapping)
    for layout in layouts:
        save_mapping(session, actor, layout, mapping, file_name)
    session.exec(delete(ImportUpload).where(col(ImportUpload.id) == upload_id))
    audit.record(session, actor, AuditAction.ERASE, "import_upload", upload_id)
    session.commit()
    return report


def _tracker_layouts(path: Path, file_name: str, mapping: ImportMapping) -> list[SheetLayout]:
    names = known_names()
    layouts = []
    for sheet in read_sheets(path, file_name):
        layout = lay_out(sheet, ImportMapping(mapping.columns), names)
        if layout.looks_like_tracker:
            layouts.append(layout)
    return layouts


def save_mapping(
    session: Session, actor: Actor, layout: SheetLayout, mapping: ImportMapping, file_name: str
) -> None:
    """Keep the mapping for this layout of headings, replacing an older one."""
    data = mapping.to_dict()
    data.pop("header_row", None)  # found again by itself; next year's file may differ
    saved = session.exec(
        select(SavedImportMapping).where(SavedImportMapping.layout_key == layout.layout_key)
    ).first()
    if saved is None:
        saved = SavedImportMapping(layout_key=layout.layout_key)
    saved.headings = list(layout.headings)
    saved.mapping = data
    saved.file_name = file_name[:200]
    saved.saved_by_id = actor.user_id
    saved.saved_at = clock.now()
    session.add(saved)
    session.flush()
    audit.record(session, actor, AuditAction.UPDATE, "import_mapping", saved.id)
