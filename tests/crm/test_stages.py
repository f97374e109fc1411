"""The stage table (crm.stages): one row per stage, and everything that reads stages agrees
with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm import stages
from crm.models import Stage
from crm.models import base as model_base
from crm.services import households, pipeline
from crm.services.imports import columns as importer
from crm.services.reminders import stalled
from crm.settings import StageTargetDays
from crm.web import create_app

ROOT_STATIC = Path(__file__).resolve().parents[2] / "crm" / "web" / "static"


def test_every_stage_has_exactly_one_row_and_every_row_is_a_stage():
    keys = [row.key for row in stages.STAGES]
    assert sorted(keys) == sorted(stage.value for stage in Stage)
    assert len(keys) == len(set(keys))
    for stage in Stage:
        assert stages.row(stage).key == stage.value


def test_every_group_is_declared_and_every_row_has_known_groups_and_a_tag_colour():
    # GOV.UK Frontend 6's tag colours (the stylesheet check is below).
    colours = {"grey", "green", "teal", "turquoise", "purple", "magenta", "pink", "red"}
    colours |= {"orange", "yellow"}
    for row in stages.STAGES:
        assert row.groups <= stages.GROUPS, row.key
        assert row.colour in colours, row.key
    for name in stages.GROUPS:
        assert stages.group(name), name
    with pytest.raises(KeyError, match="no stage group 'funel'"):
        stages.group("funel")


def test_the_funnel_is_the_enum_s_first_seven_in_order():
    assert Stage.in_group("funnel") == tuple(Stage)[:7]
    assert [s.funnel_index for s in Stage.in_group("funnel")] == list(range(7))
    assert Stage.ON_HOLD.funnel_index is None


def test_the_models_constants_are_the_table_s():
    # The funnel and the importer still read these (until they move to crm.stages).
    assert Stage.in_group("funnel") == model_base.FUNNEL_STAGES
    assert frozenset(Stage.in_group("closed")) == model_base.CLOSED_STAGES
    assert model_base.STAGES_NEEDING_REASON == model_base.CLOSED_STAGES
    assert {s: stages.row(s).label for s in Stage} == model_base.STAGE_LABELS
    assert Stage.STAGE_TWO.label == "Stage two"


def test_the_board_the_pipeline_and_the_household_pages_read_the_table():
    assert (*Stage.in_group("funnel"), Stage.ON_HOLD) == households.BOARD_STAGES
    assert Stage.in_group("board") == households.BOARD_STAGES
    assert {Stage.WITHDRAWN, Stage.NOT_PROGRESSED, Stage.DEREGISTERED} == pipeline.CLOSED_STAGES
    assert {s: k.value for s, k in pipeline.REASON_LISTS.items()} == {
        Stage.WITHDRAWN: "withdrawn",
        Stage.NOT_PROGRESSED: "not_progressed",
        Stage.DEREGISTERED: "deregistered",
        Stage.ON_HOLD: "on_hold",
    }


def test_the_target_days_settings_are_the_ones_the_table_names(settings):
    named = {row.target_days_setting for row in stages.STAGES} - {None}
    assert named == set(StageTargetDays.model_fields)
    assert stages.target_days(settings, Stage.STAGE_ONE) == settings.stage_target_days.stage_one
    assert stages.target_days(settings, Stage.APPROVED) is None
    assert stages.target_days(settings, "withdrawn") is None


def test_the_tracker_columns_are_the_importer_s():
    columns = {
        row.key: row.tracker_column for row in stages.STAGES if row.tracker_column is not None
    }
    expected = {stage.value: column for column, stage in importer.STAGE_COLUMNS.items()}
    expected |= {stage.value: dates for stage, (dates, _) in importer.LEAVING_COLUMNS.items()}
    expected["enquiry"] = "enquiry_date"
    assert columns == expected
    assert set(columns.values()) <= set(importer.COLUMNS)


def test_the_stage_tag_macro_takes_its_colour_and_label_from_the_table(settings, engine):
    app = create_app(settings, engine=engine, secret_key="test-secret-key-0123456789abcdef")
    template = app.jinja_env.from_string(
        '{% from "macros/ui.html" import stage_tag %}{{ stage_tag(stage) }}'
    )
    with app.test_request_context():
        for stage in Stage:
            html = template.render(stage=stage.value)
            row = stages.row(stage)
            assert f'class="govuk-tag govuk-tag--{row.colour}">{row.label}</strong>' in html
        assert "govuk-tag--grey" in template.render(stage="something_else")


def test_the_reminders_groups_are_the_table_s():
    assert frozenset(Stage.in_group("nudge")) == stalled.NUDGE_STAGES
    assert {
        Stage.ENQUIRY,
        Stage.INITIAL_VISIT,
        Stage.APPLICATION,
        Stage.ON_HOLD,
    } == stalled.NUDGE_STAGES
    assert Stage.in_group("stall") == (
        Stage.ENQUIRY,
        Stage.INITIAL_VISIT,
        Stage.APPLICATION,
        Stage.STAGE_ONE,
        Stage.STAGE_TWO,
        Stage.PANEL,
        Stage.ON_HOLD,
    )
    assessment = (Stage.APPLICATION, Stage.STAGE_ONE, Stage.STAGE_TWO, Stage.PANEL)
    assert Stage.in_group("assessment") == assessment
    assert Stage.in_group("applied") == (*assessment, Stage.APPROVED)


def test_every_stage_colour_is_one_govuk_frontend_ships():
    css = (ROOT_STATIC / "govuk-frontend" / "govuk-frontend.min.css").read_text(encoding="utf-8")
    for row in stages.STAGES:
        assert f"govuk-tag--{row.colour}" in css, row.key
    journey = [stages.row(key).colour for key in stages.group("funnel")]
    # Each stage of the journey to approval has a colour of its own.
    assert len(set(journey)) == len(journey)
