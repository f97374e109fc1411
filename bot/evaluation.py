"""Measuring the assistant's understanding: on labelled files of realistic messages, and by
cross-validation over the knowledge base's own examples.

An evaluation file is CSV with a header `expected,text`: `expected` is a topic slug, an intent
slug, `fallback` (not about fostering) or `safeguarding`. Used by `fostercrm chat --eval FILE
[FILE...]` and the tests. The figures: overall accuracy, per slug, safeguarding recall (of the
messages that are a concern, how many were caught) and false alarms (of the others, how many
were taken for a concern), off-topic accuracy (of the messages not about fostering, how many
went to `fallback`), and how often the assistant asked "do you mean A or B?".

Cross-validation (`cross_validate`) trains the classifier on all folds of the examples but one
and tests on the one left out, so the accuracy printed is not the figure it was tuned on. Near
copies of one phrasing ("do you do adoption" / "do you do adoptions") are kept in the same fold:
otherwise one would be tested against its twin in training, and the figure would flatter.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process
from sklearn.model_selection import StratifiedGroupKFold

from bot.matching import ANSWER, CLARIFY, Analysis, Entry, Language, Match, Matcher

SAFEGUARDING = "safeguarding"
FALLBACK = "fallback"
# Two examples of one slug this alike (rapidfuzz ratio, 0-100) are one phrasing, one fold.
NEAR_COPY_AT = 85


@dataclass
class Evaluation:
    total: int = 0
    correct: int = 0
    per_slug: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    mistakes: list[tuple[str, str, float, str]] = field(default_factory=list)
    false_alarms: int = 0
    clarified: int = 0
    clarified_with_the_right_one: int = 0

    def add(self, expected: str, analysis: Analysis, text: str) -> None:
        got = analysis.best.slug
        self.total += 1
        self.per_slug[expected][1] += 1
        if analysis.decision == CLARIFY:
            self.clarified += 1
            if expected in {m.slug for m in analysis.alternatives}:
                self.clarified_with_the_right_one += 1
        if got == SAFEGUARDING and expected != SAFEGUARDING:
            self.false_alarms += 1
        if got == expected:
            self.correct += 1
            self.per_slug[expected][0] += 1
        else:
            self.mistakes.append((expected, got, analysis.best.confidence, text))

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def slug_accuracy(self, slug: str) -> float:
        right, seen = self.per_slug.get(slug, [0, 0])
        return right / seen if seen else 0.0

    @property
    def safeguarding_recall(self) -> float:
        return self.slug_accuracy(SAFEGUARDING)

    @property
    def false_alarm_rate(self) -> float:
        others = self.total - self.per_slug.get(SAFEGUARDING, [0, 0])[1]
        return self.false_alarms / others if others else 0.0

    @property
    def off_topic_accuracy(self) -> float:
        return self.slug_accuracy(FALLBACK)

    def lines(self, mistakes: bool = True) -> list[str]:
        out = [f"Overall: {self.correct}/{self.total} correct ({self.accuracy:.1%})"]
        for slug in sorted(self.per_slug):
            right, seen = self.per_slug[slug]
            out.append(f"  {slug:<22} {right:>3}/{seen:<3} {right / seen:6.1%}")
        concerns = self.per_slug.get(SAFEGUARDING, [0, 0])
        out.append(
            f"Safeguarding recall: {concerns[0]}/{concerns[1]} ({self.safeguarding_recall:.1%}); "
            f"false alarms: {self.false_alarms}/{self.total - concerns[1]} "
            f"({self.false_alarm_rate:.1%})"
        )
        off = self.per_slug.get(FALLBACK, [0, 0])
        out.append(f"Off-topic to fallback: {off[0]}/{off[1]} ({self.off_topic_accuracy:.1%})")
        out.append(
            f"Asked which of two topics: {self.clarified} "
            f"(the right one among the two: {self.clarified_with_the_right_one})"
        )
        if mistakes and self.mistakes:
            out.append("Mistakes (expected -> got, confidence: message):")
            for expected, got, confidence, text in self.mistakes:
                out.append(f"  {expected} -> {got} ({confidence:.2f}): {text[:100]}")
        return out


def read_eval_file(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or {"expected", "text"} - set(reader.fieldnames):
            raise ValueError(f"{path}: needs a header line 'expected,text'")
        return [(row["expected"].strip(), row["text"]) for row in reader if row["text"].strip()]


def evaluate(assistant, rows: Iterable[tuple[str, str]]) -> Evaluation:  # noqa: ANN001
    """The assistant's own judgement of each message: safeguarding detector first, then the
    classifier and its decision."""
    return evaluate_with(assistant.analyse, rows)


def evaluate_with(analyse: Callable[[str], Analysis], rows: Iterable[tuple[str, str]]):
    result = Evaluation()
    for expected, text in rows:
        result.add(expected, analyse(text), text)
    return result


def cross_validate(
    entries: list[Entry],
    language: Language,
    *,
    folds: int = 5,
    detector: Callable[[str], object] | None = None,
    seed: int = 0,
) -> Evaluation:
    """Train on all folds of the knowledge base's examples but one, test on that one, for
    every fold. With `detector` (bot.safeguarding.detect), it runs first as in the assistant."""
    examples = [(e.slug, text) for e in entries for text in e.examples]
    result = Evaluation()
    for train, test in fold_split(examples, folds, seed):
        kept: dict[str, list[str]] = defaultdict(list)
        for index in train:
            slug, text = examples[index]
            kept[slug].append(text)
        fold_entries = [
            Entry(e.slug, tuple(kept[e.slug]), e.keywords, e.is_topic)
            for e in entries
            if kept.get(e.slug)
        ]
        matcher = Matcher(fold_entries, language)
        for index in test:
            slug, text = examples[index]
            if detector is not None and detector(text):
                match = Match(SAFEGUARDING, 1.0)
                analysis = Analysis(best=match, matches=(match,), decision=ANSWER)
            else:
                analysis = matcher.analyse(text)
            result.add(slug, analysis, text)
    return result


def fold_split(
    examples: list[tuple[str, str]], folds: int = 5, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) indices per fold: stratified by slug, near copies in one fold, and
    shuffled by `seed` only, so the same examples and seed always give the same folds."""
    labels = np.array([slug for slug, _ in examples])
    splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
    groups = near_copy_groups(examples)
    return list(splitter.split(np.zeros(len(labels)), labels, groups))


def near_copy_groups(examples: list[tuple[str, str]]) -> np.ndarray:
    """A group number per example: examples of one slug that are near copies of each other
    (directly or through a chain) share a group."""
    parent = list(range(len(examples)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    by_slug: dict[str, list[int]] = defaultdict(list)
    for index, (slug, _text) in enumerate(examples):
        by_slug[slug].append(index)
    for indices in by_slug.values():
        texts = [" ".join(examples[i][1].lower().split()) for i in indices]
        alike = process.cdist(texts, texts, scorer=fuzz.ratio, score_cutoff=NEAR_COPY_AT)
        for a, b in zip(*np.nonzero(np.triu(alike, k=1)), strict=True):
            parent[root(indices[a])] = root(indices[b])
    return np.array([root(i) for i in range(len(examples))])
