"""The tracker import: CSV and Excel, re-import, updated trackers, bad files, duplicates."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook
from sqlmodel import func, select

import crm.models as m
from crm.cli import main
from crm.services.actors import Actor
from crm.services.imports.columns import COLUMNS, TrackerError, read_tracker
from crm.services.imports.tracker import import_tracker
from crm.services.imports.values import NO_REASON_TEXT, parse_date
from crm.services.pipeline import move_stage
from tests.funnel.helpers import make_history

GOOD_ROWS = [
    dict(reference="TRK-001", enquiry_date="2025-09-01", first_name="Ann", last_name="Archer",
         email="ann@example.org", postcode="LE1 6ZG", area="Northshire", source="Web search",
         first_contact_date="2025-09-02", initial_visit_date="2025-09-10",
         application_date="2025-10-01", stage_one_date="2025-10-20",
         stage_two_date="2025-12-01", panel_date="2026-01-20", approval_date="2026-02-01"),
    dict(reference="TRK-002", enquiry_date="05/09/2025", first_name="Ben", last_name="Baker",
         phone="07700 900123", area="southshire", source="event",
         withdrawn_date="20/09/2025", withdrawn_reason="Finances / allowances"),
    dict(reference="TRK-003", enquiry_date="2025-10-01", first_name="Cara", last_name="Cole",
         email="cara@example.org", area="Northshire", source="social_media",
         first_contact_date="2025-10-01", initial_visit_date="2025-10-15",
         not_progressed_date="2025-11-01", not_progressed_reason="we had no capacity"),
    dict(reference="TRK-004", enquiry_date="2025-11-03", first_name="Dan", last_name="Dale",
         email="dan@example.org", source="Refer a friend", application_date="2025-11-20"),
    dict(reference="TRK-005", enquiry_date="2026-03-02", first_name="Eve", last_name="Evans",
         email="eve@example.org", area="Northshire"),
    dict(reference="TRK-006", enquiry_date="2025-12-01", first_name="Fay", last_name="Fox",
         email="fay@example.org", campaign="spring radio 2026", area="Northshire",
         withdrawn_date="2025-12-10"),
]  # fmt: skip


def write_csv(path: Path, rows: list[dict], columns: list[str] = COLUMNS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})
    return path


def write_xlsx(path: Path, rows: list[dict]) -> Path:
    """As Excel keeps it: real date cells, and phone numbers typed as numbers."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append([c.replace("_", " ").title() for c in COLUMNS])  # "Enquiry Date" headers
    for row in rows:
        cells = []
        for column in COLUMNS:
            value = row.get(column, "")
            if column.endswith("_date") and value:
                value = datetime.combine(parse_date(value), time(0))  # noqa: DTZ001 - Excel's
            elif column == "phone" and value:
                value = int(value.replace(" ", ""))
            cells.append(value if value != "" else None)
        sheet.append(cells)
    workbook.save(path)
    return path


def counts(session) -> dict[str, int]:
    return {
        model.__name__: session.exec(select(func.count()).select_from(model)).one()
        for model in (m.Household, m.StageEvent, m.Task, m.AuditEvent, m.Activity, m.Carer)
    }


def household(session, reference: str) -> m.Household:
    return session.exec(select(m.Household).where(m.Household.reference == reference)).one()


def events(session, reference: str) -> list[m.StageEvent]:
    return session.exec(
        select(m.StageEvent)
        .where(m.StageEvent.household_id == household(session, reference).id)
        .order_by(m.StageEvent.occurred_at, m.StageEvent.id)
    ).all()


