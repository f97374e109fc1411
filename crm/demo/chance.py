"""Weighted choices and bounded random durations, prepared for speed; and the random streams."""

from __future__ import annotations

import math
import random
import re
from bisect import bisect
from collections.abc import Sequence
from functools import cache
from operator import index
from typing import Any, TypeVar

T = TypeVar("T")


class Stream(random.Random):
    """random.Random with `choice`, `randint` and `randrange` done in one Python call each
    instead of two or three (the demo asks millions of times). Each draws exactly what
    random.Random's own draws from the generator (`getrandbits` of the bit length of the
    range, again until below it, as `_randbelow_with_getrandbits`), so a seed gives the same
    sequence, and the demo the same rows, as with random.Random (the demo's digest test
    checks). Everything else, seeding included, is random.Random's."""

    def choice(self, seq: Sequence[T]) -> T:
        n = len(seq)
        if not n:
            raise IndexError("Cannot choose from an empty sequence")
        getrandbits = self.getrandbits
        k = n.bit_length()
        r = getrandbits(k)
        while r >= n:
            r = getrandbits(k)
        return seq[r]

    def randint(self, a: int, b: int) -> int:
        a = index(a)
        n = index(b) + 1 - a
        if n <= 0:
            raise ValueError(f"empty range for randint({a}, {b})")
        getrandbits = self.getrandbits
        k = n.bit_length()
        r = getrandbits(k)
        while r >= n:
            r = getrandbits(k)
        return a + r

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
        if stop is not None or step != 1:
            return super().randrange(start, stop, step)
        n = index(start)
        if n <= 0:
            raise ValueError("empty range for randrange()")
        getrandbits = self.getrandbits
        k = n.bit_length()
        r = getrandbits(k)
        while r >= n:
            r = getrandbits(k)
        return r


@cache  # names come from short lists
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
    """A weighted choice prepared once: what `rng.choices(keys, cum_weights=...)[0]` returns
    (the same one draw of `rng.random()`), without its checks on every call."""

    def __init__(self, weights: dict[Any, float]) -> None:
        self.keys, self.cumulative = weighted(weights)
        self.total = self.cumulative[-1] + 0.0 if self.cumulative else 0.0
        if not self.total > 0.0 or not math.isfinite(self.total):
            raise ValueError("Total of weights must be greater than zero and finite")
        self.hi = len(self.keys) - 1

    def __call__(self, rng: random.Random) -> Any:
        return self.keys[bisect(self.cumulative, rng.random() * self.total, 0, self.hi)]


def lognormal(rng: random.Random, spec: tuple[float, float, float, float]) -> float:
    median, sigma, low, high = spec
    return min(high, max(low, rng.lognormvariate(math.log(median), sigma)))
