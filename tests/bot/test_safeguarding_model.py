"""The safeguarding classifier and its examples, measured honestly: stratified cross-validation
over bot/data/safeguarding.toml (train on four folds, check the fifth), so the figures are never
the tuned-on ones; and the assistant's own evaluation sets and knowledge-base examples, which the
classifier never learns from, as a check on false alarms among real fostering questions.

Run with `-s` to see the figures printed."""

from __future__ import annotations

import csv
import re
import tomllib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from bot import safeguarding
from crm.services.safeguarding import CONCERN_CATEGORIES

ROOT = Path(__file__).resolve().parents[2]
# The evaluation files written before this classifier. Never tests/bot/eval_fresh.csv: that is
# written by someone who has not seen these examples, and must stay unseen.
EVAL_FILES = [
    Path(__file__).parent / name
    for name in ("eval_set.csv", "eval_holdout.csv", "eval_holdout2.csv", "eval_holdout3.csv")
]
KNOWLEDGE = ROOT / "config" / "knowledge"
MIN_PER_CATEGORY = 60
MIN_RECALL = 0.98
MAX_FALSE_ALARMS = 0.01


@pytest.fixture(scope="module")
def examples():
    return safeguarding.load_examples()


@pytest.fixture(scope="module")
def cross_validation(examples):
    result = safeguarding.cross_validate(examples, folds=5, seed=0)
    print("\n" + "\n".join(result.lines()))
    return result


def _plain(text: str) -> str:
    return " ".join(safeguarding.words(text))


def test_every_kind_of_harm_has_many_examples(examples):
    counts = Counter(e.category for e in examples if e.category)
    assert set(counts) == set(safeguarding.CATEGORIES)
    assert {k: n for k, n in counts.items() if n < MIN_PER_CATEGORY} == {}
    # Children writing about themselves, in every kind of harm a child can tell us about.
    from_children = Counter(e.category for e in examples if e.about_self)
    assert set(from_children) == set(safeguarding.CATEGORIES) - {"unclear"}
    # More ordinary messages than concerns, most of them near-misses.
    assert sum(1 for e in examples if e.category is None) > len(counts) * MIN_PER_CATEGORY


def test_the_categories_are_the_crms(examples):
    assert tuple(CONCERN_CATEGORIES) == safeguarding.CATEGORIES
    for key, label in CONCERN_CATEGORIES.items():
        assert re.fullmatch(r"[a-z_]+", key)
        assert "_" not in label and label == label.lower()


def test_no_example_is_repeated_or_copied_from_an_evaluation_file(examples):
    seen = Counter(_plain(e.text) for e in examples)
    assert [t for t, n in seen.items() if n > 1] == []
    evaluation = {_plain(row["text"]) for path in EVAL_FILES for row in csv.DictReader(path.open())}
    assert sorted(set(seen) & evaluation) == []


def test_the_examples_are_package_data_not_the_editable_knowledge_base():
    assert safeguarding.EXAMPLES_FILE.parent == ROOT / "bot" / "data"
    assert safeguarding.REPLIES_FILE.parent == ROOT / "bot" / "data"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["bot"]
    assert any(
        Path("data", name).match(g)
        for g in globs
        for name in ("safeguarding.toml", "safeguarding_replies.toml")
    )


def test_held_out_recall_and_false_alarms(cross_validation):
    combined = cross_validation.combined
    report = "\n".join(cross_validation.lines())
    assert combined.concerns > 600 and combined.others > 600
    # The goal is every held-out disclosure caught; at least 98% must be.
    assert combined.recall >= MIN_RECALL, report
    assert combined.false_alarm_rate < MAX_FALSE_ALARMS, report
    for fold in cross_validation.folds:
        assert fold.recall >= 0.96, report
        assert fold.false_alarm_rate < 0.02, report


def test_each_net_does_its_part(cross_validation):
    report = "\n".join(cross_validation.lines())
    # The classifier alone, truly held out, already catches most disclosures...
    assert cross_validation.classifier_only.recall >= 0.85, report
    # ...and the fixed patterns, which are written to be sure, fire on no ordinary example.
    assert cross_validation.patterns_only.false_alarms == 0, report
    assert cross_validation.patterns_only.recall >= 0.5, report
    # The kind of harm and who is writing are mostly right on the caught concerns.
    caught = cross_validation.combined.caught
    assert cross_validation.category_right / caught >= 0.8, report
    assert cross_validation.about_self_right / caught >= 0.93, report


def _knowledge_examples() -> list[str]:
    texts = []
    for path in [*sorted((KNOWLEDGE / "topics").glob("*.toml")), KNOWLEDGE / "intents.toml"]:
        data = tomllib.loads(path.read_text())
        for key, value in data.items():
            if isinstance(value, dict) and key != "safeguarding":
                texts += value.get("examples", [])
            elif key == "examples":
                texts += value
    return texts


