"""The words sent at once when a message suggests a child may be at risk: for an adult, 999 and
the local children's services front door; for a child writing about themselves, a reply written
for a child (not in trouble, deserve to be safe, 999, Childline, an adult they trust, children's
services). The wording lives in bot/data/safeguarding_replies.toml, never in the knowledge base
that the admin page edits."""

from __future__ import annotations

import re
import tomllib

import pytest

from bot import safeguarding
from bot.knowledge import answer_values
from crm.testing.fixtures import make_test_settings

NORTH = {"area_label": "Northshire", "childrens_services_phone": "0116 305 0005"}


def signal(about_self: bool) -> safeguarding.Signal:
    return safeguarding.Signal("test", "", "physical_abuse", about_self, 0.99)


def test_an_adult_is_told_999_and_the_front_door_at_once():
    text = safeguarding.reply_for(signal(False), NORTH)
    first = text.split("\n\n")[0]
    assert "999" in first and "immediate danger" in first
    assert "Northshire children's services on 0116 305 0005" in text
    assert "0800 1111" in text  # in case it is a child after all
    assert "{" not in text


def test_a_child_gets_a_reply_written_for_a_child():
    text = safeguarding.reply_for(signal(True), NORTH)
    lowered = text.lower()
    for words in (
        "you are not in trouble",
        "you deserve to be safe",
        "999",
        "childline",
        "0800 1111",
        "childline.org.uk",
        "free",
        "any time",
        "teacher",
        "adult you trust",
        "0116 305 0005",
        "northshire children's services",
    ):
        assert words in lowered, words
    # Short sentences in plain words, no jargon.
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text) if s]
    assert max(len(s.split()) for s in sentences) <= 16
    assert len(text.split()) <= 100
    for jargon in ("safeguarding", "immediate", "referral", "neglect", "abuse", "front door"):
        assert jargon not in lowered
    assert text.index("999") < text.index("0800 1111")


def test_the_words_follow_who_is_writing():
    child = safeguarding.detect("i'm 12 and my dad hits me every night")
    adult = safeguarding.detect("my neighbour hits his little boy, i can hear it now")
    assert child is not None and child.about_self
    assert adult is not None and not adult.about_self
    assert "not in trouble" in safeguarding.reply_for(child, NORTH)
    assert "not in trouble" not in safeguarding.reply_for(adult, NORTH)


def test_without_an_area_the_service_number_is_given_in_good_sentences():
    settings = make_test_settings()
    values = answer_values(settings)
    for about_self in (False, True):
        text = safeguarding.reply_for(signal(about_self), values)
        assert settings.service.childrens_services_phone in text
        assert "your local children's services" in text.lower()
        assert all(p[0].isupper() or p[0].isdigit() for p in text.split("\n\n")), text


def test_missing_values_never_stop_the_reply():
    for about_self in (False, True):
        text = safeguarding.reply_for(signal(about_self), {})
        assert "999" in text and "{" not in text
        assert "your council's website" in text


def test_the_wording_is_package_data_that_staff_can_read():
    data = tomllib.loads(safeguarding.REPLIES_FILE.read_text())
    assert set(data) == {"adult", "child"}
    assert safeguarding.reply_for(signal(True), NORTH).startswith(data["child"].strip()[:40])
    assert safeguarding.reply_for(signal(False), NORTH).startswith(data["adult"].strip()[:40])


@pytest.mark.parametrize("about_self", [False, True])
def test_a_placeholder_cannot_inject_markup_or_more_placeholders(about_self):
    text = safeguarding.reply_for(
        signal(about_self),
        {"area_label": "{childrens_services_phone}", "childrens_services_phone": "x"},
    )
    assert "{childrens_services_phone} children's services" in text
