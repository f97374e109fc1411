"""What a message is about: a topic or intent of the knowledge base, locally, in milliseconds.

How people write ("cn i foster if im gay", "do u hav to own ur hse") is first rewritten into
plain words: text-speak is expanded, misspelt words are corrected to the nearest word the
knowledge base uses (rapidfuzz, edit distance), and each group of synonyms adds its shared word,
so "same sex couple" and "two dads" both look like "lgbtq". A linear classifier (scikit-learn's
LinearSVC over TF-IDF of words, word pairs and character n-grams, plus how much of the message
is made of words of fostering at all) is trained on every example phrasing, once per process.
Its scores become probabilities by temperature scaling fitted on held-out folds of the examples
(so a confidence of 0.8 is right about 8 times in 10), and three decisions follow:

- `answer`: the best topic is likely enough;
- `clarify`: two topics share most of the probability (ask which one they mean);
- `fallback`: neither (or the message is closest to the examples of things we do not do).

Several questions in one message are found by classifying each sentence or clause on its own;
a second answer is given only for a clause that asks something ("we're both fit and healthy"
tells, it does not ask).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA
from scipy.optimize import minimize_scalar
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

FALLBACK = "fallback"
SAFEGUARDING = "safeguarding"
# The decisions, measured by cross-validation in tests/bot/test_understanding.py.
ANSWER = "answer"
CLARIFY = "clarify"
# Answer when the best topic is this likely; below it, ask "do you mean A or B?" when the two
# best topics together are likely and the second is a real contender; answer anyway when the
# best is at least ANSWER_AT; else `fallback`.
CLARIFY_BELOW = 0.60
CLARIFY_AT = 0.65
CLARIFY_SECOND_AT = 0.20
ANSWER_AT = 0.30
# A second question in the same message is answered when its clause is at least this likely.
SECOND_TOPIC_AT = 0.55
# The classifier alone (the detector in bot/safeguarding.py aside) raises a concern only when
# this sure: a backstop, tuned so that no fostering question in the examples sets it off.
SAFEGUARDING_AT = 0.50
# Only the start of a very long message is classified (all of it is still stored).
MAX_MATCH_CHARS = 1500
CONCEPT_PREFIX = "zc"
# Regularisation of the classifier, and the weight of "how much of this is about fostering".
# At 3,614 examples, 5-fold cross-validation (seeds 0-4) read 91.3-91.8% with C 0.5 and weight
# 0.7, and 92.4-92.7% with C 1.0 and weight 0.4 (off-topic 89.7-91.5% and 90.5-92.2%): with
# more examples per topic, the words themselves tell fostering from the rest better than the
# share of fostering words does (weight 0.2 read higher still, but off-topic fell under 90%).
SVM_C = 1.0
DOMAIN_WEIGHT = 0.4
# Temperature when there are too few examples to fit one (an edited, tiny knowledge base).
DEFAULT_TEMPERATURE = 0.25
TEMPERATURE_FOLDS = 3

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'"})
_NON_WORD = re.compile(r"[^a-z0-9]+")
_REPEATED = re.compile(r"([a-z])\1{2,}")
# "I'm 58", "turned 67", "in our sixties", "under 60": a person's age is a question about age.
_AGE = re.compile(
    r"\b(?:i am|we are|turned|turning|turn|aged|age|im|be|being|at|under|over|past|till|until) "
    r"(?:nearly |almost |over |only )?"
    r"(?:1[6-9]|[2-9][0-9])\b|\b(?:1[6-9]|[2-9][0-9]) (?:years|year|yrs)\b|"
    r"\b(?:twenties|thirties|forties|fifties|sixties|seventies|eighties|20s|30s|40s|50s|60s|70s|80s)\b"
)
# Where a new question starts: punctuation and joining words (removed), or just before
# "what about" / after "and" when a question word follows (kept).
_SPLIT = re.compile(
    r"[?!.;\n]+|\b(?:and also|also|another thing|plus|oh and|and)\b(?= |$)"
    r"(?=\s*(?:what|do|does|can|could|how|is|are|will|would|should|about|if|my|i|we|$))"
    r"|\b(?:also|another thing|plus|oh and)\b|(?=\bwhat about\b)"
    r"|,\s*(?:but |and |so )?(?=(?:can|could|do|does|is|are|will|would|should|what|how|who|"
    r"when|where|why|am|have|has)\b)"
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
    # ANSWER, CLARIFY or FALLBACK; with CLARIFY, the two topics to choose between.
    decision: str = ANSWER
    alternatives: tuple[Match, ...] = ()

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
        self._phrases_by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for words, shared in pairs:
            self._phrases_by_first.setdefault(words[0], []).append((words, shared))
        vocabulary = set(vocabulary)
        for value in self.textspeak.values():
            vocabulary.update(value.split())
        for words, shared in pairs:
            vocabulary.update(words)
            vocabulary.add(shared)
        self.vocabulary = frozenset(w for w in vocabulary if w)
        self._by_length: dict[int, list[str]] = {}
        # Sorted, so that a tie between two corrections is broken the same way in every
        # process (a set's order changes with Python's string hashing).
        for word in sorted(self.vocabulary):
            self._by_length.setdefault(len(word), []).append(word)
        self._correct = lru_cache(maxsize=20_000)(self._correct_uncached)

    def _correct_uncached(self, token: str) -> str:
        if token in self.vocabulary or token.isdigit() or len(token) < 3:
            return token
        if _REPEATED.search(token):
            # "heyyy", "hiii", "sooo": a letter held down is the word itself.
            for squeezed in (_REPEATED.sub(r"\1\1", token), _REPEATED.sub(r"\1", token)):
                if squeezed in self.vocabulary or squeezed in self.textspeak:
                    return squeezed
            token = _REPEATED.sub(r"\1\1", token)
        if len(token) < 4:
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

    def tokens(self, text: str, correct: bool = True) -> list[str]:
        words: list[str] = []
        for token in basic_tokens(text):
            expanded = self.textspeak.get(token)
            if expanded is not None:
                words.extend(expanded.split())
                continue
            corrected = self._correct(token) if correct else token
            expanded = self.textspeak.get(corrected)
            words.extend(expanded.split() if expanded else [corrected])
        return words

    def concepts(self, words: list[str]) -> list[str]:
        """The synonym groups present, longest phrase first at each position: a longer
        phrase uses its words up ("council house" is not also "council")."""
        found: list[str] = []
        index = 0
        while index < len(words):
            for phrase, shared in self._phrases_by_first.get(words[index], ()):
                if tuple(words[index : index + len(phrase)]) == phrase:
                    if shared not in found:
                        found.append(shared)
                    index += len(phrase) - 1
                    break
            index += 1
        return found

    def normalise(self, text: str, correct: bool = True) -> str:
        words = self.tokens(text, correct)
        concepts = self.concepts(words)
        if "age" not in concepts and _AGE.search(" ".join(words)):
            concepts.append("age")
        # Concepts are added as distinct tokens ("zlgbtq") so they do not blur with the words.
        return " ".join(words + [f"{CONCEPT_PREFIX}{c}" for c in concepts])


def basic_tokens(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()
    text = text.replace("'", "").replace("£", " pounds ").replace("&", " and ")
    return [t for t in _NON_WORD.split(text) if t]


_POINTS_BACK = re.compile(
    r"^(?:and |but |so )?(?:would|does|is|will|could|can|should|do|did|might|has|would it|"
    r"is it|does it)\s+(?:that|this|it|they|those|these|any of that|any of this)\b"
)


def joined_clauses(clauses: list[str]) -> list[str]:
    """A question that points back ("I vape, would that mean...") is one with what it points
    back to."""
    out: list[str] = []
    for clause in clauses:
        if out and _POINTS_BACK.match(clause):
            out[-1] = f"{out[-1]} {clause}"
        else:
            out.append(clause)
    return out


def split_clauses(text: str) -> list[str]:
    """Sentences and clauses that may each be a question of their own."""
    parts = [p.strip() for p in _SPLIT.split(text.lower()) if p and p.strip()]
    return [p for p in parts if len(basic_tokens(p)) >= 2]


class Matcher:
    """The classifier over the knowledge base's examples; build once per process (about a
    second), then each message takes about a millisecond."""

    def __init__(self, entries: Iterable[Entry], language: Language) -> None:
        self.entries = [e for e in entries if e.examples]
        vocabulary: set[str] = set()
        for entry in self.entries:
            for text in (*entry.examples, *entry.keywords, entry.slug.replace("-", " ")):
                vocabulary.update(basic_tokens(text))
        self.normaliser = Normaliser(language, vocabulary)
        self.is_topic = {e.slug: e.is_topic for e in self.entries}
        documents: list[str] = []
        labels: list[str] = []
        for entry in self.entries:
            for example in entry.examples:
                if entry.slug == FALLBACK and animal_fostering(example):
                    # The rule answers these; taught to the classifier they would make every
                    # pet look off-topic.
                    continue
                documents.append(self.normaliser.normalise(example))
                labels.append(entry.slug)
        self.model = Model(documents, labels, self.normaliser)
        self.slugs: list[str] = [str(c) for c in self.model.classes]
        self.temperature = fit_temperature(self.model, documents, labels)

    def probabilities(self, text: str) -> np.ndarray:
        """One calibrated probability per slug (in `self.slugs` order)."""
        normalised = self.normaliser.normalise(text[:MAX_MATCH_CHARS])
        if not normalised.strip():
            out = np.zeros(len(self.slugs))
            if FALLBACK in self.slugs:
                out[self.slugs.index(FALLBACK)] = 1.0
            return out
        out = softmax(self.model.scores([normalised])[0] / self.temperature)
        concern = self.slugs.index(SAFEGUARDING) if SAFEGUARDING in self.slugs else None
        if concern is not None and out.argmax() == concern:
            # The classifier's backstop raises a concern only when the words as written say
            # so too, not only a spelling correction ("who scored" is not "who scared").
            written = self.normaliser.normalise(text[:MAX_MATCH_CHARS], correct=False)
            if written != normalised:
                as_written = softmax(self.model.scores([written])[0] / self.temperature)
                if as_written[concern] < out[concern]:
                    out = as_written
        return out

    def ranked(self, text: str) -> list[Match]:
        probabilities = self.probabilities(text)
        order = np.argsort(-probabilities)
        return [Match(self.slugs[i], float(probabilities[i])) for i in order]

    def decide(self, ranked: Sequence[Match]) -> tuple[str, tuple[Match, ...]]:
        """(decision, the matches it is about) for a ranked list."""
        first = ranked[0]
        if first.slug == SAFEGUARDING:
            if first.score >= SAFEGUARDING_AT:
                return ANSWER, (first,)
            # Not sure enough to raise a concern: judge the message without that class.
            ranked = [m for m in ranked if m.slug != SAFEGUARDING]
            first = ranked[0]
        if first.slug == FALLBACK:
            return FALLBACK, (Match(FALLBACK, first.score),)
        if first.score >= CLARIFY_BELOW:
            return ANSWER, (first,)
        second = next((m for m in ranked[1:] if m.slug != SAFEGUARDING), None)
        if (
            second is not None
            and self.is_topic.get(first.slug)
            and self.is_topic.get(second.slug)
            and second.score >= CLARIFY_SECOND_AT
            and first.score + second.score >= CLARIFY_AT
        ):
            return CLARIFY, (first, second)
        if first.score >= ANSWER_AT:
            return ANSWER, (first,)
        fallback = next((m for m in ranked if m.slug == FALLBACK), Match(FALLBACK, 0.0))
        return FALLBACK, (Match(FALLBACK, max(fallback.score, 1 - first.score)),)

    def best(self, text: str) -> Match:
        return self.decide(self.ranked(text))[1][0]

    def analyse(self, text: str) -> Analysis:
        """The message's decision, plus the other questions asked in it."""
        text = text[:MAX_MATCH_CHARS]
        if animal_fostering(text):
            # "Can I foster a cat", "adopting a dog": a question for an animal charity.
            return Analysis(
                best=Match(FALLBACK, 0.9), matches=(Match(FALLBACK, 0.9),), decision=FALLBACK
            )
        ranked = self.ranked(text)
        decision, found = self.decide(ranked)
        best = found[0]
        clauses = joined_clauses(split_clauses(text))
        telling = [c for c in clauses if not self.asking(c, text)]
        if telling and len(telling) < len(clauses) and best.slug != SAFEGUARDING:
            # Context and a question ("we're both fit and healthy, can we foster a baby?"):
            # the context ("healthy") is not answered as if it were asked.
            # Only when the context alone is what the whole message was taken for, and the
            # questions alone are clearly about something else.
            questions = [c for c in clauses if c not in telling]
            if not all(self.generic(c) or self.dependent(c) for c in questions):
                asked_decision, asked_found = self.decide(self.ranked(" ".join(questions)))
                told = self.decide(self.ranked(" ".join(telling)))[1][0]
                if (
                    asked_decision == ANSWER
                    and told.slug == best.slug
                    and asked_found[0].slug not in (best.slug, FALLBACK, SAFEGUARDING)
                ):
                    decision, found = asked_decision, asked_found
                    best = found[0]
        asked: list[Match] = []
        if len(clauses) > 1 and best.slug != SAFEGUARDING:
            for clause in clauses[:6]:
                if not self.asking(clause, text):
                    continue
                if self.generic(clause) or self.dependent(clause):
                    # "could I become a foster carer?": the topic is in the rest.
                    continue
                clause_decision, (match, *_rest) = self.decide(self.ranked(clause))
                if clause_decision != ANSWER or match.score < SECOND_TOPIC_AT:
                    continue
                if match.slug in (FALLBACK, SAFEGUARDING):
                    continue
                if all(m.slug != match.slug for m in asked):
                    asked.append(match)
        if decision == CLARIFY and len(asked) < 2:
            return self.kinship_first(
                text, Analysis(best=best, matches=(best,), decision=CLARIFY, alternatives=found)
            )
        # Answer the questions asked, in the order asked; statements are context only.
        matches = asked or ([best] if decision == ANSWER else [])
        if not matches:
            return Analysis(best=best, matches=(best,), decision=FALLBACK)
        if all(m.slug != best.slug for m in matches):
            best = matches[0]
        return self.kinship_first(
            text, Analysis(best=best, matches=tuple(matches[:3]), decision=ANSWER)
        )

    def kinship_first(self, text: str, analysis: Analysis) -> Analysis:
        """Someone raising (or about to raise) a relative's or a friend's child is on the
        kinship pathway whatever they ask about: "I'm raising my grandson, what help can we
        get" needs the kinship answer (connected person, special guardianship, kinship
        support), not the support for foster carers; likewise for their money, the process or
        how long it takes. Adoption, contact with the birth family, a concern about a child and
        the intents keep their own answers."""
        if not KINSHIP_OVERRIDES or KINSHIP not in self.is_topic:
            return analysis
        chosen = analysis.alternatives[0] if analysis.decision == CLARIFY else analysis.best
        words = self.normaliser.tokens(text)
        if chosen.slug in ("support", KINSHIP) and already_fostering(words):
            # "we foster and our granddaughter visits, is there support for carers": someone
            # who already fosters, asking about support, is asking about the support for foster
            # carers, whichever relative is mentioned (the classifier alone reads the
            # grandchild as kinship, and "support" would otherwise point back to it).
            support = self.support_asked(text)
            if support is not None:
                others = tuple(m for m in analysis.matches if m.slug not in ("support", KINSHIP))
                return Analysis(best=support, matches=(support, *others)[:3], decision=ANSWER)
        if chosen.slug not in KINSHIP_OVERRIDES or not kin_child(words):
            return analysis
        kinship = Match(KINSHIP, max(chosen.score, 0.5))
        others = tuple(m for m in analysis.matches if m.slug not in (chosen.slug, KINSHIP))
        return Analysis(best=kinship, matches=(kinship, *others)[:3], decision=ANSWER)

    def support_asked(self, text: str) -> Match | None:
        """The support topic, when a clause that asks something is about it."""
        if "support" not in self.is_topic:
            return None
        for clause in joined_clauses(split_clauses(text))[:6]:
            if not self.asking(clause, text):
                continue
            decision, (match, *_rest) = self.decide(self.ranked(clause))
            if decision == ANSWER and match.slug == "support" and match.score >= SECOND_TOPIC_AT:
                return match
        return None

    @staticmethod
    def asking(clause: str, text: str) -> bool:
        lowered = text.lower()
        return asks(clause) or f"{clause}?" in lowered or f"{clause} ?" in lowered

    def dependent(self, clause: str) -> bool:
        """A question whose subject is in what was said before it: "can he live with me",
        "should we wait", "what help can we get"."""
        return any(w in DEPENDENT_WORDS for w in self.normaliser.tokens(clause))

    def generic(self, clause: str) -> bool:
        """A question with no subject of its own ("can I still apply", "is that ok")."""
        words = self.normaliser.tokens(clause)
        return not any(is_content(w) and w not in GENERIC_WORDS for w in words)


