"""Reading a spreadsheet file into plain tables, one per sheet, whatever it was saved as: CSV
(any common encoding, separator and line ending), Excel (.xlsx, .xlsm) or OpenDocument (.ods).
The file's content decides what it is, not its name, so a workbook renamed .csv, or a photo
renamed .xlsx, gets a sentence saying what it really is. Nothing here knows about trackers."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from charset_normalizer import from_bytes

# A tracker of 10,000 households is about 2 MB as CSV; a file fifty times that is not one team's
# tracker, and reading it would hold a web worker for minutes.
MAX_BYTES = 50 * 1024 * 1024

_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0"  # old .xls (and .doc): the Office binary format
_NOT_SPREADSHEETS = {
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG picture",
    b"\xff\xd8\xff": "a JPEG photo",
    b"GIF8": "a GIF picture",
}


class SpreadsheetError(Exception):
    """The file cannot be read as a spreadsheet; the message is one sentence for the user."""


@dataclass
class Sheet:
    name: str
    # Cells as the file gives them: text, numbers, dates, or None for an empty cell.
    rows: list[list[Any]]
    # (row, column) of cells that hold a formula with no saved result (0-based).
    formulas_without_values: set[tuple[int, int]] = field(default_factory=set)
    # How many cells a merged range filled in from its top-left cell.
    merged_cells_filled: int = 0


def read_sheets(path: Path, name: str | None = None) -> list[Sheet]:
    """Every sheet of the file (a CSV file is one sheet, named as the file). `name` is the
    file's name as the user knows it (an upload is saved under another name)."""
    name = name or path.name
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SpreadsheetError(f"{name}: the file cannot be opened ({exc.strerror})") from None
    if size > MAX_BYTES:
        raise SpreadsheetError(
            f"{name} is {size / 1024 / 1024:.0f} MB; the importer takes files up to "
            f"{MAX_BYTES // 1024 // 1024} MB. Split it (by year, say) and import each part."
        )
    if size == 0:
        raise SpreadsheetError(f"{name}: the file is empty")
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(_ZIP):
        return _read_zip(path, name)
    if head.startswith(_OLE):
        raise SpreadsheetError(
            f"{name} is an old Excel 97-2003 workbook (.xls), which cannot be read: "
            "open it in Excel and save it as .xlsx"
        )
    for magic, what in _NOT_SPREADSHEETS.items():
        if head.startswith(magic):
            raise SpreadsheetError(f"{name} is {what}, not a spreadsheet")
    if path.suffix.lower() in (".xlsx", ".xlsm", ".ods"):
        kind = "OpenDocument spreadsheet" if path.suffix.lower() == ".ods" else "Excel workbook"
        raise SpreadsheetError(
            f"{name}: not a readable {kind} (the file is damaged or is not a spreadsheet)"
        )
    return [Sheet(name, _read_csv(path.read_bytes(), name))]


def _read_zip(path: Path, name: str) -> list[Sheet]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            mimetype = (
                archive.read("mimetype").decode("ascii", "replace").strip()
                if "mimetype" in names
                else ""
            )
    except zipfile.BadZipFile:
        raise SpreadsheetError(
            f"{name}: not a readable Excel workbook (the file is damaged)"
        ) from None
    if "xl/workbook.xml" in names:
        return _read_xlsx(path, name)
    if mimetype == "application/vnd.oasis.opendocument.spreadsheet":
        return _read_ods(path, name)
    if "word/document.xml" in names or mimetype.endswith(".text"):
        raise SpreadsheetError(f"{name} is a word-processor document, not a spreadsheet")
    raise SpreadsheetError(f"{name} is a zip archive, not a spreadsheet")


# -- CSV ----------------------------------------------------------------------------------


