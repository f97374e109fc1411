"""Staff accounts: creating them and checking passwords (argon2)."""

from __future__ import annotations

from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from crm import clock
from crm.db import transaction
from crm.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Area,
    AuditAction,
    Carer,
    CarerStatus,
    Household,
    Role,
    SessionEndReason,
    StaffArea,
    StaffUser,
    Task,
)
from crm.services import access, audit
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed, NotFound
from crm.services.sessions import end_all_sessions
from crm.services.validation import normalise_email

MIN_PASSWORD_LENGTH = 12
# argon2-cffi's own defaults (RFC 9106's low-memory profile: argon2id, 64 MiB, 3 passes). Only
# the test plugin swaps in cheaper ones (use_password_hasher, from crm.testing.fixtures), from
# Python: no setting or environment variable can make a deployment's hashes weak by mistake.
_hasher = PasswordHasher()
_TIMING_PASSWORD = "not a real password, only for timing"
_timing_hash = _hasher.hash(_TIMING_PASSWORD)


def use_password_hasher(hasher: PasswordHasher) -> None:
    """Hash (and check the timing hash) with `hasher` from now on. For the test plugin only."""
    global _hasher, _timing_hash
    _hasher, _timing_hash = hasher, hasher.hash(_TIMING_PASSWORD)


def timing_hash() -> str:
    """A hash made with the current parameters that no typed password matches: checking an
    unknown email against it costs the same as checking a real account."""
    return _timing_hash


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_staff_user(
    session: Session,
    actor: Actor,
    *,
    email: str,
    name: str,
    role: str | Role,
    password: str,
    area_names: list[str] | None = None,
) -> StaffUser:
    errors: dict[str, str] = {}
    try:
        email = normalise_email(email)
    except ValueError as exc:
        errors["email"] = str(exc)
    name = " ".join((name or "").split())
    if not name:
        errors["name"] = "Enter the person's name"
    try:
        role = Role(role)
    except ValueError:
        errors["role"] = f"Unknown role {role!r}. Roles are: {', '.join(r.value for r in Role)}"
    if len(password or "") < MIN_PASSWORD_LENGTH:
        errors["password"] = f"Use a password of at least {MIN_PASSWORD_LENGTH} characters"
    areas: list[Area] = []
    for area_name in area_names or []:
        area = session.exec(select(Area).where(Area.name == area_name)).first()
        if area is None:
            errors["areas"] = f"Unknown area {area_name!r}"
        else:
            areas.append(area)
    if (
        "email" not in errors
        and session.exec(select(StaffUser.id).where(StaffUser.email == email)).first()
    ):
        errors["email"] = "A member of staff with that email already exists"
    if errors:
        raise InvalidInput(errors)

    with transaction(session):
        user = StaffUser(email=email, name=name, role=role, password_hash=hash_password(password))
        session.add(user)
        session.flush()
        for area in areas:
            session.add(StaffArea(staff_id=user.id, area_id=area.id))
        audit.record(session, actor, AuditAction.CREATE, "staff_user", user.id, role=role.value)
    session.refresh(user)
    return user


# -- leaving: their open work goes to colleagues first --------------------------------------

# Assessments: the households they assess (household.assessor_id), apart from the households
# they look after as recruitment officer.
WORK_KINDS = ("households", "assessments", "carers", "visits", "tasks")
WORK_WORDS = {
    "households": ("household", "households"),
    "assessments": ("household they assess", "households they assess"),
    "carers": ("carer", "carers"),
    "visits": ("visit still to come", "visits still to come"),
    "tasks": ("open task", "open tasks"),
}
# Who may hold each kind of work (on top of the area and the record rules in access).
CARER_SUPERVISOR_ROLES = frozenset({Role.SUPERVISING_SOCIAL_WORKER, Role.MANAGER})
CARER_VISITS = frozenset({AppointmentKind.SUPERVISION_VISIT, AppointmentKind.ANNUAL_REVIEW})
MOVED_ATTRIBUTE = {
    "households": "assigned_officer_id",
    "assessments": "assessor_id",
    "carers": "supervising_social_worker_id",
    "visits": "staff_id",
    "tasks": "owner_id",
}
RECRUITMENT_VISIT_ROLES = frozenset(
    {Role.MANAGER, Role.RECRUITMENT_OFFICER, Role.ASSESSING_SOCIAL_WORKER}
)