class Model:
    """The features and the linear classifier, without calibration."""

    def __init__(self, documents: list[str], labels: list[str], normaliser: Normaliser) -> None:
        self.normaliser = normaliser
        # Words of fostering: every word of the examples that are not off-topic, and of the
        # synonym groups. A message made mostly of other words ("gym membership") is likely
        # not about fostering.
        self.domain_words: set[str] = set()
        for document, label in zip(documents, labels, strict=True):
            if label != FALLBACK:
                self.domain_words.update(document.split())
        for phrase, _shared in normaliser.synonyms:
            self.domain_words.update(phrase)
        self.words = TfidfVectorizer(
            analyzer="word",
            ngram_range=(1, 2),
            sublinear_tf=True,
            token_pattern=r"\S+",
            preprocessor=stems,
        )
        # Character n-grams of the content words only, so shared typos count but a shared
        # frame ("can I still ...") does not.
        self.chars = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, preprocessor=content
        )
        features = self.features(documents, fit=True)
        # A fixed random_state: liblinear shuffles its coordinate descent, so without it two
        # builds from the same examples could differ by an example or two.
        self.classifier = LinearSVC(C=SVM_C, random_state=0).fit(features, labels)
        self.classes = list(self.classifier.classes_)
        # For one message at a time, scikit-learn's checks cost more than the sums: the same
        # transforms and the same linear scores, done directly.
        self._fast = [_Transform(self.words), _Transform(self.chars, len(self.words.vocabulary_))]
        self._weights = np.ascontiguousarray(self.classifier.coef_.T)
        self._intercept = self.classifier.intercept_

    def _domain(self, document: str) -> list[float]:
        words = document.split()
        core = any(w in CORE_WORDS or w in CORE_CONCEPTS for w in words)
        contents = [w for w in words if not w.startswith(CONCEPT_PREFIX) and is_content(w)]
        share = sum(w in self.domain_words for w in contents) / len(contents) if contents else 1.0
        return [DOMAIN_WEIGHT * (1 - share), 0.0 if core else DOMAIN_WEIGHT]

    def features(self, documents: list[str], fit: bool = False):
        if fit:
            words = self.words.fit_transform(documents)
            chars = self.chars.fit_transform(documents)
        else:
            words = self.words.transform(documents)
            chars = self.chars.transform(documents)
        domain = csr_matrix(np.array([self._domain(d) for d in documents]))
        return hstack([words, chars, domain]).tocsr()

    def scores(self, documents: list[str]) -> np.ndarray:
        if len(self.classes) == 2:
            scores = self.classifier.decision_function(self.features(documents))
            return np.column_stack([-scores, scores])
        if len(documents) > 8:
            return self.classifier.decision_function(self.features(documents))
        out = np.empty((len(documents), len(self.classes)))
        for row, document in enumerate(documents):
            total = self._intercept.copy()
            for transform in self._fast:
                columns, values = transform(document)
                if len(columns):
                    total += values @ self._weights[columns]
            domain = self._domain(document)
            total += np.array(domain) @ self._weights[-2:]
            out[row] = total
        return out