def check_good_import(session) -> None:
    """What the six GOOD_ROWS become, whichever file type they came in."""
    ann = household(session, "TRK-001")
    assert ann.enquiry_channel == m.EnquiryChannel.IMPORT
    assert ann.source_key == "web_search"
    assert ann.stage == m.Stage.APPROVED
    # Noon in London: 11:00 UTC in September (summer time), 12:00 UTC in January.
    assert ann.enquired_at == datetime(2025, 9, 1, 11, tzinfo=UTC)
    assert ann.first_contact_at == datetime(2025, 9, 2, 11, tzinfo=UTC)
    ann_events = events(session, "TRK-001")
    assert [e.to_stage for e in ann_events] == [
        "enquiry", "initial_visit", "application", "stage_one", "stage_two", "panel", "approved",
    ]  # fmt: skip
    assert ann_events[5].occurred_at == datetime(2026, 1, 20, 12, tzinfo=UTC)
    assert {e.actor_label for e in ann_events} == {"import"}
    carer = session.exec(select(m.Carer).where(m.Carer.household_id == ann.id)).one()
    assert carer.approved_on == date(2026, 2, 1)

    ben = household(session, "TRK-002")
    assert ben.area_id is not None and ben.applicants[0].phone == "+447700900123"
    left = events(session, "TRK-002")[-1]
    assert (left.to_stage, left.reason_code, left.reason_text) == ("withdrawn", "finances", None)
    cara = events(session, "TRK-003")[-1]
    assert (cara.to_stage, cara.reason_code, cara.reason_text) == (
        "not_progressed", "other", "we had no capacity",
    )  # fmt: skip
    fay = household(session, "TRK-006")
    assert fay.campaign_id is not None
    assert events(session, "TRK-006")[-1].reason_text == NO_REASON_TEXT

    # Nobody should be asked to call back Dan, who applied in November; nor Eve: she enquired
    # on 2 March, so her call-back was due on the 3rd, before the import (history is history).
    def open_call_backs(reference: str) -> int:
        return session.exec(
            select(func.count())
            .select_from(m.Task)
            .where(
                m.Task.household_id == household(session, reference).id,
                m.Task.kind == m.TaskKind.RESPOND_TO_ENQUIRY,
                m.Task.done_at.is_(None),
            )
        ).one()

    assert [e.to_stage for e in events(session, "TRK-004")] == ["enquiry", "application"]
    assert open_call_backs("TRK-004") == 0
    assert open_call_backs("TRK-005") == 0


def test_import_csv_then_reimport_changes_nothing(session, settings, org, tmp_path):
    path = write_csv(tmp_path / "tracker.csv", GOOD_ROWS)
    report = import_tracker(session, settings, path)
    assert report.imported and not report.problems
    assert [r.status for r in report.results] == ["created"] * 6
    session.expire_all()
    check_good_import(session)
    before = counts(session)
    assert before["Household"] == 6 and before["Carer"] == 1

    again = import_tracker(session, settings, path)
    assert [r.status for r in again.results] == ["unchanged"] * 6
    assert again.summary() == "tracker.csv: 6 rows read; 0 created, 0 updated, 6 unchanged."
    session.expire_all()
    assert counts(session) == before


def test_an_import_leaves_the_lists_their_query_plans(session, settings, org, tmp_path):
    """Rows that arrive by the hundred are analysed at once, as demo data is (issue 16),
    rather than waiting for autovacuum, or forever on SQLite."""
    engine = session.get_bind()
    postgresql = engine.dialect.name == "postgresql"
    last_analysed = (
        "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'household' "
        "AND schemaname = current_schema()"
        if postgresql
        else "SELECT stat FROM sqlite_stat1 WHERE tbl = 'household' LIMIT 1"
    )
    with engine.connect() as connection:
        before = connection.exec_driver_sql(last_analysed).scalar()
    report = import_tracker(session, settings, write_csv(tmp_path / "tracker.csv", GOOD_ROWS))
    assert report.imported
    with engine.connect() as connection:
        after = connection.exec_driver_sql(last_analysed).scalar()
        if postgresql:
            assert after is not None and (before is None or after > before)
        else:
            # sqlite_stat1's first figure is the rows counted: the six households imported.
            assert before is None and after is not None
            counted = after
            assert int(counted.split()[0]) == 6


def test_dry_run_changes_nothing(session, settings, org, tmp_path):
    path = write_csv(tmp_path / "tracker.csv", GOOD_ROWS)
    before = counts(session)
    report = import_tracker(session, settings, path, dry_run=True)
    assert [r.status for r in report.results] == ["would create"] * 6
    assert report.summary() == (
        "tracker.csv: 6 rows read; would create 6, update 0, leave 0 unchanged. "
        "Dry run: nothing was imported."
    )
    session.expire_all()
    assert counts(session) == before


