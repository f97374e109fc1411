"""A tracker file's columns: which sheet holds the tracker, which row is its header (title rows
and notes above it skipped), and which of its columns is which of ours, from the names teams
use (config/imports.toml) and the mapping. Nothing is lost silently: a column left unmapped
that holds dates or is named like a stage stops the import until it is mapped or ignored.
Every cell is cleaned of control characters (crm.text) before any check sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from crm.services.imports.dates import parse_date
from crm.services.imports.fields import (  # noqa: F401  (the importer's columns, here too)
    ALL_COLUMNS,
    COLUMNS,
    DATE_COLUMNS,
    EXTRA_COLUMNS,
    LEAVING_COLUMNS,
    REQUIRED_COLUMNS,
    STAGE_COLUMNS,
)
from crm.services.imports.mapping import (
    IGNORE,
    ImportMapping,
    KnownNames,
    known_names,
    layout_key,
    normalise,
)
from crm.services.imports.sheets import Sheet, SpreadsheetError, read_sheets
from crm.text import clean_text

# How far down a sheet the header may be (title rows, a logo, notes to the team).
HEADER_SEARCH_ROWS = 30
ROWS_PER_SHEET = 10_000_000  # more rows than a sheet can have (Excel stops at 1,048,576)


class TrackerError(SpreadsheetError):
    """The file as a whole cannot be imported (not a spreadsheet, no header, missing columns,
    a column that must be mapped first); the message is one sentence for the user."""


@dataclass
class Blocker:
    """An unmapped column that looks like it holds history."""

    heading: str
    letter: str
    why: str

    def __str__(self) -> str:
        return f"{self.heading!r} (column {self.letter}) {self.why}"


@dataclass
class SheetLayout:
    """What the importer makes of one sheet, for the wizard and the dry run."""

    name: str
    header_row: int | None  # the spreadsheet's row number
    headings: list[str]
    # column index -> the CRM's column or IGNORE; unmapped columns are absent
    mapping: dict[int, str]
    blockers: list[Blocker]
    not_used: list[str]
    preview: list[list[str]]
    rows: int

    @property
    def layout_key(self) -> str:
        return layout_key(self.headings)

    @property
    def looks_like_tracker(self) -> bool:
        return self.header_row is not None


@dataclass
class TrackerFile:
    columns: list[str]
    ignored_columns: list[str]
    # (spreadsheet row number, {column: text}) for every non-empty row after the header.
    rows: list[tuple[int, dict[str, str]]]
    sheet: str = ""
    sheets: list[str] = field(default_factory=list)
    # (row, column) -> where the row came from, when the file had several sheets
    sheet_of_row: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # row -> column -> a problem found while reading (a formula with no saved result)
    cell_problems: dict[int, dict[str, str]] = field(default_factory=dict)
    headings: list[str] = field(default_factory=list)
    # the CRM's column -> the file's heading for it
    heading_of: dict[str, str] = field(default_factory=dict)


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


# -- cells ---------------------------------------------------------------------------------


def cell_text(value: Any, column: str) -> str:
    """Spreadsheets give numbers and dates; the checks want text (a date keeps its ISO form),
    cleaned of control characters before any check sees it (crm.text)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        text = str(value)
        # A UK number typed into Excel loses its leading zero (07700900123 -> 7700900123).
        if column == "phone" and len(text) == 10 and text[0] in "1237":
            text = "0" + text
        return text
    return clean_text(str(value)).strip()


# -- the header ---------------------------------------------------------------------------


def _score(row: list[Any], names: KnownNames) -> int:
    found = {names.columns.get(normalise(v)) for v in row if isinstance(v, str)}
    found.discard(None)
    return len(found)


def find_header(rows: list[list[Any]], names: KnownNames) -> int | None:
    """The 0-based index of the row that names the most known columns (two at least), among
    the first rows of the sheet: title rows and notes above it are not headers."""
    best, best_score = None, 1
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        score = _score(row, names)
        if score > best_score:
            best, best_score = index, score
    return best


def _looks_like_date(text: str) -> bool:
    try:
        parse_date(text)
    except ValueError:
        return False
    return True


def _blocker(heading: str, index: int, values: list[Any], names: KnownNames) -> Blocker | None:
    letter = column_letter(index)
    words = heading.casefold()
    tokens = set(normalise(w) for w in words.split())
    for word in names.stage_words:
        # short words ("iv", "adm") must be whole words; longer ones may be part of one
        if (len(word) <= 3 and word in tokens) or (len(word) > 3 and word in words):
            return Blocker(heading, letter, f"is named like a stage ({word!r}) but is not mapped")
    filled = [v for v in values if v not in (None, "")][:200]
    if filled:
        dated = sum(
            1
            for v in filled
            if isinstance(v, (date, datetime)) or (isinstance(v, str) and _looks_like_date(v))
        )
        if dated * 2 >= len(filled):
            return Blocker(heading, letter, "holds dates but is not mapped")
    return None


