"""The matching search with hand-built carers: filters, ordering, what it shows and cautions."""

from __future__ import annotations

from datetime import date

import pytest

import crm.models as m
from crm.services import matching
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed
from crm.services.matching import Needs
from tests.crm.keeping.helpers import approved_carer, place


@pytest.fixture
def pool(session, settings, org):
    """Carers in Northshire (LE1-LE3) and Southshire (NG1-NG2) of the same hub."""

    def carer(name, **kw):  # noqa: ANN001, ANN003, ANN202
        return approved_carer(session, settings, org, name=name, **kw)

    return {
        # The right household for two siblings aged 6 and 9: LE1, two places, sibling groups.
        "right": carer(
            "Right", postcode="LE1 2AB", places=2, ages=(4, 12), specialisms=("sibling_groups",)
        ),
        # Fits, but in the next district of the same area.
        "area": carer("Area", postcode="LE3 1AA", places=2, ages=(0, 17)),
        # Fits, but in the neighbouring area.
        "south": carer("South", postcode="NG1 1AA", places=3, ages=(0, 17), supervisor=org.manager),
        # Same district, fits, but at risk of leaving: listed after, with the caution.
        "risky": carer("Risky", postcode="LE1 3AD", places=2, ages=(5, 10)),
        # Same district, one place only.
        "one_place": carer("Oneplace", postcode="LE1 4EF", places=1, ages=(0, 17)),
        # Same district, two places but one filled.
        "half_full": carer("Halffull", postcode="LE1 5GH", places=2, ages=(0, 17)),
        # Same district, ages 0 to 5 only.
        "young": carer("Young", postcode="LE1 6JL", places=3, ages=(0, 5)),
        # Same district, only short breaks.
        "breaks": carer("Breaks", postcode="LE1 7LN", places=2, types=("short_breaks",)),
    }


def names(result) -> list[str]:  # noqa: ANN001
    return [m_.household.display_name.split()[0] for m_ in result.matches]


def test_two_siblings_aged_6_and_9_find_the_right_household_first(session, org, pool):
    pool["risky"].at_risk = True
    pool["risky"].at_risk_reason = "Tired"
    session.add(pool["risky"])
    session.commit()
    place(session, pool["half_full"], "HF-1")
    result = matching.search(
        session, Actor.for_staff(session, org.manager),
        Needs(ages=[6, 9], fostering_type="long_term", postcode="LE1 9ZZ"),
    )  # fmt: skip
    assert names(result) == ["Right", "Risky", "Area", "South"]
    first = result.matches[0]
    assert first.band_label == "Same postcode district" and first.vacancies == 2
    assert "Offers sibling groups" in first.reasons
    assert result.matches[1].cautions == ["Flagged at risk of leaving"]
    assert result.matches[2].band_label == "Same area"
    assert result.matches[3].band_label == "Neighbouring area in the hub"
    assert result.matches[3].area == "Southshire"
    assert result.district == "LE1" and result.area == "Northshire" and result.total == 4


def test_filters_by_age_type_specialism_and_how_long(session, org, pool):
    manager = Actor.for_staff(session, org.manager)
    young = matching.search(session, manager, Needs(ages=[3], postcode="LE1"))
    assert "Young" in names(young) and "Right" not in names(young)
    breaks = matching.search(session, manager, Needs(ages=[8], how_long="nights", postcode="LE1"))
    assert "Breaks" in names(breaks) and names(breaks)[0] == "Oneplace"  # the tightest fit
    assert "Right" in names(breaks)  # short term suits a few nights too
    years = matching.search(session, manager, Needs(ages=[8], how_long="years", postcode="LE1"))
    assert "Breaks" not in names(years)
    disability = matching.search(
        session, manager, Needs(ages=[8], specialisms=["disability"], postcode="LE1")
    )
    assert disability.matches == []
    pool["area"].specialisms = ["disability"]
    session.add(pool["area"])
    session.commit()
    disability = matching.search(
        session, manager, Needs(ages=[8], specialisms=["disability"], postcode="LE1")
    )
    assert names(disability) == ["Area"]


def test_cautions_and_current_household_are_shown(session, org, pool):
    carer = pool["south"]
    carer.status = m.CarerStatus.ON_BREAK
    carer.annual_review_due = date(2026, 1, 1)
    session.add(carer)
    session.commit()
    place(session, carer, "S-1", age=11)
    result = matching.search(
        session, Actor.for_staff(session, org.manager), Needs(ages=[6, 9], postcode="NG1")
    )
    south = next(x for x in result.matches if x.carer.id == carer.id)
    assert south.cautions == ["On a break from fostering", "Annual review overdue"]
    assert [p.child_reference for p in south.current] == ["S-1"]
    # Shown, not hidden, but after the carers with nothing against them.
    assert result.matches[-1].carer.id == carer.id or south.band == 0


def test_visibility_and_bad_input(session, org, pool):
    # The Northshire supervisor sees the carers they supervise, not Southshire's.
    ssw = matching.search(
        session, Actor.for_staff(session, org.supervisor_north), Needs(ages=[7], postcode="LE1")
    )
    assert "South" not in names(ssw) and "Right" in names(ssw)
    with pytest.raises(NotAllowed):
        matching.search(
            session, Actor.for_staff(session, org.officer_north), Needs([7], postcode="LE1")
        )
    with pytest.raises(InvalidInput) as refused:
        matching.search(
            session, Actor.for_staff(session, org.manager),
            Needs(ages=[], fostering_type="pets", specialisms=["x"], how_long="ever", postcode="?"),
        )  # fmt: skip
    assert set(refused.value.errors) == {
        "ages", "fostering_type", "specialisms", "how_long", "postcode",
    }  # fmt: skip
    with pytest.raises(InvalidInput, match="not in any area"):
        matching.search(session, Actor.for_staff(session, org.manager), Needs([7], postcode="ZZ9"))
    assert matching.parse_ages("6 and 9") == [6, 9]
    with pytest.raises(InvalidInput):
        matching.parse_ages("six")
