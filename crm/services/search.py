"""Search that forgives: what staff type in the household (and carers) search box, turned into
a condition on households and a score to put the best match first.

- an email finds its applicant (exactly when it is a whole address, by its start otherwise);
- a phone number is normalised to E.164 (spaces, brackets, +44 or 0 all alike) and found exactly;
- a postcode is normalised (case and spacing: "le16zg" is "LE1 6ZG") and found by its start;
- a reference ("FC-ABCD-1234", any case) by its start;
- anything else is a name: one word is a first or last name, "first last" both. A name is
  found by its start ("jon" finds Jones) or, with a typo, by trigram similarity
  ("Whitfeld" finds Whitfield).

Trigram similarity is pg_trgm's: each word lower-cased and padded with two spaces in front and
one behind, its three-letter pieces taken as a set, and the similarity of two names the shared
pieces over all pieces. A name is similar at SIMILARITY (0.3, pg_trgm's default threshold).

On PostgreSQL the similar names come from pg_trgm's `%` operator on the trigram GIN indexes
of migration 0018_perf. SQLite has no trigram index, so there the same Python similarity
(`similarity` below, registered as an SQL function on the connection) is run over the
*distinct* lower-cased names, which SQLite reads from the lower(...) indexes of 0003_web,
skipping from each name to the next. That is the bound: the work grows with the number of
different first and last names in the database, not with households or applicants (a surname
shared by 2,000 households is compared once). Every name either database offers is scored
again here in Python, and the same MAX_SIMILAR_NAMES best kept, so both databases give the same
answers in the same order.

Scores, best first: a name equal to what was typed (3), a name that starts with it (2), a
similar name (its similarity, below 1). "First last" adds the two. Ties keep the list's order
(newest enquiry first unless another order is chosen).

Which households are returned is still decided by crm.services.access: the condition here is
only ever added to the visibility rule, never used alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from crm.models import Applicant, Household
from crm.services.validation import normalise_email, normalise_phone

SIMILARITY = 0.3
# Similar names kept per name part, best first: a typo has a handful of plausible spellings;
# more than this and the search box should be given more letters, not more rows.
MAX_SIMILAR_NAMES = 50
# Fewer letters than this carry one or two trigrams, which match almost anything.
MIN_SIMILAR_LENGTH = 3
EXACT, PREFIX = 3, 2

_REFERENCE = re.compile(r"^FC-?[A-Z0-9]{0,4}-?[A-Z0-9]{0,4}$", re.IGNORECASE)
_POSTCODE_START = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?( ?[0-9][A-Z]{0,2})?$", re.IGNORECASE)
# pg_trgm's words: runs of letters and digits (anything else separates words).
_WORD = re.compile(r"[^\W_]+")
SQLITE_FUNCTION = "fostercrm_similarity"


# -- trigram similarity (pg_trgm's definition) ----------------------------------------------


@lru_cache(maxsize=4096)
def trigrams(text: str) -> frozenset[str]:
    found: set[str] = set()
    for word in _WORD.findall(text.lower()):
        padded = f"  {word} "
        found.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return frozenset(found)


def similarity(a: str | None, b: str | None) -> float:
    """pg_trgm's similarity(a, b): shared trigrams over all trigrams, 0 to 1."""
    if not a or not b:
        return 0.0
    left, right = trigrams(a), trigrams(b)
    union = len(left | right)
    return len(left & right) / union if union else 0.0


# -- what was typed -----------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """A condition on households and the score of each (a correlated expression), or a
    condition alone when every match is as good as another (an email, a phone, ...)."""

    condition: sa.ColumnElement[bool]
    score: sa.ColumnElement[Any] | None = None


def _prefix_range(value: Any, prefix: str) -> sa.ColumnElement[bool]:
    """`value` starts with `prefix`, written as a range so a B-tree index serves it on SQLite
    and PostgreSQL alike; LIKE keeps the match exact (a range alone would let "jon~" in)."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return sa.and_(value >= prefix, value < upper, value.like(escaped + "%", escape="\\"))


