"""The matcher, measured: a labelled set of realistic messages (tests/bot/eval_set.csv, written
differently from the knowledge base: misspellings, text-speak, rambling) and the thresholds the
issue asks for. `fostercrm chat --eval tests/bot/eval_set.csv` prints the same numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.assistant import Assistant
from bot.evaluation import evaluate, read_eval_file
from bot.knowledge import REQUIRED_TOPICS, KnowledgeCache
from bot.matching import split_clauses
from crm.testing.fixtures import make_test_settings

EVAL_FILE = Path(__file__).parent / "eval_set.csv"
HOLDOUT_FILES = [Path(__file__).parent / f"eval_holdout{n}.csv" for n in ("", "2", "3")]
# What we promise; the measured numbers are in the report (and printed by --eval).
MIN_OVERALL = 0.90
# Measured (see the report): eval_holdout.csv 74% when first run, 84% after the general
# vocabulary fixes it prompted (so no longer clean); eval_holdout2.csv 82% when first run, 83%
# after more example phrasings were added to every topic; eval_holdout3.csv 88%, written after
# all tuning and never tuned on. The tuned set itself: 94%.
MIN_HOLDOUT = 0.78
MIN_FALLBACK = 0.90


@pytest.fixture(scope="module")
def offline_assistant(knowledge_files) -> Assistant:
    base, matcher = knowledge_files
    return Assistant(make_test_settings(), KnowledgeCache(base, matcher))


@pytest.fixture(scope="module")
def result(offline_assistant):
    return evaluate(offline_assistant, read_eval_file(EVAL_FILE))


def test_the_set_is_big_enough_and_covers_every_topic():
    rows = read_eval_file(EVAL_FILE)
    assert len(rows) >= 150
    for slug in (*REQUIRED_TOPICS, "book-visit", "manage-visit", "human", "safeguarding"):
        assert sum(1 for expected, _ in rows if expected == slug) >= 8, slug
    assert sum(1 for expected, _ in rows if expected == "fallback") >= 20


def test_overall_accuracy(result):
    assert result.accuracy >= MIN_OVERALL, "\n".join(result.lines())


def test_every_safeguarding_message_is_caught(result):
    assert result.slug_accuracy("safeguarding") == 1.0, "\n".join(result.lines())


def test_off_topic_messages_go_to_fallback(result):
    assert result.slug_accuracy("fallback") >= MIN_FALLBACK, "\n".join(result.lines())


@pytest.mark.parametrize("path", HOLDOUT_FILES, ids=lambda p: p.stem)
def test_holdout_written_after_tuning(offline_assistant, path):
    """Messages written after the knowledge base was tuned: the honest measure of how well it
    generalises to wordings nobody anticipated. Safeguarding is still never missed."""
    holdout = evaluate(offline_assistant, read_eval_file(path))
    assert holdout.total >= 50
    assert holdout.accuracy >= MIN_HOLDOUT, "\n".join(holdout.lines())
    assert holdout.slug_accuracy("safeguarding") == 1.0


def test_typos_and_text_speak(offline_assistant):
    cases = {
        "cn i foster if im gay": "lgbtq",
        "do u hav to own ur hse": "renting",
        "wot age do u need 2 be": "age",
        "how mch do fostr carers get payed": "allowances",
        "i smok is tht ok": "smoking",
        "can i fostr wiv a criminl recrd": "criminal-record",
    }
    for text, slug in cases.items():
        assert offline_assistant.classify(text).slug == slug, text


def test_clauses_are_split_on_question_marks_and_joining_words():
    assert split_clauses("do I need a spare room? can I rent. also what about pets") == [
        "do i need a spare room",
        "can i rent",
        "what about pets",
    ]


def test_cli_once_json_prints_one_object():
    from crm.cli.chat import chat_command

    result = CliRunner().invoke(chat_command, ["--once", "can i foster if im gay", "--json"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert set(data) == {"topic", "reply", "confidence"}
    assert data["topic"] == "lgbtq"
    assert 0 < data["confidence"] <= 1
    assert "welcome" in data["reply"]


def test_cli_once_off_topic_is_fallback():
    from crm.cli.chat import chat_command

    result = CliRunner().invoke(chat_command, ["--once", "who won the football", "--json"])
    assert json.loads(result.output)["topic"] == "fallback"


def test_cli_eval_prints_overall_and_per_topic_accuracy():
    from crm.cli.chat import chat_command

    result = CliRunner().invoke(chat_command, ["--eval", str(EVAL_FILE)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Overall: ")
    assert "  lgbtq " in result.output and "  fallback " in result.output


def test_cli_eval_refuses_a_file_without_the_header(tmp_path):
    from crm.cli.chat import chat_command

    bad = tmp_path / "bad.csv"
    bad.write_text("hello,world\n", encoding="utf-8")
    result = CliRunner().invoke(chat_command, ["--eval", str(bad)])
    assert result.exit_code == 1
    assert "expected,text" in result.output


def test_cli_interactive_chat_with_buttons_typed_in_brackets():
    from crm.cli.chat import chat_command

    result = CliRunner().invoke(
        chat_command, ["--scratch"], input="do i need a spare room\n[Book a visit]\n"
    )
    assert result.exit_code == 0, result.output
    assert "bedroom" in result.output
    assert "[Book a visit] [Talk to a person]" in result.output
    assert "What's your name?" in result.output