@dataclass
class OpenWork:
    """Everything still open with one member of staff, whatever the reader may see: this is
    what decides whether they may be deactivated."""

    households: list[Household] = field(default_factory=list)
    assessments: list[Household] = field(default_factory=list)
    carers: list[Carer] = field(default_factory=list)
    visits: list[Appointment] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return len(getattr(self, kind))

    @property
    def total(self) -> int:
        return sum(self.count(kind) for kind in WORK_KINDS)

    def describe(self) -> str:
        parts = []
        for kind in WORK_KINDS:
            n = self.count(kind)
            if n:
                one, many = WORK_WORDS[kind]
                parts.append(f"{n} {one if n == 1 else many}")
        return ", ".join(parts)


def open_work(session: Session, staff_id: int) -> OpenWork:
    from crm.services.caseloads import NOT_OPEN_STAGES

    return OpenWork(
        households=list(
            session.exec(
                select(Household)
                .where(
                    Household.assigned_officer_id == staff_id,
                    Household.stage.not_in(NOT_OPEN_STAGES),
                    Household.anonymised_at.is_(None),
                )
                .order_by(Household.id)
            ).all()
        ),
        assessments=list(
            session.exec(
                select(Household)
                .where(
                    Household.assessor_id == staff_id,
                    Household.stage.not_in(NOT_OPEN_STAGES),
                    Household.anonymised_at.is_(None),
                )
                .order_by(Household.id)
            ).all()
        ),
        carers=list(
            session.exec(
                select(Carer)
                .where(
                    Carer.supervising_social_worker_id == staff_id,
                    Carer.status != CarerStatus.DEREGISTERED,
                )
                .order_by(Carer.id)
            ).all()
        ),
        visits=list(
            session.exec(
                select(Appointment)
                .where(
                    Appointment.staff_id == staff_id,
                    Appointment.status == AppointmentStatus.BOOKED,
                    Appointment.starts_at > clock.now(),
                )
                .order_by(Appointment.starts_at)
            ).all()
        ),
        tasks=list(
            session.exec(
                select(Task)
                .where(Task.owner_id == staff_id, Task.done_at.is_(None))
                .order_by(Task.id)
            ).all()
        ),
    )


def may_deactivate(session: Session, actor: Actor, staff: StaffUser) -> str | None:
    """Why the actor may not deactivate `staff`, or None: admins may deactivate anyone but
    themselves; a manager, someone (not a manager or admin) who works only in their areas."""
    if actor.user_id == staff.id:
        return "You cannot deactivate yourself"
    if actor.is_system or actor.role == Role.ADMIN:
        return None
    if actor.role != Role.MANAGER:
        return "Only managers and admins deactivate staff"
    if staff.role in (Role.ADMIN, Role.MANAGER):
        return "Only admins deactivate managers and admins"
    theirs = set(session.exec(select(StaffArea.area_id).where(StaffArea.staff_id == staff.id)))
    if not theirs or not theirs <= set(actor.area_ids):
        return f"{staff.name} works in an area you do not manage: ask an admin"
    return None


def may_move_work(session: Session, actor: Actor, staff: StaffUser) -> str | None:
    """Why the actor may not move `staff`'s work to colleagues, or None: whoever may
    deactivate them (their own work goes through a manager)."""
    refusal = may_deactivate(session, actor, staff)
    if refusal == "You cannot deactivate yourself":
        return "Ask a manager to move your own work"
    return refusal.replace(" deactivate ", " move the work of ") if refusal else None