class _Transform:
    """TfidfVectorizer.transform for one document: the same analyser, vocabulary, idf,
    sublinear tf and l2 norm."""

    def __init__(self, vectorizer: TfidfVectorizer, offset: int = 0) -> None:
        self.analyse = vectorizer.build_analyzer()
        self.vocabulary = vectorizer.vocabulary_
        self.idf = vectorizer.idf_
        self.sublinear = vectorizer.sublinear_tf
        # Where this vectorizer's columns start among the model's features.
        self.offset = offset

    def __call__(self, document: str) -> tuple[np.ndarray, np.ndarray]:
        counts: dict[int, int] = {}
        for term in self.analyse(document):
            index = self.vocabulary.get(term)
            if index is not None:
                counts[index] = counts.get(index, 0) + 1
        if not counts:
            return np.empty(0, dtype=np.intp), np.empty(0)
        columns = np.fromiter(counts, dtype=np.intp, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=float, count=len(counts))
        if self.sublinear:
            tf = 1 + np.log(tf)
        values = tf * self.idf[columns]
        values /= np.sqrt(values @ values)
        return columns + self.offset, values


def fit_temperature(model: Model, documents: list[str], labels: list[str]) -> float:
    """The temperature that makes softmax(scores / T) honest on examples the classifier did
    not see: each fold scored by a model (features and classifier) built from the others."""
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    folds = min(TEMPERATURE_FOLDS, min(counts.values()))
    if folds < 2 or len(counts) < 2:
        return DEFAULT_TEMPERATURE
    docs = np.array(documents, dtype=object)
    targets = np.array(labels)
    classes = list(model.classes)
    held_out = np.zeros((len(labels), len(classes)))
    splitter = StratifiedKFold(folds, shuffle=True, random_state=0)
    for train, test in splitter.split(docs, targets):
        fold = Model(list(docs[train]), list(targets[train]), model.normaliser)
        columns = [classes.index(c) for c in fold.classes]
        held_out[np.ix_(test, columns)] = fold.scores(list(docs[test]))
    truth = np.array([classes.index(label) for label in labels])

    def loss(temperature: float) -> float:
        p = softmax(held_out / temperature, axis=1)
        return float(-np.log(p[np.arange(len(truth)), truth] + 1e-12).mean())

    return float(minimize_scalar(loss, bounds=(0.02, 5.0), method="bounded").x)


