"""crm.text: the one cleaning of text from outside."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from crm.text import clean_json, clean_text, clean_value


def test_nul_and_control_characters_go_tab_and_newline_stay():
    assert clean_text("Pri\x00ya\x07 Shah\x7f\x9b") == "Priya Shah"
    assert clean_text("line one\n\tline two") == "line one\n\tline two"


def test_terminal_escape_sequences_go_whole_not_only_their_escape_character():
    # Dropping only ESC from "\x1b[1mrent" left "[1mrent", which no rule recognises as "rent".
    assert clean_text("can I \x1b[1mrent\x1b[0m?") == "can I rent?"
    assert clean_text("Priya \x1b[38;5;196mShah") == "Priya Shah"
    assert clean_text("a\x1b]0;window title\x07b") == "ab"  # OSC ended by BEL
    assert clean_text("a\x1b]8;;http://x\x1b\\b") == "ab"  # OSC ended by ST
    assert clean_text("\x9b31mred") == "red"  # the one-byte CSI
    assert clean_text("plain [1m text") == "plain [1m text"  # no escape, nothing taken
    assert clean_text("O'Br\x1bien") == "O'Brien"  # a stray ESC before a letter: only ESC goes


def test_every_spelling_of_a_line_break_is_one_newline():
    assert clean_text("a\r\nb\rc\x0bd\x0ce\x85f\u2028g\u2029h") == "a\nb\nc\nd\ne\nf\ng\nh"


def test_single_line_text_keeps_words_apart():
    assert clean_text("Zoë\tO'Brien\r\nJones", multiline=False) == "Zoë O'Brien Jones"


def test_lone_surrogates_go_and_the_result_is_utf8():
    cleaned = clean_text("caf\ud800e\udfff!")
    assert cleaned == "cafe!"
    cleaned.encode("utf-8")


def test_unicode_is_normalised_to_nfc():
    assert clean_text("Zoe\u0308") == "Zoë"  # e + combining diaeresis
    assert clean_text("Zoe\u0308") == clean_text("Zoë")


def test_what_people_really_type_is_left_alone():
    for text in (
        "  Renée  O’Connor–Smith ",
        "👩‍👩‍👧 family",  # emoji joined with ZERO WIDTH JOINER (a format character, kept)
        "می\u200cخواهم",  # Persian with ZERO WIDTH NON-JOINER
        "£250 a week",
    ):
        assert clean_text(text) == unicodedata.normalize("NFC", text)


def test_json_documents_are_cleaned_keys_and_all():
    document = {"te\x00xt": ["a\x00", {"b": "c\ud800"}], "n": 1, "ok": True, "none": None}
    assert clean_json(document) == {"text": ["a", {"b": "c"}], "n": 1, "ok": True, "none": None}
    assert clean_value(5) == 5
    assert clean_value(None) is None


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.text(), st.booleans())
def test_cleaned_text_is_always_safe_and_cleaning_twice_changes_nothing(text, multiline):
    cleaned = clean_text(text, multiline=multiline)
    allowed = {"\n", "\t"} if multiline else set()
    assert all(unicodedata.category(c) not in ("Cc", "Cs") or c in allowed for c in cleaned), repr(
        cleaned
    )
    assert "\r" not in cleaned
    cleaned.encode("utf-8")  # PostgreSQL and every driver take it
    assert unicodedata.is_normalized("NFC", cleaned)
    assert clean_text(cleaned, multiline=multiline) == cleaned