def colleagues(session: Session, staff: StaffUser) -> list[StaffUser]:
    """Who a form offers to take someone's work: active, not admins, working in one of their
    areas. The service checks each record in turn (crm.services.staff.deactivate_staff)."""
    theirs = select(StaffArea.area_id).where(StaffArea.staff_id == staff.id)
    return list(
        session.exec(
            select(StaffUser)
            .where(
                StaffUser.active.is_(True),
                StaffUser.id != staff.id,
                StaffUser.role != Role.ADMIN,
                select(StaffArea.staff_id)
                .where(StaffArea.staff_id == StaffUser.id, StaffArea.area_id.in_(theirs))
                .exists(),
            )
            .order_by(StaffUser.name, StaffUser.id)
        ).all()
    )


def _area_name(session: Session, area_id: int | None) -> str:
    if area_id is None:
        return "the hub's triage queue"
    area = session.get(Area, area_id)
    return area.name if area else "its area"


def _visit_problem(
    session: Session, staff: StaffUser, visit: Appointment, carer_areas: dict[int, int | None]
) -> str | None:
    kind = AppointmentKind(visit.kind)
    roles = CARER_SUPERVISOR_ROLES if kind in CARER_VISITS else RECRUITMENT_VISIT_ROLES
    if staff.role not in roles:
        return f"{staff.name} does not make {kind.label.lower()}s"
    if visit.household_id is not None:
        area_id = session.get(Household, visit.household_id).area_id
    else:
        area_id = carer_areas.get(visit.carer_id)
    if not access.may_own_work(session, staff, area_id):
        return f"{staff.name} does not work in {_area_name(session, area_id)}"
    clash = session.exec(
        select(Appointment.id).where(
            Appointment.id != visit.id,
            Appointment.staff_id == staff.id,
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.starts_at < visit.ends_at,
            Appointment.ends_at > visit.starts_at,
        )
    ).first()
    if clash is not None:
        when = clock.local_date(visit.starts_at).strftime("%-d %B %Y")
        return f"{staff.name} already has a visit booked at that time on {when}"
    return None


def _work_problem(
    session: Session, kind: str, staff: StaffUser, item, carer_areas: dict[int, int | None]
) -> str | None:  # noqa: ANN001
    if kind == "households":
        problem = access.officer_problem(session, staff, item)
        return f"{problem} ({item.reference})" if problem else None
    if kind == "assessments":
        from crm.services.assessment import assessor_problem

        problem = assessor_problem(session, staff, item)
        return f"{problem} ({item.reference})" if problem else None
    if kind == "carers":
        if staff.role not in CARER_SUPERVISOR_ROLES:
            return f"{staff.name} does not supervise carers"
        area_id = carer_areas.get(item.id)
        if not access.may_own_work(session, staff, area_id):
            return f"{staff.name} does not work in {_area_name(session, area_id)}"
        return None
    if kind == "visits":
        return _visit_problem(session, staff, item, carer_areas)
    household = session.get(Household, item.household_id) if item.household_id else None
    carer = session.get(Carer, item.carer_id) if item.carer_id else None
    return access.owner_problem(
        session, staff, area_id=item.area_id, household=household, carer=carer
    )


def _carer_areas(session: Session, work: OpenWork) -> dict[int, int | None]:
    carer_ids = {c.id for c in work.carers} | {v.carer_id for v in work.visits if v.carer_id}
    return dict(
        session.exec(
            select(Carer.id, Household.area_id)
            .join(Household, Household.id == Carer.household_id)
            .where(Carer.id.in_(sorted(carer_ids)))
        ).all()
    )


def stranded_work(session: Session, staff: StaffUser) -> list[str]:
    """Why each piece of `staff`'s open work could not be given to them as they are now (their
    role and areas as flushed), one sentence per kind of work: a new role or fewer areas must
    not leave a household, carer, visit or task with someone who may no longer do or open it."""
    work = open_work(session, staff.id)
    carer_areas = _carer_areas(session, work)
    problems = []
    for kind in WORK_KINDS:
        items = getattr(work, kind)
        problem = next(
            (p for p in (_work_problem(session, kind, staff, i, carer_areas) for i in items) if p),
            None,
        )
        if problem:
            stuck = sum(
                1 for i in items if _work_problem(session, kind, staff, i, carer_areas) is not None
            )
            one, many = WORK_WORDS[kind]
            problems.append(f"{stuck} {one if stuck == 1 else many}: {problem}")
    return problems


