"""Files as they really arrive: each kind of bad input gets one clear sentence, and nothing is
half-imported."""

from __future__ import annotations

import pandas as pd
import pytest
from openpyxl import Workbook
from sqlmodel import func, select

import crm.models as m
from crm.services.imports.columns import TrackerError, read_tracker
from crm.services.imports.mapping import ImportMapping
from crm.services.imports.sheets import MAX_BYTES
from crm.services.imports.tracker import import_tracker

HEADER = ["Ref", "Date of enquiry", "First name", "Surname", "Email"]
ROWS = [
    ["B-1", "01/02/2024", "Zoë", "Brontë", "zoe@example.org"],
    ["B-2", "14/02/2024", "Al", "Ng", "al@example.org"],
]


def csv_text(separator: str = ",", newline: str = "\n") -> str:
    return newline.join(separator.join(r) for r in [HEADER, *ROWS]) + newline


@pytest.mark.parametrize(
    ("encoding", "separator", "newline"),
    [
        ("cp1252", ",", "\r\n"),  # Excel on Windows, "CSV (Comma delimited)"
        ("utf-8-sig", ",", "\r\n"),  # "CSV UTF-8", with its byte-order mark
        ("utf-8", ";", "\n"),  # Excel in much of Europe
        ("utf-8", "\t", "\n"),  # copied out of a sheet as tab-separated text
        ("cp1252", ",", "\r"),  # old Mac line endings
    ],
)
def test_encodings_separators_and_line_endings(tmp_path, encoding, separator, newline):
    path = tmp_path / "t.csv"
    path.write_bytes(csv_text(separator, newline).encode(encoding))
    tracker = read_tracker(path)
    assert [(n, r["reference"], r["first_name"], r["last_name"]) for n, r in tracker.rows] == [
        (2, "B-1", "Zoë", "Brontë"),
        (3, "B-2", "Al", "Ng"),
    ]


