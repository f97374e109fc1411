"""Trackers shaped like real ones (tests/crm/imports/trackers.py), imported through the one
engine, and the funnel they give afterwards, against numbers worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from click.testing import CliRunner
from sqlmodel import func, select

import crm.models as m
from crm.cli import main
from crm.services.imports.columns import TrackerError
from crm.services.imports.mapping import ImportMapping
from crm.services.imports.tracker import import_tracker
from funnel import metrics
from funnel.load import load_funnel_data
from funnel.periods import Period
from tests.crm.imports import trackers


def funnel(session, year: int) -> dict[str, int]:
    data = load_funnel_data(session)
    table = metrics.cohort_funnel(data, Period(date(year, 1, 1), date(year, 12, 31)))
    return {stage: int(n) for stage, n in table["reached"].items()}


def drop_reasons(session, year: int, outcome: str) -> dict[str, int]:
    data = load_funnel_data(session)
    drops = metrics.drop_off(metrics.cohort(data, Period(date(year, 1, 1), date(year, 12, 31))))
    return metrics.by_reason(drops, outcome)


def household(session, reference: str) -> m.Household:
    return session.exec(select(m.Household).where(m.Household.reference == reference)).one()


def events(session, reference: str) -> list[m.StageEvent]:
    return session.exec(
        select(m.StageEvent)
        .where(m.StageEvent.household_id == household(session, reference).id)
        .order_by(m.StageEvent.occurred_at, m.StageEvent.id)
    ).all()


def count(session, model, *where) -> int:
    return session.exec(select(func.count()).select_from(model).where(*where)).one()


@pytest.fixture
def harrowdale(tmp_path):
    path = trackers.write_harrowdale(tmp_path / "harrowdale.xlsx")
    mapping = tmp_path / "harrowdale.toml"
    mapping.write_text(trackers.HARROWDALE_MAPPING, encoding="utf-8")
    return path, mapping


def test_two_year_workbook_with_a_read_me_sheet_and_team_names(session, settings, org, harrowdale):
    path, mapping_file = harrowdale
    mapping = ImportMapping.from_toml(mapping_file)
    dry = import_tracker(session, settings, path, mapping=mapping, dry_run=True)
    assert dry.dry_run and not dry.problems
    assert count(session, m.Household) == 0
    statuses = {r.reference: r.status for r in dry.results}
    assert statuses["H-007"] == statuses["H-010"] == "duplicate"
    assert [s for s in statuses.values()].count("would create") == 10
    assert "Sheet 'Read me' not imported (no header row)" in dry.explanations()
    assert "Would add campaign 'Spring 2023' (2 rows)" in dry.explanations()
    assert "Columns not used: Notes" in dry.explanations()

    report = import_tracker(session, settings, path, mapping=mapping)
    assert report.imported, report.problems
    results = {r.reference: r for r in report.results}
    assert results["H-007"].detail == (
        "the same phone and a similar name as row 9 (Sam Okafor); not imported"
    )
    assert results["H-010"].detail == "the same email as row 4 (Amy Adams); not imported"
    assert results["H-009"].status == "created"
    assert "shares a phone number with row 11 (John Smith), a different name" in (
        results["H-009"].detail
    )
    assert str(results["H-101"]).startswith("Sheet '2024', row 2 (H-101): created")
    session.expire_all()

    assert funnel(session, 2023) == trackers.HARROWDALE_FUNNEL_2023
    assert funnel(session, 2024) == trackers.HARROWDALE_FUNNEL_2024
    assert drop_reasons(session, 2023, "withdrawn") == {"finances": 1, "space": 1, "other": 1}
    assert drop_reasons(session, 2024, "withdrawn") == {"finances": 1}
    by_source = {}
    for h in session.exec(select(m.Household)).all():
        if h.enquired_at.year == 2023:
            by_source[h.source_key] = by_source.get(h.source_key, 0) + 1
    assert by_source == {
        "council_website": 2, "social_media": 2, "web_search": 1, "refer_a_friend": 3,
    }  # fmt: skip

    # The tracker's dates, at noon in London, on every stage event.
    bob = events(session, "H-002")
    assert [(e.to_stage, e.occurred_at) for e in bob] == [
        ("enquiry", datetime(2023, 2, 1, 12, tzinfo=UTC)),
        ("initial_visit", datetime(2023, 2, 14, 12, tzinfo=UTC)),
        ("withdrawn", datetime(2023, 3, 1, 12, tzinfo=UTC)),
    ]
    assert (bob[-1].reason_code, bob[-1].reason_text) == ("finances", None)
    dev = events(session, "H-004")
    assert dev[0].occurred_at == datetime(2023, 3, 1, 12, tzinfo=UTC)  # Excel's 44986
    assert (dev[-1].reason_code, dev[-1].reason_text) == ("other", "Changed mind")
    amy = household(session, "H-001")
    assert amy.stage == m.Stage.APPROVED and amy.area_id == org.north.id
    assert (
        amy.campaign_id
        == session.exec(select(m.Campaign.id).where(m.Campaign.name == "Spring 2023")).one()
    )
    carer = session.exec(select(m.Carer).where(m.Carer.household_id == amy.id)).one()
    assert carer.approved_on == date(2023, 9, 21)

    # History is history: nobody is asked to call back people from 2023 and 2024.
    assert count(session, m.Task) == 0
    marks = session.exec(
        select(m.Activity.summary).where(
            m.Activity.household_id == amy.id, m.Activity.kind == m.ActivityKind.IMPORTED
        )
    ).all()
    assert marks == ["Imported from harrowdale.xlsx, sheet '2023', row 4"]
    assert count(session, m.Activity, m.Activity.kind == m.ActivityKind.IMPORTED) == 10
    assert count(session, m.AuditEvent, m.AuditEvent.entity == "household") == 10

    # The same file again: nothing new.
    again = import_tracker(session, settings, path, mapping=mapping)
    assert again.count("created") == again.count("updated") == 0
    session.expire_all()
    assert count(session, m.Household) == 10


def test_without_a_mapping_the_values_stop_the_rows_and_nothing_is_imported(
    session, settings, org, harrowdale
):
    path, _ = harrowdale
    with pytest.raises(TrackerError, match="2 sheets that look like trackers .'2023', '2024'."):
        import_tracker(session, settings, path)
    report = import_tracker(session, settings, path, mapping=ImportMapping(sheet="2023"))
    assert not report.imported
    messages = {(p.row, p.column): p.message for p in report.problems}
    assert messages[(5, "source")].startswith("Unknown source 'Facebook'.")
    assert messages[(4, "campaign")] == (
        "Unknown campaign 'Spring 2023'. Map it in the mapping's [values.campaign], file it "
        "under other, or add it with --create-missing"
    )
    # Reasons in the team's words are kept under "other", and said so ("Changed mind" is the
    # list's changed_mind, by its code).
    assert (
        "Filed under other, with the file's words kept: withdrawn_reason "
        "'Financial reasons' (1), 'Not enough space at home' (1)"
    ) in report.explanations()
    assert (
        "Stage 1 start: every date could be day or month first (such as 01/03/2023): read day "
        "first, the UK way; say month-first in the mapping's [dates] if the file is American"
    ) in report.explanations()
    assert count(session, m.Household) == 0


def test_an_unmapped_column_of_dates_stops_the_import_until_mapped_or_ignored(
    session, settings, org, tmp_path
):
    path = tmp_path / "t.csv"
    path.write_text(
        "Ref,Date of enquiry,Name,Email,Skills to Foster,Stage 3 start,Favourite colour\n"
        "A-1,01/02/2024,Kim Lee,kim@example.org,14/03/2024,,blue\n",
        encoding="utf-8",
    )
    with pytest.raises(TrackerError) as caught:
        import_tracker(session, settings, path)
    assert str(caught.value) == (
        "t.csv: 'Skills to Foster' (column E) is named like a stage ('skills to foster') but "
        "is not mapped; 'Stage 3 start' (column F) is named like a stage ('stage') but is not "
        "mapped. Map each one to a column, or ignore it, in the mapping file ([columns])"
    )
    mapping = ImportMapping.from_dict(
        {"columns": {"Skills to Foster": "ignore", "stage 3 start": "ignore"}}
    )
    report = import_tracker(session, settings, path, mapping=mapping)
    assert report.count("created") == 1
    assert report.ignored_columns == ["Skills to Foster", "Stage 3 start", "Favourite colour"]
    # A column holding dates under an innocent name is caught by its cells.
    path.write_text(
        "Ref,Date of enquiry,Name,Email,Team column\nA-2,01/02/2024,Al Ng,al@example.org,"
        "3 Mar 24\n",
        encoding="utf-8",
    )
    with pytest.raises(TrackerError, match="'Team column' .column E. holds dates but is not"):
        import_tracker(session, settings, path)


def test_windows_csv_with_title_rows_and_create_missing(database_url, session, org, tmp_path):
    path = tmp_path / "kingsmere.csv"
    path.write_bytes(trackers.KINGSMERE_CSV.encode("cp1252"))
    run = CliRunner().invoke(
        main,
        ["import", "tracker", "--dry-run", str(path)],
        env={"FOSTERCRM_DATABASE_URL": database_url},
    )
    assert run.exit_code == 0, run.output
    assert "Row 4, source: Unknown source 'Radio Kingsmere'." in run.output
    assert run.output.strip().splitlines()[-1] == (
        "kingsmere.csv: 4 rows read; would create 1, update 0, leave 0 unchanged, 3 invalid. "
        "Dry run: nothing was imported."
    )
    run = CliRunner().invoke(
        main,
        ["import", "tracker", "--create-missing", str(path)],
        env={"FOSTERCRM_DATABASE_URL": database_url},
    )
    assert run.exit_code == 0, run.output
    assert "Added source 'Radio Kingsmere' (2 rows)" in run.output
    assert "Added not-progressed reason 'Capacity – no assessor free' (1 row)" in run.output
    session.expire_all()
    assert funnel(session, 2025) == trackers.KINGSMERE_FUNNEL
    zoe = household(session, "K-1")
    assert zoe.applicants[0].first_name == "Zoë" and zoe.applicants[0].last_name == "Brontë"
    radio = session.exec(select(m.Source).where(m.Source.label == "Radio Kingsmere")).one()
    assert zoe.source_key == radio.key == "radio_kingsmere"
    sean = events(session, "K-2")[-1]
    assert sean.to_stage == "not_progressed"
    reason = session.exec(
        select(m.Reason).where(m.Reason.kind == "not_progressed", m.Reason.code == sean.reason_code)
    ).one()
    assert reason.label == "Capacity – no assessor free"
    assert drop_reasons(session, 2025, "not_progressed") == {reason.code: 1}


def test_a_mapping_file_with_a_mistake_is_one_line(database_url, org, tmp_path, harrowdale):
    path, _ = harrowdale
    bad = tmp_path / "bad.toml"
    bad.write_text('[columns]\n"IV date" = "home_visit"\n', encoding="utf-8")
    run = CliRunner().invoke(
        main,
        ["import", "tracker", "--mapping", str(bad), str(path)],
        env={"FOSTERCRM_DATABASE_URL": database_url},
    )
    assert run.exit_code == 1
    assert run.output.startswith(
        "Error: the mapping puts 'IV date' into 'home_visit', which is not a column"
    )
    assert len(run.output.strip().splitlines()) == 1
    bad.write_text('[values.source]\n"Facebook" = "Socials"\n', encoding="utf-8")
    run = CliRunner().invoke(
        main,
        ["import", "tracker", "--mapping", str(bad), "--sheet", "2023", str(path)],
        env={"FOSTERCRM_DATABASE_URL": database_url},
    )
    assert run.exit_code == 1
    assert run.output.strip() == (
        "Error: the mapping's [values.source] names 'Socials', which is not in the CRM's "
        "list of sources"
    )
