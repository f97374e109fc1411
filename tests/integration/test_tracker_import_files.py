"""`fostercrm import tracker` with the files people really have: saved by Excel on Windows
(Windows-1252), by an old Mac (lone CR line endings), with a byte-order mark, in Latin-1, or
not text at all; and cells with control characters in them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import select

import crm.models as m
from crm.cli import main
from crm.services.imports.columns import TrackerError, read_tracker

HEADER = "reference,enquiry_date,first_name,last_name,email,withdrawn_date,withdrawn_reason"
ROWS = [
    "TRK-1,2025-09-01,Zoë,O’Brien,zoe@example.org,,",
    "TRK-2,02/09/2025,Renée,Brontë–Smith,renee@example.org,10/09/2025,Finances: £ too little",
]


def tracker(path: Path, encoding: str, newline: str, rows: list[str] = ROWS) -> Path:
    path.write_bytes(newline.join([HEADER, *rows, ""]).encode(encoding))
    return path


def run_cli(url: str, *args: str):
    return CliRunner().invoke(main, list(args), env={"FOSTERCRM_DATABASE_URL": url})


@pytest.mark.parametrize(
    ("encoding", "newline"),
    [
        ("utf-8", "\n"),
        ("utf-8-sig", "\r\n"),  # Excel's "CSV UTF-8"
        ("cp1252", "\r\n"),  # Excel's plain "CSV" on Windows
        ("cp1252", "\r"),  # an old Mac
        ("utf-8", "\r"),
    ],
)
def test_encodings_and_line_endings_are_read(tmp_path, encoding, newline):
    rows = read_tracker(tracker(tmp_path / "t.csv", encoding, newline)).rows
    assert [(n, r["first_name"], r["last_name"]) for n, r in rows] == [
        (2, "Zoë", "O’Brien"),
        (3, "Renée", "Brontë–Smith"),
    ]
    assert rows[1][1]["withdrawn_reason"] == "Finances: £ too little"


def test_bytes_windows_1252_leaves_unassigned_do_not_stop_the_import(tmp_path):
    path = tracker(tmp_path / "t.csv", "cp1252", "\r\n")
    path.write_bytes(path.read_bytes().replace(b"little", b"li\x8dttle"))
    rows = read_tracker(path).rows
    assert rows[1][1]["last_name"] == "Brontë–Smith"
    assert rows[1][1]["withdrawn_reason"] == "Finances: £ too little"


def test_latin_1_is_read(tmp_path):
    rows = ["TRK-1,2025-09-01,Zoë,Müller,zoe@example.org,,", "TRK-2,2025-09-02,José,Peña,j@x.org,,"]
    path = tracker(tmp_path / "t.csv", "latin-1", "\r\n", rows)
    names = [(r["first_name"], r["last_name"]) for _n, r in read_tracker(path).rows]
    assert names == [("Zoë", "Müller"), ("José", "Peña")]


def test_a_file_that_is_not_text_is_refused_in_one_line(tmp_path, sqlite_url):
    utf16 = tracker(tmp_path / "unicode.csv", "utf-16", "\r\n")
    with pytest.raises(TrackerError, match="not in UTF-8 or Windows-1252"):
        read_tracker(utf16)
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(4000))
    result = run_cli(sqlite_url, "import", "tracker", str(binary))
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.output.strip().splitlines() == [
        "Error: photo.csv is a PNG picture, not a spreadsheet"
    ]


def test_cli_imports_windows_and_old_mac_files(database_url, session, org, tmp_path):
    windows = tracker(tmp_path / "windows.csv", "cp1252", "\r\n")
    result = run_cli(database_url, "import", "tracker", str(windows))
    assert result.exit_code == 0, result.output
    # The report's notes (dates read day first, reasons kept under "other") come first.
    assert result.output.strip().splitlines()[-1] == (
        "windows.csv: 2 rows read; 2 created, 0 updated, 0 unchanged."
    )
    mac = tracker(tmp_path / "mac.csv", "cp1252", "\r")
    again = run_cli(database_url, "import", "tracker", str(mac))
    assert again.exit_code == 0, again.output
    assert again.output.strip().splitlines()[-1] == (
        "mac.csv: 2 rows read; 0 created, 0 updated, 2 unchanged."
    )
    names = session.exec(select(m.Applicant.first_name, m.Applicant.last_name)).all()
    assert sorted(names) == [("Renée", "Brontë–Smith"), ("Zoë", "O’Brien")]


def test_control_characters_in_cells_never_reach_the_database(database_url, session, org, tmp_path):
    rows = [
        "TRK-1,2025-09-01,Zo\x00ë,O’Br\x1bien,zoe@example.org\x00,,",
        'TRK-2,2025-09-02,"Ren\x07ée","Bront\x7fë",renee@example.org,10/09/2025,"Too\x00 far\x0b"',
    ]
    path = tracker(tmp_path / "t.csv", "utf-8", "\r\n", rows)
    result = run_cli(database_url, "import", "tracker", str(path))
    assert result.exit_code == 0, result.output
    names = session.exec(select(m.Applicant.first_name, m.Applicant.last_name)).all()
    assert sorted(names) == [("Renée", "Brontë"), ("Zoë", "O’Brien")]
    emails = session.exec(select(m.Applicant.email)).all()
    assert sorted(emails) == ["renee@example.org", "zoe@example.org"]
    reasons = session.exec(
        select(m.StageEvent.reason_text).where(m.StageEvent.reason_text.is_not(None))
    ).all()
    assert reasons == ["Too far"]
