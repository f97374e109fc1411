"""Matching a message to a topic or intent of the knowledge base, locally and in milliseconds.

How people write ("cn i foster if im gay", "do u hav to own ur hse") is first rewritten into
plain words: text-speak is expanded, misspelt words are corrected to the nearest word the
knowledge base uses (rapidfuzz, edit distance), and each group of synonyms adds its shared word,
so "same sex couple" and "two dads" both look like "lgbtq". The rewritten message is then
compared with every example phrasing of every topic by TF-IDF cosine similarity (scikit-learn),
on words and on character n-grams, which forgive the typos that survive. A topic's score is its
best example plus a little for each of its keywords present. A message whose best score is low,
or closest to the examples of things we do not do, is `fallback`.

Several questions in one message are found by matching each sentence or clause on its own.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA
from sklearn.feature_extraction.text import TfidfVectorizer

FALLBACK = "fallback"
# Below this the best match is not trusted and the message counts as off-topic.
MIN_SCORE = 0.30
# A second question in the same message is answered only when its clause matches this well.
SECOND_TOPIC_MIN_SCORE = 0.42
# Only the start of a very long message is matched (all of it is still stored).
MAX_MATCH_CHARS = 1500
CONCEPT_PREFIX = "zc"
# A concept (synonym group) that most of a topic's examples share is evidence for that topic.
CONCEPT_SHARE = 0.25
CONCEPT_BONUS = 0.12
MAX_CONCEPT_SPREAD = 3
MAX_CONCEPT_BONUS = 0.30
KEYWORD_BONUS = 0.07
MAX_KEYWORD_BONUS = 0.21
WORD_WEIGHT = 0.55
# Without any word of fostering, scores shrink towards this share for unknown words...
UNKNOWN_FLOOR = 0.4
# ...and a message of unknown words scores this much as off-topic.
OFF_DOMAIN_SCORE = 1.0

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'"})
_NON_WORD = re.compile(r"[^a-z0-9]+")
# "I'm 58", "turned 67", "in our sixties": a person's age is a question about age.
_AGE = re.compile(
    r"\b(?:i am|we are|turned|turning|aged|age|im|be|being|at) (?:nearly |almost |over |only )?"
    r"(?:1[6-9]|[2-9][0-9])\b|\b(?:1[6-9]|[2-9][0-9]) (?:years|year|yrs)\b|"
    r"\b(?:twenties|thirties|forties|fifties|sixties|seventies|eighties|20s|30s|40s|50s|60s|70s|80s)\b"
)
# Where a new question starts: punctuation and joining words (removed), or just before
# "what about" / after "and" when a question word follows (kept).
_SPLIT = re.compile(
    r"[?!.;\n]+|\b(?:and also|also|another thing|plus|oh and|and)\b(?= |$)"
    r"(?=\s*(?:what|do|does|can|could|how|is|are|will|would|should|about|if|my|i|we|$))"
    r"|\b(?:also|another thing|plus|oh and)\b|(?=\bwhat about\b)"
)


@dataclass(frozen=True)
class Entry:
    """Something a message can be about: a topic to answer or an intent to act on."""

    slug: str
    examples: tuple[str, ...]
    keywords: tuple[str, ...] = ()
    # Topics answer questions; intents start a flow (or are fallback, greeting...).
    is_topic: bool = True


@dataclass(frozen=True)
class Language:
    textspeak: dict[str, str] = field(default_factory=dict)
    synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Match:
    slug: str
    score: float

    @property
    def confidence(self) -> float:
        return round(max(0.0, min(1.0, self.score)), 3)


@dataclass(frozen=True)
class Analysis:
    """The best match for the whole message, and each distinct question found in it."""

    best: Match
    matches: tuple[Match, ...]

    @property
    def slugs(self) -> list[str]:
        return [m.slug for m in self.matches]


class Normaliser:
    """Rewrites a message into the words the knowledge base uses."""

    def __init__(self, language: Language, vocabulary: Iterable[str]) -> None:
        self.textspeak = {k.lower(): v.lower() for k, v in language.textspeak.items()}
        # Phrase -> shared word; longest phrases first so "foster child" wins over "child".
        pairs = []
        for shared, phrases in language.synonyms.items():
            for phrase in phrases:
                words = basic_tokens(phrase)
                if words:
                    pairs.append((tuple(words), shared.replace("_", "")))
        pairs.sort(key=lambda p: -len(p[0]))
        self.synonyms = pairs
        vocabulary = set(vocabulary)
        for value in self.textspeak.values():
            vocabulary.update(value.split())
        for words, shared in pairs:
            vocabulary.update(words)
            vocabulary.add(shared)
        self.vocabulary = frozenset(w for w in vocabulary if w)
        self._by_length: dict[int, list[str]] = {}
        for word in self.vocabulary:
            self._by_length.setdefault(len(word), []).append(word)
        self._correct = lru_cache(maxsize=20_000)(self._correct_uncached)

    def _correct_uncached(self, token: str) -> str:
        if token in self.vocabulary or token.isdigit() or len(token) < 4:
            return token
        allowed = 1 if len(token) <= 7 else 2
        # Typing slips rarely change the first letter; requiring it keeps "york" from "work".
        candidates = [
            word
            for length in range(len(token) - allowed, len(token) + allowed + 1)
            for word in self._by_length.get(length, ())
            if word[0] == token[0]
        ]
        if not candidates:
            return token
        found = process.extractOne(token, candidates, scorer=OSA.distance, score_cutoff=allowed)
        if found is None:
            return token
        # Ties: prefer a word that starts like the token ("fostr" -> "foster").
        best = found[0]
        return best

    def tokens(self, text: str) -> list[str]:
        words: list[str] = []
        for token in basic_tokens(text):
            expanded = self.textspeak.get(token)
            if expanded is not None:
                words.extend(expanded.split())
                continue
            corrected = self._correct(token)
            expanded = self.textspeak.get(corrected)
            words.extend(expanded.split() if expanded else [corrected])
        return words

    def concepts(self, words: list[str]) -> list[str]:
        found: list[str] = []
        joined = " " + " ".join(words) + " "
        for phrase, shared in self.synonyms:
            needle = " " + " ".join(phrase) + " "
            if needle in joined:
                if shared not in found:
                    found.append(shared)
                # A longer phrase uses its words up: "council house" is not also "council".
                joined = joined.replace(needle, " _ ")
        return found

    def normalise(self, text: str) -> str:
        words = self.tokens(text)
        concepts = self.concepts(words)
        if "age" not in concepts and _AGE.search(" ".join(words)):
            concepts.append("age")
        # Concepts are added as distinct tokens ("zlgbtq") so they do not blur with the words.
        return " ".join(words + [f"{CONCEPT_PREFIX}{c}" for c in concepts])


def basic_tokens(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()
    text = text.replace("'", "").replace("£", " pounds ").replace("&", " and ")
    return [t for t in _NON_WORD.split(text) if t]


def split_clauses(text: str) -> list[str]:
    """Sentences and clauses that may each be a question of their own."""
    parts = [p.strip() for p in _SPLIT.split(text.lower()) if p and p.strip()]
    return [p for p in parts if len(basic_tokens(p)) >= 2]


class Matcher:
    def __init__(self, entries: Iterable[Entry], language: Language) -> None:
        self.entries = list(entries)
        vocabulary: set[str] = set()
        for entry in self.entries:
            for text in (*entry.examples, *entry.keywords, entry.slug.replace("-", " ")):
                vocabulary.update(basic_tokens(text))
        self.normaliser = Normaliser(language, vocabulary)
        self.is_topic = {e.slug: e.is_topic for e in self.entries}
        self._fallback_index = next(
            (i for i, e in enumerate(self.entries) if e.slug == FALLBACK), None
        )
        # Words of fostering (everything but the off-topic examples): a message made mostly of
        # other words ("gym membership", "pothole") is probably not about fostering.
        self.domain_words: set[str] = set()
        for entry in self.entries:
            if entry.slug in OFF_DOMAIN:
                continue
            for text in (*entry.examples, *entry.keywords):
                self.domain_words.update(self.normaliser.tokens(text))
        for phrase, _shared in self.normaliser.synonyms:
            self.domain_words.update(phrase)

        documents: list[str] = []
        owners: list[int] = []
        for index, entry in enumerate(self.entries):
            for example in entry.examples:
                documents.append(self.normaliser.normalise(example))
                owners.append(index)
        self._owners = np.array(owners)
        self._concepts = self._topic_concepts(documents, owners)
        self._keywords = [
            [tuple(self.normaliser.tokens(k)) for k in entry.keywords] for entry in self.entries
        ]
        self.words = TfidfVectorizer(
            analyzer="word",
            ngram_range=(1, 2),
            sublinear_tf=True,
            token_pattern=r"\S+",
            stop_words=list(STOP_WORDS),
        )
        # Character n-grams of the content words only, so shared typos count but a shared
        # frame ("can I still ...") does not.
        self.chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
        self._word_matrix = self.words.fit_transform(documents)
        self._char_matrix = self.chars.fit_transform([content(d) for d in documents])

    def _topic_concepts(self, documents: list[str], owners: list[int]) -> list[frozenset[str]]:
        """For each entry, the synonym groups most of its examples use."""
        result: list[frozenset[str]] = []
        for index, entry in enumerate(self.entries):
            docs = [d.split() for d, o in zip(documents, owners, strict=True) if o == index]
            counts: dict[str, int] = {}
            for words in docs:
                for word in set(words):
                    if word.startswith(CONCEPT_PREFIX):
                        counts[word] = counts.get(word, 0) + 1
            for keyword in entry.keywords:
                for word in self.normaliser.normalise(keyword).split():
                    if word.startswith(CONCEPT_PREFIX):
                        counts[word] = counts.get(word, 0) + len(docs)
            result.append(
                frozenset(c for c, n in counts.items() if docs and n / len(docs) >= CONCEPT_SHARE)
            )
        # A concept shared by many topics ("foster", "child") tells them apart from nothing.
        spread: dict[str, int] = {}
        for concepts in result:
            for concept in concepts:
                spread[concept] = spread.get(concept, 0) + 1
        return [frozenset(c for c in cs if spread[c] <= MAX_CONCEPT_SPREAD) for cs in result]

    def coverage(self, normalised: str) -> tuple[float, bool]:
        """Share of the content words that are words of fostering, and whether a core word
        of fostering (foster, child, adopt...) is there at all."""
        words = normalised.split()
        core = any(w in CORE_WORDS or w in CORE_CONCEPTS for w in words)
        contents = [w for w in words if not w.startswith(CONCEPT_PREFIX) and is_content(w)]
        if not contents:
            return 1.0, core
        known = sum(1 for w in contents if w in self.domain_words)
        return known / len(contents), core

    def scores(self, text: str) -> np.ndarray:
        """One score per entry for this text."""
        normalised = self.normaliser.normalise(text[:MAX_MATCH_CHARS])
        if not normalised.strip():
            return np.zeros(len(self.entries))
        word = (self._word_matrix @ self.words.transform([normalised]).T).toarray().ravel()
        char = (self._char_matrix @ self.chars.transform([content(normalised)]).T).toarray()
        per_example = WORD_WEIGHT * word + (1 - WORD_WEIGHT) * char.ravel()
        best = np.zeros(len(self.entries))
        np.maximum.at(best, self._owners, per_example)
        words = normalised.split()
        padded = " " + " ".join(words) + " "
        concepts = {w for w in words if w.startswith(CONCEPT_PREFIX)}
        for index, keywords in enumerate(self._keywords):
            hits = sum(1 for k in keywords if k and " " + " ".join(k) + " " in padded)
            if hits:
                best[index] += min(MAX_KEYWORD_BONUS, KEYWORD_BONUS * hits)
            shared = len(concepts & self._concepts[index])
            if shared:
                best[index] += min(MAX_CONCEPT_BONUS, CONCEPT_BONUS * shared)
        share, core = self.coverage(normalised)
        if not core and self._fallback_index is not None:
            # Without a word of fostering, unknown words weigh against every topic.
            factor = UNKNOWN_FLOOR + (1 - UNKNOWN_FLOOR) * share
            fallback = best[self._fallback_index]
            best *= factor
            best[self._fallback_index] = max(fallback, (1 - share) * OFF_DOMAIN_SCORE)
        return best

    def best(self, text: str) -> Match:
        scores = self.scores(text)
        index = int(np.argmax(scores))
        score = float(scores[index])
        slug = self.entries[index].slug
        if score < MIN_SCORE:
            return Match(FALLBACK, round(1.0 - score, 3))
        return Match(slug, score)

    def analyse(self, text: str) -> Analysis:
        """The message's best match, plus the other questions asked in it."""
        text = text[:MAX_MATCH_CHARS]
        whole = self.best(text)
        matches: list[Match] = []
        clauses = split_clauses(text)
        if len(clauses) > 1:
            for clause in clauses[:6]:
                match = self.best(clause)
                if match.slug == FALLBACK or not self.is_topic.get(match.slug, False):
                    continue
                if match.score < SECOND_TOPIC_MIN_SCORE:
                    continue
                if all(m.slug != match.slug for m in matches):
                    matches.append(match)
        if whole.slug != FALLBACK and all(m.slug != whole.slug for m in matches):
            if not matches or whole.score >= max(m.score for m in matches):
                matches.insert(0, whole)
            elif self.is_topic.get(whole.slug, False):
                matches.append(whole)
        if not matches:
            matches = [whole]
        best = whole
        if whole.slug == FALLBACK and matches[0].slug != FALLBACK:
            best = max(matches, key=lambda m: m.score)
        return Analysis(best=best, matches=tuple(matches[:3]))


def is_content(word: str) -> bool:
    return word not in STOP_WORDS and word not in FRAME_WORDS and not word.isdigit()


def content(normalised: str) -> str:
    return " ".join(w for w in normalised.split() if is_content(w))


# Words that say nothing about what a question is about. Kept short on purpose: "not", "own",
# "long", "old" and the like carry meaning here.
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOP_WORDS = _words(
    """a an the i me my we our you your it its is am are was were be been being to of in on at
    for with and or but so if do does did can could would should will shall just there this that
    these those please ok okay um uh really very much any some get got have has
    had about as by from up out what how when where which who why im ive id"""
)
# The frame of a question, not its subject.
FRAME_WORDS = _words(
    """still able allowed problem matter affect stop rule need want like become okay ok not
    would anyone them they he she his her their us him be being go going know tell say said
    yes no yet also too then than more most lot lots thing things way does"""
)
OFF_DOMAIN = frozenset({FALLBACK})
CORE_WORDS = _words(
    """foster fostering fostered carer carers child children kid kids baby babies teenager
    teenagers adopt adoption placement placements social"""
)
CORE_CONCEPTS = frozenset({"zcfoster", "zcchild", "zcadopt", "zckinship", "zcbirthfamily"})
