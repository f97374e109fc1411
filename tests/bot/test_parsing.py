"""Reading what people type: names, contact details, postcodes, yes and no, days and times."""

from __future__ import annotations

from datetime import date, time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import parsing

TODAY = date(2026, 3, 10)  # a Tuesday


@pytest.mark.parametrize(
    ("text", "days", "at"),
    [
        ("thursday 11am please", (date(2026, 3, 12),), time(11, 0)),
        ("Thu 12 Mar, 11am", (date(2026, 3, 12),), time(11, 0)),
        ("wed 11 mar 9:30am", (date(2026, 3, 11),), time(9, 30)),
        ("tomorrow at 2", (date(2026, 3, 11),), time(14, 0)),
        ("half 2 on friday", (date(2026, 3, 13),), time(14, 30)),
        ("next thursday", (date(2026, 3, 19),), None),
        ("12/3 at 12:30", (date(2026, 3, 12),), time(12, 30)),
        ("monday 16th march", (date(2026, 3, 16),), None),
        ("sat morning", (date(2026, 3, 14),), None),
        ("7pm", (), time(19, 0)),
    ],
)
def test_days_and_times(text, days, at):
    when = parsing.parse_when(text, TODAY)
    assert when is not None and when.days == days and when.at == at


def test_weeks_parts_of_the_day_and_the_past():
    week = parsing.parse_when("can we do next week", TODAY)
    assert (week.first_day, week.last_day) == (date(2026, 3, 16), date(2026, 3, 22))
    assert parsing.parse_when("any evening after 6", TODAY).after == time(18, 0)
    assert parsing.parse_when("thursday afternoon", TODAY).part == "afternoon"
    assert parsing.parse_when("the 2nd of march", TODAY).past
    # Words that only look like days or times.
    assert parsing.parse_when("I sat down and thought about it", TODAY) is None
    assert parsing.parse_when("i am free", TODAY) is None
    assert parsing.parse_when("we have 3 kids", TODAY) is None


def test_names_contacts_and_postcodes_from_one_message():
    found = parsing.find_details("Sam Patel, sam@example.com, LE1 6ZG", name_expected=True)
    assert (found.name, found.email, found.postcode) == (
        ("Sam", "Patel"),
        "sam@example.com",
        "LE1 6ZG",
    )
    found = parsing.find_details("my name is Sam O'Brien and my number is 07700 900982")
    assert found.name == ("Sam", "O'Brien") and found.phone == "+447700900982"
    assert parsing.find_details("hello", name_expected=True).name is None
    assert parsing.find_details("thank you", name_expected=True).name is None
    assert parsing.find_details("sam@").email is None


def test_yes_no_leaving_resuming_and_changes_to_a_visit():
    assert parsing.yes_no("Yes, that's fine!") is True
    assert parsing.yes_no("no thank you") is False
    assert parsing.yes_no("yes but not now") is None
    assert parsing.wants_to_resume("ok, can we carry on booking")
    assert parsing.visit_change("actually we need to cancel it sorry") == "cancel"
    assert parsing.visit_change("something came up, can we rearrange") == "move"
    assert parsing.none_suit("none of those work for us")
    assert parsing.slot_choice("the second one please", ["a", "b"]) == 1
    assert parsing.slot_choice("Wed 11 Mar, 9:30am", ["Wed 11 Mar, 9:30am"]) == 0


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=200))
def test_nothing_typed_breaks_the_parsers(text):
    parsing.parse_when(text, TODAY)
    parsing.find_details(text, name_expected=True)
    parsing.slot_choice(text, ["Wed 11 Mar, 9:30am", "Thu 12 Mar, 11am"])
    parsing.yes_no(text)
    parsing.visit_change(text)
    parsing.none_suit(text)