def test_no_fostering_question_anywhere_triggers_it():
    """Messages it never learned from: the evaluation sets' ordinary questions and every example
    of every other topic in the knowledge base."""
    ordinary = [
        row["text"]
        for path in EVAL_FILES
        for row in csv.DictReader(path.open())
        if row["expected"] != "safeguarding"
    ] + _knowledge_examples()
    assert len(ordinary) > 900
    result = safeguarding.evaluate([("other", text) for text in ordinary])
    assert result.wrongly_flagged == []


def test_every_safeguarding_message_in_the_evaluation_sets_is_caught():
    rows = [
        (row["expected"], row["text"])
        for path in EVAL_FILES
        for row in csv.DictReader(path.open())
        if row["expected"] == "safeguarding"
    ]
    assert len(rows) >= 15
    assert safeguarding.evaluate(rows).missed == []


def test_evaluate_counts_recall_and_false_alarms():
    rows = [
        ("safeguarding", "the man downstairs slaps his little girl around the head"),
        ("neglect", "the children next door have had no dinner for days"),
        ("safeguarding", "what time do you open"),
        ("fallback", "can i park at the council offices"),
        ("timescale", "my stepfather hits me"),
    ]
    result = safeguarding.evaluate(rows)
    assert (result.concerns, result.caught, result.missed) == (3, 2, ["what time do you open"])
    assert (result.others, result.false_alarms) == (2, 1)
    assert result.wrongly_flagged == ["my stepfather hits me"]
    assert result.recall == pytest.approx(2 / 3)
    assert result.false_alarm_rate == pytest.approx(0.5)
    lines = result.lines()
    assert lines[0] == "Safeguarding recall: 2/3 (66.7%)"
    assert lines[1] == "False alarms: 1/2 (50.0%)"
    empty = safeguarding.evaluate([])
    assert (empty.recall, empty.false_alarm_rate) == (1.0, 0.0)


def test_the_fast_scorer_agrees_with_sklearn(examples):
    classifier = safeguarding.default_detector().classifier
    texts = [
        safeguarding.classifier_text(safeguarding.words(safeguarding.clean(e.text)))
        for e in examples[::7]
    ] + [safeguarding.classifier_text(["zzzz", "qqqq"]), safeguarding.classifier_text([])]
    matrix = classifier.features.transform(texts)
    expected = np.column_stack(
        [
            classifier.concern.decision_function(matrix),
            classifier.kind.decision_function(matrix),
            classifier.child.decision_function(matrix),
        ]
    )
    fast = np.array([classifier.scorer.scores(t) for t in texts])
    assert np.allclose(fast, expected, atol=1e-9)
    # Many windows go through sklearn in one batch: the same probabilities either way.
    batch = classifier.concern_probabilities(texts)
    one_by_one = np.concatenate([classifier.concern_probabilities([t]) for t in texts])
    assert np.allclose(batch, one_by_one, atol=1e-9)


def test_built_once_per_process():
    assert safeguarding.default_detector() is safeguarding.default_detector()


def _concepts(text: str) -> tuple[set[str], list[str]]:
    """The concept tokens the classifier sees for a text, and its abstracted words."""
    seen = safeguarding.classifier_text(safeguarding.words(text))
    plain, abstracted = seen.split("\t")
    return {t for t in plain.split() if t.startswith("zz")}, abstracted.split()


@pytest.mark.parametrize(
    ("text", "wrong"),
    [
        ("we have a stable home", "zzexploit"),
        ("we live in a two bed terrace", "zzonline"),
        ("i'm blind in one eye", "zzchild"),
        ("i'm 22 and serious about it", "zzolder"),
        ("where do i recycle batteries", "zzharm"),
        ("we have a pushchair ready", "zzharm"),
        ("i'm feeling some burnout", "zzharm"),
        ("is private fostering the same", "zzsexual"),
    ],
)
def test_concepts_do_not_read_ordinary_words_as_harm(text, wrong):
    found, abstracted = _concepts(text)
    assert wrong not in found, (text, found)
    assert wrong not in abstracted, (text, abstracted)


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("he got stabbed near the flats", "zzexploit"),
        ("older boys with knives", "zzexploit"),
        ("she goes on livestreams at night", "zzonline"),
        ("a man on snapchat", "zzonline"),
        ("men in their 40s", "zzolder"),
        ("a man in his twenties", "zzolder"),
        ("the little ones next door", "zzchild"),
        ("he battered her", "zzharm"),
        ("she pushed him down the stairs", "zzharm"),
        ("it burnt his hand", "zzharm"),
        ("he touched her privates", "zzsexual"),
    ],
)
def test_concepts_still_name_what_they_mean(text, concept):
    found, abstracted = _concepts(text)
    assert concept in found or concept in abstracted, (text, found, abstracted)
