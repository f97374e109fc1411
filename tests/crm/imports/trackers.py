"""Tracker files shaped like the ones fostering teams keep, written for the tests: title rows
above the header, a "Read me" sheet first, a sheet per year, the team's own column names and
list values, free-text reasons, dates typed every which way, the same person twice.

Each comes with the funnel it should give after import, worked out by hand in the comments."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from openpyxl import Workbook

HEADINGS_2023 = [
    "Ref", "Date of enquiry", "First name", "Surname", "Email", "Tel", "Postcode",
    "How did you hear about us", "Campaign", "IV date", "Application received",
    "Stage 1 start", "Stage 2 start", "Panel", "Approved", "Withdrawn", "Reason", "Notes",
]  # fmt: skip


def d(text: str) -> datetime:
    """A real date cell, as Excel keeps one."""
    return datetime.fromisoformat(text)  # noqa: DTZ007 - Excel's dates have no zone


# Row 4 onwards of the 2023 sheet (rows 1-2: title and a blank; row 3: the header).
ROWS_2023 = [
    # H-001 goes all the way: enquiry to approval.
    ["H-001", d("2023-01-09"), "Amy", "Adams", "amy@example.org", None, "LE1 6ZG", "Website",
     "Spring 2023", d("2023-01-20"), d("2023-02-15"), "01/03/2023", "1 May 2023", "14 Sep 23",
     d("2023-09-21"), None, None, "Lovely couple"],
    # H-002: "1 Feb 23" typed as text; withdrew for money.
    ["H-002", "1 Feb 23", "Bob", "Brown", "bob@example.org", None, "LE2 1AA", "Facebook",
     "Spring 2023", "14/02/2023", None, None, None, None, None, "1 Mar 23",
     "Financial reasons", None],
    # H-003: phone only, withdrew before any visit.
    ["H-003", "14/02/2023", "Cat", "Cole", None, "07700 900001", "NG1 1AA", "Google", None,
     None, None, None, None, None, None, "28/02/2023", "Not enough space at home", None],
    # H-004: the enquiry date as the number Excel keeps (44986 = 1 March 2023); withdrew at
    # stage one in their own words, which go under "other".
    ["H-004", 44986, "Dev", "Patel", "dev@example.org", None, None, "Referral", None,
     d("2023-03-10"), d("2023-04-03"), d("2023-04-20"), None, None, None, d("2023-06-01"),
     "Changed mind", None],
    # H-005: still at initial visit.
    ["H-005", d("2023-03-15"), "Eve", "Evans", "eve@example.org", None, None, "Website", None,
     d("2023-03-28"), None, None, None, None, None, None, None, None],
    # H-006: an enquiry that went nowhere.
    ["H-006", d("2023-04-03"), "Sam", "Okafor", None, "07700 900002", None, "Facebook", None,
     None, None, None, None, None, None, None, None, "Left voicemail"],
    # H-007: the same person as H-006 (same phone, Samantha for Sam): flagged, not imported.
    ["H-007", d("2023-04-20"), "Samantha", "Okafor", None, "07700900002", None, "Facebook",
     None, d("2023-05-02"), None, None, None, None, None, None, None, None],
    # H-008 and H-009: a couple sharing the landline, two enquiries: both imported.
    ["H-008", d("2023-05-02"), "John", "Smith", None, "07700 900003", None, "Referral", None,
     d("2023-05-20"), None, None, None, None, None, None, None, None],
    ["H-009", d("2023-05-02"), "Jane", "Smith", None, "07700 900003", None, "Referral", None,
     None, None, None, None, None, None, None, None, None],
    # H-010: Amy again by email: flagged, not imported.
    ["H-010", d("2023-06-12"), "Amy", "Adams", "AMY@example.org", None, None, "Website", None,
     None, None, None, None, None, None, None, None, None],
]  # fmt: skip

HEADINGS_2024 = [
    "Ref", "Date of enquiry", "Name", "Email", "How did you hear about us", "IV date",
    "Application received", "Withdrawn", "Reason",
]  # fmt: skip
ROWS_2024 = [
    ["H-101", d("2024-01-15"), "Fay Fox", "fay@example.org", "Google", d("2024-02-01"),
     d("2024-03-01"), d("2024-04-10"), "Financial reasons"],
    # Enquired in 2024 and never called back in the tracker: no call-back task now.
    ["H-102", d("2024-02-20"), "Gus Grey", "gus@example.org", "Website", None, None, None,
     None],
]  # fmt: skip

HARROWDALE_MAPPING = """\
sheet = "all"

