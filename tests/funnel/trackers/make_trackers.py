"""Build the tracker files in this folder and check them against their hand-computed
`<file>.expected.toml`.

    python tests/funnel/trackers/make_trackers.py           # rebuild every file, then check
    python tests/funnel/trackers/make_trackers.py --check   # only check the committed files

The tables below are the files' rows, one spreadsheet row a line, in the file's own column
order (plus a last `outcome` column, never written, that says where the household ends up:
`approved`, `W@<stage>` withdrawn, `NP@<stage>` not progressed, `open@<stage>`, `merged:<row>`
or `skip`). The expected numbers in the .toml files were counted by hand from these tables;
`check()` recomputes them from the written files with its own reader and rules (plain Python,
none of the product's code) and says where they disagree.

Everyone in these files is made up: names from the lists below, emails at example.com or
example.org, telephone numbers from Ofcom's drama ranges (07700 900xxx, 01632 960xxx) and
postcodes in the test organisation's districts (LE1-LE3 Northshire, NG1-NG2 Southshire).
"""

# ruff: noqa: E501 - a table row is a spreadsheet row: one line each, so it reads against the file

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
import tomllib
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
AS_OF = date(2026, 12, 1)  # every date in the files is on or before this day
FUNNEL = ("enquiry", "initial_visit", "application", "stage_one", "stage_two", "panel", "approved")
STAGE_COLUMNS = {f"{s}_date": s for s in FUNNEL[1:-1]} | {"approval_date": "approved"}
LEAVING_COLUMNS = {
    "withdrawn": ("withdrawn_date", "withdrawn_reason"),
    "not_progressed": ("not_progressed_date", "not_progressed_reason"),
}
CANONICAL = [  # the importer's column names (funnel/README.md, "The tracker import")
    "reference", "enquiry_date", "first_name", "last_name", "email", "phone", "postcode", "area",
    "source", "campaign", "first_contact_date", "initial_visit_date", "application_date",
    "stage_one_date", "stage_two_date", "panel_date", "approval_date", "withdrawn_date",
    "withdrawn_reason", "not_progressed_date", "not_progressed_reason",
]  # fmt: skip
DISTRICT_AREA = {
    "LE1": "Northshire",
    "LE2": "Northshire",
    "LE3": "Northshire",
    "NG1": "Southshire",
    "NG2": "Southshire",
}


def words(paragraph: str) -> frozenset[str]:
    return frozenset(paragraph.split())


# The only names in the files (the check says so), written as a paragraph to be read.
FIRST_NAMES = words(
    """Abi Adam Adele Agnès Aisha Alan Alfie Alice Amelia Amir Amy Anaïs Aoife Barry Bea Bella
    Ben Beth Bethany Björn Bob Brenda Brian Callum Carl Carys Cathy Chloe Chloé Clare Cody Colin
    Connor Craig Daisy Dana Daniel Dean Denise Derek Dev Dina Dónal Dora Dylan Edwin Elodie
    Ella Elsie Emma Eric Erin Esther Ethan Eve Faisal Fatima Faye Finn Fiona Frank François Fraser
    Fred Freya Gail Gary Gavin Gemma George Gina Glen Grace Gwen Hal Hannah Harry Hazel Helen Henry
    Holly Hugh Hugo Ian Ida Imran Inés Irene Iris Isla Ivan Ivor Ivy Jack Jade Jake Janet Jas Jess
    Jim Joe Joel Jon Jonathan José Jürgen Karl Kara Kate Kath Kay Keith Kevin Kim Kiran Kwame
    Leah Len Leon Lewis Liam Lily Linda Lorna Luke Mark Marta Martin Max Maya Megan Mia Mina Mo
    Mohammed Nat Nathan Ned Neil Nell Nia Nina Noah Noémie Nora Olive Oliver Olivia Omar Oona Opal
    Orla Oscar Owen Pam Pat Paul Penny Pete Poppy Priya Quentin Ralph Ramón Reece Renée Rhys Roger Rosa
    Rose Roy Ruth Sally Sam Sara Seth Siobhán Sophie Søren Stan Susan Tariq Tess Theo Thérèse Tia
    Tom Tony Trevor Uma Umar Una Ursula Val Vera Vic Victor Vince Wade Wendy Will Willow Xavier
    Yasmin Yusuf Yvonne Zac Zoe Zoë"""
)
LAST_NAMES = words(
    """Abbott Ahmed Åkesson Archer Ashby Ashworth Baines Barker Barnes Baxter Begum Bell Birch
    Bishop Blake Bonnard Brontë Brook Carter Chapman Clarke Coates Cobb Cole Cooke Côté Crane
    Cross Dale Dawson Dean Dixon Doyle Drake Dubois Duke Dunn Dyer Eames Eaton Eden Edwards Ellis
    Evans Ewing Eyre Fenn Fife Finch Fletcher Flint Fox Frost Gale García Gibbs Gill Girard Goode
    Gordon Gould Grant Grove Haigh Hale Hardy Hart Heath Hobbs Holmes Holt Hope Hughes Hunt Hurst
    Ibbotson Ingram Innes Iqbal Irons Irwin Isles Ives Jagger Jarvis Jennings Jewell Jones Joyce
    Judd Jukes Kaur Keane Kemp Kent Kerr Khan Kidd Kirk Knott Lacey Lamb Lambert Lane Leach
    Lefèvre Lloyd Lord Lowe Lyle Lyons Marr Marsden Marsh Martín Mason Mayes Mercer Mistry Moore
    Moran Moss Muñoz Nairn Nash Naylor Neal Nixon Noakes Nolan Norris Nunn Núñez O'Brien O’Neill
    Oakes Oates Ødegård Oliver Orme Orr Orwell Osborne Owen Page Parry Patel Pearce Peña Pike
    Platt Pratt Price Pryce Pugh Quigley Quinn Rahman Rees Reid Rhodes Rigby Ross Roux Rowe Royle
    Rudd Ruiz Shah Sharpe Shaw Sims Smith Smyth Stone Sutton Swift Sykes Tate Thorne Thwaite Todd
    Tranter Turner Tyler Umpleby Upton Usman Vale Vaughan Vernon Vickers Waddington Walsh Ward
    Warren Webb Weiß West Wilkes Wood Wren Yates Yeo York Young Zane"""
) | {"Ó Briain", "Ní Bhriain"}
# The GOV.UK data standard pattern for a UK postcode, applied after removing spaces.
POSTCODE = re.compile(
    r"^(GIR0AA|[A-PR-UWYZ]([0-9]{1,2}|([A-HK-Y][0-9]([0-9ABEHMNPRV-Y])?)|[0-9][A-HJKPS-UW])"
    r"[0-9][ABD-HJLNP-UW-Z]{2})$"
)
DRAMA_PHONE = re.compile(r"^(07700900|01632960)\d{3}$")


def table(text: str) -> tuple[list[str], list[list[str]]]:
    """A pipe table: the header line, then one line per spreadsheet row. Cells are stripped;
    a cell in double quotes keeps its spaces exactly (`" Priya.Shah@Example.com "`)."""
    lines = [line for line in text.strip("\n").splitlines() if line.strip()]

    def cells(line: str) -> list[str]:
        out = []
        for cell in line.split("|"):
            cell = cell.strip()
            if len(cell) >= 2 and cell[0] == cell[-1] == '"':
                cell = cell[1:-1]
            out.append(cell)
        return out

    header = cells(lines[0])
    rows = [cells(line) for line in lines[1:]]
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise SystemExit(f"table line {number}: {len(row)} cells for {len(header)} columns")
    return header, rows


