"""A tracker file's columns, and reading a CSV or Excel file into them: any common encoding
and line ending, the header found wherever the team put it, every cell cleaned of control
characters (crm.text) before any check sees it."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from charset_normalizer import from_bytes

from crm import stages
from crm.models import Stage
from crm.text import clean_text

# A tracker records each stage reached as a date in the stage's column (crm.stages), and a
# household that left as a date and a reason.
STAGE_COLUMNS = {
    row.tracker_column: Stage(row.key)
    for row in stages.STAGES
    if row.tracker_column and "funnel" in row.groups and row.key != Stage.ENQUIRY
}
LEAVING_COLUMNS = {
    Stage(row.key): (row.tracker_column, f"{row.key}_reason")
    for row in stages.STAGES
    if row.tracker_column and "closed" in row.groups
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


class TrackerError(Exception):
    """The file as a whole cannot be read (wrong type, no header, missing columns)."""


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