def deactivate_staff(
    session: Session, actor: Actor, staff_id: int, *, to: dict[str, int | None]
) -> StaffUser:
    """Deactivate a member of staff, moving each kind of open work they hold (households,
    carers, visits still to come, open tasks) to the colleague chosen for it, all in one
    transaction. Refused, with nothing changed, while anything would be left with them or a
    colleague may not take it (not working, another area, a role that does not do it, a
    visit at a time they are already booked)."""
    return _hand_over(session, actor, staff_id, to=to, deactivate=True)


def move_work(
    session: Session, actor: Actor, staff_id: int, *, to: dict[str, int | None]
) -> StaffUser:
    """Move the kinds of open work chosen in `to` from a member of staff who stays working
    (before a change of role or areas, say, which is refused while they hold work they could
    no longer do): the same checks as deactivation, for the kinds chosen only."""
    return _hand_over(session, actor, staff_id, to=to, deactivate=False)


def _hand_over(
    session: Session,
    actor: Actor,
    staff_id: int,
    *,
    to: dict[str, int | None],
    deactivate: bool,
) -> StaffUser:
    staff = session.get(StaffUser, staff_id)
    if staff is None:
        raise NotFound(f"No member of staff with id {staff_id}")
    refusal = (
        may_deactivate(session, actor, staff)
        if deactivate
        else may_move_work(session, actor, staff)
    )
    if refusal:
        raise NotAllowed(refusal)
    if not staff.active:
        raise InvalidInput(f"{staff.name} is already deactivated", "staff")
    work = open_work(session, staff.id)
    carer_areas = _carer_areas(session, work)
    errors: dict[str, str] = {}
    targets: dict[str, StaffUser] = {}
    for kind in WORK_KINDS:
        n = work.count(kind)
        if not n:
            continue
        one, many = WORK_WORDS[kind]
        target = session.get(StaffUser, to[kind]) if to.get(kind) is not None else None
        if to.get(kind) is None:
            if deactivate:
                errors[f"to_{kind}"] = f"Choose who takes their {n} {one if n == 1 else many}"
        elif target is None or not target.active or target.id == staff.id:
            errors[f"to_{kind}"] = "Choose a colleague who is working"
        else:
            targets[kind] = target
    if not deactivate and not targets and not errors:
        raise InvalidInput("Choose who takes at least one kind of their work", "to_all")
    if errors:
        raise InvalidInput(errors)
    with transaction(session):
        # Kind by kind, each checked as things will be once the kinds before it have moved:
        # a colleague given the carers may then open those carers' tasks and visits.
        for kind, target in targets.items():
            items = getattr(work, kind)
            problem = next(
                (
                    p
                    for p in (_work_problem(session, kind, target, i, carer_areas) for i in items)
                    if p
                ),
                None,
            )
            if problem:
                errors[f"to_{kind}"] = problem
                continue
            attribute = MOVED_ATTRIBUTE[kind]
            for item in items:
                setattr(item, attribute, target.id)
                session.add(item)
            session.flush()
            audit.record(
                session, actor, AuditAction.UPDATE, "staff_user", staff.id,
                moved=kind, count=len(items), to_staff_id=target.id,
            )  # fmt: skip
        if errors:
            raise InvalidInput(errors)
        if deactivate:
            _deactivate(session, actor, staff)
    session.refresh(staff)
    return staff


def _deactivate(session: Session, actor: Actor, staff: StaffUser) -> None:
    # Nothing may be left with someone who cannot sign in (work given to them meanwhile by
    # another request included): otherwise none of this lands.
    left = open_work(session, staff.id)
    if left.total:
        raise InvalidInput(
            f"{staff.name} was given more work a moment ago ({left.describe()}): "
            "reload the page and choose again",
            "staff",
        )
    end_all_sessions(session, actor, staff.id, SessionEndReason.DEACTIVATED)
    staff.active = False
    session.add(staff)
    audit.record(session, actor, AuditAction.UPDATE, "staff_user", staff.id, active=False)