def without_outcome(header: list[str], rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    assert header[-1] == "outcome"
    return header[:-1], [row[:-1] for row in rows]


# -- 1. harrowdale_2023.xlsx: a "Read me" sheet first, a title row, real Excel dates ------------

HARROWDALE_TITLE = "Harrowdale, Kingsmere & Westbrook fostering recruitment tracker 2023"
HARROWDALE_README = [
    "How to use this tracker",
    "",
    "One row per household, from the day they first get in touch.",
    "Type dates as dd/mm/yyyy. Leave a stage blank until it has happened.",
    "Team: North (Leicester office) or South (Nottingham office).",
    "If a family withdraws or we do not progress them, give the date and the reason.",
    "The enquiries are on the next sheet. Please do not sort the title rows.",
    "Last updated 08/01/2024 by the recruitment team.",
]
HARROWDALE_2023 = table("""
Ref        | Enquiry date | First name | Last name | Email                     | Phone          | Postcode | Team  | Source          | Date first contacted | Initial visit | Application | Stage 1    | Stage 2    | Panel      | Approval   | Withdrawn  | Withdrawal reason                | Not progressed | NP reason                                   | Current status     | Notes                                                                   | outcome
HKW-23-001 | 2023-01-09   | Amelia     | Hart      | amelia.hart@example.com   | int:7700900101 | LE1 5AB  | North | Council website | 2023-01-10           | 2023-01-24    | 2023-02-20  | 2023-03-06 | 2023-05-02 | 2023-09-18 | 2023-09-28 |            |                                  |                |                                             | Approved           | Wants to offer short breaks                                             | approved
HKW-23-002 | 2023-01-16   | Ben        | Carter    | ben.carter@example.org    | int:7700900102 | NG1 2BD  | South | Social media    | 2023-01-17           | 2023-02-01    |             |            |            |            |            | 2023-02-15 | Not the right time               |                |                                             | Withdrawn          |                                                                         | W@initial_visit
HKW-23-003 | 2023-01-23   | Chloe      | Dixon     | chloe.dixon@example.com   | int:1632960103 | LE2 7QR  | North | Word of mouth   | 2023-01-23           | 2023-02-06    | 2023-03-01  | 2023-03-20 | 2023-05-15 | 2023-10-16 | 2023-10-26 |            |                                  |                |                                             | Approved           |                                                                         | approved
HKW-23-004 | 2023-02-06   | Daniel     | Ellis     |                           | int:7700900104 | LE3 1XY  | North | Event           | 2023-02-07           |               |             |            |            |            |            | 2023-02-20 | Finances / allowances            |                |                                             | Withdrawn          |                                                                         | W@enquiry
HKW-23-005 | 2023-02-13   | Ella       | Grant     | ella.grant@example.com    | int:7700900105 | NG2 3HJ  | South | Council website | 2023-02-14           | 2023-02-28    | 2023-03-27  | 2023-04-11 |            |            |            |            |                                  | 2023-06-05     | Checks (DBS, references, medical)           | Not progressed     |                                                                         | NP@stage_one
HKW-23-006 | 2023-02-27   | Faisal     | Hughes    | faisal.hughes@example.org | int:7700900106 | LE1 3LN  | North | Word of mouth   | 2023-02-28           |               | 2023-03-13  | 2023-03-27 | 2023-05-22 | 2023-09-18 | 2023-09-29 |            |                                  |                |                                             | Approved           | Knew an existing carer; applied straight after the information evening | approved
HKW-23-007 | 2023-03-06   | Grace      | Iqbal     | grace.iqbal@example.com   |                | LE2 4PU  | North | Social media    | 2023-03-07           |               |             |            |            |            |            | 2023-03-27 | House move                       |                |                                             | Withdrawn          |                                                                         | W@enquiry
HKW-23-008 | 2023-03-13   | Harry      | Jones     | harry.jones@example.org   | int:7700900108 | NG1 6EW  | South | Council website | 2023-03-14           | 2023-03-28    | 2023-04-24  | 2023-05-09 | 2023-07-03 |            |            | 2023-08-14 | Change in personal circumstances |                |                                             | Withdrawn          |                                                                         | W@stage_two
HKW-23-009 | 2023-03-20   | Isla       | Khan      | isla.khan@example.com     | int:7700900109 | LE3 8FG  | North | Leaflet         | 2023-03-21           | 2023-04-04    |             |            |            |            |            | 2023-04-18 | Not the right time               |                |                                             | Withdrawn          |                                                                         | W@initial_visit
HKW-23-010 | 2023-03-27   | Jack       | Lowe      | jack.lowe@example.org     | int:1632960110 | NG2 5RT  | South | Event           | 2023-03-28           | 2023-04-11    | 2023-05-02  | 2023-05-22 | 2023-07-17 | 2023-11-20 | 2023-11-30 |            |                                  |                |                                             | Approved           |                                                                         | approved
HKW-23-011 | 2023-04-03   | Kiran      | Marsh     | kiran.marsh@example.com   | int:7700900111 | LE1 9HN  | North | Social media    | 2023-04-04           | 2023-04-18    | 2023-05-15  |            |            |            |            | 2023-06-05 | Finances / allowances            |                |                                             | Withdrawn          |                                                                         | W@application
HKW-23-012 | 2023-04-17   | Leah       | Nash      | leah.nash@example.org     | int:7700900112 | LE2 2JL  | North | Council website | 2023-04-18           | 2023-05-02    | 2023-05-30  | 2023-06-12 | 2023-08-07 | 2023-12-18 |            |            |                                  |                |                                             | At panel           | Panel outcome to follow                                                 | open@panel
HKW-23-013 | 2023-04-24   | Mohammed   | Owen      | mohammed.owen@example.com | int:7700900113 | NG1 4AS  | South | Word of mouth   | 2023-04-25           |               |             |            |            |            |            | 2023-05-09 | Not the right time               |                |                                             | Withdrawn          |                                                                         | W@enquiry
HKW-23-014 | 2023-05-02   | Nia        | Patel     | nia.patel@example.org     | int:7700900114 | LE3 6BT  | North | Leaflet         | 2023-05-03           | 2023-05-16    |             |            |            |            |            |            |                                  | 2023-05-30     | Accommodation not suitable                  | Not progressed     |                                                                         | NP@initial_visit
HKW-23-015 | 2023-05-15   | Oliver     | Quinn     | oliver.quinn@example.com  | int:1632960115 | NG2 7DU  | South | Social media    | 2023-05-16           | 2023-05-30    | 2023-06-26  | 2023-07-10 |            |            |            | 2023-08-21 | Family not supportive            |                |                                             | Withdrawn          |                                                                         | W@stage_one
HKW-23-016 | 2023-05-22   | Priya      | Rahman    | priya.rahman@example.org  | int:7700900116 | LE1 7EW  | North | Council website | 2023-05-23           | 2023-06-06    | 2023-07-03  | 2023-07-17 | 2023-10-02 |            |            |            |                                  |                |                                             | Stage 2            |                                                                         | open@stage_two
HKW-23-017 | 2023-06-05   | Rhys       | Shaw      | rhys.shaw@example.com     | 07700 900117   | LE2 5FX  | North | Social media    |                      |               |             |            |            |            |            | 2023-06-26 | Could not be contacted           |                |                                             | Withdrawn          | Left 2 voicemails                                                       | W@enquiry
HKW-23-018 | 2023-06-12   | Sara       | Turner    | sara.turner@example.org   | int:7700900118 | NG1 8GY  | South | Event           | 2023-06-13           | 2023-06-27    |             |            |            |            |            | 2023-07-17 | House move                       |                |                                             | Withdrawn          |                                                                         | W@initial_visit
HKW-23-019 | 2023-06-19   | Tom        | Usman     | tom.usman@example.com     | int:7700900119 | LE3 2HZ  | North | Word of mouth   | 2023-06-20           | 2023-07-04    | 2023-07-31  | 2023-08-14 | 2023-10-16 |            |            |            |                                  |                |                                             | Stage 2            |                                                                         | open@stage_two
HKW-23-020 | 2023-07-03   | Uma        | Vaughan   | uma.vaughan@example.org   | int:1632960120 | NG2 9JA  | South | Council website | 2023-07-04           | 2023-07-18    | 2023-08-14  | 2023-09-04 |            |            |            |            |                                  |                |                                             | Stage 1            |                                                                         | open@stage_one
HKW-23-021 | 2023-07-10   | Victor     | Walsh     | victor.walsh@example.com  |                | LE1 4LB  | North | Leaflet         |                      |               |             |            |            |            |            | 2023-07-31 | Could not be contacted           |                |                                             | Withdrawn          |                                                                         | W@enquiry
HKW-23-022 | 2023-07-24   | Wendy      | Young     | wendy.young@example.org   | int:7700900122 | NG1 3NP  | South | Social media    | 2023-07-25           |               |             |            |            |            |            |            |                                  | 2023-08-07     | Not eligible (age, right to live in the UK) | Not progressed     |                                                                         | NP@enquiry
HKW-23-023 | 2023-08-07   | Yusuf      | Ahmed     | yusuf.ahmed@example.com   | int:7700900123 | LE2 8PQ  | North | Council website | 2023-08-08           | 2023-08-22    | 2023-09-18  |            |            |            |            |            |                                  |                |                                             | Application        |                                                                         | open@application
HKW-23-024 | 2023-08-21   | Zoe        | Begum     | zoe.begum@example.org     | int:7700900124 | LE3 4QR  | North | Social media    | 2023-08-22           | 2023-09-05    |             |            |            |            |            | 2023-09-25 | Not the right time               |                |                                             | Withdrawn          |                                                                         | W@initial_visit
HKW-23-025 | 2023-09-04   | Aisha      | Clarke    | aisha.clarke@example.com  | int:7700900125 | NG2 1RS  | South | Word of mouth   | 2023-09-05           | 2023-09-19    |             |            |            |            |            |            |                                  |                |                                             | Initial visit done |                                                                         | open@initial_visit
HKW-23-026 | 2023-09-18   | Callum     | Doyle     | callum.doyle@example.org  | int:7700900126 | LE1 6SU  | North | Council website | 2023-09-19           |               |             |            |            |            |            | 2023-10-09 | Finances / allowances            |                |                                             | Withdrawn          |                                                                         | W@enquiry
HKW-23-027 | 2023-10-02   | Dev        | Evans     | dev.evans@example.com     | int:7700900127 | LE2 3TW  | North | Event           | 2023-10-03           | 2023-10-17    |             |            |            |            |            |            |                                  |                |                                             | Initial visit done |                                                                         | open@initial_visit
HKW-23-028 | 2023-10-16   | Erin       | Fox       | erin.fox@example.org      | int:7700900128 | NG1 5UX  | South | Social media    | 2023-10-17           |               |             |            |            |            |            |            |                                  |                |                                             | Enquiry            |                                                                         | open@enquiry
HKW-23-029 | 2023-11-06   | Fatima     | Gill      | fatima.gill@example.com   | int:1632960129 | LE3 7WY  | North | Council website | 2023-11-07           |               |             |            |            |            |            |            |                                  |                |                                             | Enquiry            |                                                                         | open@enquiry
HKW-23-030 | 2023-12-04   | George     | Irwin     | george.irwin@example.org  | int:7700900130 | NG2 2XZ  | South | Leaflet         | 2023-12-05           |               |             |            |            |            |            |            |                                  |                |                                             | Enquiry            |                                                                         | open@enquiry
""")
HARROWDALE_DATES = {
    "Enquiry date", "Date first contacted", "Initial visit", "Application", "Stage 1",
    "Stage 2", "Panel", "Approval", "Withdrawn", "Not progressed",
}  # fmt: skip


def write_harrowdale_2023(path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    header, rows = without_outcome(*HARROWDALE_2023)
    workbook = Workbook()
    readme = workbook.active
    readme.title = "Read me"
    for line in HARROWDALE_README:
        readme.append([line])
    readme["A1"].font = Font(bold=True, size=14)
    readme.column_dimensions["A"].width = 90

    sheet = workbook.create_sheet("Enquiries 2023")
    sheet["A1"] = HARROWDALE_TITLE
    sheet["A1"].font = Font(bold=True, size=16)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    # Row 2 stays blank; the header is row 3, as teams lay their trackers out.
    for column, name in enumerate(header, start=1):
        sheet.cell(row=3, column=column, value=name).font = Font(bold=True)
        sheet.column_dimensions[sheet.cell(row=3, column=column).column_letter].width = 16
    for offset, row in enumerate(rows):
        for column, (name, text) in enumerate(zip(header, row, strict=True), start=1):
            cell = sheet.cell(
                row=4 + offset, column=column, value=xlsx_value(text, name in HARROWDALE_DATES)
            )
            if isinstance(cell.value, datetime):
                cell.number_format = "DD/MM/YYYY"
    last = 3 + len(rows)
    # Row last+1 is blank; then the team's totals row, a formula Excel shows as a number.
    sheet.cell(row=last + 2, column=1, value="Total").font = Font(bold=True)
    sheet.cell(row=last + 2, column=2, value=f"=COUNTA(B4:B{last})")
    sheet.cell(row=last + 2, column=16, value=f"=COUNTA(P4:P{last})")
    sheet.freeze_panes = "A4"
    save_workbook(workbook, path, "Harrowdale recruitment team")


# -- 2. westbrook_team_2026.csv: the team's own column names and words ---------------------------

WESTBROOK_2026 = table("""
Ref       | Date of enquiry | First name | Surname  | Email address              | Tel             | Postcode | How did you hear about us | Campaign    | IV date    | Stage 1 start | Stage 2 start | Panel      | Approved   | Withdrawn  | Reason                          | outcome
WB-26-001 | 05/01/2026      | Hannah     | Jarvis   | hannah.jarvis@example.com  | 07700 900201    | NG1 1AB  | Word of mouth             |             | 19/01/2026 | 16/02/2026    | 13/04/2026    | 14/09/2026 | 24/09/2026 |            |                                 | approved
WB-26-002 | 07/01/2026      | Imran      | Kaur     | imran.kaur@example.org     | 07700900202     | NG2 4BD  | Website                   |             | 21/01/2026 | 23/02/2026    | 20/04/2026    | 16/11/2026 |            |            |                                 | open@panel
WB-26-003 | 12/01/2026      | Jade       | Lloyd    | jade.lloyd@example.com     | +44 7700 900203 | NG1 7DE  | Referral                  |             | 26/01/2026 | 02/03/2026    | 11/05/2026    |            |            |            |                                 | open@stage_two
WB-26-004 | 14/01/2026      | Kwame      | Mistry   | kwame.mistry@example.org   | (01632) 960204  | NG2 8EF  | Google                    |             |            |               |               |            |            | 04/02/2026 | Could not be contacted          | W@enquiry
WB-26-005 | 19/01/2026      | Liam       | Nolan    | liam.nolan@example.com     | 01632 960205    | NG1 2FG  | Website                   |             | 02/02/2026 | 09/03/2026    | 18/05/2026    |            |            |            |                                 | open@stage_two
WB-26-006 | 21/01/2026      | Megan      | O'Brien  | megan.obrien@example.org   | 07700900206     | NG2 3GH  | Facebook                  |             | 04/02/2026 |               |               |            |            | 18/02/2026 | Financial reasons               | W@initial_visit
WB-26-007 | 26/01/2026      | Nathan     | Price    | nathan.price@example.com   | 07700900207     | NG1 9HJ  | Website                   |             | 09/02/2026 | 16/03/2026    |               |            |            |            |                                 | open@stage_one
WB-26-008 | 28/01/2026      | Olivia     | Reid     | olivia.reid@example.org    | 07700900208     | NG2 5JL  | Referral                  |             | 11/02/2026 | 23/03/2026    |               |            |            | 11/05/2026 | changed mind - partner not keen | W@stage_one
WB-26-009 | 02/02/2026      | Paul       | Shah     | paul.shah@example.com      | 07700900209     | NG1 6LN  | Facebook                  |             |            |               |               |            |            | 23/02/2026 | Could not be contacted          | W@enquiry
WB-26-010 | 04/02/2026      | Ruth       | Thorne   | ruth.thorne@example.org    | 07700900210     | NG2 7NP  | Google                    |             | 18/02/2026 | 30/03/2026    |               |            |            |            |                                 | open@stage_one
WB-26-011 | 09/02/2026      | Sam        | Webb     | sam.webb@example.com       | 07700900211     | NG1 8PQ  | Website                   |             | 23/02/2026 |               |               |            |            | 16/03/2026 | Not enough space at home        | W@initial_visit
WB-26-012 | 11/02/2026      | Tariq      | Wood     | tariq.wood@example.org     | 07700900212     | NG2 9QR  | Word of mouth             |             | 25/02/2026 |               |               |            |            |            |                                 | open@initial_visit
WB-26-013 | 16/02/2026      | Abi        | Yates    | abi.yates@example.com      |                 | NG1 3RS  | Facebook                  |             |            |               |               |            |            | 09/03/2026 | moved away                      | W@enquiry
WB-26-014 | 02/03/2026      | Bethany    | Archer   | bethany.archer@example.org | 07700900214     | NG2 1ST  | Radio advert              | Spring 2026 | 16/03/2026 | 20/04/2026    |               |            |            |            |                                 | open@stage_one
WB-26-015 | 04/03/2026      | Connor     | Bell     | connor.bell@example.com    | 07700900215     | NG1 4TU  | Radio advert              | Spring 2026 | 18/03/2026 |               |               |            |            | 08/04/2026 | Financial reasons               | W@initial_visit
WB-26-016 | 09/03/2026      | Dana       | Abbott   | dana.abbott@example.org    | 07700900216     | NG2 6UW  | Facebook                  | Spring 2026 | 23/03/2026 |               |               |            |            |            |                                 | open@initial_visit
WB-26-017 | 11/03/2026      | Eve        | Barker   | eve.barker@example.com     | 07700900217     | NG1 5WX  | Facebook                  | Spring 2026 |            |               |               |            |            | 01/04/2026 | Could not be contacted          | W@enquiry
WB-26-018 | 16/03/2026      | Fraser     | Chapman  | fraser.chapman@example.org | 07700900218     | NG2 2XY  | Radio advert              | Spring 2026 | 30/03/2026 |               |               |            |            |            |                                 | open@initial_visit
WB-26-019 | 18/03/2026      | Gemma      | Dawson   | gemma.dawson@example.com   | 07700900219     | NG1 6YZ  | Website                   |             |            |               |               |            |            | 08/04/2026 |                                 | W@enquiry
WB-26-020 | 23/03/2026      | Hugo       | Fletcher | hugo.fletcher@example.org  | 07700900220     | NG2 7AB  | Radio advert              | Spring 2026 | 06/04/2026 |               |               |            |            | 27/04/2026 | Not enough space at home        | W@initial_visit
WB-26-021 | 30/03/2026      | Ivy        | Gordon   | ivy.gordon@example.com     | 07700900221     | NG1 8BD  | Google                    |             |            |               |               |            |            |            |                                 | open@enquiry
WB-26-022 | 06/04/2026      | Joel       | Holmes   | joel.holmes@example.org    | 07700900222     | NG2 9DE  | Referral                  |             | 20/04/2026 | 01/06/2026    |               |            |            |            |                                 | open@stage_one
WB-26-023 | 13/04/2026      | Kate       | Ingram   | kate.ingram@example.com    | 07700900223     | NG1 1EF  | Facebook                  | Spring 2026 |            |               |               |            |            | 04/05/2026 | Financial reasons               | W@enquiry
WB-26-024 | 20/04/2026      | Luke       | Jennings | luke.jennings@example.org  | 07700900224     | NG2 2FG  | Website                   |             | 04/05/2026 |               |               |            |            |            |                                 | open@initial_visit
WB-26-025 | 27/04/2026      | Maya       | Kerr     | maya.kerr@example.com      | 07700900225     | NG1 3GH  | Google                    |             | 11/05/2026 |               |               |            |            | 01/06/2026 | moved away                      | W@initial_visit
WB-26-026 | 05/05/2026      | Noah       | Lambert  | noah.lambert@example.org   | 07700900226     | NG2 4HJ  | Facebook                  |             |            |               |               |            |            |            |                                 | open@enquiry
WB-26-027 | 11/05/2026      | Orla       | Mason    | orla.mason@example.com     | 07700900227     | NG1 5JL  | Website                   |             | 25/05/2026 | 29/06/2026    |               |            |            | 10/08/2026 | Financial reasons               | W@stage_one
WB-26-028 | 18/05/2026      | Pete       | Norris   | pete.norris@example.org    | 07700900228     | NG2 6LN  | Referral                  |             | 01/06/2026 |               |               |            |            |            |                                 | open@initial_visit
WB-26-029 | 01/06/2026      | Rosa       | Osborne  | rosa.osborne@example.com   | 07700900229     | NG1 7NP  | Google                    |             |            |               |               |            |            | 22/06/2026 | Could not be contacted          | W@enquiry
WB-26-030 | 08/06/2026      | Seth       | Parry    | seth.parry@example.org     | 07700900230     | NG2 8PQ  | Website                   |             |            |               |               |            |            |            |                                 | open@enquiry
WB-26-031 | 15/06/2026      | Tia        | Rowe     | tia.rowe@example.com       | 07700900231     | NG1 9QR  | Word of mouth             |             | 29/06/2026 |               |               |            |            |            |                                 | open@initial_visit
WB-26-032 | 29/06/2026      | Umar       | Sutton   | umar.sutton@example.org    | 07700900232     | NG2 1RS  | Facebook                  |             |            |               |               |            |            | 20/07/2026 | changed mind - partner not keen | W@enquiry
WB-26-033 | 06/07/2026      | Vera       | Tate     | vera.tate@example.com      | 07700900233     | NG1 2ST  | Radio advert              |             |            |               |               |            |            |            |                                 | open@enquiry
WB-26-034 | 13/07/2026      | Will       | Vernon   | will.vernon@example.org    | 07700900234     | NG2 3TU  | Facebook                  |             | 27/07/2026 |               |               |            |            | 17/08/2026 | Not enough space at home        | W@initial_visit
WB-26-035 | 27/07/2026      | Yasmin     | Warren   | yasmin.warren@example.com  | 07700900235     | NG1 4UW  | Website                   |             |            |               |               |            |            |            |                                 | open@enquiry
WB-26-036 | 10/08/2026      | Zac        | York     | zac.york@example.org       | 07700900236     | NG2 5WX  | Google                    |             |            |               |               |            |            |            |                                 | open@enquiry
WB-26-037 | 24/08/2026      | Alfie      | Barnes   | alfie.barnes@example.com   | 07700900237     | NG1 6XY  | Website                   |             |            |               |               |            |            | 14/09/2026 | Could not be contacted          | W@enquiry
WB-26-038 | 07/09/2026      | Bea        | Cross    | bea.cross@example.org      | 07700900238     | NG2 7YZ  | Facebook                  |             |            |               |               |            |            |            |                                 | open@enquiry
WB-26-039 | 21/09/2026      | Cody       | Dean     | cody.dean@example.com      | 07700900239     | NG1 8AB  | Referral                  |             |            |               |               |            |            |            |                                 | open@enquiry
WB-26-040 | 28/09/2026      | Daisy      | Edwards  | daisy.edwards@example.org  | 07700900240     | NG2 9BD  | Word of mouth             |             |            |               |               |            |            |            |                                 | open@enquiry
WB-26-041 |                 |            |          |                            |                 |          |                           |             |            |               |               |            |            |            |                                 | skip
WB-26-042 |                 |            |          |                            |                 |          |                           |             |            |               |               |            |            |            |                                 | skip
WB-26-043 |                 |            |          |                            |                 |          |                           |             |            |               |               |            |            |            |                                 | skip
WB-26-044 |                 |            |          |                            |                 |          |                           |             |            |               |               |            |            |            |                                 | skip
WB-26-045 |                 |            |          |                            |                 |          |                           |             |            |               |               |            |            |            |                                 | skip
""")


def write_westbrook_2026(path: Path) -> None:
    write_csv(path, *without_outcome(*WESTBROOK_2026), encoding="utf-8")


# -- 3. mixed_dates_2023.xlsx: every date format a tracker collects ------------------------------

# Cells: text as written; `dt:` a real Excel date; `serial:` the date as a bare number (a
# column formatted General shows 44958, not 01/02/2023).
MIXED_DATES_2023 = table("""
Reference | Enquiry received  | Forename | Surname | E-mail                  | Mobile       | Post code | Source          | Initial visit | Application | Stage one     | Stage two         | Panel date | Approval   | Withdrawn on   | Why withdrawn          | Not progressed on | Why not progressed | outcome
MD-23-01  | 4 Jan 23          | Amir     | Hale    | amir.hale@example.com   | 07700 900301 | LE1 2AB   | Google          | 02/03/2023    | 14/03/2023  | dt:2023-04-03 | serial:2023-06-05 | 16 Oct 23  | 2023-10-26 |                |                        |                   |                    | approved
MD-23-02  | 11/01/2023        | Bella    | Hope    | bella.hope@example.org  | 07700 900302 | LE2 3BD   | Facebook        |               |             |               |                   |            |            | Jan 30th 2023  | Not the right time     |                   |                    | W@enquiry
MD-23-03  | 2023-01-18        | Carl     | Hunt    | carl.hunt@example.com   | 07700 900303 | LE3 4DE   | Council website | 03/02/2023    | 13/03/2023  | dt:2023-04-03 | serial:2023-06-12 |            |            |                |                        |                   |                    | open@stage_two
MD-23-04  | dt:2023-01-25     | Dina     | Irons   | dina.irons@example.org  | 07700 900304 | LE1 5EF   | Google          | 02/02/2023    |             |               |                   |            |            | Feb 20th 2023  | Finances               |                   |                    | W@initial_visit
MD-23-05  | serial:2023-02-01 | Ethan    | Joyce   | ethan.joyce@example.com | 07700 900305 | LE2 6FG   | Friend          | 03/02/2023    | 20/03/2023  | dt:2023-04-17 | serial:2023-06-19 | 16 Oct 23  | 2023-10-27 |                |                        |                   |                    | approved
MD-23-06  | Feb 8th 2023      | Freya    | Kemp    | freya.kemp@example.org  | 07700 900306 | LE3 7GH   | Council website | 04/03/2023    | 17/04/2023  | dt:2023-05-08 |                   |            |            |                |                        | 17/07/2023        | References         | NP@stage_one
MD-23-07  | 15 Feb 23         | Gavin    | Lane    | gavin.lane@example.com  | 07700 900307 | LE1 8HJ   | Facebook        | 05/03/2023    | 15/05/2023  |               |                   |            |            | dt:2023-06-12  | Changed mind           |                   |                    | W@application
MD-23-08  | 22/02/2023        | Holly    | Lord    | holly.lord@example.org  | 07700 900308 | LE2 9JL   | Google          | 03/04/2023    | 19/06/2023  | dt:2023-07-03 | serial:2023-09-04 | 12 Feb 24  |            |                |                        |                   |                    | open@panel
MD-23-09  | 2023-03-01        | Ian      | Moss    | ian.moss@example.com    | 07700 900309 | LE3 1LN   | Facebook        |               |             |               |                   |            |            | Mar 20th 2023  | No response            |                   |                    | W@enquiry
MD-23-10  | dt:2023-03-08     | Jess     | Nunn    | jess.nunn@example.org   | 07700 900310 | LE1 2NP   | Radio           | 05/04/2023    |             |               |                   |            |            | May 22nd 2023  | Not the right time     |                   |                    | W@initial_visit
MD-23-11  | serial:2023-03-15 | Karl     | Oakes   | karl.oakes@example.com  | 07700 900311 | LE2 3PQ   | Council website | 04/05/2023    | 22/05/2023  | dt:2023-06-12 |                   |            |            |                |                        |                   |                    | open@stage_one
MD-23-12  | Mar 22nd 2023     | Lily     | Page    | lily.page@example.org   | 07700 900312 | LE3 4QR   | Facebook        |               |             |               |                   |            |            | Apr 3rd 2023   | Finances               |                   |                    | W@enquiry
MD-23-13  | 29 Mar 23         | Max      | Pike    | max.pike@example.com    | 07700 900313 | LE1 5RS   | Google          | 06/04/2023    |             |               |                   |            |            |                |                        |                   |                    | open@initial_visit
MD-23-14  | 05/04/2023        | Nina     | Ross    | nina.ross@example.org   | 07700 900314 | LE2 6ST   | Council website | 05/05/2023    | 22/05/2023  | dt:2023-06-05 | serial:2023-08-07 | 15 Jan 24  | 2024-01-25 |                |                        |                   |                    | approved
MD-23-15  | 2023-04-12        | Owen     | Rudd    | owen.rudd@example.com   | 07700 900315 | LE3 7TU   | Friend          | 08/05/2023    | 14/08/2023  | dt:2023-09-04 | serial:2023-11-06 |            |            | dt:2024-01-08  | Went to another agency |                   |                    | W@stage_two
MD-23-16  | dt:2023-04-19     | Poppy    | Sims    | poppy.sims@example.org  | 07700 900316 | LE1 8UW   | Radio           |               |             |               |                   |            |            | May 2nd 2023   | No response            |                   |                    | W@enquiry
MD-23-17  | serial:2023-04-26 | Reece    | Stone   | reece.stone@example.com | 07700 900317 | LE2 9WX   | Facebook        | 05/05/2023    |             |               |                   |            |            |                |                        |                   |                    | open@initial_visit
MD-23-18  | May 3rd 2023      | Sophie   | Todd    | sophie.todd@example.org | 07700 900318 | LE3 1XY   | Google          | 06/05/2023    |             |               |                   |            |            | dt:2023-06-26  | Changed mind           |                   |                    | W@initial_visit
MD-23-19  | 10 May 23         | Theo     | Vale    | theo.vale@example.com   | 07700 900319 | LE1 2YZ   | Council website | 07/06/2023    | 17/07/2023  |               |                   |            |            |                |                        |                   |                    | open@application
MD-23-20  | 17/05/2023        | Ursula   | Ward    | ursula.ward@example.org | 07700 900320 | LE2 3AB   | Facebook        |               |             |               |                   |            |            | Jun 1st 2023   | Not the right time     |                   |                    | W@enquiry
MD-23-21  | 2023-05-24        | Vince    | West    | vince.west@example.com  | 07700 900321 | LE3 4BD   | Radio           |               |             |               |                   |            |            |                |                        |                   |                    | open@enquiry
MD-23-22  | dt:2023-05-31     | Willow   | Wren    | willow.wren@example.org | 07700 900322 | LE1 5DE   | Friend          | 06/06/2023    |             |               |                   |            |            | Jun 21st 2023  | Finances               |                   |                    | W@initial_visit
MD-23-23  | serial:2023-06-07 | Xavier   | Yeo     | xavier.yeo@example.com  | 07700 900323 | LE2 6EF   | Google          |               |             |               |                   |            |            |                |                        |                   |                    | open@enquiry
MD-23-24  | Jun 14th 2023     | Yvonne   | Zane    | yvonne.zane@example.org | 07700 900324 | LE3 7FG   | Facebook        |               |             |               |                   |            |            |                |                        |                   |                    | open@enquiry
""")


def write_mixed_dates_2023(path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    header, rows = without_outcome(*MIXED_DATES_2023)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Tracker"
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([xlsx_value(text, date_cells=False) for text in row])
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, datetime):
                cell.number_format = "DD/MM/YYYY"
    save_workbook(workbook, path, "Recruitment team")


# -- 4. duplicates_2025.csv: the same people twice, and two people who only share a phone ---------

DUPLICATES_2025 = table("""
Reference  | Enquiry date | First name | Last name | Email                      | Phone         | Postcode | Source          | Initial visit date | Application date | Stage one date | Stage two date | Panel date | Approval date | Withdrawn date | Withdrawn reason                 | Not progressed date | Not progressed reason             | outcome
DUP-25-001 | 06/01/2025   | Adele      | Brook     | adele.brook@example.com    | 07700 900401  | LE1 2AB  | Council website | 20/01/2025         | 17/02/2025       | 03/03/2025     | 05/05/2025     | 15/09/2025 | 25/09/2025    |                |                                  |                     |                                   | approved
DUP-25-002 | 13/01/2025   | Brian      | Cole      | brian.cole@example.org     | 07700 900402  | NG1 3BD  | Social media    | 27/01/2025         |                  |                |                |            |               | 10/02/2025     | Not the right time               |                     |                                   | W@initial_visit
DUP-25-003 | 20/01/2025   | Sam        | Patel     | sam.patel@example.com      | 07700 900403  | LE2 4DE  | Word of mouth   | 03/02/2025         | 03/03/2025       | 17/03/2025     | 19/05/2025     |            |               |                |                                  |                     |                                   | open@stage_two
DUP-25-004 | 03/02/2025   | Priya      | Shah      | priya.shah@example.com     | 07700 900404  | LE3 5EF  | Social media    |                    |                  |                |                |            |               |                |                                  |                     |                                   | open@application
DUP-25-005 | 10/02/2025   | Craig      | Dunn      | craig.dunn@example.org     | 01632 960405  | NG2 6FG  | Council website |                    |                  |                |                |            |               | 03/03/2025     | Could not be contacted           |                     |                                   | W@enquiry
DUP-25-006 | 17/02/2025   | Aisha      | Khan      | aisha.khan@example.com     | 01632 960420  | LE1 7GH  | Event           | 03/03/2025         | 31/03/2025       | 14/04/2025     |                |            |               |                |                                  |                     |                                   | open@stage_one
DUP-25-007 | 03/03/2025   | Dora       | Ewing     | dora.ewing@example.org     | 07700 900407  | NG1 8HJ  | Web search      |                    |                  |                |                |            |               | 24/03/2025     | Finances / allowances            |                     |                                   | W@enquiry
DUP-25-008 | 10/03/2025   | Priya      | Shah      | " Priya.Shah@Example.com " |               | LE3 5EF  | Council website | 24/03/2025         | 22/04/2025       |                |                |            |               |                |                                  |                     |                                   | merged:5
DUP-25-009 | 17/03/2025   | Edwin      | Finch     | edwin.finch@example.com    | 07700 900409  | LE2 9JL  | Social media    | 31/03/2025         |                  |                |                |            |               |                |                                  | 14/04/2025          | Accommodation not suitable        | NP@initial_visit
DUP-25-010 | 24/03/2025   | Tom        | Baxter    | tom.baxter@example.org     | 01632 960420  | NG2 1LN  | Word of mouth   |                    |                  |                |                |            |               | 07/04/2025     | Not the right time               |                     |                                   | W@enquiry
DUP-25-011 | 07/04/2025   | Jon        | Smith     |                            | 07700 900412  | LE1 3NP  | Web search      |                    |                  |                |                |            |               |                |                                  |                     |                                   | W@initial_visit
DUP-25-012 | 07/04/2025   | Jonathan   | Smith     | jonathan.smith@example.org | +447700900412 | LE1 3NP  | Web search      | 28/04/2025         |                  |                |                |            |               | 19/05/2025     | Not the right time               |                     |                                   | merged:12
DUP-25-013 | 14/04/2025   | Faye       | Grove     | faye.grove@example.com     | 07700 900414  | NG1 4PQ  | Event           | 28/04/2025         |                  |                |                |            |               |                |                                  |                     |                                   | open@initial_visit
DUP-25-014 | 22/04/2025   | Sam        | Patel     | s.patel77@example.org      | 07700 900415  | NG2 5QR  | Social media    |                    |                  |                |                |            |               |                |                                  |                     |                                   | open@enquiry
DUP-25-015 | 06/05/2025   | Glen       | Hardy     | glen.hardy@example.org     | 07700 900416  | LE2 6RS  | Council website | 19/05/2025         | 16/06/2025       | 30/06/2025     | 01/09/2025     | 16/02/2026 | 26/02/2026    |                |                                  |                     |                                   | approved
DUP-25-016 | 12/05/2025   | Hazel      | Innes     | hazel.innes@example.com    | 07700 900417  | NG1 7ST  | Web search      | 26/05/2025         | 23/06/2025       |                |                |            |               | 21/07/2025     | Change in personal circumstances |                     |                                   | W@application
DUP-25-017 | 19/05/2025   | Ivan       | Keane     | ivan.keane@example.org     | 07700 900418  | LE3 8TU  | Refer a friend  | 02/06/2025         | 30/06/2025       | 14/07/2025     |                |            |               |                |                                  | 08/09/2025          | Checks (DBS, references, medical) | NP@stage_one
DUP-25-018 | 02/06/2025   | Jas        | Lyle      | jas.lyle@example.com       | 07700 900419  | LE1 9UW  | Social media    | 16/06/2025         |                  |                |                |            |               |                |                                  |                     |                                   | open@initial_visit
DUP-25-019 | 09/06/2025   | Kay        | Marr      | kay.marr@example.org       | 01632 960421  | NG2 2WX  | Council website |                    |                  |                |                |            |               | 30/06/2025     | Could not be contacted           |                     |                                   | W@enquiry
DUP-25-020 | 16/06/2025   | Lewis      | Moore     | lewis.moore@example.com    | 07700 900422  | LE2 1XY  | Word of mouth   | 30/06/2025         | 28/07/2025       | 11/08/2025     | 06/10/2025     |            |               |                |                                  |                     |                                   | open@stage_two
DUP-25-020 | 16/06/2025   | Lewis      | Moore     | lewis.moore@example.com    | 07700 900422  | LE2 1XY  | Word of mouth   | 30/06/2025         | 28/07/2025       | 11/08/2025     | 06/10/2025     |            |               |                |                                  |                     |                                   | merged:21
DUP-25-021 | 07/07/2025   | Mia        | Nairn     | mia.nairn@example.org      | 07700 900423  | NG1 5YZ  | Event           |                    |                  |                |                |            |               |                |                                  |                     |                                   | open@enquiry
DUP-25-022 | 04/08/2025   | Neil       | Orme      | neil.orme@example.com      | 07700 900424  | LE3 2AB  | Web search      | 18/08/2025         |                  |                |                |            |               |                |                                  |                     |                                   | open@initial_visit
DUP-25-023 | 01/09/2025   | Opal       | Pryce     | opal.pryce@example.org     | 07700 900425  | NG2 3BD  | Social media    |                    |                  |                |                |            |               |                |                                  |                     |                                   | open@enquiry
""")


def write_duplicates_2025(path: Path) -> None:
    # "CSV UTF-8" as Excel saves it: a byte-order mark before the first header.
    write_csv(path, *without_outcome(*DUPLICATES_2025), encoding="utf-8-sig")


# -- 5. kingsmere_2024_windows1252.csv: Excel's "CSV" on Windows, in its own code page ------------

KINGSMERE_2024 = table("""
Ref      | Enquiry date | First name | Last name  | Email                       | Phone        | Postcode | Source          | Initial visit | Application | Stage 1    | Stage 2    | Panel      | Approved   | Withdrawn  | Withdrawn reason                | Not progressed | Not progressed reason   | Notes                                 | outcome
KM-24-01 | 08/01/2024   | Zoë        | Núñez      | zoe.nunez@example.com       | 07700 900501 | LE2 1AB  | Word of mouth   | 22/01/2024    | 19/02/2024  | 04/03/2024 | 29/04/2024 | 16/09/2024 | 26/09/2024 |            |                                 |                |                         | Asked about the £450 a week allowance | approved
KM-24-02 | 15/01/2024   | José       | García     | jose.garcia@example.org     | 07700 900502 | LE3 2BD  | Facebook        |               |             |            |            |            |            | 05/02/2024 | Can’t manage on the £ allowance |                |                         |                                       | W@enquiry
KM-24-03 | 22/01/2024   | Siobhán    | O’Neill    | siobhan.oneill@example.com  | 07700 900503 | LE2 3DE  | Council website | 05/02/2024    | 04/03/2024  | 18/03/2024 | 13/05/2024 |            |            |            |                                 |                |                         | Fee of £150 a week discussed          | open@stage_two
KM-24-04 | 29/01/2024   | Renée      | Dubois     | renee.dubois@example.org    | 07700 900504 | LE3 4EF  | Instagram       | 12/02/2024    |             |            |            |            |            | 04/03/2024 | Moving house – job in Scotland  |                |                         |                                       | W@initial_visit
KM-24-05 | 05/02/2024   | François   | Lefèvre    | francois.lefevre@example.com| 07700 900505 | LE2 5FG  | Event           | 19/02/2024    | 18/03/2024  | 01/04/2024 |            |            |            |            |                                 | 17/06/2024     | References not returned |                                       | NP@stage_one
KM-24-06 | 12/02/2024   | Chloé      | Martín     | chloe.martin@example.org    | 07700 900506 | LE3 6GH  | Facebook        |               |             |            |            |            |            | 26/02/2024 | Not the right time              |                |                         |                                       | W@enquiry
KM-24-07 | 19/02/2024   | Noémie     | Brontë     | noemie.bronte@example.com   | 07700 900507 | LE2 7HJ  | Event           | 04/03/2024    | 25/03/2024  | 08/04/2024 | 03/06/2024 | 21/10/2024 | 31/10/2024 |            |                                 |                |                         |                                       | approved
KM-24-08 | 04/03/2024   | Ramón      | Peña       | ramon.pena@example.org      | 07700 900508 | LE3 8JL  | Instagram       | 18/03/2024    |             |            |            |            |            |            |                                 |                |                         |                                       | open@initial_visit
KM-24-09 | 11/03/2024   | Inés       | Muñoz      | ines.munoz@example.com      | 07700 900509 | LE2 9LN  | Facebook        | 25/03/2024    |             |            |            |            |            | 15/04/2024 | Can’t manage on the £ allowance |                |                         |                                       | W@initial_visit
KM-24-10 | 18/03/2024   | Björn      | Åkesson    | bjorn.akesson@example.org   | 07700 900510 | LE3 1NP  | Council website | 01/04/2024    | 29/04/2024  | 13/05/2024 | 08/07/2024 | 18/11/2024 |            |            |                                 |                |                         | Waiting for the ADM’s decision        | open@panel
KM-24-11 | 25/03/2024   | Søren      | Ødegård    | soren.odegard@example.com   | 07700 900511 | LE2 2PQ  | Instagram       |               |             |            |            |            |            | 15/04/2024 | Not the right time              |                |                         |                                       | W@enquiry
KM-24-12 | 08/04/2024   | Agnès      | Côté       | agnes.cote@example.org      | 07700 900512 | LE3 3QR  | Word of mouth   | 22/04/2024    | 20/05/2024  | 03/06/2024 |            |            |            |            |                                 |                |                         |                                       | open@stage_one
KM-24-13 | 15/04/2024   | Dónal      | Ó Briain   | donal.obriain@example.com   | 07700 900513 | LE2 4RS  | Council website | 29/04/2024    | 28/05/2024  |            |            |            |            | 24/06/2024 | Moving house – job in Scotland  |                |                         |                                       | W@application
KM-24-14 | 29/04/2024   | Elodie     | Girard     | elodie.girard@example.org   | 07700 900514 | LE3 5ST  | Facebook        | 13/05/2024    |             |            |            |            |            |            |                                 |                |                         |                                       | open@initial_visit
KM-24-15 | 13/05/2024   | Anaïs      | Roux       | anais.roux@example.com      | 07700 900515 | LE2 6TU  | Instagram       |               |             |            |            |            |            |            |                                 |                |                         |                                       | open@enquiry
KM-24-16 | 27/05/2024   | Jürgen     | Weiß       | jurgen.weiss@example.org    | 07700 900516 | LE3 7UW  | Event           |               |             |            |            |            |            | 17/06/2024 | Could not be contacted          |                |                         |                                       | W@enquiry
KM-24-17 | 10/06/2024   | Marta      | Ruiz       | marta.ruiz@example.com      | 07700 900517 | LE2 8WX  | Council website | 24/06/2024    |             |            |            |            |            |            |                                 |                |                         |                                       | open@initial_visit
KM-24-18 | 24/06/2024   | Thérèse    | Bonnard    | therese.bonnard@example.org | 07700 900518 | LE3 9XY  | Facebook        |               |             |            |            |            |            |            |                                 |                |                         |                                       | open@enquiry
KM-24-19 | 08/07/2024   | Kevin      | Smyth      | kevin.smyth@example.com     | 07700 900519 | LE2 1YZ  | Word of mouth   |               |             |            |            |            |            |            |                                 |                |                         |                                       | open@enquiry
KM-24-20 | 22/07/2024   | Aoife      | Ní Bhriain | aoife.nibhriain@example.org | 07700 900520 | LE3 2AB  | Instagram       |               |             |            |            |            |            |            |                                 |                |                         |                                       | open@enquiry
""")


def write_kingsmere_2024(path: Path) -> None:
    # cp1252, not Latin-1: the curly apostrophe (0x92) and the en dash (0x96) are only there.
    write_csv(path, *without_outcome(*KINGSMERE_2024), encoding="cp1252")


# -- 6. northshire_2022_semicolon.csv: a European-locale Excel, so ";" between fields ------------

NORTHSHIRE_2022 = table("""
Ref      | Enquiry date | First name | Last name | Email                   | Phone        | Postcode | Area       | Source          | Initial visit | Application | Stage 1    | Stage 2    | Panel      | Approval   | Withdrawn  | Withdrawn reason                    | Not progressed | NP reason                                | Notes                       | outcome
NS-22-01 | 10/01/2022   | Alan       | Bishop    | alan.bishop@example.org | 07700 900601 | LE1 2DE  | Leicester  | Council website | 24/01/2022    | 21/02/2022  | 07/03/2022 | 02/05/2022 | 19/09/2022 | 29/09/2022 |            |                                     |                |                                          |                             | approved
NS-22-02 | 17/01/2022   | Brenda     | Crane     | brenda.crane@example.com| 07700 900602 | NG1 3EF  | Nottingham | Word of mouth   | 31/01/2022    | 28/02/2022  | 14/03/2022 | 09/05/2022 | 17/10/2022 | 27/10/2022 |            |                                     |                |                                          | Two dogs, both assessed     | approved
NS-22-03 | 24/01/2022   | Colin      | Drake     | colin.drake@example.org | 07700 900603 | LE2 4FG  | Leicester  | Council website | 07/02/2022    | 07/03/2022  | 21/03/2022 | 16/05/2022 |            |            | 25/07/2022 | Finances, allowance too low         |                |                                          |                             | W@stage_two
NS-22-04 | 31/01/2022   | Denise     | Eaton     | denise.eaton@example.com| 07700 900604 | NG2 5GH  | Notts      | Social media    |               |             |            |            |            |            | 14/02/2022 | Not the right time, maybe next year |                |                                          |                             | W@enquiry
NS-22-05 | 07/02/2022   | Eric       | Frost     | eric.frost@example.org  | 07700 900605 | LE3 6HJ  | Leicester  | Leaflet         | 21/02/2022    |             |            |            |            |            |            |                                     | 07/03/2022     | Bedroom too small, shared with own child |                             | NP@initial_visit
NS-22-06 | 14/02/2022   | Fiona      | Gale      | fiona.gale@example.com  | 07700 900606 | LE1 7JL  | Leicester  | Social media    | 28/02/2022    |             |            |            |            |            | 21/03/2022 | Finances, allowance too low         |                |                                          |                             | W@initial_visit
NS-22-07 | 21/02/2022   | Gary       | Hurst     | gary.hurst@example.org  | 07700 900607 | NG1 8LN  | Nottingham | Event           | 07/03/2022    | 04/04/2022  | 19/04/2022 | 13/06/2022 | 21/11/2022 | 01/12/2022 |            |                                     |                |                                          | Works shifts; evenings best | approved
NS-22-08 | 07/03/2022   | Helen      | Ives      | helen.ives@example.com  | 07700 900608 | NG2 9NP  | Notts      | Council website | 21/03/2022    | 19/04/2022  |            |            |            |            | 16/05/2022 | Not the right time, maybe next year |                |                                          |                             | W@application
NS-22-09 | 14/03/2022   | Ivor       | Judd      | ivor.judd@example.org   | 07700 900609 | LE2 1PQ  | Leicester  | Leaflet         |               |             |            |            |            |            | 04/04/2022 | Could not be contacted              |                |                                          |                             | W@enquiry
NS-22-10 | 21/03/2022   | Janet      | Kirk      | janet.kirk@example.com  | 07700 900610 | LE3 2QR  | Leicester  | Word of mouth   | 04/04/2022    | 03/05/2022  | 16/05/2022 |            |            |            |            |                                     | 11/07/2022     | DBS, references outstanding              |                             | NP@stage_one
NS-22-11 | 04/04/2022   | Keith      | Lamb      | keith.lamb@example.org  | 07700 900611 | NG1 4RS  | Nottingham | Social media    | 19/04/2022    |             |            |            |            |            | 09/05/2022 | Went to an agency                   |                |                                          |                             | W@initial_visit
NS-22-12 | 11/04/2022   | Linda      | Mercer    | linda.mercer@example.com| 07700 900612 | LE1 5ST  | Leicester  | Social media    |               |             |            |            |            |            | 03/05/2022 | Could not be contacted              |                |                                          |                             | W@enquiry
NS-22-13 | 25/04/2022   | Martin     | Nixon     | martin.nixon@example.org| 07700 900613 | LE2 6TU  | Leicester  | Event           | 09/05/2022    | 06/06/2022  | 20/06/2022 | 15/08/2022 |            |            | 10/10/2022 | Family not supportive               |                |                                          |                             | W@stage_two
NS-22-14 | 09/05/2022   | Nora       | Oliver    | nora.oliver@example.com | 07700 900614 | NG2 7UW  | Nottingham | Council website |               |             |            |            |            |            | 30/05/2022 | Finances, allowance too low         |                |                                          |                             | W@enquiry
NS-22-15 | 23/05/2022   | Oscar      | Pratt     | oscar.pratt@example.org | 07700 900615 | NG1 8WX  | Notts      | Leaflet         | 06/06/2022    |             |            |            |            |            | 27/06/2022 | Not the right time, maybe next year |                |                                          |                             | W@initial_visit
NS-22-16 | 06/06/2022   | Pam        | Quigley   | pam.quigley@example.com | 07700 900616 | LE3 9XY  | Leicester  | Council website | 20/06/2022    | 18/07/2022  | 01/08/2022 | 26/09/2022 | 16/01/2023 | 26/01/2023 |            |                                     |                |                                          |                             | approved
NS-22-17 | 20/06/2022   | Roger      | Rhodes    | roger.rhodes@example.org| 07700 900617 | LE1 1YZ  | Leicester  | Social media    |               |             |            |            |            |            | 11/07/2022 | Could not be contacted              |                |                                          |                             | W@enquiry
NS-22-18 | 04/07/2022   | Susan      | Swift     | susan.swift@example.com | 07700 900618 | NG2 2AB  | Nottingham | Word of mouth   |               |             |            |            |            |            |            |                                     | 18/07/2022     | Not eligible, under 21                   |                             | NP@enquiry
NS-22-19 | 18/07/2022   | Trevor     | Tyler     | trevor.tyler@example.org| 07700 900619 | LE2 3BD  | Leicester  | Event           | 01/08/2022    |             |            |            |            |            | 22/08/2022 | Went to an agency                   |                |                                          |                             | W@initial_visit
NS-22-20 | 01/08/2022   | Una        | Upton     | una.upton@example.com   | 07700 900620 | NG1 4DE  | Notts      | Social media    |               |             |            |            |            |            | 22/08/2022 | Not the right time, maybe next year |                |                                          |                             | W@enquiry
""")


def write_northshire_2022(path: Path) -> None:
    # Commas inside fields stay unquoted (they are not the separator); the one semicolon in a
    # note is quoted, as Excel does.
    write_csv(path, *without_outcome(*NORTHSHIRE_2022), encoding="utf-8", delimiter=";")


# -- 7. southshire_2021_mac.csv: "CSV (Macintosh)", lines ended by CR alone ----------------------

SOUTHSHIRE_2021 = table("""
reference | enquiry_date | first_name | last_name  | email                      | phone       | postcode | area       | source          | initial_visit_date | application_date | stage_one_date | stage_two_date | panel_date | approval_date | withdrawn_date | withdrawn_reason | not_progressed_date | not_progressed_reason | outcome
SS-21-01  | 2021-01-11   | Adam       | Baines     | adam.baines@example.com    | 07700900701 | NG1 2EF  | Southshire | web_search      | 2021-01-25         | 2021-02-22       | 2021-03-08     | 2021-05-03     | 2021-09-20 | 2021-09-30    |                |                  |                     |                       | approved
SS-21-02  | 2021-01-18   | Beth       | Coates     | beth.coates@example.org    | 07700900702 | NG2 3FG  | Southshire | social_media    | 2021-02-01         |                  |                |                |            |               | 2021-02-22     | timing           |                     |                       | W@initial_visit
SS-21-03  | 2021-01-25   | Carys      | Dale       | carys.dale@example.com     | 07700900703 | NG1 4GH  | Southshire | web_search      |                    |                  |                |                |            |               | 2021-02-15     | no_response      |                     |                       | W@enquiry
SS-21-04  | 2021-02-01   | Dylan      | Eyre       | dylan.eyre@example.org     | 07700900704 | NG2 5HJ  | Southshire | word_of_mouth   | 2021-02-15         | 2021-03-15       | 2021-03-29     | 2021-05-24     | 2021-10-18 | 2021-10-28    |                |                  |                     |                       | approved
SS-21-05  | 2021-02-08   | Emma       | Fife       | emma.fife@example.com      | 07700900705 | NG1 6JL  | Southshire | council_website | 2021-02-22         | 2021-03-22       | 2021-04-06     | 2021-06-07     |            |               |                |                  | 2021-08-16          | suitability           | NP@stage_two
SS-21-06  | 2021-02-15   | Finn       | Gould      | finn.gould@example.org     | 07700900706 | NG2 7LN  | Southshire | social_media    | 2021-03-01         | 2021-03-29       | 2021-04-12     |                |            |               | 2021-05-24     | finances         |                     |                       | W@stage_one
SS-21-07  | 2021-03-01   | Gina       | Haigh      | gina.haigh@example.com     | 07700900707 | NG1 8NP  | Southshire | print_poster    |                    |                  |                |                |            |               | 2021-03-22     | timing           |                     |                       | W@enquiry
SS-21-08  | 2021-03-08   | Hal        | Ibbotson   | hal.ibbotson@example.org   | 07700900708 | NG2 9PQ  | Southshire | web_search      | 2021-03-22         |                  |                |                |            |               | 2021-04-12     | space            |                     |                       | W@initial_visit
SS-21-09  | 2021-03-15   | Iris       | Jagger     | iris.jagger@example.com    | 07700900709 | NG1 1QR  | Southshire | refer_a_friend  | 2021-03-29         | 2021-04-26       | 2021-05-10     | 2021-07-05     | 2021-11-15 | 2021-11-25    |                |                  |                     |                       | approved
SS-21-10  | 2021-03-22   | Jake       | Kidd       | jake.kidd@example.org      | 07700900710 | NG2 2RS  | Southshire | social_media    |                    |                  |                |                |            |               | 2021-04-12     | no_response      |                     |                       | W@enquiry
SS-21-11  | 2021-04-12   | Kara       | Leach      | kara.leach@example.com     | 07700900711 | NG1 3ST  | Southshire | council_website | 2021-04-26         | 2021-05-24       |                |                |            |               | 2021-06-14     | changed_mind     |                     |                       | W@application
SS-21-12  | 2021-04-19   | Leon       | Marsden    | leon.marsden@example.org   | 07700900712 | NG2 4TU  | Southshire | print_poster    | 2021-05-03         |                  |                |                |            |               |                |                  | 2021-05-17          | accommodation         | NP@initial_visit
SS-21-13  | 2021-05-03   | Mina       | Naylor     | mina.naylor@example.com    | 07700900713 | NG1 5UW  | Southshire | web_search      |                    |                  |                |                |            |               | 2021-05-24     | finances         |                     |                       | W@enquiry
SS-21-14  | 2021-05-10   | Ned        | Oates      | ned.oates@example.org      | 07700900714 | NG2 6WX  | Southshire | word_of_mouth   | 2021-05-24         | 2021-06-21       | 2021-07-05     | 2021-08-30     | 2022-01-17 |               | 2022-01-31     | changed_mind     |                     |                       | W@panel
SS-21-15  | 2021-05-24   | Olive      | Pearce     | olive.pearce@example.com   | 07700900715 | NG1 7XY  | Southshire | social_media    | 2021-06-07         |                  |                |                |            |               | 2021-06-28     | timing           |                     |                       | W@initial_visit
SS-21-16  | 2021-06-07   | Quentin    | Rigby      | quentin.rigby@example.org  | 07700900716 | NG2 8YZ  | Southshire | council_website | 2021-06-21         | 2021-07-19       | 2021-08-02     | 2021-09-27     | 2022-02-14 | 2022-02-24    |                |                  |                     |                       | approved
SS-21-17  | 2021-06-21   | Rose       | Sykes      | rose.sykes@example.com     | 07700900717 | NG1 9AB  | Southshire | print_poster    |                    |                  |                |                |            |               | 2021-07-12     | no_response      |                     |                       | W@enquiry
SS-21-18  | 2021-07-05   | Stan       | Thwaite    | stan.thwaite@example.org   | 07700900718 | NG2 1BD  | Southshire | web_search      | 2021-07-19         | 2021-08-16       | 2021-08-31     |                |            |               |                |                  | 2021-10-25          | checks                | NP@stage_one
SS-21-19  | 2021-07-19   | Tess       | Umpleby    | tess.umpleby@example.com   | 07700900719 | NG1 2DE  | Southshire | social_media    | 2021-08-02         |                  |                |                |            |               | 2021-08-23     | other_service    |                     |                       | W@initial_visit
SS-21-20  | 2021-08-02   | Vic        | Waddington | vic.waddington@example.org | 07700900720 | NG2 3EF  | Southshire | refer_a_friend  |                    |                  |                |                |            |               | 2021-08-23     | timing           |                     |                       | W@enquiry
""")


def write_southshire_2021(path: Path) -> None:
    header, rows = without_outcome(*SOUTHSHIRE_2021)
    # Excel leaves rows of bare separators below the data where cells were once formatted.
    blank = "," * (len(header) - 1)
    write_csv(path, header, rows, encoding="ascii", newline="\r", extra_lines=[blank] * 3)


# -- 8. harrowdale_2024_2025.ods: one sheet a year, open cases carried over, next year's empty tab -

HARROWDALE_2024 = table("""
Ref      | Enquiry date | First name | Last name | Email                     | Phone        | Postcode | Source          | IV         | Application | Stage 1    | Stage 2    | Panel      | Approved   | Withdrawn  | Reason for withdrawal  | Not progressed | NP reason     | outcome
HD-24-01 | 2024-01-08   | Alice      | Ashworth  | alice.ashworth@example.com| 07700 900801 | LE1 2AB  | Council website | 2024-01-22 | 2024-02-19  | 2024-03-04 | 2024-04-29 | 2024-09-16 | 2024-09-26 |            |                        |                |               | approved
HD-24-02 | 2024-01-15   | Barry      | Blake     | barry.blake@example.org   | 07700 900802 | LE2 3BD  | Facebook        | 2024-01-29 |             |            |            |            |            | 2024-02-12 | Not the right time     |                |               | W@initial_visit
HD-24-03 | 2024-01-29   | Cathy      | Cooke     | cathy.cooke@example.com   | 07700 900803 | LE1 4DE  | Word of mouth   | 2024-02-12 | 2024-03-11  | 2024-03-25 | 2024-05-20 | 2024-10-21 | 2024-10-31 |            |                        |                |               | approved
HD-24-04 | 2024-02-05   | Dean       | Dyer      | dean.dyer@example.org     | 07700 900804 | LE2 5EF  | Google          |            |             |            |            |            |            | 2024-02-26 | Could not be contacted |                |               | W@enquiry
HD-24-05 | 2024-02-19   | Esther     | Eames     | esther.eames@example.com  | 07700 900805 | LE1 6FG  | Council website | 2024-03-04 | 2024-04-02  | 2024-04-15 |            |            |            |            |                        | 2024-06-24     | References    | NP@stage_one
HD-24-06 | 2024-03-04   | Frank      | Fenn      | frank.fenn@example.org    | 07700 900806 | LE2 7GH  | Facebook        | 2024-03-18 | 2024-04-15  |            |            |            |            | 2024-05-13 | Finances               |                |               | W@application
HD-24-07 | 2024-03-11   | Gail       | Gibbs     | gail.gibbs@example.com    | 07700 900807 | LE1 8HJ  | Word of mouth   | 2024-03-25 | 2024-04-22  | 2024-05-07 | 2024-07-01 |            |            | 2024-08-19 | Changed mind           |                |               | W@stage_two
HD-24-08 | 2024-03-25   | Henry      | Hobbs     | henry.hobbs@example.org   | 07700 900808 | LE2 9JL  | Event           | 2024-04-08 | 2024-05-07  | 2024-05-20 | 2024-07-15 | 2024-11-18 | 2024-11-28 |            |                        |                |               | approved
HD-24-09 | 2024-04-08   | Irene      | Isles     | irene.isles@example.com   | 07700 900809 | LE1 1LN  | Facebook        |            |             |            |            |            |            | 2024-04-29 | Not the right time     |                |               | W@enquiry
HD-24-10 | 2024-04-22   | Joe        | Jukes     | joe.jukes@example.org     | 07700 900810 | LE2 2NP  | Google          | 2024-05-07 |             |            |            |            |            | 2024-05-28 | Finances               |                |               | W@initial_visit
HD-24-11 | 2024-05-07   | Kim        | Knott     | kim.knott@example.com     | 07700 900811 | LE1 3PQ  | Council website | 2024-05-20 | 2024-06-17  | 2024-07-01 | 2024-08-27 | 2025-01-20 | 2025-01-30 |            |                        |                |               | approved
HD-24-12 | 2024-05-20   | Lorna      | Lyons     | lorna.lyons@example.org   | 07700 900812 | LE2 4QR  | Facebook        |            |             |            |            |            |            | 2024-06-10 | Could not be contacted |                |               | W@enquiry
HD-24-13 | 2024-06-03   | Mark       | Mayes     | mark.mayes@example.com    | 07700 900813 | LE1 5RS  | Google          | 2024-06-17 | 2024-07-15  | 2024-07-29 | 2024-09-23 | 2025-02-17 | 2025-02-27 |            |                        |                |               | approved
HD-24-14 | 2024-06-17   | Nell       | Noakes    | nell.noakes@example.org   | 07700 900814 | LE2 6ST  | Event           | 2024-07-01 |             |            |            |            |            |            |                        | 2024-07-15     | No spare room | NP@initial_visit
HD-24-15 | 2024-07-01   | Omar       | Orr       | omar.orr@example.com      | 07700 900815 | LE1 7TU  | Council website | 2024-07-15 | 2024-08-12  | 2024-08-27 |            |            |            | 2024-10-07 | Changed mind           |                |               | W@stage_one
HD-24-16 | 2024-07-22   | Penny      | Platt     | penny.platt@example.org   | 07700 900816 | LE2 8UW  | Google          |            |             |            |            |            |            | 2024-08-12 | Finances               |                |               | W@enquiry
HD-24-17 | 2024-08-12   | Ralph      | Rees      | ralph.rees@example.com    | 07700 900817 | LE1 9WX  | Event           | 2024-08-27 |             |            |            |            |            | 2024-09-16 | Not the right time     |                |               | W@initial_visit
HD-24-18 | 2024-09-09   | Sally      | Sharpe    | sally.sharpe@example.org  | 07700 900818 | LE2 1XY  | Council website |            |             |            |            |            |            | 2024-09-30 | Could not be contacted |                |               | W@enquiry
HD-24-19 | 2024-11-04   | Tony       | Tranter   | tony.tranter@example.com  | 07700 900819 | LE1 2YZ  | Facebook        | 2024-11-25 |             |            |            |            |            |            |                        |                |               | approved
HD-24-20 | 2024-12-09   | Val        | Vickers   | val.vickers@example.org   | 07700 900820 | LE2 3AB  | Google          |            |             |            |            |            |            |            |                        |                |               | W@initial_visit
""")
HARROWDALE_2025 = table("""
Ref      | Enquiry date | First name | Last name | Email                     | Phone        | Postcode | Source          | Campaign      | Initial visit | Application | Stage 1    | Stage 2    | Panel      | Approved   | Withdrawn  | Reason for withdrawal  | Not progressed | NP reason     | outcome
HD-24-19 | 2024-11-04   | Tony       | Tranter   | tony.tranter@example.com  | 07700 900819 | LE1 2YZ  | Facebook        |               | 2024-11-25    | 2025-01-13  | 2025-02-03 | 2025-04-07 | 2025-09-15 | 2025-09-25 |            |                        |                |               | merged:2024!20
HD-24-20 | 2024-12-09   | Val        | Vickers   | val.vickers@example.org   | 07700 900820 | LE2 3AB  | Google          |               | 2025-01-13    |             |            |            |            |            | 2025-02-10 | Not the right time     |                |               | merged:2024!21
HD-25-01 | 2025-01-06   | Wade       | Wilkes    | wade.wilkes@example.com   | 07700 900821 | LE1 4BD  | Council website |               | 2025-01-20    | 2025-02-17  | 2025-03-03 | 2025-04-28 | 2025-09-15 | 2025-09-25 |            |                        |                |               | approved
HD-25-02 | 2025-01-13   | Amy        | Ashby     | amy.ashby@example.org     | 07700 900822 | LE2 5DE  | Facebook        | New Year 2025 |               |             |            |            |            |            | 2025-02-03 | Could not be contacted |                |               | W@enquiry
HD-25-03 | 2025-01-20   | Bob        | Birch     | bob.birch@example.com     | 07700 900823 | LE1 6EF  | Facebook        | New Year 2025 | 2025-02-03    |             |            |            |            |            | 2025-02-24 | Finances               |                |               | W@initial_visit
HD-25-04 | 2025-02-03   | Clare      | Cobb      | clare.cobb@example.org    | 07700 900824 | LE2 7FG  | Word of mouth   |               | 2025-02-17    | 2025-03-17  | 2025-03-31 | 2025-05-27 |            |            |            |                        |                |               | open@stage_two
HD-25-05 | 2025-02-17   | Derek      | Duke      | derek.duke@example.com    | 07700 900825 | LE1 8GH  | Google          |               | 2025-03-03    |             |            |            |            |            |            |                        | 2025-03-17     | No spare room | NP@initial_visit
HD-25-06 | 2025-03-03   | Elsie      | Eden      | elsie.eden@example.org    | 07700 900826 | LE2 9HJ  | Council website |               | 2025-03-17    | 2025-04-14  | 2025-04-28 | 2025-06-23 | 2025-11-17 |            |            |                        |                |               | open@panel
HD-25-07 | 2025-03-17   | Fred       | Flint     | fred.flint@example.com    | 07700 900827 | LE1 1JL  | Google          |               |               |             |            |            |            |            | 2025-04-07 | Not the right time     |                |               | W@enquiry
HD-25-08 | 2025-04-07   | Gwen       | Goode     | gwen.goode@example.org    | 07700 900828 | LE2 2LN  | Event           |               | 2025-04-22    | 2025-05-19  | 2025-06-02 |            |            |            |            |                        |                |               | open@stage_one
HD-25-09 | 2025-04-22   | Hugh       | Heath     | hugh.heath@example.com    | 07700 900829 | LE1 3NP  | Facebook        |               | 2025-05-06    | 2025-06-02  |            |            |            |            | 2025-07-14 | Changed mind           |                |               | W@application
HD-25-10 | 2025-05-06   | Ida        | Holt      | ida.holt@example.org      | 07700 900830 | LE2 4PQ  | Council website |               | 2025-05-19    |             |            |            |            |            |            |                        |                |               | open@initial_visit
HD-25-11 | 2025-05-19   | Jim        | Jewell    | jim.jewell@example.com    | 07700 900831 | LE1 5QR  | Facebook        |               |               |             |            |            |            |            | 2025-06-09 | Finances               |                |               | W@enquiry
HD-25-12 | 2025-06-02   | Kath       | Kent      | kath.kent@example.org     | 07700 900832 | LE2 6RS  | Word of mouth   |               | 2025-06-16    | 2025-07-14  |            |            |            |            |            |                        |                |               | open@application
HD-25-13 | 2025-06-16   | Len        | Lacey     | len.lacey@example.com     | 07700 900833 | LE1 7ST  | Google          |               | 2025-06-30    |             |            |            |            |            | 2025-08-04 | Could not be contacted |                |               | W@initial_visit
HD-25-14 | 2025-07-07   | Mo         | Moran     | mo.moran@example.org      | 07700 900834 | LE2 8TU  | Event           |               | 2025-07-21    |             |            |            |            |            |            |                        |                |               | open@initial_visit
HD-25-15 | 2025-08-04   | Nat        | Neal      | nat.neal@example.com      | 07700 900835 | LE1 9UW  | Facebook        |               |               |             |            |            |            |            |            |                        |                |               | open@enquiry
HD-25-16 | 2025-09-01   | Oona       | Orwell    | oona.orwell@example.org   | 07700 900836 | LE2 1WX  | Council website |               |               |             |            |            |            |            | 2025-09-22 | Could not be contacted |                |               | W@enquiry
HD-25-17 | 2025-10-06   | Pat        | Pugh      | pat.pugh@example.com      | 07700 900837 | LE1 2XY  | Google          |               |               |             |            |            |            |            |            |                        |                |               | open@enquiry
HD-25-18 | 2025-11-03   | Roy        | Royle     | roy.royle@example.org     | 07700 900838 | LE2 3YZ  | Word of mouth   |               |               |             |            |            |            |            |            |                        |                |               | open@enquiry
""")
HARROWDALE_ODS_DATES = {
    "Enquiry date", "IV", "Initial visit", "Application", "Stage 1", "Stage 2", "Panel",
    "Approved", "Withdrawn", "Not progressed",
}  # fmt: skip


def write_harrowdale_2024_2025(path: Path) -> None:
    import pandas as pd

    def frame(header: list[str], rows: list[list[str]]) -> pd.DataFrame:
        records = [
            [
                xlsx_value(text, name in HARROWDALE_ODS_DATES)
                for name, text in zip(header, row, strict=True)
            ]
            for row in rows
        ]
        return pd.DataFrame(records, columns=header, dtype=object)

    header_2025, rows_2025 = without_outcome(*HARROWDALE_2025)
    with pd.ExcelWriter(path, engine="odf") as writer:
        frame(*without_outcome(*HARROWDALE_2024)).to_excel(writer, sheet_name="2024", index=False)
        frame(header_2025, rows_2025).to_excel(writer, sheet_name="2025", index=False)
        # Next year's tab, set up with its header and nothing in it yet.
        frame(header_2025, []).to_excel(writer, sheet_name="2026", index=False)


# -- writing helpers ----------------------------------------------------------------------------


def xlsx_value(text: str, date_cells: bool):  # a cell: str, int, datetime or None
    """A table cell as a spreadsheet holds it: `dt:` a date cell, `serial:` a bare day number,
    `int:` a number; with `date_cells`, an ISO date is a date cell too."""
    if text == "":
        return None
    kind, _, rest = text.partition(":")
    if kind == "dt" or (date_cells and re.fullmatch(r"\d{4}-\d{2}-\d{2}", text)):
        return datetime.combine(date.fromisoformat(rest if kind == "dt" else text), time())
    if kind == "serial":
        return (date.fromisoformat(rest) - EXCEL_EPOCH).days
    if kind == "int":
        return int(rest)
    return text


EXCEL_EPOCH = date(1899, 12, 30)


def write_csv(
    path: Path,
    header: list[str],
    rows: list[list[str]],
    *,
    encoding: str,
    delimiter: str = ",",
    newline: str = "\r\n",
    extra_lines: list[str] = (),  # type: ignore[assignment]
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    for line in extra_lines:
        buffer.write(line + newline)
    path.write_bytes(buffer.getvalue().encode(encoding))


def save_workbook(workbook, path: Path, creator: str) -> None:  # noqa: ANN001
    # Fixed document dates, so a rebuild only changes what the rows change.
    moment = datetime(2024, 1, 8, 9, 0)  # noqa: DTZ001 - workbook metadata has no timezone
    workbook.properties.creator = creator
    workbook.properties.created = moment
    workbook.properties.modified = moment
    workbook.save(path)


def fix_zip_times(path: Path) -> None:
    """Workbooks are zip files stamped with the time they were written; a fixed stamp makes a
    rebuild byte-identical, so git shows a change only when the rows change. Entry order and
    compression are kept (an ODS needs its `mimetype` entry first and stored)."""
    with zipfile.ZipFile(path) as source:
        entries = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w") as target:
        for info, data in entries:
            fixed = zipfile.ZipInfo(info.filename, date_time=(2024, 1, 8, 9, 0, 0))
            fixed.compress_type = info.compress_type
            fixed.external_attr = info.external_attr
            if info.filename == "docProps/core.xml":
                # openpyxl stamps "modified" with the time of saving, whatever it was set to.
                data = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>2024-01-08T09:00:00Z\g<2>",
                    data,
                )
            target.writestr(fixed, data)


WRITERS = {
    "harrowdale_2023.xlsx": write_harrowdale_2023,
    "westbrook_team_2026.csv": write_westbrook_2026,
    "mixed_dates_2023.xlsx": write_mixed_dates_2023,
    "duplicates_2025.csv": write_duplicates_2025,
    "kingsmere_2024_windows1252.csv": write_kingsmere_2024,
    "northshire_2022_semicolon.csv": write_northshire_2022,
    "southshire_2021_mac.csv": write_southshire_2021,
    "harrowdale_2024_2025.ods": write_harrowdale_2024_2025,
}
# The tables behind each file, with the spreadsheet row of their first data line.
TABLES = {
    "harrowdale_2023.xlsx": {None: (HARROWDALE_2023, 4)},
    "westbrook_team_2026.csv": {None: (WESTBROOK_2026, 2)},
    "mixed_dates_2023.xlsx": {None: (MIXED_DATES_2023, 2)},
    "duplicates_2025.csv": {None: (DUPLICATES_2025, 2)},
    "kingsmere_2024_windows1252.csv": {None: (KINGSMERE_2024, 2)},
    "northshire_2022_semicolon.csv": {None: (NORTHSHIRE_2022, 2)},
    "southshire_2021_mac.csv": {None: (SOUTHSHIRE_2021, 2)},
    "harrowdale_2024_2025.ods": {"2024": (HARROWDALE_2024, 2), "2025": (HARROWDALE_2025, 2)},
}


# -- checking: an independent reading of the written files ----------------------------------------
#
# Deliberately not the product's importer: its own file reading, date parsing, duplicate rules
# and funnel arithmetic, so a mistake in one is not repeated in the other.

MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}


@dataclass
class Cell:
    sheet: str | None
    row: int
    values: dict[str, object]  # file header -> cell value as read


def read_cells(
    path: Path, spec: dict
) -> tuple[list[Cell], dict[str | None, list[str]], list[tuple[str | None, int]]]:
    """Every row below the header of every sheet to import: the rows, the headers per sheet,
    and the rows that are entirely blank (not rows of data)."""
    fmt = spec["format"]
    header_row = spec.get("header_row", 1)
    grids: dict[str | None, list[list[object]]] = {}
    if fmt == "csv":
        raw = path.read_bytes()
        text = raw.decode(spec["encoding"])
        grids[None] = [
            list(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=spec["delimiter"])
        ]
    elif fmt == "xlsx":
        from openpyxl import load_workbook

        workbook = load_workbook(path, data_only=False)
        assert workbook.sheetnames == spec["sheets"], workbook.sheetnames
        for name in spec["import_sheets"]:
            grids[name] = [list(r) for r in workbook[name].iter_rows(values_only=True)]
    elif fmt == "ods":
        import pandas as pd

        frames = pd.read_excel(path, sheet_name=None, header=None, engine="odf", dtype=object)
        assert list(frames) == spec["sheets"], list(frames)
        for name in spec["import_sheets"]:
            grids[name] = [
                [None if pd.isna(v) else v for v in r] for r in frames[name].itertuples(index=False)
            ]
    else:
        raise SystemExit(f"unknown format {fmt}")

    cells, headers, blank = [], {}, []
    if len(grids) == 1:
        grids = {None: next(iter(grids.values()))}  # one sheet: rows are numbered without it
    for sheet, grid in grids.items():
        header = [str(v).strip() if v is not None else "" for v in grid[header_row - 1]]
        while header and header[-1] == "":
            header.pop()
        headers[sheet] = header
        for number, values in enumerate(grid[header_row:], start=header_row + 1):
            record = {h: v for h, v in zip(header, values, strict=False) if h}
            if all(v is None or str(v).strip() == "" for v in values):
                blank.append((sheet, number))
                continue
            cells.append(Cell(sheet, number, record))
    return cells, headers, blank


def parse_day(value: object, column: str, month_first: bool = False) -> date | None:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float):
        return EXCEL_EPOCH + timedelta(days=int(value))
    text = str(value).strip()
    if m := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text):
        return date(int(m[1]), int(m[2]), int(m[3]))
    if m := re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text):
        first, second = int(m[1]), int(m[2])
        day, month = (second, first) if month_first else (first, second)
        return date(int(m[3]), month, day)
    if m := re.fullmatch(r"(\d{1,2}) ([A-Za-z]{3}) (\d{2})", text):
        return date(2000 + int(m[3]), MONTHS[m[2].lower()], int(m[1]))
    if m := re.fullmatch(r"([A-Za-z]{3}) (\d{1,2})(st|nd|rd|th) (\d{4})", text):
        return date(int(m[4]), MONTHS[m[1].lower()], int(m[2]))
    raise ValueError(f"{column}: {text!r} is not a date this check knows")


