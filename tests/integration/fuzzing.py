"""Shared parts of the public entry points' fuzz tests: hostile text, bounded deterministic
hypothesis settings, and the checks that the database is still consistent afterwards."""

from __future__ import annotations

import unicodedata
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from sqlmodel import Session, SQLModel, func, select

import crm.models as m

# Bounded and the same on every run (CI must be steady): a few hundred examples at most, no
# example database, no deadline (the machine is shared), derandomized.
FUZZ = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        # One app and database per test, shared by its examples on purpose: what earlier
        # examples left behind is part of what later ones meet.
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

# Characters that have broken things, or could: NUL and other controls, every kind of line
# break, DEL and C1 controls, bidi overrides, zero-width and byte-order marks, a combining
# accent, a non-character, an emoji joined with ZWJ, the replacement character.
SPECIALS = [
    "\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x1b[31m", "\x7f", "\x85",
    "\x9b", "\r", "\r\n", "\n", "\t", "\u2028", "\u2029", "\u202e", "\u200b", "\u200d",
    "\ufeff", "e\u0301", "\uffff", "\ufffd", "👩\u200d👩\u200d👧", "O’Brien", "Zoë", "ß",
    "ﬁ", "İ", "'", '"', "<b>", "%00", "\\", ";", ",",
]  # fmt: skip
SURROGATES = ["\ud800", "\udfff", "\udc80"]
WHITESPACE = [" ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2003"]


def nasty_text(*, surrogates: bool = False, max_size: int = 40) -> st.SearchStrategy[str]:
    """Hostile text: any characters, the known troublemakers, whitespace only, very long.
    Lone surrogates only where the transport can carry them (JSON escapes; never a form
    field, which is UTF-8 on the wire)."""
    specials = SPECIALS + (SURROGATES if surrogates else [])
    any_char = st.characters() if surrogates else st.characters(exclude_categories=["Cs"])
    piece = st.one_of(st.sampled_from(specials), any_char)
    return st.one_of(
        st.lists(piece, max_size=max_size).map("".join),
        st.text(any_char, max_size=max_size),
        st.lists(st.sampled_from(WHITESPACE), min_size=1, max_size=6).map("".join),
        st.builds(
            lambda unit, times: unit * times,
            st.sampled_from(["a", "é", "\x00", "😀", " ", "ab\r\n", *specials[:4]]),
            st.integers(500, 20_000),
        ),
    )


def sprinkled(valid: str, *, surrogates: bool = False) -> st.SearchStrategy[str]:
    """A good value with troublemakers put in: in front, at the end or in the middle."""
    specials = SPECIALS + (SURROGATES if surrogates else [])
    return st.builds(
        lambda where, extra: valid[:where] + extra + valid[where:],
        st.integers(0, len(valid)),
        st.lists(st.sampled_from(specials), min_size=1, max_size=3).map("".join),
    )


def field(valid: str, *, surrogates: bool = False) -> st.SearchStrategy[str]:
    """A good value, the good value with troublemakers in it, or anything hostile."""
    return st.one_of(
        st.just(valid),
        sprinkled(valid, surrogates=surrogates),
        nasty_text(surrogates=surrogates),
    )


def changed(
    good: st.SearchStrategy[dict], changes: dict[str, st.SearchStrategy]
) -> st.SearchStrategy[dict]:
    """A good form (or body) with one to three of its fields changed, so most examples get
    past the first check and take their bad value deep into the rules and the database."""
    keys = st.lists(st.sampled_from(sorted(changes)), min_size=1, max_size=3, unique=True)
    altered = keys.flatmap(lambda names: st.fixed_dictionaries({n: changes[n] for n in names}))
    return st.tuples(good, altered).map(lambda pair: {**pair[0], **pair[1]})


# -- the database afterwards ----------------------------------------------------------------


def counts(session: Session, *models: type[SQLModel]) -> dict[str, int]:
    session.expire_all()
    return {
        model.__tablename__: session.exec(select(func.count()).select_from(model)).one()
        for model in models
    }


def bad_characters(value: str) -> list[str]:
    return [
        c
        for c in value
        if (unicodedata.category(c) in ("Cc", "Cs") and c not in "\n\t") or c in "\u2028\u2029"
    ]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def assert_no_control_characters_stored(session: Session) -> None:
    """No text in any table (JSON documents included) holds a control character or a lone
    surrogate: on SQLite nothing else would have stopped one being stored."""
    session.expire_all()
    offenders = []
    for table in SQLModel.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, sa.String | sa.Text | sa.JSON)]
        if not columns:
            continue
        for row in session.connection().execute(sa.select(*columns)):
            for column, value in zip(columns, row, strict=True):
                if any(bad_characters(s) for s in _strings(value)):
                    offenders.append(f"{table.name}.{column.name}: {value!r:.80}")
    assert offenders == []


def assert_households_consistent(session: Session) -> None:
    """Every household has its applicants and its history begins with the enquiry; its
    current stage is the last one its history reached (nothing half-written)."""
    session.expire_all()
    without_applicant = session.exec(
        select(m.Household.reference).where(
            ~sa.exists().where(m.Applicant.household_id == m.Household.id)
        )
    ).all()
    assert without_applicant == []
    events: dict[int, list[m.StageEvent]] = {}
    for event in session.exec(
        select(m.StageEvent).order_by(m.StageEvent.occurred_at, m.StageEvent.id)
    ):
        events.setdefault(event.household_id, []).append(event)
    for household in session.exec(select(m.Household)):
        history = events.get(household.id, [])
        assert history, f"household {household.reference} has no stage event"
        first = history[0]
        assert (first.from_stage, first.to_stage) == (None, m.Stage.ENQUIRY), household.reference
        assert household.stage == history[-1].to_stage, household.reference
