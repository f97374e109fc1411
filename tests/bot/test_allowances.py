"""The money answer: the national minimum allowance for the service's region band and year,
from settings, saying which band and year it quotes and that the team confirms its own rates."""

from __future__ import annotations

import pytest

from bot.knowledge import answer_values, load_knowledge, render
from crm.settings import SettingsError, load_settings
from crm.testing.fixtures import make_test_settings

# DfE national minimum allowance 2025-26, rest of England (see ../shared/DOMAIN.md).
PUBLISHED_2025_26_REST_OF_ENGLAND = (170, 176, 194, 220, 258)


def _answer(settings) -> str:
    return render(load_knowledge().get("allowances").answer, answer_values(settings))


def test_the_defaults_are_the_published_2025_26_rates_for_the_rest_of_england():
    allowances = make_test_settings().allowances
    assert (allowances.band, allowances.year) == ("rest_of_england", "2025-26")
    figures = (
        allowances.weekly_0_to_2,
        allowances.weekly_3_to_4,
        allowances.weekly_5_to_10,
        allowances.weekly_11_to_15,
        allowances.weekly_16_to_17,
    )
    assert figures == PUBLISHED_2025_26_REST_OF_ENGLAND


def test_the_answer_names_the_band_and_year_and_that_the_team_confirms():
    text = _answer(make_test_settings())
    assert "2025-26" in text
    assert "England outside London and the South East" in text
    assert "£170" in text and "£258" in text
    assert "will confirm" in text


def test_a_london_service_quotes_london(monkeypatch):
    settings = load_settings(
        environ={
            "FOSTERCRM_ALLOWANCES_BAND": "london",
            "FOSTERCRM_ALLOWANCES_WEEKLY_0_TO_2": "198",
            "FOSTERCRM_ALLOWANCES_WEEKLY_16_TO_17": "299",
        },
        database={"url": "sqlite://"},
    )
    text = _answer(settings)
    assert "in London" in text and "£198" in text and "£299" in text
    assert "outside London" not in text


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FOSTERCRM_ALLOWANCES_BAND", "scotland", "allowances.band"),
        ("FOSTERCRM_ALLOWANCES_YEAR", "2025", "allowances.year"),
        ("FOSTERCRM_ALLOWANCES_YEAR", "2025-27", "financial year"),
    ],
)
def test_a_wrong_band_or_year_stops_start_up_with_one_line(name, value, message):
    with pytest.raises(SettingsError, match=message) as exc:
        load_settings(environ={name: value}, database={"url": "sqlite://"})
    assert "\n" not in str(exc.value)