def _applicant_match(session: Session, condition: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
    """Households with an applicant matching `condition`."""
    matching = select(Applicant.household_id).where(condition)
    if session.connection().dialect.name == "postgresql":
        # As an array computed first, the few matches are fetched by their primary key.
        # Written as IN (subquery), PostgreSQL guesses how many there are from the name
        # indexes, and at a few hundred it prefers hashing the whole household table to
        # fetching them (a sequential scan of every household for a search by name).
        ids = select(sa.func.array_agg(Applicant.household_id)).where(condition)
        # The cast keeps it one array: ANY (SELECT ...) would compare with each row instead.
        array = sa.cast(ids.scalar_subquery(), sa.ARRAY(sa.Integer))
        return Household.id == sa.any_(array)
    return Household.id.in_(matching)


def match(session: Session, q: str) -> Match | None:
    """What `q` finds, as a Match; None when nothing was typed."""
    q = " ".join((q or "").split())
    if not q:
        return None
    if "@" in q:
        try:
            return Match(_applicant_match(session, Applicant.email == normalise_email(q)))
        except ValueError:
            return Match(_applicant_match(session, _prefix_range(Applicant.email, q.lower())))
    if sum(ch.isdigit() for ch in q) >= 6 and not _REFERENCE.match(q):
        try:
            return Match(_applicant_match(session, Applicant.phone == normalise_phone(q)))
        except ValueError:
            return Match(sa.false())
    if _REFERENCE.match(q) and q.upper().startswith("FC"):
        return Match(_prefix_range(Household.reference, q.upper()))
    if _POSTCODE_START.match(q) and any(ch.isdigit() for ch in q):
        # Stored as "LE1 6ZG": a whole postcode typed without its space gets it back; a
        # part keeps the space where it was typed ("le1 6" is the start of "LE1 6ZG").
        compact = q.upper().replace(" ", "")
        spaced = f"{compact[:-3]} {compact[-3:]}" if len(compact) >= 5 else q.upper()
        return Match(_prefix_range(Household.postcode, spaced))
    return _name_match(session, q)


# -- names ----------------------------------------------------------------------------------


def _name_part(session: Session, column: Any, typed: str) -> tuple[Any, Any]:
    """The condition on one applicant column ("first_name" or "last_name") and its score."""
    typed = typed.lower()
    lowered = sa.func.lower(column)
    starts = _prefix_range(lowered, typed)
    similar = similar_names(session, column, typed)
    condition = sa.or_(starts, lowered.in_(similar)) if similar else starts
    score = sa.case(
        (lowered == typed, EXACT),
        (starts, PREFIX),
        *[(lowered == name, value) for name, value in similar.items()],
        else_=0,
    )
    return condition, score


def _name_match(session: Session, q: str) -> Match:
    words = q.split(" ")
    if len(words) >= 2:
        first, first_score = _name_part(session, Applicant.first_name, words[0])
        last, last_score = _name_part(session, Applicant.last_name, " ".join(words[1:]))
        condition = sa.and_(first, last)
        score = first_score + last_score
    else:
        first, first_score = _name_part(session, Applicant.first_name, q)
        last, last_score = _name_part(session, Applicant.last_name, q)
        condition = sa.or_(first, last)
        score = sa.case((first_score >= last_score, first_score), else_=last_score)
    best = (
        select(sa.func.max(score))
        .where(Applicant.household_id == Household.id, condition)
        .correlate(Household)
        .scalar_subquery()
    )
    return Match(_applicant_match(session, condition), best)


def similar_names(session: Session, column: Any, typed: str) -> dict[str, float]:
    """Lower-cased names in `column` similar to `typed` but not starting with it (those are
    found by their start), best first, at most MAX_SIMILAR_NAMES: {name: similarity}."""
    typed = typed.lower()
    if len(typed.replace(" ", "")) < MIN_SIMILAR_LENGTH:
        return {}
    lowered = sa.func.lower(column)
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # `%` is the operator the GIN index serves. The extension lives in `public` while the
        # tables may be in another schema, so the operator is named with its schema.
        statement = (
            select(lowered.label("name")).where(lowered.op("OPERATOR(public.%)")(typed)).distinct()
        )
    else:
        _register_sqlite_function(connection)
        # SQLite skips along the index from one distinct name to the next (0.2 ms for 31,000
        # applicants). The LIMIT of none keeps the similarity outside the subquery: pushed
        # into it, it would be called once per applicant instead of once per name (75 ms).
        names = select(lowered.label("name")).distinct().limit(-1).subquery()
        statement = select(names.c.name).where(
            sa.func.fostercrm_similarity(names.c.name, typed) >= SIMILARITY
        )
    scored = []
    for name in session.exec(statement):
        value = similarity(name, typed)
        if value >= SIMILARITY and not name.startswith(typed):
            scored.append((-value, name))
    scored.sort()
    return {name: -negative for negative, name in scored[:MAX_SIMILAR_NAMES]}


def _register_sqlite_function(connection: sa.Connection) -> None:
    # Once per database connection: the pool's `info` lives as long as the connection does.
    pooled = connection.connection
    if pooled.info.get(SQLITE_FUNCTION) or pooled.dbapi_connection is None:
        return
    pooled.dbapi_connection.create_function(SQLITE_FUNCTION, 2, similarity, deterministic=True)
    pooled.info[SQLITE_FUNCTION] = True