def lay_out(sheet: Sheet, mapping: ImportMapping, names: KnownNames | None = None) -> SheetLayout:
    """Find the header and map the columns of one sheet."""
    names = names or known_names()
    if mapping.header_row is not None:
        header_at: int | None = mapping.header_row - 1
        if header_at >= len(sheet.rows) or not any(cell_text(v, "") for v in sheet.rows[header_at]):
            raise TrackerError(
                f"{sheet.name}: row {mapping.header_row} is empty, so it cannot be the header"
            )
    else:
        header_at = find_header(sheet.rows, names)
    if header_at is None:
        data_rows = sum(1 for row in sheet.rows if any(cell_text(v, "") for v in row))
        return SheetLayout(sheet.name, None, [], {}, [], [], [], data_rows)
    headings = [cell_text(v, "") for v in sheet.rows[header_at]]
    body = sheet.rows[header_at + 1 :]
    columns: dict[int, str] = {}
    taken: dict[str, int] = {}
    blockers, not_used = [], []
    for index, heading in enumerate(headings):
        key = normalise(heading)
        if not key:
            # A column with no heading: only a problem if it has something in it.
            values = [row[index] if index < len(row) else None for row in body]
            if any(cell_text(v, "") for v in values):
                heading = f"column {column_letter(index)}"
                key = normalise(heading)
            else:
                continue
        target = mapping.columns.get(key) or names.columns.get(key)
        if target == IGNORE:
            columns[index] = IGNORE
            continue
        if target is not None:
            if target in taken:
                raise TrackerError(
                    f"{sheet.name}: columns {column_letter(taken[target])} and "
                    f"{column_letter(index)} ({headings[taken[target]]!r} and {heading!r}) "
                    f"both look like {target}: map one of them to another column or ignore it"
                )
            taken[target] = index
            columns[index] = target
            continue
        values = [row[index] if index < len(row) else None for row in body]
        blocker = _blocker(heading, index, values, names)
        if blocker:
            blockers.append(blocker)
        else:
            not_used.append(heading)
    preview = [
        [cell_text(v, columns.get(i, "")) for i, v in enumerate(row)]
        for row in body[:10]
        if any(cell_text(v, "") for v in row)
    ]
    data_rows = sum(1 for row in body if any(cell_text(v, "") for v in row))
    return SheetLayout(
        sheet.name, header_at + 1, headings, columns, blockers, not_used, preview, data_rows
    )


def missing_columns(layout: SheetLayout) -> list[str]:
    mapped = set(layout.mapping.values())
    missing = [c for c in REQUIRED_COLUMNS if c not in mapped]
    if "full_name" not in mapped:
        missing += [c for c in ("first_name", "last_name") if c not in mapped]
    if "email" not in mapped and "phone" not in mapped:
        missing.append("email or phone")
    return missing


# -- the file ---------------------------------------------------------------------------


def choose_sheets(file_name: str, layouts: list[SheetLayout], wanted: str | None) -> list[int]:
    """Which sheets to import: the one named, all of them, or the only one with a tracker."""
    if wanted is not None and wanted.casefold() != "all":
        for index, layout in enumerate(layouts):
            if layout.name.casefold() == wanted.strip().casefold():
                return [index]
        raise TrackerError(
            f"{file_name} has no sheet called {wanted!r} (its sheets: "
            f"{', '.join(layout.name for layout in layouts)})"
        )
    trackers = [i for i, layout in enumerate(layouts) if layout.looks_like_tracker]
    if wanted is not None:  # "all"
        if not trackers:
            raise TrackerError(f"{file_name}: no sheet has a tracker's header row")
        return trackers
    if not trackers:
        if all(layout.rows == 0 and not layout.headings for layout in layouts):
            raise TrackerError(f"{file_name}: the file is empty")
        raise TrackerError(
            f"{file_name}: no header row found (a row naming columns such as Reference, "
            "Enquiry date, Surname) in the first 30 rows; say which row it is with --header-row"
        )
    if len(trackers) > 1:
        names = ", ".join(repr(layouts[i].name) for i in trackers)
        raise TrackerError(
            f"{file_name} has {len(trackers)} sheets that look like trackers ({names}): "
            "choose one with --sheet NAME, or import them all with --sheet all"
        )
    return trackers