def phone_digits(value: object) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    digits = re.sub(r"\D", "", str(value))
    if digits.startswith("44"):
        digits = "0" + digits[2:]
    if len(digits) == 10 and not digits.startswith("0"):
        digits = "0" + digits  # a number typed into Excel loses its leading zero
    return digits


def similar_names(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """Same surname, and one first name the start of the other (Jon / Jonathan)."""
    (first_a, last_a), (first_b, last_b) = ((f.casefold(), s.casefold()) for f, s in (a, b))
    return last_a == last_b and (first_a.startswith(first_b) or first_b.startswith(first_a))


@dataclass
class Household:
    first: Cell
    name: tuple[str, str]
    enquiry: date
    source: str
    campaign: str
    area: str | None
    postcode: str
    stages: dict[str, date] = field(default_factory=dict)
    # (withdrawn or not_progressed, the date, the reason as written)
    leaving: tuple[str, date, str] | None = None
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)

    @property
    def furthest(self) -> int:
        return max([0] + [FUNNEL.index(s) for s in self.stages])

    @property
    def outcome(self) -> str:
        where = FUNNEL[self.furthest]
        if "approved" in self.stages:
            return "approved"
        if self.leaving:
            return f"{'W' if self.leaving[0] == 'withdrawn' else 'NP'}@{where}"
        return f"open@{where}"


