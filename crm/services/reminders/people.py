"""Who the reminders are about and who is told: the officer or supervisor on record if they may
still have the work (crm.services.access), else the area's team or its managers; and the
households behind a scan, loaded in a few queries."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import selectinload
from sqlmodel import Session, select

from crm.models import Carer, Household, Role, StaffArea, StaffUser
from crm.services import access
from crm.services.validation import format_phone

CHUNK = 900  # stays under SQLite's limit on bound parameters


def active_staff(session: Session, staff_id: int | None) -> StaffUser | None:
    if staff_id is None:
        return None
    staff = session.get(StaffUser, staff_id)
    return staff if staff is not None and staff.active else None


def allowed_owner(
    session: Session,
    staff_id: int | None,
    *,
    household: Household | None = None,
    carer: Carer | None = None,
) -> StaffUser | None:
    """The officer or supervisor on record, if they may still be given the work and told about
    it (crm.services.access): someone who has moved area hears nothing and the team does."""
    staff = active_staff(session, staff_id)
    if staff is None:
        return None
    problem = access.owner_problem(session, staff, household=household, carer=carer)
    return staff if problem is None else None


def team(session: Session, area_id: int | None, roles: tuple[Role, ...]) -> list[StaffUser]:
    """Active staff with one of `roles` in the area (hub-wide when there is no area)."""
    query = select(StaffUser).where(StaffUser.active.is_(True), StaffUser.role.in_(roles))
    if area_id is not None:
        query = query.join(StaffArea, StaffArea.staff_id == StaffUser.id).where(
            StaffArea.area_id == area_id
        )
    return list(session.exec(query.order_by(StaffUser.id)).all())


def fresh_scan(session: Session) -> None:
    session.info.pop("managers_for", None)


def managers_for(session: Session, area_id: int | None) -> list[StaffUser]:
    # Cached for one scan (each run starts with fresh_scan): the same few areas over and over.
    # With no manager in the area, the hub-wide admins: never another area's manager, who may
    # not open the household the message names.
    cache = session.info.setdefault("managers_for", {})
    if area_id not in cache:
        cache[area_id] = team(session, area_id, (Role.MANAGER,)) or team(
            session, None, (Role.ADMIN,)
        )
    return cache[area_id]


def first_contact_details(household: Household) -> tuple[str | None, str | None]:
    phone = next((a.phone for a in household.applicants if a.phone), None)
    email = next((a.email for a in household.applicants if a.email), None)
    return (format_phone(phone) if phone else None), email


def household_address(household: Household) -> str:
    parts = [household.address_line_1, household.address_line_2, household.town, household.postcode]
    return ", ".join(p for p in parts if p)


def in_chunks(session: Session, model: Any, column: Any, ids: list[int]) -> list[Any]:
    ids = sorted(set(ids))
    found: list[Any] = []
    for start in range(0, len(ids), CHUNK):
        found.extend(session.exec(select(model).where(column.in_(ids[start : start + CHUNK]))))
    return found


def households_with_applicants(session: Session, ids: list[int]) -> list[Household]:
    ids = sorted(set(ids))
    found: list[Household] = []
    for start in range(0, len(ids), CHUNK):
        found.extend(
            session.exec(
                select(Household)
                .where(Household.id.in_(ids[start : start + CHUNK]))
                .options(selectinload(Household.applicants))
            )
        )
    return found