def read_tracker(
    path: Path, mapping: ImportMapping | None = None, *, name: str | None = None
) -> TrackerFile:
    """Read a tracker (.csv, .xlsx, .xlsm or .ods) into the CRM's columns. Row numbers are the
    spreadsheet's own, so a problem can be found and fixed in the file."""
    mapping = mapping or ImportMapping()
    name = name or path.name
    try:
        sheets = read_sheets(path, name)
    except SpreadsheetError as exc:
        raise TrackerError(str(exc)) from None
    names = known_names()
    if mapping.header_row is not None and mapping.sheet is None and len(sheets) > 1:
        raise TrackerError(f"{name}: say which sheet the header row {mapping.header_row} is on")
    layouts = []
    for sheet in sheets:
        wanted = mapping.sheet is None or mapping.sheet.casefold() in (
            "all",
            sheet.name.casefold(),
        )
        if mapping.header_row is not None and wanted:
            layouts.append(lay_out(sheet, mapping, names))
        else:
            layouts.append(lay_out(sheet, ImportMapping(mapping.columns), names))
    chosen = choose_sheets(name, layouts, mapping.sheet)
    tracker = TrackerFile(columns=[], ignored_columns=[], rows=[])
    tracker.sheets = [layouts[i].name for i in chosen]
    tracker.sheet = tracker.sheets[0]
    for index, layout in enumerate(layouts):
        if index not in chosen and len(layouts) > 1:
            why = "no header row" if not layout.looks_like_tracker else "not chosen"
            tracker.notes.append(f"Sheet {layout.name!r} not imported ({why})")
    several = len(chosen) > 1
    for position, index in enumerate(chosen):
        layout, sheet = layouts[index], sheets[index]
        where = f"{name}, sheet {layout.name!r}" if len(layouts) > 1 else name
        missing = missing_columns(layout)
        if missing:
            raise TrackerError(
                f"{where}: no column for {', '.join(missing)} in the header (row "
                f"{layout.header_row}: {', '.join(h for h in layout.headings if h)}); "
                "map them in the mapping file"
            )
        if layout.blockers:
            raise TrackerError(
                f"{where}: "
                + "; ".join(str(b) for b in layout.blockers)
                + ". Map each one to a column, or ignore it, in the mapping file ([columns])"
            )
        if sheet.merged_cells_filled:
            tracker.notes.append(
                f"{where}: {sheet.merged_cells_filled} merged cells were read as the value of "
                "their merged range"
            )
        if not tracker.headings:
            tracker.headings = [h for h in layout.headings]
        used = {i: c for i, c in layout.mapping.items() if c != IGNORE}
        for index, column in used.items():
            if column not in tracker.columns:
                tracker.columns.append(column)
                tracker.heading_of[column] = layout.headings[index] or column
        tracker.ignored_columns += [
            layout.headings[i] for i, c in layout.mapping.items() if c == IGNORE
        ] + [h for h in layout.not_used if h not in tracker.ignored_columns]
        for r, values in enumerate(sheet.rows[layout.header_row :], start=layout.header_row):
            record = {c: cell_text(values[i], c) for i, c in used.items() if i < len(values)}
            if not any(record.values()):
                continue
            # Rows of a second sheet are numbered from 10,000,001 so that every row has its
            # own number; display_row gives back the spreadsheet's.
            number = position * ROWS_PER_SHEET + r + 1
            formulas = {
                used[c]: "A formula with no saved result: open the file in Excel or LibreOffice "
                "and save it, so its results are saved too"
                for (fr, c) in sheet.formulas_without_values
                if fr == r and c in used
            }
            if formulas:
                tracker.cell_problems[number] = formulas
            if several:
                tracker.sheet_of_row[number] = layout.name
            tracker.rows.append((number, _fold(record)))
    return tracker


def _fold(record: dict[str, str]) -> dict[str, str]:
    """Every CRM column, with a one-cell name split and a shared reason column placed."""
    row = {c: record.get(c, "") for c in COLUMNS}
    full = record.get("full_name", "")
    if full and not (row["first_name"] or row["last_name"]):
        parts = full.split()
        row["first_name"] = " ".join(parts[:-1]) if len(parts) > 1 else ""
        row["last_name"] = parts[-1]
    reason = record.get("leaving_reason", "")
    if reason:
        if row["not_progressed_date"] and not row["not_progressed_reason"]:
            row["not_progressed_reason"] = reason
        elif not row["withdrawn_reason"]:
            row["withdrawn_reason"] = reason
    return row


def display_row(number: int) -> int:
    """The spreadsheet's row number of a row from a file of several sheets."""
    return number % ROWS_PER_SHEET