def test_header_in_another_row_is_found_or_named(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("Our tracker\n\nUpdated weekly\n" + csv_text(), encoding="utf-8")
    assert read_tracker(path).rows[0][0] == 5
    assert read_tracker(path, ImportMapping(header_row=4)).rows[0][0] == 5
    with pytest.raises(TrackerError, match="t.csv: row 2 is empty, so it cannot be the header"):
        read_tracker(path, ImportMapping(header_row=2))
    with pytest.raises(TrackerError, match="no column for reference, enquiry_date"):
        read_tracker(path, ImportMapping(header_row=5))
    path.write_text("Our tracker\n" + "\n".join(",".join(r) for r in ROWS), encoding="utf-8")
    with pytest.raises(TrackerError, match="no header row found .* with --header-row"):
        read_tracker(path)


def test_merged_cells_formulas_and_empty_sheets(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Tracker"
    sheet.append([*HEADER, "Area"])
    sheet.append([*ROWS[0], "Northshire"])
    sheet.append([*ROWS[1], None])
    sheet.append(["B-3", "=B3+1", "Cy", "Cole", "cy@example.org", None])
    sheet.merge_cells("F2:F4")  # one area written once for three rows
    workbook.create_sheet("Empty")
    path = tmp_path / "t.xlsx"
    workbook.save(path)
    tracker = read_tracker(path)
    assert [r["area"] for _, r in tracker.rows] == ["Northshire"] * 3
    assert (
        "t.xlsx, sheet 'Tracker': 2 merged cells were read as the value of their merged range"
        in (tracker.notes)
    )
    # openpyxl saves a formula without its result, as a program (not Excel) would.
    assert tracker.cell_problems[4]["enquiry_date"].startswith("A formula with no saved result")

    empty = Workbook()
    empty.active.title = "Sheet1"
    empty.save(tmp_path / "empty.xlsx")
    with pytest.raises(TrackerError, match="^empty.xlsx: the file is empty$"):
        read_tracker(tmp_path / "empty.xlsx")


def test_a_formula_without_its_result_stops_the_row(session, settings, org, tmp_path):
    workbook = Workbook()
    workbook.active.append(HEADER)
    workbook.active.append(ROWS[0])
    workbook.active.append(["B-3", "=TODAY()", "Cy", "Cole", "cy@example.org"])
    workbook.save(tmp_path / "f.xlsx")
    report = import_tracker(session, settings, tmp_path / "f.xlsx")
    assert not report.imported
    assert [str(p) for p in report.problems] == [
        "Row 3, enquiry_date: A formula with no saved result: open the file in Excel or "
        "LibreOffice and save it, so its results are saved too"
    ]
    assert session.exec(select(func.count()).select_from(m.Household)).one() == 0


def test_opendocument(tmp_path):
    path = tmp_path / "t.ods"
    frame = pd.DataFrame(ROWS, columns=HEADER)
    with pd.ExcelWriter(path, engine="odf") as writer:
        pd.DataFrame([["Read me: one row per enquiry"]]).to_excel(
            writer, sheet_name="Read me", header=False, index=False
        )
        frame.to_excel(writer, sheet_name="Enquiries", index=False)
    tracker = read_tracker(path)
    assert tracker.sheet == "Enquiries"
    assert [r["reference"] for _, r in tracker.rows] == ["B-1", "B-2"]


@pytest.mark.parametrize(
    ("name", "content", "sentence"),
    [
        ("photo.csv", b"\x89PNG\r\n\x1a\n" + b"\x00" * 50,
         "photo.csv is a PNG picture, not a spreadsheet"),
        ("report.xlsx", b"%PDF-1.7\n...", "report.xlsx is a PDF document, not a spreadsheet"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 50,
         "old.xls is an old Excel 97-2003 workbook (.xls), which cannot be read: open it in "
         "Excel and save it as .xlsx"),
        ("fake.xlsx", b"not a workbook", "fake.xlsx: not a readable Excel workbook (the file is "
         "damaged or is not a spreadsheet)"),
        ("utf16.csv", "Ref,Date\n".encode("utf-16"), "utf16.csv: the text is not in UTF-8 or "
         "Windows-1252, so it cannot be read (is it a CSV file?). In Excel, save it as "
         '"CSV UTF-8 (Comma delimited)".'),
        ("blank.csv", b"", "blank.csv: the file is empty"),
        ("spaces.csv", b" \r\n\r\n", "spaces.csv: the file is empty"),
    ],
)  # fmt: skip
def test_files_that_are_not_trackers(tmp_path, name, content, sentence):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(TrackerError) as caught:
        read_tracker(path)
    assert str(caught.value) == sentence


def test_a_zip_that_is_not_a_spreadsheet(tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "t.xlsx", "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    with pytest.raises(TrackerError, match="t.xlsx is a word-processor document"):
        read_tracker(tmp_path / "t.xlsx")


def test_a_100_mb_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:
        handle.truncate(100 * 1024 * 1024)  # sparse: no 100 MB written to the disk
    assert path.stat().st_size > MAX_BYTES
    with pytest.raises(TrackerError) as caught:
        read_tracker(path)
    assert str(caught.value) == (
        "huge.csv is 100 MB; the importer takes files up to 50 MB. Split it (by year, say) "
        "and import each part."
    )


def test_a_failure_while_writing_leaves_nothing_behind(session, settings, org, tmp_path):
    """The import is one transaction: households already written by the bulk path go when a
    later step fails (here the database refuses a second household with the same reference)."""
    from datetime import date
    from zoneinfo import ZoneInfo

    from crm.services.actors import Actor
    from crm.services.imports.tracker import Plan, _create_all, _one_transaction
    from crm.services.imports.values import TrackerRow

    def row(number: int, reference: str) -> TrackerRow:
        return TrackerRow(number, reference, date(2024, 2, 1), "Al", "Ng", None, None, None,
                          None, None, None, None, {}, None)  # fmt: skip

    marks = {2: "Imported from t.csv, row 2", 3: "Imported from t.csv, row 3"}
    tz = ZoneInfo("Europe/London")
    with pytest.raises(Exception, match="(?i)unique"), _one_transaction(session) as db:
        _create_all(db, Actor.system("import"), settings, [Plan(row(2, "B-1"), "create")],
                    tz, marks)  # fmt: skip
        _create_all(db, Actor.system("import"), settings, [Plan(row(3, "B-1"), "create")],
                    tz, marks)  # fmt: skip
    session.expire_all()
    assert session.exec(select(func.count()).select_from(m.Household)).one() == 0
    assert session.exec(select(func.count()).select_from(m.StageEvent)).one() == 0
