"""Hand-built approved carers for the keeping-carers tests."""

from __future__ import annotations

from datetime import date
from itertools import count

from sqlmodel import Session, select

import crm.models as m
from crm.services.actors import Actor
from crm.services.carers import assign_supervisor
from crm.services.pipeline import move_stage
from crm.testing.fixtures import Organisation, new_household

_numbers = count(1)


def approved_carer(
    session: Session,
    settings,  # noqa: ANN001
    org: Organisation,
    *,
    name: str = "Carer",
    postcode: str = "LE1 6ZG",
    places: int = 2,
    ages: tuple[int, int] = (0, 17),
    types: tuple[str, ...] = ("short_term", "long_term"),
    specialisms: tuple[str, ...] = (),
    approved_on: date = date(2024, 1, 15),
    supervisor: m.StaffUser | None = None,
    kinship: bool = False,
    review_due: date = date(2026, 9, 1),
) -> m.Carer:
    n = next(_numbers)
    household = new_household(
        session, settings, first_name=name, last_name=f"Household{n}",
        email=f"carer{n}@example.com", postcode=postcode,
    )  # fmt: skip
    system = Actor.system("test")
    move_stage(session, system, household.id, m.Stage.APPROVED)
    carer = session.exec(select(m.Carer).where(m.Carer.household_id == household.id)).one()
    carer.places = places
    carer.age_min, carer.age_max = ages
    carer.fostering_types = list(types)
    carer.specialisms = list(specialisms)
    carer.approved_on = approved_on
    carer.is_family_and_friends = kinship
    carer.annual_review_due = review_due
    session.add(carer)
    session.commit()
    if supervisor is not False:
        assign_supervisor(session, system, carer.id, (supervisor or org.supervisor_north).id)
    session.refresh(carer)
    return carer


def place(session: Session, carer: m.Carer, reference: str, *, age: int = 8, on=date(2025, 1, 6)):  # noqa: ANN001, ANN201
    placement = m.Placement(
        carer_id=carer.id, child_reference=reference, fostering_type="long_term",
        started_on=on, child_age=age, placing_authority="Northshire",
    )  # fmt: skip
    session.add(placement)
    session.commit()
    return placement
