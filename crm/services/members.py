"""Who lives in a household or is closely involved with it, and its pets: the people the
assessment is about and the checks are on (crm.services.checks).

Rules, in an assessing social worker's words:
- staff who work with households in the pipeline (admins, managers, recruitment officers,
  assessing social workers) record members of the households they may open
  (crm.services.access); supervising social workers work with carers, not this;
- every member has a first and last name; a date of birth is never in the future, and a
  child's (birth child, other child) is needed, to know when they turn 18 and need their own
  DBS check; a child in the household is under 18;
- every change is in the audit trail, naming fields, never their values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, select

from crm import clock
from crm.db import transaction
from crm.models import (
    Applicant,
    AuditAction,
    CourseAttendance,
    Household,
    HouseholdCheck,
    HouseholdMember,
    HouseholdPet,
    MemberKind,
    Role,
)
from crm.services import access, audit
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed, NotFound

# Roles that record the assessment of a household (the household page's roles).
ASSESSMENT_ROLES = frozenset(
    {Role.ADMIN, Role.MANAGER, Role.RECRUITMENT_OFFICER, Role.ASSESSING_SOCIAL_WORKER}
)
CHILD_KINDS = frozenset({MemberKind.BIRTH_CHILD, MemberKind.OTHER_CHILD})
ADULT_AGE = 18
OLDEST_BIRTH_YEAR = 1900


def household_for_assessment(session: Session, actor: Actor, household_id: int) -> Household:
    """The household, if the actor may record its assessment (NotFound / NotAllowed)."""
    household = session.get(Household, household_id)
    if household is None or household.anonymised_at is not None:
        raise NotFound(f"No household with id {household_id}")
    if not actor.is_system and actor.role not in ASSESSMENT_ROLES:
        raise NotAllowed("Only staff working with households in the pipeline record this")
    if not access.may_view_household(actor, household):
        raise NotAllowed("This household is not in your areas or your work")
    return household


def age_on(date_of_birth: date, day: date) -> int:
    before_birthday = (day.month, day.day) < (date_of_birth.month, date_of_birth.day)
    return day.year - date_of_birth.year - before_birthday


def eighteenth_birthday(date_of_birth: date) -> date:
    try:
        return date_of_birth.replace(year=date_of_birth.year + ADULT_AGE)
    except ValueError:  # born on 29 February: the birthday is kept on 1 March
        return date(date_of_birth.year + ADULT_AGE, 3, 1)


def is_adult(member: HouseholdMember, day: date) -> bool:
    """18 or over on `day`; a grown-up with no date of birth recorded counts as an adult (they
    need checks), a child never has none (see validate_member)."""
    if member.date_of_birth is None:
        return MemberKind(member.kind) not in CHILD_KINDS
    return age_on(member.date_of_birth, day) >= ADULT_AGE


# -- members ------------------------------------------------------------------------------


@dataclass
class MemberInput:
    kind: str
    first_name: str
    last_name: str
    date_of_birth: date | None = None
    relationship: str | None = None
    notes: str | None = None


def _tidy(value: str | None) -> str | None:
    value = " ".join((value or "").split())
    return value or None


def _parse_kind(value: str) -> MemberKind:
    try:
        return MemberKind(value)
    except ValueError:
        raise InvalidInput("Choose how they are part of the household", "kind") from None


def validate_member(data: MemberInput, today: date) -> dict:
    """The member's fields, tidied; InvalidInput naming every field that is wrong."""
    errors: dict[str, str] = {}
    try:
        kind = _parse_kind(data.kind)
    except InvalidInput as exc:
        errors.update(exc.errors)
        kind = None
    first, last = _tidy(data.first_name), _tidy(data.last_name)
    if not first:
        errors["first_name"] = "Enter their first name"
    elif len(first) > 100:
        errors["first_name"] = "First name must be 100 characters or fewer"
    if not last:
        errors["last_name"] = "Enter their last name"
    elif len(last) > 100:
        errors["last_name"] = "Last name must be 100 characters or fewer"
    dob = data.date_of_birth
    if dob is not None:
        if dob > today:
            errors["date_of_birth"] = "Date of birth must be today or in the past"
        elif dob.year < OLDEST_BIRTH_YEAR:
            errors["date_of_birth"] = f"Date of birth must be after {OLDEST_BIRTH_YEAR}"
        elif kind == MemberKind.OTHER_CHILD and age_on(dob, today) >= ADULT_AGE:
            errors["date_of_birth"] = (
                "A child in the household is under 18: record an older person as another adult"
            )
        elif kind == MemberKind.APPLICANT and age_on(dob, today) < ADULT_AGE:
            errors["date_of_birth"] = "An applicant must be 18 or over"
    elif kind in CHILD_KINDS:
        errors["date_of_birth"] = "Enter the child's date of birth"
    relationship = _tidy(data.relationship)
    if relationship and len(relationship) > 100:
        errors["relationship"] = "Relationship must be 100 characters or fewer"
    notes = (data.notes or "").strip() or None
    if notes and len(notes) > 2000:
        errors["notes"] = "Notes must be 2000 characters or fewer"
    if errors:
        raise InvalidInput(errors)
    return {
        "kind": kind,
        "first_name": first,
        "last_name": last,
        "date_of_birth": dob,
        "relationship": relationship,
        "notes": notes,
    }