def test_import_excel(session, settings, org, tmp_path):
    path = write_xlsx(tmp_path / "tracker.xlsx", GOOD_ROWS)
    tracker = read_tracker(path)
    assert tracker.rows[1][1]["phone"] == "07700900123"  # the lost leading zero is back
    assert tracker.rows[0][1]["enquiry_date"] == "2025-09-01"
    report = import_tracker(session, settings, path)
    assert [r.status for r in report.results] == ["created"] * 6, report.problems
    session.expire_all()
    check_good_import(session)
    assert [r.status for r in import_tracker(session, settings, path).results] == ["unchanged"] * 6


def test_updated_tracker_applies_only_what_is_new(session, settings, org, tmp_path):
    import_tracker(session, settings, write_csv(tmp_path / "v1.csv", GOOD_ROWS))
    # Meanwhile, staff moved Dan on in the CRM.
    dan = household(session, "TRK-004")
    move_stage(session, Actor.system("test"), dan.id, "stage_one", occurred_at=datetime(
        2026, 1, 5, 12, tzinfo=UTC))  # fmt: skip
    rows = [dict(r) for r in GOOD_ROWS]
    rows[4].update(first_contact_date="2026-03-03", initial_visit_date="2026-03-05")  # Eve
    rows[1].update(withdrawn_date="2025-09-21")  # Ben: disagrees with the CRM
    rows.append(
        dict(reference="TRK-007", enquiry_date="2026-02-02", first_name="Gus",
             last_name="Grey", email="gus@example.org")
    )  # fmt: skip
    before = counts(session)
    report = import_tracker(session, settings, write_csv(tmp_path / "v2.csv", rows))
    status = {r.reference: (r.status, r.detail) for r in report.results}
    assert status["TRK-005"] == (
        "updated", "adds initial visit 05/03/2026; records first contact 03/03/2026",
    )  # fmt: skip
    assert status["TRK-002"][0] == "conflict"
    assert "but the CRM has withdrawn 20/09/2025" in status["TRK-002"][1]
    assert status["TRK-004"] == ("unchanged", "already imported; the CRM has moved on since")
    assert status["TRK-007"][0] == "created"
    assert {s for s, _ in status.values()} == {"updated", "conflict", "unchanged", "created"}
    session.expire_all()
    eve = household(session, "TRK-005")
    assert eve.stage == m.Stage.INITIAL_VISIT
    assert eve.first_contact_at == datetime(2026, 3, 3, 12, tzinfo=UTC)
    # Ben's history is as it was; Dan keeps the CRM's move.
    assert events(session, "TRK-002")[-1].occurred_at == datetime(2025, 9, 20, 11, tzinfo=UTC)
    assert household(session, "TRK-004").stage == m.Stage.STAGE_ONE
    after = counts(session)
    assert after["Household"] == before["Household"] + 1
    # Eve: one stage event; Gus: his enquiry event.
    assert after["StageEvent"] == before["StageEvent"] + 2
    # And once more: nothing new.
    third = import_tracker(session, settings, write_csv(tmp_path / "v2.csv", rows))
    assert third.count("updated") == third.count("created") == 0


