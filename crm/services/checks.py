"""The statutory checks of stage one, per person and per household.

Which checks a household needs is data (config/checks.toml: England's defaults): an enhanced
DBS with the children's barred list for every adult who lives there, local authority checks,
medicals, at least two personal references, former partners and adult children living away,
a home and safety check, a pet assessment when there are pets, the right to live in the UK.

Rules:
- a check is requested, perhaps chased, then received with an outcome (clear / information
  to consider / concern); it is never received before it was requested, chased before it was
  requested, or dated in the future; a check that expires is out of date after its expiry;
- a required check counts once it is received, with an outcome, and not out of date;
- stage one cannot be completed (crm.services.pipeline.move_stage) while a required check is
  missing: the message names each one (`require_stage_one_complete`);
- who may record checks is who may record members (crm.services.members); every change is in
  the audit trail.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

from dateutil.relativedelta import relativedelta
from sqlmodel import Session, select

from crm import clock
from crm.db import transaction
from crm.models import (
    AuditAction,
    CheckOutcome,
    Household,
    HouseholdCheck,
    HouseholdMember,
    HouseholdPet,
    MemberKind,
    Stage,
)
from crm.services import audit, members
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotFound
from crm.settings import CONFIG_DIR
from crm.workdays import add_working_days_to_date

PER_PERSON = {
    "adult": None,  # by age, see members.is_adult
    "applicant": MemberKind.APPLICANT,
    "former_partner": MemberKind.FORMER_PARTNER,
    "adult_child_away": MemberKind.ADULT_CHILD_AWAY,
    "birth_child": MemberKind.BIRTH_CHILD,
}
PER_HOUSEHOLD = frozenset({"household", "pets"})


@dataclass(frozen=True)
class CheckKind:
    key: str
    label: str
    applies_to: str
    required: bool = False
    count: int = 1
    expires_after_months: int | None = None
    target_working_days: int = 20

    @property
    def per_person(self) -> bool:
        return self.applies_to in PER_PERSON


@dataclass(frozen=True)
class ChecksConfig:
    kinds: tuple[CheckKind, ...]
    turning_18_notice_days: int

    def kind(self, key: str) -> CheckKind | None:
        return next((k for k in self.kinds if k.key == key), None)


@lru_cache(maxsize=4)
def load_config(path: Path | None = None) -> ChecksConfig:
    """config/checks.toml, checked: a mistake in it stops with a sentence naming the check."""
    data = tomllib.loads((path or CONFIG_DIR / "checks.toml").read_text(encoding="utf-8"))
    defaults = data.get("defaults", {})
    target = int(defaults.get("target_working_days", 20))
    kinds = []
    for entry in data.get("check", []):
        key = entry.get("key", "")
        applies_to = entry.get("applies_to", "")
        if applies_to not in PER_PERSON and applies_to not in PER_HOUSEHOLD:
            raise ValueError(f"config/checks.toml: check {key!r} applies to {applies_to!r}")
        kinds.append(
            CheckKind(
                key=key,
                label=entry["label"],
                applies_to=applies_to,
                required=bool(entry.get("required", False)),
                count=int(entry.get("count", 1)),
                expires_after_months=entry.get("expires_after_months"),
                target_working_days=int(entry.get("target_working_days", target)),
            )
        )
    if len({k.key for k in kinds}) != len(kinds):
        raise ValueError("config/checks.toml: two checks have the same key")
    return ChecksConfig(tuple(kinds), int(defaults.get("turning_18_notice_days", 60)))


# -- what a household needs ---------------------------------------------------------------


def is_complete(check: HouseholdCheck, today: date) -> bool:
    if check.received_on is None or check.outcome is None:
        return False
    return check.expires_on is None or check.expires_on >= today


def subjects(
    kind: CheckKind, people: list[HouseholdMember], has_pets: bool, today: date
) -> list[HouseholdMember | None]:
    """Who a kind of check is for in this household (None: the household as a whole)."""
    if kind.applies_to == "household":
        return [None]
    if kind.applies_to == "pets":
        return [None] if has_pets else []
    if kind.applies_to == "adult":
        return [
            m
            for m in people
            if MemberKind(m.kind).lives_in_household and members.is_adult(m, today)
        ]
    wanted = PER_PERSON[kind.applies_to]
    return [m for m in people if MemberKind(m.kind) == wanted]


@dataclass
class Requirement:
    kind: CheckKind
    member: HouseholdMember | None
    checks: list[HouseholdCheck] = field(default_factory=list)
    complete: int = 0

    @property
    def satisfied(self) -> bool:
        return self.complete >= self.kind.count

    @property
    def description(self) -> str:
        who = f" for {self.member.full_name}" if self.member is not None else ""
        if self.kind.count > 1:
            return f"{self.kind.label}{who} ({self.complete} of {self.kind.count} received)"
        return f"{self.kind.label}{who}"


@dataclass
class Tracker:
    """Every check a household has and needs, for its page and for the stage one rule."""

    household: Household
    members: list[HouseholdMember]
    pets: list[HouseholdPet]
    requirements: list[Requirement]
    checks: list[HouseholdCheck]
    today: date
    config: ChecksConfig

    @property
    def missing(self) -> list[str]:
        """What stops stage one being completed, in words."""
        missing = []
        if not any(MemberKind(m.kind) == MemberKind.APPLICANT for m in self.members):
            missing.append("The household's members: record the applicants")
        missing += [r.description for r in self.requirements if r.kind.required and not r.satisfied]
        return missing

    @property
    def outstanding(self) -> list[HouseholdCheck]:
        """Requested and not yet received, the longest waiting first."""
        waiting = [c for c in self.checks if c.requested_on and c.received_on is None]
        return sorted(waiting, key=lambda c: (c.requested_on, c.id))

    def kind(self, check: HouseholdCheck) -> CheckKind | None:
        return self.config.kind(check.check_key)

    def chase_due(self, check: HouseholdCheck) -> date | None:
        kind = self.kind(check)
        return chase_due(check, kind) if kind else None

    def overdue(self, check: HouseholdCheck) -> bool:
        due = self.chase_due(check)
        return due is not None and check.received_on is None and due < self.today

    def member_name(self, check: HouseholdCheck) -> str:
        member = next((m for m in self.members if m.id == check.member_id), None)
        return member.full_name if member else "Household"


def chase_due(check: HouseholdCheck, kind: CheckKind) -> date | None:
    """When an outstanding check is due a chase: its target in working days after it was
    requested, or after it was last chased."""
    start = check.chased_on or check.requested_on
    if start is None or check.received_on is not None:
        return None
    return add_working_days_to_date(start, kind.target_working_days)


def tracker(session: Session, household: Household, config: ChecksConfig | None = None) -> Tracker:
    return trackers(session, [household], config)[household.id]


def trackers(
    session: Session, households: list[Household], config: ChecksConfig | None = None
) -> dict[int, Tracker]:
    """The trackers of several households (a caseload) in a few queries, by household id."""
    config = config or load_config()
    today = clock.local_date(clock.now())
    ids = [h.id for h in households]
    if not ids:
        return {}
    people: dict[int, list[HouseholdMember]] = {i: [] for i in ids}
    for member in session.exec(
        select(HouseholdMember).where(HouseholdMember.household_id.in_(ids))
    ):
        people[member.household_id].append(member)
    pets: dict[int, list[HouseholdPet]] = {i: [] for i in ids}
    for pet in session.exec(
        select(HouseholdPet).where(HouseholdPet.household_id.in_(ids)).order_by(HouseholdPet.id)
    ):
        pets[pet.household_id].append(pet)
    found: dict[int, list[HouseholdCheck]] = {i: [] for i in ids}
    for check in session.exec(
        select(HouseholdCheck)
        .where(HouseholdCheck.household_id.in_(ids))
        .order_by(HouseholdCheck.id)
    ):
        found[check.household_id].append(check)
    result = {}
    for household in households:
        mine = members.in_form_f_order(people[household.id])
        requirements = []
        for kind in config.kinds:
            for member in subjects(kind, mine, bool(pets[household.id]), today):
                member_id = member.id if member is not None else None
                theirs = [
                    c
                    for c in found[household.id]
                    if c.check_key == kind.key and c.member_id == member_id
                ]
                requirements.append(
                    Requirement(kind, member, theirs, sum(is_complete(c, today) for c in theirs))
                )
        result[household.id] = Tracker(
            household, mine, pets[household.id], requirements, found[household.id], today, config
        )
    return result


def household_tracker(session: Session, actor: Actor, household_id: int) -> Tracker:
    household = members.household_for_assessment(session, actor, household_id)
    return tracker(session, household)


def missing_required(session: Session, household: Household) -> list[str]:
    return tracker(session, household).missing


def require_stage_one_complete(
    session: Session, actor: Actor, household: Household, target: Stage
) -> None:
    """Refuse to move a household on past stage one while a required check is missing, from
    stage one or from any step before it (a move from application straight to stage two would
    otherwise skip the checks). Trusted code paths (the tracker import bringing in history
    recorded elsewhere) are not held to checks this system never saw."""
    if actor.is_system:
        return
    current = Stage(household.stage)
    at = Stage(household.held_from_stage) if current == Stage.ON_HOLD else current
    if at.funnel_index is None or target.funnel_index is None:
        return
    if at.funnel_index > Stage.STAGE_ONE.funnel_index:
        return
    if target.funnel_index <= Stage.STAGE_ONE.funnel_index:
        return
    missing = missing_required(session, household)
    if missing:
        raise InvalidInput(
            "Stage one cannot be completed until these checks are in: " + "; ".join(missing),
            "to_stage",
        )


# -- recording a check --------------------------------------------------------------------


@dataclass
class CheckInput:
    check_key: str
    member_id: int | None = None
    label: str | None = None
    requested_on: date | None = None
    chased_on: date | None = None
    received_on: date | None = None
    outcome: str | None = None
    expires_on: date | None = None
    notes: str | None = None


def validate_check(
    session: Session, household: Household, data: CheckInput, today: date, config: ChecksConfig
) -> dict:
    errors: dict[str, str] = {}
    kind = config.kind(data.check_key or "")
    if kind is None:
        errors["check_key"] = "Choose which check this is"
    member_id = data.member_id
    if kind is not None and kind.per_person:
        member = session.get(HouseholdMember, member_id) if member_id else None
        if member is None or member.household_id != household.id:
            errors["member_id"] = f"Choose who the {kind.label.lower()} is for"
    elif kind is not None:
        member_id = None
    for name, what in (
        ("requested_on", "Date requested"),
        ("chased_on", "Date chased"),
        ("received_on", "Date received"),
    ):
        value = getattr(data, name)
        if value is not None and value > today:
            errors[name] = f"{what} must be today or in the past"
    requested, chased, received = data.requested_on, data.chased_on, data.received_on
    if chased is not None and "chased_on" not in errors:
        if requested is None:
            errors["chased_on"] = "Enter the date it was requested before the date it was chased"
        elif chased < requested:
            errors["chased_on"] = "Date chased must be on or after the date it was requested"
    if (
        received is not None
        and "received_on" not in errors
        and requested is not None
        and received < requested
    ):
        errors["received_on"] = "Date received must be on or after the date it was requested"
    outcome = None
    if data.outcome:
        try:
            outcome = CheckOutcome(data.outcome)
        except ValueError:
            errors["outcome"] = "Choose the outcome: clear, information to consider or concern"
    if outcome is not None and received is None and "received_on" not in errors:
        errors["received_on"] = "Enter the date it was received to record its outcome"
    if received is not None and outcome is None and "outcome" not in errors:
        errors["outcome"] = "Choose the outcome of the check"
    expires = data.expires_on
    if expires is None and received is not None and kind and kind.expires_after_months:
        expires = received + relativedelta(months=kind.expires_after_months)
    if expires is not None and received is not None and expires <= received:
        errors["expires_on"] = "Expiry date must be after the date it was received"
    label = " ".join((data.label or "").split()) or None
    if label and len(label) > 200:
        errors["label"] = "Which one must be 200 characters or fewer"
    notes = (data.notes or "").strip() or None
    if notes and len(notes) > 2000:
        errors["notes"] = "Notes must be 2000 characters or fewer"
    if errors:
        raise InvalidInput(errors)
    return {
        "check_key": kind.key,
        "member_id": member_id,
        "label": label,
        "requested_on": requested,
        "chased_on": chased,
        "received_on": received,
        "outcome": outcome,
        "expires_on": expires,
        "notes": notes,
    }


def add_check(
    session: Session,
    actor: Actor,
    household_id: int,
    data: CheckInput,
    *,
    config: ChecksConfig | None = None,
) -> HouseholdCheck:
    household = members.household_for_assessment(session, actor, household_id)
    fields = validate_check(
        session, household, data, clock.local_date(clock.now()), config or load_config()
    )
    check = HouseholdCheck(household_id=household.id, **fields)
    with transaction(session):
        session.add(check)
        session.flush()
        audit.record(
            session, actor, AuditAction.CREATE, "household_check", check.id,
            household_id=household.id, check=check.check_key,
        )  # fmt: skip
    session.refresh(check)
    return check


def get_check(session: Session, actor: Actor, check_id: int) -> HouseholdCheck:
    check = session.get(HouseholdCheck, check_id)
    if check is None:
        raise NotFound(f"No check with id {check_id}")
    members.household_for_assessment(session, actor, check.household_id)
    return check


def update_check(
    session: Session,
    actor: Actor,
    check_id: int,
    data: CheckInput,
    *,
    config: ChecksConfig | None = None,
) -> HouseholdCheck:
    check = get_check(session, actor, check_id)
    household = session.get(Household, check.household_id)
    fields = validate_check(
        session, household, data, clock.local_date(clock.now()), config or load_config()
    )
    changed = sorted(k for k, v in fields.items() if getattr(check, k) != v)
    if not changed:
        return check
    with transaction(session):
        for key in changed:
            setattr(check, key, fields[key])
        check.updated_at = clock.now()
        session.add(check)
        audit.record(
            session, actor, AuditAction.UPDATE, "household_check", check.id,
            household_id=check.household_id, changed=changed,
        )  # fmt: skip
    session.refresh(check)
    return check


def remove_check(session: Session, actor: Actor, check_id: int) -> None:
    check = get_check(session, actor, check_id)
    household_id = check.household_id
    with transaction(session):
        session.delete(check)
        audit.record(
            session, actor, AuditAction.ERASE, "household_check", check_id,
            household_id=household_id,
        )  # fmt: skip