def _today() -> date:
    return clock.local_date(clock.now())


def list_members(session: Session, actor: Actor, household_id: int) -> list[HouseholdMember]:
    household = household_for_assessment(session, actor, household_id)
    return members_of(session, household.id)


def members_of(session: Session, household_id: int) -> list[HouseholdMember]:
    """In the order a Form F lists them: applicants, then who lives there, then the others."""
    rows = session.exec(
        select(HouseholdMember).where(HouseholdMember.household_id == household_id)
    ).all()
    return in_form_f_order(rows)


def in_form_f_order(rows: list[HouseholdMember]) -> list[HouseholdMember]:
    order = {kind: i for i, kind in enumerate(MemberKind)}
    return sorted(
        rows, key=lambda m: (order[MemberKind(m.kind)], m.date_of_birth or date.min, m.id)
    )


def add_member(
    session: Session,
    actor: Actor,
    household_id: int,
    data: MemberInput,
    *,
    applicant_id: int | None = None,
) -> HouseholdMember:
    household = household_for_assessment(session, actor, household_id)
    fields = validate_member(data, _today())
    if applicant_id is not None:
        applicant = session.get(Applicant, applicant_id)
        if applicant is None or applicant.household_id != household.id:
            raise InvalidInput("That applicant is not in this household", "kind")
    member = HouseholdMember(household_id=household.id, applicant_id=applicant_id, **fields)
    with transaction(session):
        session.add(member)
        session.flush()
        audit.record(
            session, actor, AuditAction.CREATE, "household_member", member.id,
            household_id=household.id, kind=member.kind.value,
        )  # fmt: skip
    session.refresh(member)
    return member


def add_applicants_as_members(
    session: Session, actor: Actor, household_id: int
) -> list[HouseholdMember]:
    """The household's applicants who are not yet in its list of members, added (their name
    and date of birth from the application)."""
    household = household_for_assessment(session, actor, household_id)
    listed = set(
        session.exec(
            select(HouseholdMember.applicant_id).where(
                HouseholdMember.household_id == household.id,
                HouseholdMember.applicant_id.is_not(None),
            )
        ).all()
    )
    added = []
    today = _today()
    with transaction(session):
        for applicant in household.applicants:
            if applicant.id in listed:
                continue
            fields = validate_member(
                MemberInput(
                    MemberKind.APPLICANT.value,
                    applicant.first_name,
                    applicant.last_name or "(last name not given)",
                    applicant.date_of_birth
                    if applicant.date_of_birth and applicant.date_of_birth <= today
                    else None,
                ),
                today,
            )
            member = HouseholdMember(household_id=household.id, applicant_id=applicant.id, **fields)
            session.add(member)
            session.flush()
            audit.record(
                session, actor, AuditAction.CREATE, "household_member", member.id,
                household_id=household.id, kind=member.kind.value, from_applicant=True,
            )  # fmt: skip
            added.append(member)
    return added