BAD_ROWS = [
    dict(reference="", enquiry_date="31/02/2025", first_name="Al", last_name="One",
         email="not-an-email"),
    dict(reference="BAD-2", enquiry_date="2025-10-20", first_name="Bo", last_name="Two",
         email="bo@example.org", initial_visit_date="2025-10-10",
         withdrawn_date="2025-11-01", not_progressed_date="2025-11-02"),
    dict(reference="BAD-3", enquiry_date="2025-10-01", first_name="Cy", last_name="Three",
         email="cy@example.org", area="Westshire", source="Facebook", campaign="Nope"),
    dict(reference="BAD-4", enquiry_date="2025-10-01", first_name="Di", last_name="Four",
         email="di@example.org", approval_date="2026-01-10", withdrawn_date="2026-02-01",
         stage_two_date="2026-04-01"),
    dict(reference="OK-5", enquiry_date="2025-10-01", first_name="Ed", last_name="Five",
         email="ed@example.org", initial_visit_date="2025-10-09"),
    dict(reference="BAD-6", enquiry_date="2025-10-05", first_name="", last_name="Six",
         phone="12345", first_contact_date="2025-10-01"),
    dict(reference="BAD-7", enquiry_date="2025-10-05", first_name="Gi", last_name="Seven",
         email="gi@example.org", withdrawn_reason="moved away"),
    dict(reference="bad-3", enquiry_date="2025-10-05", first_name="Hu", last_name="Eight",
         email="hu@example.org"),
]  # fmt: skip
EXPECTED_PROBLEMS = {
    (2, "reference"),
    (2, "enquiry_date"),
    (2, "email"),
    (3, "initial_visit_date"),
    (3, "not_progressed_date"),
    (4, "area"),
    (4, "source"),
    (4, "campaign"),
    (5, "stage_two_date"),
    (5, "withdrawn_date"),
    (7, "first_name"),
    (7, "phone"),
    (7, "first_contact_date"),
    (8, "withdrawn_reason"),
    (9, "reference"),
}


def test_bad_file_lists_every_problem_and_imports_nothing(session, settings, org, tmp_path):
    before = counts(session)
    report = import_tracker(session, settings, write_csv(tmp_path / "bad.csv", BAD_ROWS))
    assert not report.imported
    assert {(p.row, p.column) for p in report.problems} == EXPECTED_PROBLEMS
    messages = {(p.row, p.column): p.message for p in report.problems}
    assert messages[(2, "enquiry_date")] == "'31/02/2025' is not a real date"
    assert messages[(3, "initial_visit_date")] == (
        "10/10/2025 is before the enquiry_date (20/10/2025)"
    )
    assert messages[(4, "area")] == (
        "Unknown area 'Westshire'. Areas are: Northshire, Southshire. Map it to one, or to "
        "other (the hub's triage queue), in the mapping's [values.area]"
    )
    assert messages[(4, "source")].startswith("Unknown source 'Facebook'. Use one of: ")
    assert messages[(5, "stage_two_date")] == "01/04/2026 is in the future"
    assert messages[(5, "withdrawn_date")] == (
        "An approved household leaves by deregistration, not here"
    )
    assert messages[(9, "reference")] == "The same reference is on row 4"
    assert report.invalid_rows == 7
    assert report.summary() == (
        "bad.csv: 7 of 8 rows have problems; nothing was imported. Fix them, or use "
        "--skip-invalid to import the rest."
    )
    session.expire_all()
    assert counts(session) == before


def test_skip_invalid_imports_the_good_rows(session, settings, org, tmp_path):
    report = import_tracker(
        session, settings, write_csv(tmp_path / "bad.csv", BAD_ROWS), skip_invalid=True
    )
    assert report.imported
    assert [(r.row, r.reference, r.status) for r in report.results] == [(6, "OK-5", "created")]
    assert {(p.row, p.column) for p in report.problems} == EXPECTED_PROBLEMS
    assert "1 created" in report.summary() and "7 skipped as invalid" in report.summary()
    session.expire_all()
    assert [h.reference for h in session.exec(select(m.Household)).all()] == ["OK-5"]


def test_duplicates_are_reported_not_merged(session, settings, org, tmp_path):
    kim = make_history(
        session, settings, first_name="Kim", email="kim@example.org",
        enquired_at=datetime(2026, 1, 5, 12, tzinfo=UTC),
    )  # fmt: skip

    def kims_activities() -> int:
        return session.exec(
            select(func.count()).select_from(m.Activity).where(m.Activity.household_id == kim.id)
        ).one()

    kim_before = (len(events(session, kim.reference)), kims_activities())
    rows = [
        dict(reference="DUP-1", enquiry_date="2025-06-01", first_name="Kim", last_name="Lee",
             email="KIM@example.org", initial_visit_date="2025-06-10"),
        dict(reference="DUP-2", enquiry_date="2025-06-01", first_name="Lou", last_name="Ng",
             phone="07700 900555"),
        dict(reference="DUP-3", enquiry_date="2025-07-01", first_name="Lou", last_name="Ng",
             phone="+44 7700 900555", initial_visit_date="2025-07-08"),
    ]  # fmt: skip
    report = import_tracker(session, settings, write_csv(tmp_path / "dups.csv", rows))
    results = {r.reference: r for r in report.results}
    assert results["DUP-1"].status == "duplicate"
    assert results["DUP-1"].detail == (
        f"the same email as household {kim.reference} (Kim Tester); not imported"
    )
    assert results["DUP-2"].status == "created"
    assert (results["DUP-3"].status, results["DUP-3"].detail) == (
        "duplicate", "the same phone and a similar name as row 3 (Lou Ng); not imported",
    )  # fmt: skip
    session.expire_all()
    # Kim's own history was not touched.
    assert (len(events(session, kim.reference)), kims_activities()) == kim_before
    assert household(session, kim.reference).stage == m.Stage.ENQUIRY