def canonical(cell: Cell, columns: dict[str, str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for header, value in cell.values.items():
        target = columns[header]
        if target != "ignore":
            out[target] = value
    return out


def text(value: object) -> str:
    return "" if value is None else str(value).strip()


def where(sheet: str | None, row: int) -> str:
    return f"{sheet}!{row}" if sheet else str(row)


def rebuild(name: str, expected: dict, problems: list[str], annotated: bool = True) -> dict:
    """Read the file as a correct import would, and return the numbers to compare."""
    spec = expected["file"]
    columns: dict[str, str] = expected["columns"]
    values: dict[str, dict[str, str]] = expected.get("values", {})
    cells, headers, blank = read_cells(HERE / name, spec)

    for sheet, header in headers.items():
        for h in header:
            if h not in columns:
                problems.append(f"sheet {sheet}: header {h!r} has no column mapping")
        targets = [columns[h] for h in header if h in columns and columns[h] != "ignore"]
        for target in targets:
            if target not in CANONICAL:
                problems.append(f"{target!r} is not a canonical column")
        if len(targets) != len(set(targets)):
            problems.append(f"sheet {sheet}: two headers map to the same column")
    if problems:
        return {}

    households: list[Household] = []
    by_ref: dict[str, Household] = {}
    by_email: dict[str, Household] = {}
    by_phone: dict[str, Household] = {}
    merged, flagged, skipped = [], [], []
    date_texts: dict[str, list[str]] = defaultdict(list)
    month_first_ok: dict[str, bool] = defaultdict(lambda: True)

    for cell in cells:
        row = canonical(cell, columns)
        ref = text(row.get("reference"))
        first, last = text(row.get("first_name")), text(row.get("last_name"))
        if ref.casefold().startswith("total"):
            skipped.append((cell.sheet, cell.row, "totals"))
            continue
        if not (first or last or text(row.get("enquiry_date"))):
            skipped.append((cell.sheet, cell.row, "reference only"))
            continue

        dates: dict[str, date] = {}
        for target, value in row.items():
            if target.endswith("_date"):
                if isinstance(value, str) and re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", value.strip()):
                    header = next(h for h, t in columns.items() if t == target and h in cell.values)
                    date_texts[header].append(value.strip())
                try:
                    parsed = parse_day(value, target)
                except ValueError as exc:
                    problems.append(f"row {where(cell.sheet, cell.row)}: {exc}")
                    continue
                if parsed is not None:
                    dates[target] = parsed
        # Stage order, and that nothing is after the day the numbers hold for.
        order = [("enquiry_date", dates.get("enquiry_date"))] + [
            (c, dates.get(c)) for c in STAGE_COLUMNS
        ]
        present = [(c, d) for c, d in order if d is not None]
        for (c1, d1), (c2, d2) in zip(present, present[1:], strict=False):
            if d2 < d1:
                problems.append(f"row {where(cell.sheet, cell.row)}: {c2} {d2} is before {c1} {d1}")
        leaving = [
            (kind, dates[d], text(row.get(r)))
            for kind, (d, r) in LEAVING_COLUMNS.items()
            if d in dates
        ]
        if len(leaving) > 1 or (leaving and "approval_date" in dates):
            problems.append(
                f"row {where(cell.sheet, cell.row)}: leaves twice, or leaves and is approved"
            )
        if leaving and present and leaving[0][1] < present[-1][1]:
            problems.append(f"row {where(cell.sheet, cell.row)}: leaves before its last stage")
        for d in dates.values():
            if d > AS_OF:
                problems.append(f"row {where(cell.sheet, cell.row)}: {d} is after {AS_OF}")
        if "first_contact_date" in dates and dates["first_contact_date"] < dates["enquiry_date"]:
            problems.append(f"row {where(cell.sheet, cell.row)}: first contact before the enquiry")

        email = text(row.get("email")).lower() or None
        phone = phone_digits(row.get("phone"))
        postcode = text(row.get("postcode")).upper()
        target: Household | None = None
        if ref and ref in by_ref:
            target = by_ref[ref]
        elif email and email in by_email:
            target = by_email[email]
        elif phone and phone in by_phone:
            other = by_phone[phone]
            if similar_names((first, last), other.name):
                target = other
            else:
                flagged.append((cell.sheet, cell.row, other.first.sheet, other.first.row))
        stage_dates = {STAGE_COLUMNS[c]: d for c, d in dates.items() if c in STAGE_COLUMNS}
        if target is not None:
            merged.append((cell.sheet, cell.row, target.first.sheet, target.first.row))
            target.enquiry = min(target.enquiry, dates["enquiry_date"])
            for stage, d in stage_dates.items():
                target.stages[stage] = min(d, target.stages.get(stage, d))
            if leaving:
                if target.leaving and target.leaving != leaving[0]:
                    problems.append(
                        f"row {where(cell.sheet, cell.row)}: leaves differently from the row it merges with"
                    )
                target.leaving = leaving[0]
            household = target
        else:
            area_text = text(row.get("area"))
            household = Household(
                first=cell,
                name=(first, last),
                enquiry=dates["enquiry_date"],
                source=text(row.get("source")),
                campaign=text(row.get("campaign")),
                area=area_text or None,
                postcode=postcode,
                stages=stage_dates,
                leaving=leaving[0] if leaving else None,
            )
            households.append(household)
        if ref:
            by_ref.setdefault(ref, household)
        if email:
            household.emails.add(email)
            by_email.setdefault(email, household)
        if phone:
            household.phones.add(phone)
            by_phone.setdefault(phone, household)

        # Made-up people only.
        if email and not re.fullmatch(r"[a-z0-9.]+@example\.(com|org)", email):
            problems.append(
                f"row {where(cell.sheet, cell.row)}: email {email!r} is not at example.com/.org"
            )
        if phone and not DRAMA_PHONE.match(phone):
            problems.append(
                f"row {where(cell.sheet, cell.row)}: {phone} is not in an Ofcom drama range"
            )
        compact = postcode.replace(" ", "")
        if not POSTCODE.match(compact) or postcode.split(" ")[0] not in DISTRICT_AREA:
            problems.append(
                f"row {where(cell.sheet, cell.row)}: postcode {postcode!r} is outside LE1-3 / NG1-2"
            )
        if first not in FIRST_NAMES or last not in LAST_NAMES:
            problems.append(
                f"row {where(cell.sheet, cell.row)}: {first} {last} is not from the name lists"
            )

    # Is an all-day-first-looking column genuinely ambiguous (both readings keep stage order)?
    ambiguous = []
    for header, texts in date_texts.items():
        pairs = [tuple(int(p) for p in t.split("/")[:2]) for t in texts]
        if pairs and all(d <= 12 and m <= 12 for d, m in pairs) and any(d != m for d, m in pairs):
            ambiguous.append(header)
    for header in ambiguous:
        target = columns[header]
        for cell in cells:
            value = cell.values.get(header)
            if not (isinstance(value, str) and value.strip()):
                continue
            row = canonical(cell, columns)
            other = parse_day(value, target, month_first=True)
            sequence = ["enquiry_date", *STAGE_COLUMNS, *(d for d, _ in LEAVING_COLUMNS.values())]
            index = sequence.index(target)
            earlier = [d for c in sequence[:index] if (d := parse_day(row.get(c), c))]
            later = [d for c in sequence[index + 1 :] if (d := parse_day(row.get(c), c))]
            if (earlier and other < max(earlier)) or (later and other > min(later)):
                month_first_ok[header] = False

    def mapped(kind: str, written: str) -> str:
        table_ = values.get(kind, {})
        if written not in table_:
            problems.append(f"values.{kind} has no entry for {written!r}")
            return "?"
        return table_[written]

    def area_of(h: Household) -> str:
        by_postcode = DISTRICT_AREA[h.postcode.split(" ")[0]]
        if h.area is not None and mapped("area", h.area) != by_postcode:
            problems.append(f"{h.name}: area {h.area!r} does not match postcode {h.postcode}")
        return by_postcode

    def reached(group: list[Household]) -> dict[str, int]:
        return {stage: sum(1 for h in group if h.furthest >= i) for i, stage in enumerate(FUNNEL)}

    def grouped(key) -> dict[str, dict[str, int]]:  # noqa: ANN001
        groups: dict[str, list[Household]] = defaultdict(list)
        for h in households:
            k = key(h)
            if k:
                groups[k].append(h)
        return {k: reached(g) for k, g in groups.items()}

    def left(kind: str) -> list[Household]:
        return [h for h in households if h.leaving and h.leaving[0] == kind]

    funnel = {
        "from": min(h.enquiry for h in households).isoformat() if households else None,
        "to": max(h.enquiry for h in households).isoformat() if households else None,
        "cohort_size": len(households),
        "reached": reached(households),
        "withdrawn_by_stage": {
            s: sum(1 for h in left("withdrawn") if FUNNEL[h.furthest] == s) for s in FUNNEL[:-1]
        },
        "not_progressed_by_stage": {
            s: sum(1 for h in left("not_progressed") if FUNNEL[h.furthest] == s)
            for s in FUNNEL[:-1]
        },
        "still_open_by_stage": {
            s: sum(
                1 for h in households if h.outcome.startswith("open@") and FUNNEL[h.furthest] == s
            )
            for s in FUNNEL
        },
        "withdrawn_by_reason_as_written": dict(Counter(h.leaving[2] for h in left("withdrawn"))),
        "withdrawn_by_reason": dict(
            Counter(mapped("withdrawn_reason", h.leaving[2]) for h in left("withdrawn"))
        ),
        "not_progressed_by_reason_as_written": dict(
            Counter(h.leaving[2] for h in left("not_progressed"))
        ),
        "not_progressed_by_reason": dict(
            Counter(mapped("not_progressed_reason", h.leaving[2]) for h in left("not_progressed"))
        ),
        "by_source_as_written": grouped(lambda h: h.source),
        "by_source": {},
        "by_area": grouped(area_of),
        "by_campaign_as_written": grouped(lambda h: h.campaign),
        "by_campaign": {},
    }
    # After value mapping, several written words can be one list entry: add their rows up.
    for kind, written_key, key in (
        ("source", "by_source_as_written", "by_source"),
        ("campaign", "by_campaign_as_written", "by_campaign"),
    ):
        for written, counts in funnel[written_key].items():
            totals = funnel[key].setdefault(mapped(kind, written), dict.fromkeys(FUNNEL, 0))
            for stage in FUNNEL:
                totals[stage] += counts[stage]
    if any(h.area is not None for h in households):
        funnel["by_area_as_written"] = grouped(lambda h: h.area)

    # The hand annotations in the tables (outcome column) agree with what the file gives.
    tokens = {}
    for sheet, ((_header, rows), first_row) in TABLES[name].items() if annotated else ():
        for offset, row in enumerate(rows):
            tokens[(sheet, first_row + offset)] = row[-1]
    for h in households if annotated else ():
        token = tokens.get((h.first.sheet, h.first.row))
        if token != h.outcome:
            problems.append(
                f"row {where(h.first.sheet, h.first.row)}: table says {token}, file gives {h.outcome}"
            )
    for sheet, row, into_sheet, into_row in merged if annotated else ():
        if tokens.get((sheet, row)) != f"merged:{where(into_sheet, into_row)}":
            problems.append(
                f"row {where(sheet, row)}: merged into {where(into_sheet, into_row)}, table says {tokens.get((sheet, row))}"
            )
    for sheet, row, _ in skipped if annotated else ():
        if tokens.get((sheet, row), "skip") != "skip":
            problems.append(
                f"row {where(sheet, row)}: skipped, table says {tokens.get((sheet, row))}"
            )

    return {
        "headers": headers,
        "households": households,
        "import": {
            "rows_read": len(cells),
            "households_created": len(households),
            "blank_rows": sorted(where(s, r) for s, r in blank),
            "merged": sorted((where(s, r), where(s2, r2)) for s, r, s2, r2 in merged),
            "flagged": sorted((where(s, r), where(s2, r2)) for s, r, s2, r2 in flagged),
            "skipped": sorted(where(s, r) for s, r, _ in skipped),
        },
        "dates": {"ambiguous_columns": sorted(ambiguous)},
        "month_first_consistent": {h: month_first_ok[h] for h in ambiguous},
        "funnel": funnel,
        "cells": cells,
    }


def expected_import(expected: dict) -> dict:
    part = expected["import"]

    def ref(entry: dict, prefix: str = "") -> str:
        return where(entry.get(f"{prefix}sheet"), entry[f"{prefix}row"])

    return {
        "rows_read": part["rows_read"],
        "households_created": part["households_created"],
        "blank_rows": sorted(where(b.get("sheet"), b["row"]) for b in part.get("blank_rows", [])),
        "merged": sorted((ref(m), ref(m, "into_")) for m in part["merged"]),
        "flagged": sorted((ref(f), ref(f, "with_")) for f in part["flagged"]),
        "skipped": sorted(ref(s) for s in part["skipped"]),
    }


def compare(label: str, want: object, got: object, problems: list[str]) -> None:
    if isinstance(want, dict) and isinstance(got, dict):
        for key in sorted(set(want) | set(got), key=str):
            compare(
                f"{label}.{key}", want.get(key, "(missing)"), got.get(key, "(missing)"), problems
            )
    elif want != got:
        problems.append(f"{label}: expected {want!r}, the file gives {got!r}")


def check_traps(name: str, expected: dict, result: dict, problems: list[str]) -> None:
    """The trap each file is meant to hold is really in its bytes."""
    spec = expected["file"]
    raw = (HERE / name).read_bytes()
    if spec["format"] == "csv":
        if spec["encoding"] == "utf-8-sig" and not raw.startswith(b"\xef\xbb\xbf"):
            problems.append("no byte-order mark")
        if spec["encoding"] == "cp1252":
            try:
                raw.decode("utf-8")
                problems.append("decodes as UTF-8: not a Windows-1252 trap")
            except UnicodeDecodeError:
                pass
            for byte, what in (
                (b"\xa3", "pound sign"),
                (b"\x92", "curly apostrophe"),
                (b"\x96", "en dash"),
            ):
                if byte not in raw:
                    problems.append(f"no {what} byte")
        endings = {"CR": (b"\r", b"\n"), "CRLF": (b"\r\n", None)}[spec["line_endings"]]
        if endings[0] not in raw or (endings[1] and endings[1] in raw):
            problems.append(f"line endings are not {spec['line_endings']}")
        first_line = raw.splitlines()[0].decode(spec["encoding"])
        if spec["delimiter"] not in first_line:
            problems.append("the header line has no delimiter")
    for words in expected.get("text", {}).get("names", []):
        if not any(h.name == tuple(words) for h in result["households"]):
            problems.append(f"no household named {words}")
    compare(
        "dates.ambiguous_columns",
        sorted(expected["dates"]["ambiguous_columns"]),
        result["dates"]["ambiguous_columns"],
        problems,
    )
    for header, consistent in result["month_first_consistent"].items():
        if not consistent:
            problems.append(
                f"{header}: reading it month-first breaks the stage order, so it is not genuinely ambiguous"
            )
    for example in expected["dates"].get("examples", []):
        cell = next(
            c
            for c in result["cells"]
            if c.row == example["row"] and c.sheet == example.get("sheet", c.sheet)
        )
        got = parse_day(cell.values[example["column"]], example["column"])
        if got is None or got.isoformat() != example["means"]:
            problems.append(
                f"dates example row {example['row']} {example['column']}: {got}, not {example['means']}"
            )


def check() -> int:
    failures = 0
    contacts: dict[str, set[tuple[str, int]]] = defaultdict(set)
    shared_phones: set[str] = set()
    for name in WRITERS:
        problems: list[str] = []
        expected_path = HERE / f"{name}.expected.toml"
        expected = tomllib.loads(expected_path.read_text("utf-8"))
        if expected["file"]["name"] != name:
            problems.append(f"[file] name is {expected['file']['name']!r}")
        result = rebuild(name, expected, problems)
        if result:
            compare("import", expected_import(expected), result["import"], problems)
            compare("funnel", expected["funnel"], result["funnel"], problems)
            check_traps(name, expected, result, problems)
            for index, h in enumerate(result["households"]):
                for contact in h.emails | h.phones:
                    contacts[contact].add((name, index))
            for flagged_row, _ in result["import"]["flagged"]:
                cell = next(c for c in result["cells"] if where(c.sheet, c.row) == flagged_row)
                shared_phones.add(phone_digits(canonical(cell, expected["columns"]).get("phone")))
            for part_name, part in expected.get("partial", {}).items():
                subset = dict(expected, file=dict(expected["file"], import_sheets=[part_name]))
                sub = rebuild(name, subset, problems, annotated=False)
                compare(
                    f"partial.{part_name}.households_created",
                    part["households_created"],
                    sub["import"]["households_created"],
                    problems,
                )
                compare(
                    f"partial.{part_name}.reached",
                    part["reached"],
                    sub["funnel"]["reached"],
                    problems,
                )
                compare(f"partial.{part_name}.from", part["from"], sub["funnel"]["from"], problems)
                compare(f"partial.{part_name}.to", part["to"], sub["funnel"]["to"], problems)
        if problems:
            failures += 1
            print(f"{name}: {len(problems)} problem(s)")
            for problem in problems:
                print(f"  - {problem}")
        else:
            imp = result["import"]
            print(
                f"{name}: ok - {imp['rows_read']} rows read, {imp['households_created']} households, "
                f"{len(imp['merged'])} merged, {len(imp['flagged'])} flagged, {len(imp['skipped'])} skipped"
            )
    # Files can be imported into one database in any order: nobody is in two files.
    for contact, owners in contacts.items():
        if len(owners) > 1 and contact not in shared_phones:
            failures += 1
            print(f"{contact} belongs to more than one household: {sorted(owners)}")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check the committed files")
    args = parser.parse_args()
    if not args.check:
        for name, write in WRITERS.items():
            write(HERE / name)
            if name.endswith((".xlsx", ".ods")):
                fix_zip_times(HERE / name)
            print(f"wrote {name}")
    return check()


if __name__ == "__main__":
    sys.exit(main())