def get_member(session: Session, actor: Actor, member_id: int) -> HouseholdMember:
    member = session.get(HouseholdMember, member_id)
    if member is None:
        raise NotFound(f"No household member with id {member_id}")
    household_for_assessment(session, actor, member.household_id)
    return member


def update_member(
    session: Session, actor: Actor, member_id: int, data: MemberInput
) -> HouseholdMember:
    member = get_member(session, actor, member_id)
    fields = validate_member(data, _today())
    changed = sorted(k for k, v in fields.items() if getattr(member, k) != v)
    if not changed:
        return member
    with transaction(session):
        for key in changed:
            setattr(member, key, fields[key])
        member.updated_at = clock.now()
        session.add(member)
        audit.record(
            session, actor, AuditAction.UPDATE, "household_member", member.id,
            household_id=member.household_id, changed=changed,
        )  # fmt: skip
    session.refresh(member)
    return member


def remove_member(session: Session, actor: Actor, member_id: int) -> None:
    """Take someone off the household (recorded by mistake, or moved out): their checks and
    training records go with them."""
    member = get_member(session, actor, member_id)
    household_id = member.household_id
    with transaction(session):
        session.exec(sa.delete(HouseholdCheck).where(HouseholdCheck.member_id == member.id))
        session.exec(sa.delete(CourseAttendance).where(CourseAttendance.member_id == member.id))
        session.delete(member)
        audit.record(
            session, actor, AuditAction.ERASE, "household_member", member_id,
            household_id=household_id,
        )  # fmt: skip


# -- pets ---------------------------------------------------------------------------------


@dataclass
class PetInput:
    species: str
    name: str | None = None
    notes: str | None = None


def validate_pet(data: PetInput) -> dict:
    errors = {}
    species, name = _tidy(data.species), _tidy(data.name)
    if not species:
        errors["species"] = "Enter what kind of animal it is, like dog or cat"
    elif len(species) > 60:
        errors["species"] = "Kind of animal must be 60 characters or fewer"
    if name and len(name) > 60:
        errors["name"] = "Name must be 60 characters or fewer"
    notes = (data.notes or "").strip() or None
    if notes and len(notes) > 2000:
        errors["notes"] = "Notes must be 2000 characters or fewer"
    if errors:
        raise InvalidInput(errors)
    return {"species": species, "name": name, "notes": notes}


def pets_of(session: Session, household_id: int) -> list[HouseholdPet]:
    return list(
        session.exec(
            select(HouseholdPet)
            .where(HouseholdPet.household_id == household_id)
            .order_by(HouseholdPet.id)
        ).all()
    )


def add_pet(session: Session, actor: Actor, household_id: int, data: PetInput) -> HouseholdPet:
    household = household_for_assessment(session, actor, household_id)
    pet = HouseholdPet(household_id=household.id, **validate_pet(data))
    with transaction(session):
        session.add(pet)
        session.flush()
        audit.record(
            session, actor, AuditAction.CREATE, "household_pet", pet.id, household_id=household.id
        )
    session.refresh(pet)
    return pet


def remove_pet(session: Session, actor: Actor, pet_id: int) -> None:
    pet = session.get(HouseholdPet, pet_id)
    if pet is None:
        raise NotFound(f"No pet with id {pet_id}")
    household_for_assessment(session, actor, pet.household_id)
    with transaction(session):
        session.delete(pet)
        audit.record(
            session, actor, AuditAction.ERASE, "household_pet", pet_id,
            household_id=pet.household_id,
        )  # fmt: skip