def test_files_that_cannot_be_read(tmp_path):
    with pytest.raises(TrackerError, match="no column for enquiry_date, last_name in the header"):
        read_tracker(write_csv(tmp_path / "t.csv", [], ["reference", "first_name", "email"]))
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(TrackerError, match="save it as .xlsx"):
        read_tracker(tmp_path / "old.xls")
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    with pytest.raises(TrackerError, match="the file is empty"):
        read_tracker(tmp_path / "empty.csv")
    (tmp_path / "fake.xlsx").write_text("not a workbook", encoding="utf-8")
    with pytest.raises(TrackerError, match="not a readable Excel workbook"):
        read_tracker(tmp_path / "fake.xlsx")


def test_windows_csv_with_semicolons_and_extra_columns(tmp_path):
    path = tmp_path / "excel.csv"
    text = "Reference;Enquiry Date;First name;Last name;Email;Notes\r\n"
    text += "W-1;01/10/2025;Zoë;Brontë;zoe@example.org;likes teenagers\r\n"
    path.write_bytes(text.encode("cp1252"))
    tracker = read_tracker(path)
    assert tracker.ignored_columns == ["Notes"]
    number, row = tracker.rows[0]
    assert (number, row["first_name"], row["last_name"]) == (2, "Zoë", "Brontë")


def run_cli(url: str, *args: str):
    return CliRunner().invoke(main, list(args), env={"FOSTERCRM_DATABASE_URL": url})


def test_cli_import(database_url, session, org, tmp_path):
    bad = run_cli(database_url, "import", "tracker", str(write_csv(tmp_path / "b.csv", BAD_ROWS)))
    assert bad.exit_code == 1
    assert "Row 2, enquiry_date: '31/02/2025' is not a real date" in bad.output
    assert bad.output.strip().splitlines()[-1] == (
        "Error: b.csv: 7 of 8 rows have problems; nothing was imported. Fix them, or use "
        "--skip-invalid to import the rest."
    )
    assert session.exec(select(func.count()).select_from(m.Household)).one() == 0

    good = write_csv(tmp_path / "g.csv", GOOD_ROWS)
    ok = run_cli(database_url, "import", "tracker", str(good))
    assert ok.exit_code == 0, ok.output
    assert ok.output.strip().splitlines()[-1] == (
        "g.csv: 6 rows read; 6 created, 0 updated, 0 unchanged."
    )
    # What it decided on its own is said, not silent.
    assert "Filed under other, with the file's words kept: not_progressed_reason " in ok.output
    again = run_cli(database_url, "import", "tracker", "-v", str(good))
    assert again.exit_code == 0
    assert "Row 2 (TRK-001): unchanged – already imported" in again.output

    dry = run_cli(database_url, "import", "tracker", "--dry-run", str(good))
    assert dry.exit_code == 0
    assert dry.output.strip().splitlines()[-1] == (
        "g.csv: 6 rows read; would create 0, update 0, leave 6 unchanged. "
        "Dry run: nothing was imported."
    )

    skipped = run_cli(
        database_url, "import", "tracker", "--skip-invalid", str(write_csv(tmp_path / "s.csv",
                                                                           BAD_ROWS))
    )  # fmt: skip
    assert skipped.exit_code == 0, skipped.output
    assert "7 skipped as invalid" in skipped.output

    missing = run_cli(database_url, "import", "tracker", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 2 and "does not exist" in missing.output
