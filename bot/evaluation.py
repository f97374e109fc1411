"""Measuring the matcher: a labelled set of realistic messages, and how many come out right.

The file is CSV with a header `expected,text`: the slug each message should get. Used by
`fostercrm chat --eval FILE` and by tests/bot/test_matching_quality.py.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from bot.assistant import Assistant

SAFEGUARDING = "safeguarding"
FALLBACK = "fallback"


@dataclass
class Evaluation:
    total: int = 0
    correct: int = 0
    per_slug: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    mistakes: list[tuple[str, str, float, str]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def slug_accuracy(self, slug: str) -> float:
        right, seen = self.per_slug.get(slug, [0, 0])
        return right / seen if seen else 0.0

    def lines(self) -> list[str]:
        out = [f"Overall: {self.correct}/{self.total} correct ({self.accuracy:.1%})"]
        for slug in sorted(self.per_slug):
            right, seen = self.per_slug[slug]
            out.append(f"  {slug:<22} {right:>3}/{seen:<3} {right / seen:6.1%}")
        if self.mistakes:
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


def evaluate(assistant: Assistant, rows: list[tuple[str, str]]) -> Evaluation:
    result = Evaluation()
    for expected, text in rows:
        match = assistant.classify(text)
        result.total += 1
        result.per_slug[expected][1] += 1
        if match.slug == expected:
            result.correct += 1
            result.per_slug[expected][0] += 1
        else:
            result.mistakes.append((expected, match.slug, match.confidence, text))
    return result