def decode_text(raw: bytes, name: str) -> str:
    """The text of a CSV file. UTF-8 (with or without the byte-order mark Excel's "CSV UTF-8"
    writes) is taken as it is; otherwise it must be in the code page Excel on Windows saves
    "CSV" in (Windows-1252, or Latin-1). Anything else is refused in one line."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # charset-normalizer tells text in those code pages from anything else (UTF-16, a binary
    # file renamed .csv), which would otherwise be read as nonsense.
    if b"\x00" in raw[:4096] or from_bytes(raw, cp_isolation=["cp1252", "latin_1"]).best() is None:
        raise SpreadsheetError(
            f"{name}: the text is not in UTF-8 or Windows-1252, so it cannot be read "
            '(is it a CSV file?). In Excel, save it as "CSV UTF-8 (Comma delimited)".'
        )
    # Read it as Windows-1252: it is Latin-1 with letters and punctuation (’ – €) where Latin-1
    # has control codes. Its five unassigned bytes are dropped, as Windows reads them as
    # control characters, which crm.text would remove anyway.
    return raw.decode("cp1252", errors="ignore")


def _separator(text: str) -> str:
    """Comma, semicolon (Excel in much of Europe) or tab: whichever splits the first lines
    into the same, largest number of cells, quotes respected."""
    lines = [line for line in text[:20000].splitlines() if line.strip()][:10]
    best, best_score = ",", (0, 0)
    for candidate in (",", ";", "\t"):
        widths = [len(row) for row in csv.reader(lines, delimiter=candidate)]
        if not widths:
            continue
        common = max(set(widths), key=widths.count)
        score = (widths.count(common) if common > 1 else 0, common)
        if score > best_score:
            best, best_score = candidate, score
    return best


def _read_csv(raw: bytes, name: str) -> list[list[Any]]:
    text = decode_text(raw, name)
    if not text.strip():
        raise SpreadsheetError(f"{name}: the file is empty")
    try:
        # newline="": the reader itself then ends rows at CRLF (Windows), LF, or a lone CR
        # (old Mac files), and keeps line breaks inside quoted cells.
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=_separator(text))
        return [list(row) for row in reader]
    except csv.Error as exc:
        raise SpreadsheetError(f"{name}: not a readable CSV file ({exc})") from None


# -- Excel --------------------------------------------------------------------------------


def _read_xlsx(path: Path, name: str) -> list[Sheet]:
    from openpyxl import load_workbook

    try:
        # Values as last saved; formulas are read too, only to tell "no result saved" from an
        # empty cell (a file written by a program, never opened in Excel, has no results).
        values = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise SpreadsheetError(f"{name}: not a readable Excel workbook ({exc})") from None
    try:
        sheets = []
        for worksheet in values.worksheets:
            rows = [list(row) for row in worksheet.iter_rows(values_only=True)]
            while rows and all(_blank(v) for v in rows[-1]):
                rows.pop()
            sheets.append(Sheet(worksheet.title, rows))
    finally:
        values.close()
    _fill_merged_and_formulas(path, sheets)
    return sheets


def _fill_merged_and_formulas(path: Path, sheets: list[Sheet]) -> None:
    """Read-only mode sees neither merged ranges nor formulas: look at the sheets' XML for
    both, cheaply, and only read a sheet in full when it has either."""
    from openpyxl import load_workbook

    with zipfile.ZipFile(path) as archive:
        flagged = False
        for member in archive.namelist():
            if member.startswith("xl/worksheets/sheet"):
                xml = archive.read(member)
                if b"<mergeCell " in xml or b"<f>" in xml or b"<f " in xml:
                    flagged = True
                    break
    if not flagged:
        return
    workbook = load_workbook(path, data_only=False)
    try:
        for sheet, worksheet in zip(sheets, workbook.worksheets, strict=False):
            for r, c in _formula_cells(worksheet):
                if r < len(sheet.rows) and c < len(sheet.rows[r]) and _blank(sheet.rows[r][c]):
                    sheet.formulas_without_values.add((r, c))
            for merged in worksheet.merged_cells.ranges:
                top = merged.min_row - 1
                left = merged.min_col - 1
                if top >= len(sheet.rows):
                    continue
                value = sheet.rows[top][left] if left < len(sheet.rows[top]) else None
                for r in range(top, min(merged.max_row, len(sheet.rows))):
                    row = sheet.rows[r]
                    row.extend([None] * (merged.max_col - len(row)))
                    for c in range(left, merged.max_col):
                        if (r, c) != (top, left):
                            row[c] = value
                            sheet.merged_cells_filled += 1
    finally:
        workbook.close()


def _formula_cells(worksheet: Any) -> Iterator[tuple[int, int]]:
    for row in worksheet.iter_rows():
        for cell in row:
            if cell.data_type == "f":
                yield cell.row - 1, cell.column - 1


# -- OpenDocument -------------------------------------------------------------------------


def _read_ods(path: Path, name: str) -> list[Sheet]:
    import pandas as pd

    try:
        frames = pd.read_excel(path, engine="odf", sheet_name=None, header=None, dtype=object)
    except ImportError:
        raise SpreadsheetError(
            f"{name}: OpenDocument files need the odfpy package; save the sheet as .xlsx or CSV"
        ) from None
    except Exception as exc:
        raise SpreadsheetError(f"{name}: not a readable OpenDocument spreadsheet ({exc})") from None
    sheets = []
    for title, frame in frames.items():
        rows = [
            [None if _missing(v) else _plain(v) for v in record]
            for record in frame.itertuples(index=False, name=None)
        ]
        sheets.append(Sheet(str(title), rows))
    return sheets


def _missing(value: Any) -> bool:
    try:
        return value is None or value != value  # NaN and NaT
    except (TypeError, ValueError):
        return False


def _plain(value: Any) -> Any:
    # pandas gives Timestamps; the rest of the importer knows datetimes.
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    if isinstance(value, time):
        return value
    return value


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def is_date_cell(value: Any) -> bool:
    return isinstance(value, (date, datetime))
