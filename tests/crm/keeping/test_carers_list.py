"""The carers list: search by name within who may be seen, and the totals of what it matches."""

from __future__ import annotations

import crm.models as m
from crm.services import carers
from crm.services.actors import Actor
from tests.crm.keeping.helpers import approved_carer, place


def test_search_finds_the_carer_by_name_and_totals_count_only_the_matches(session, settings, org):
    found = approved_carer(session, settings, org, name="Ottoline", places=3)
    approved_carer(session, settings, org, name="Bartholomew", places=2)
    place(session, found, "L-1")
    manager = Actor.for_staff(session, org.manager)

    page = carers.list_carers(session, manager, carers.CarerQuery(q="Ottoline"))
    assert [r.carer.id for r in page.rows] == [found.id] and page.total == 1
    assert page.totals == {"places": 3, "placed": 1, "vacancies": 2}
    everyone = carers.list_carers(session, manager, carers.CarerQuery())
    assert everyone.total == 2 and everyone.totals["places"] == 5

    # A recruitment officer works with the pipeline, not carers: nobody by that name either.
    officer = Actor.for_staff(session, org.officer_north)
    assert carers.list_carers(session, officer, carers.CarerQuery(q="Ottoline")).rows == []
    # An anonymised household's carer is never listed.
    household = session.get(m.Household, found.household_id)
    household.anonymised_at = household.created_at
    session.add(household)
    session.commit()
    assert carers.list_carers(session, manager, carers.CarerQuery(q="Ottoline")).total == 0
