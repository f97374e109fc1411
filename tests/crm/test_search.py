"""Search that forgives (crm.services.search): names with typos, emails, phones, postcodes and
references typed any way, best match first, and never a household the searcher may not see.

Every test here runs on SQLite and on PostgreSQL with the same expected answers: PostgreSQL
finds similar names with pg_trgm, SQLite with the Python similarity, and both must agree.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from crm import clock
from crm.services import search
from crm.services.actors import Actor
from crm.services.households import HouseholdQuery, search_households
from crm.testing.fixtures import new_household


@pytest.fixture
def people(session, settings, org):
    made = {}
    for first, last, postcode, email, phone in [
        ("Anna", "Whitfield", "LE1 6ZG", "anna.w@example.com", "07700 900111"),
        ("Ben", "Whitfeld", "LE2 1AA", "ben@example.com", None),
        ("Cara", "Whiteford", "LE3 2BB", "cara@example.com", None),
        ("Dan", "Whitfield", "NG1 1AA", "dan@example.com", None),  # Southshire
        ("Eve", "Smith", "LE1 7XY", "eve@example.com", "07700 900222"),
    ]:
        made[first] = new_household(
            session,
            settings,
            first_name=first,
            last_name=last,
            email=email,
            phone=phone,
            postcode=postcode,
        )
        clock.advance(timedelta(minutes=5))
    return made


def found(session, user, q: str, **kwargs) -> list[str]:
    actor = Actor.for_staff(session, user)
    page = search_households(session, actor, HouseholdQuery(q=q, **kwargs))
    return [h.display_name for h in page.rows]


def test_a_typo_finds_the_name_best_match_first(session, org, people):
    # Ben's surname is what was typed; Anna's is one letter away; Whiteford is too far.
    assert found(session, org.officer_north, "Whitfeld") == ["Ben Whitfeld", "Anna Whitfield"]
    assert found(session, org.officer_north, "whitfeld") == ["Ben Whitfeld", "Anna Whitfield"]
    # Spelt right, the exact ones first (newest first between them), then the near one.
    assert found(session, org.manager, "Whitfield") == [
        "Dan Whitfield",
        "Anna Whitfield",
        "Ben Whitfeld",
    ]
    # A first name and a surname, both misspelt.
    assert found(session, org.officer_north, "Ana Whitfeld") == ["Anna Whitfield"]
    assert found(session, org.officer_north, "Smiht") == ["Eve Smith"]  # two letters swapped
    assert found(session, org.officer_north, "Smyth") == ["Eve Smith"]
    assert found(session, org.officer_north, "Smoke") == []  # two trigrams of ten shared


def test_another_areas_household_is_never_returned(session, org, people):
    for q in ("Whitfield", "Whitfeld", "whitfi", "Dan Whitfield", "dan@example.com", "NG1 1AA"):
        assert "Dan Whitfield" not in found(session, org.officer_north, q), q
    assert found(session, org.officer_south, "Whitfeld") == ["Dan Whitfield"]
    assert found(session, org.officer_south, "dan@example.com") == ["Dan Whitfield"]
    # An assessing social worker sees households in assessment only: none of these.
    assert found(session, org.assessor_north, "Whitfeld") == []
    assert found(session, org.supervisor_north, "Whitfeld") == []


def test_a_start_still_finds_every_name_that_begins_so(session, org, people):
    assert found(session, org.officer_north, "whit") == [
        "Cara Whiteford",
        "Ben Whitfeld",
        "Anna Whitfield",
    ]
    assert found(session, org.officer_north, "An") == ["Anna Whitfield"]


def test_details_typed_any_way(session, org, people):
    anna = people["Anna"]
    for q in (
        "ANNA.W@example.com",
        "  anna.w@example.com ",
        "07700 900111",
        "07700-900-111",
        "+44 7700 900111",
        "le16zg",
        "LE1   6zg",
        "le1 6",
        anna.reference.lower(),
        anna.reference[:6],
    ):
        assert found(session, org.officer_north, q) == ["Anna Whitfield"], q
    assert found(session, org.officer_north, "07700 900999") == []
    assert found(session, org.officer_north, "nobody@example.com") == []


def test_a_chosen_order_wins_over_the_best_match(session, org, people):
    newest = found(session, org.manager, "Whitfield", sort="enquired_desc")
    assert newest == ["Dan Whitfield", "Ben Whitfeld", "Anna Whitfield"]
    oldest = found(session, org.manager, "Whitfield", sort="enquired_asc")
    assert oldest == list(reversed(newest))


def test_the_python_similarity_is_pg_trgms(session):
    pairs = [
        ("whitfeld", "whitfield"),
        ("whitfeld", "whiteford"),
        ("smyth", "smith"),
        ("smiht", "smith"),
        ("jones", "jonas"),
        ("ana", "anna"),
        ("o'brien", "obrien"),
        ("mary-jane", "mary jane"),
        ("x", "x"),
        ("", "abc"),
    ]
    for a, b in pairs:
        assert search.similarity(a, b) == search.similarity(b, a)
    assert search.similarity("whitfeld", "whitfield") == pytest.approx(7 / 12)
    assert search.similarity("whitfield", "whitfield") == 1.0
    if session.connection().dialect.name != "postgresql":
        return
    for a, b in pairs:
        theirs = session.execute(
            sa.text("SELECT public.similarity(:a, :b)"), {"a": a, "b": b}
        ).scalar_one()
        assert search.similarity(a, b) == pytest.approx(theirs, abs=1e-6), (a, b)