[values.source]
"Website" = "council_website"
"Facebook" = "Social media"
"Google" = "web_search"
"Referral" = "refer_a_friend"

[values.campaign]
"Spring 2023" = "new"

[values.reason]
"Financial reasons" = "finances"
"Not enough space at home" = "space"
"Changed mind" = "other"
"""

# After importing harrowdale.xlsx with HARROWDALE_MAPPING, by hand:
# 2023 cohort: H-001..H-006, H-008, H-009 imported (H-007 and H-010 are duplicates): 8.
#   initial visit: H-001, H-002, H-004, H-005, H-008 = 5; application: H-001, H-004 = 2;
#   stage one: H-001, H-004 = 2; stage two, panel, approved: H-001 = 1.
#   withdrawn: H-002 (finances), H-003 (space), H-004 (other: "Changed mind") = 3.
#   sources: council_website H-001, H-005 = 2; social_media H-002, H-006 = 2;
#   web_search H-003 = 1; refer_a_friend H-004, H-008, H-009 = 3.
# 2024 cohort: H-101, H-102 = 2; initial visit 1; application 1; stage one 0;
#   withdrawn 1 (finances).
HARROWDALE_FUNNEL_2023 = {
    "enquiry": 8, "initial_visit": 5, "application": 2, "stage_one": 2, "stage_two": 1,
    "panel": 1, "approved": 1,
}  # fmt: skip
HARROWDALE_FUNNEL_2024 = {
    "enquiry": 2, "initial_visit": 1, "application": 1, "stage_one": 0, "stage_two": 0,
    "panel": 0, "approved": 0,
}  # fmt: skip


def write_harrowdale(path: Path) -> Path:
    """A workbook as a team keeps it: a "Read me" sheet first, then a sheet per year; the 2023
    sheet has a title row and a blank row above its header."""
    workbook = Workbook()
    readme = workbook.active
    readme.title = "Read me"
    readme.append(["How to use this tracker"])
    readme.append(["One row per enquiry. Dates as dd/mm/yyyy. Ask Pat before adding columns."])
    sheet = workbook.create_sheet("2023")
    sheet.append(["Harrowdale, Kingsmere & Westbrook fostering recruitment tracker 2023"])
    sheet.append([])
    sheet.append(HEADINGS_2023)
    for row in ROWS_2023:
        sheet.append(row)
    later = workbook.create_sheet("2024")
    later.append(HEADINGS_2024)
    for row in ROWS_2024:
        later.append(row)
    workbook.save(path)
    return path


# A CSV saved by Excel on Windows ("CSV (Comma delimited)" in a European locale): Windows-1252,
# semicolons, CRLF, two title rows, the team's own headings and free-text reasons.
KINGSMERE_CSV = (
    "Kingsmere fostering enquiries;;;;;;;;\r\n"
    "Exported from the shared drive, do not edit;;;;;;;;\r\n"
    "Enquiry ref;Enquiry date;Forename;Surname;Email address;How heard;Initial visit;"
    "Application;Date closed by service;Reason for leaving\r\n"
    "K-1;03/01/2025;Zoë;Brontë;zoe@example.org;Radio Kingsmere;15/01/2025;;;\r\n"
    "K-2;6 Jan 25;Seán;O’Neill;sean@example.org;Word of mouth;20/01/2025;;03/02/2025;"
    "Capacity – no assessor free\r\n"
    "K-3;13/01/2025;Ann;Lee;ann@example.org;Radio Kingsmere;;;;\r\n"
    "K-4;2025-01-20;Raj;Shah;raj@example.org;Leaflet;;;;\r\n"
)
# With --create-missing: 4 households; initial visit K-1, K-2 = 2; not progressed K-2 with the
# new reason "Capacity – no assessor free"; sources: "Radio Kingsmere" and "Leaflet" are new
# entries (2 and 1), word_of_mouth 1. January 2025 cohort: enquiry 4, initial visit 2,
# application 0.
KINGSMERE_FUNNEL = {
    "enquiry": 4, "initial_visit": 2, "application": 0, "stage_one": 0, "stage_two": 0,
    "panel": 0, "approved": 0,
}  # fmt: skip
