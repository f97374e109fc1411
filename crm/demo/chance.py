"""Weighted choices and bounded random durations, prepared for speed."""

from __future__ import annotations

import math
import random
import re
from typing import Any


def letters_only(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


def weighted(weights: dict[str, float]) -> tuple[list[str], list[float]]:
    keys = list(weights)
    total = 0.0
    cumulative = []
    for key in keys:
        total += weights[key]
        cumulative.append(total)
    return keys, cumulative


class Choice:
    """A weighted choice prepared once (random.choices with cum_weights is the fast path)."""

    def __init__(self, weights: dict[Any, float]) -> None:
        self.keys, self.cumulative = weighted(weights)

    def __call__(self, rng: random.Random) -> Any:
        return rng.choices(self.keys, cum_weights=self.cumulative)[0]


def lognormal(rng: random.Random, spec: tuple[float, float, float, float]) -> float:
    median, sigma, low, high = spec
    return min(high, max(low, rng.lognormvariate(math.log(median), sigma)))
