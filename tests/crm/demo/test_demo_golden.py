"""The demo keeps its shape while its load path changes: the same rows per table and the same
households per stage as the golden summary taken from main before the bulk-path work, and
households waiting at every assessment step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crm.models import Stage
from tests.crm.demo.demo_summary import build

GOLDEN = Path(__file__).with_name("golden_demo_summary.json")
ASSESSMENT_STEPS = [Stage.APPLICATION, Stage.STAGE_ONE, Stage.STAGE_TWO, Stage.PANEL]


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, int]]:
    return build(tmp_path_factory.mktemp("demo"))


def test_same_rows_per_table_and_households_per_stage_as_golden(summary):
    golden = json.loads(GOLDEN.read_text())
    assert summary["rows"] == golden["rows"]
    assert summary["stages"] == golden["stages"]


@pytest.mark.parametrize("step", ASSESSMENT_STEPS, ids=lambda s: s.value)
def test_households_wait_at_every_assessment_step(summary, step):
    assert summary["stages"].get(step.value, 0) >= 1