def softmax(values: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = values - values.max(axis=axis, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=axis, keepdims=True)


def stems(document: str) -> str:
    """A light stemmer for the word features ("lesbians" counts as "lesbian")."""
    return " ".join(_stem(w) for w in document.split())


def _stem(word: str) -> str:
    if word.startswith(CONCEPT_PREFIX) or len(word) < 5 or word.endswith("ss"):
        return word
    for suffix, replacement in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + replacement
    return word


_ANIMALS = (
    r"(?:dog|dogs|puppy|puppies|pup|pups|cat|cats|kitten|kittens|kitty|rabbit|rabbits|bunny|"
    r"hamster|hamsters|guinea pigs?|horse|horses|pony|ponies|ferret|ferrets|tortoise|parrot|"
    r"birds?|pets?|animals?|greyhound|greyhounds|staffie|staffy)"
)
# An animal as what is fostered or adopted, not a pet beside a fostered child.
ANIMAL_FOSTERING = re.compile(
    r"\b(?:foster|fostering|fostered|adopt|adopting|adopted|rehome|rehoming)"
    r"(?: (?:a|an|the|some|two|2|rescue|stray|older|senior|new|little|baby|retired|ex|racing|"
    r"another|young|old))* "
    + _ANIMALS
    + r"\b|\b(?:animal|pet|dog|cat) (?:fostering|adoption|rescue|shelter|rehoming)\b"
)
# An animal charity's fostering ("the cats protection want foster homes"), when no child is
# mentioned ("i volunteer at the rspca, can i foster a teenager" is about fostering).
_ANIMAL_CHARITY = re.compile(
    r"\b(?:cats protection|dogs trust|rspca|blue cross|battersea|pdsa|animal rescue)\b"
)
_ANY_CHILD = re.compile(
    r"\b(?:child|children|childs|kid|kids|baby|babies|teen|teens|teenager|teenagers|young person|"
    r"young people|boy|girl|boys|girls|son|daughter|sibling|siblings)\b"
)
_FOSTER_WORD = re.compile(
    r"\b(?:foster|fostering|fostered|adopt|adopting|adoption|rehome|rehoming)"
)


KINSHIP = "kinship"
# The topics a relative's or friend's child turns into kinship (see Matcher.kinship_first).
# Not age: grandparents asking whether they are too old mention their grandchildren too.
KINSHIP_OVERRIDES = frozenset(
    {
        "support",
        "allowances",
        "process",
        "timescale",
        "relationship-status",
        "types-of-fostering",
        "own-children",
        "spare-room",
        # "my cousin's children might go into care, can i step in" is not yet a visit to book.
        "book-visit",
        FALLBACK,
    }
)
_KIN_CHILD = re.compile(
    r"\b(?:grand(?:son|daughter|child|children|kid|kids|baby|babies)s?|nieces?|nephews?|"
    r"kinship|connected (?:person|persons|carer|carers)|"
    r"(?:sisters|brothers|cousins|friends|mates|neighbours|daughters|sons|nephews|nieces|"
    r"stepdaughters|stepsons|aunties|aunts|uncles) "
    r"(?:(?:two|three|four|2|3|4|little|young|baby|teenage|eldest|youngest|older|younger) )?"
    r"(?:kids|children|child|son|sons|daughter|daughters|boy|"
    r"boys|girl|girls|baby|babies|little one|little ones|lad|lads|toddler|twins))\b"
)


# Someone who fosters already ("we foster", "i'm a foster carer", "we've been approved
# carers for years"), said as a fact, not asked ("can we foster my grandson").
_ALREADY_FOSTERING = re.compile(
    r"(?<!can )(?<!could )(?<!would )(?<!should )(?<!to )(?<!do )(?<!will )(?<!might )"
    r"\b(?:i|we|ive|weve)(?: have| ve)? "
    r"(?:already |currently |still |been )*(?:foster|fostering|fostered)\b"
    r"(?! (?:my|our|her|his|their|him|them|a|an|the|carer|carers|parent|parents)\b)"
    r"|\b(?:im|i am|were|we are) (?:an? )?(?:already |currently |experienced |approved |"
    r"registered )*(?:foster )?(?:carer|carers|foster parents?)\b"
)


def already_fostering(words: Sequence[str]) -> bool:
    return _ALREADY_FOSTERING.search(" ".join(words)) is not None


def kin_child(words: Sequence[str]) -> bool:
    """A relative's or friend's child ("my grandson", "my sisters kids", "her nephew")."""
    return _KIN_CHILD.search(" ".join(words)) is not None


def animal_fostering(text: str) -> bool:
    words = " ".join(basic_tokens(text))
    if ANIMAL_FOSTERING.search(words):
        return True
    return bool(
        _ANIMAL_CHARITY.search(words)
        and _FOSTER_WORD.search(words)
        and not _ANY_CHILD.search(words)
    )


_ASKS = re.compile(
    r"\?|^(?:and |but |so |also |oh |plus |then |what about |how about )?"
    r"(?:can|could|do|does|did|is|are|will|would|should|shall|what|whats|how|who|where|when|"
    r"why|which|am|have|has|may|might|must|any|tell me|explain|wondering|wonder|"
    r"id like to know|i want to know|i need to know|is it|is there|are there)\b",
    re.IGNORECASE,
)


def asks(clause: str) -> bool:
    """Does this clause ask something (rather than tell us something)?"""
    return bool(_ASKS.search(clause.strip()))


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
# A question with one of these words takes its subject from what was said before it ("we're
# raising our grandson, what help can we get"; "we have a newborn, should we wait"; "my
# nephew is in care, can he come to us"), so it does not replace the whole message's topic.
DEPENDENT_WORDS = _words(
    """he she him her his it that this them they those these instead wait waiting help
    support"""
)
# The frame of a question, not its subject.
FRAME_WORDS = _words(
    """still able allowed problem matter affect stop rule need want like become okay ok not
    would anyone them they he she his her their us him be being go going know tell say said
    yes no yet also too then than more most lot lots thing things way does"""
)
OFF_DOMAIN = frozenset({FALLBACK})
# Words of a question about fostering in general, with no subject of its own.
GENERIC_WORDS = _words(
    """become apply applying application foster fostering fostered carer carers parent parents
    option options possible allowed eligible considered consider chance able ok okay problem
    issue matter fine right count counts rule ruled accept accepted approved approve welcome
    even ever anyway start started do done work child children kid kids young person people
    someone somebody"""
)
CORE_WORDS = _words(
    """foster fostering fostered carer carers child children kid kids baby babies teenager
    teenagers adopt adoption placement placements social"""
)
CORE_CONCEPTS = frozenset({"zcfoster", "zcchild", "zcadopt", "zckinship", "zcbirthfamily"})
