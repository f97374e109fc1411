"""One way to move a household's stage.

Rules, in the words of a fostering team:
- a household moves forward through the funnel, and may skip stages (a connected person can go
  straight to assessment); it has still "reached" every stage before the one it got to;
- it may leave at any point before approval: `withdrawn` (their choice) or `not_progressed`
  (ours), always with a reason from the configured list;
- `on_hold` pauses the clock and resumes at the stage it paused from (or later);
- going backwards, or bringing back a closed household, is a *reopen*: it must be asked for
  explicitly and say why;
- an approved household leaves by `deregistered`, with a reason;
- only the agency decision maker approves, by recording the decision after panel
  (crm.services.panel.record_decision, which brings the approval's terms and the supervising
  social worker); no member of staff, whatever their role, approves by a move. Trusted system
  code (a tracker import of carers approved elsewhere) still may.
The stage event, the household's current stage, the audit entry and what the move closes
(visits still to come, open tasks, waiting messages: crm.services.lifecycle) land in one
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlmodel import Session, select

from crm import clock, stages
from crm.db import transaction
from crm.models import (
    AuditAction,
    Carer,
    CarerLeaving,
    CarerStatus,
    Household,
    Reason,
    ReasonKind,
    Role,
    Stage,
    StageEvent,
)
from crm.services import audit, checks, lifecycle
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed, NotFound
from crm.settings import Settings

# Who may end an approved carer's registration.
CARER_TEAM_ROLES = frozenset({Role.SUPERVISING_SOCIAL_WORKER, Role.MANAGER, Role.ADMIN})
# The household has left: a move there needs a reason from the stage's list.
CLOSED_STAGES = frozenset(Stage.in_group("closed"))
REASON_LISTS = {
    stage: ReasonKind(stages.row(stage).reason_list)
    for stage in Stage
    if stages.row(stage).reason_list is not None
}
# How a cancelled visit or a closed task says why, for staff.
CLOSING_WORDS = {
    Stage.WITHDRAWN: "The household withdrew",
    Stage.NOT_PROGRESSED: "Not progressed",
    Stage.DEREGISTERED: "The carer deregistered",
    Stage.APPROVED: "The household was approved",
    Stage.ON_HOLD: "Put on hold",
}


# Said to anyone who tries to approve by a move.
APPROVAL_BY_DECISION = (
    "Only the agency decision maker approves a household, by recording the decision after panel"
)


@dataclass(frozen=True)
class Move:
    to_stage: Stage
    needs_reopen: bool


@dataclass(frozen=True)
class ApprovalTerms:
    """What an approval says: how many children, of what ages, which types of fostering and
    specialisms, and the supervising social worker. Checked by crm.services.panel."""

    places: int
    age_min: int
    age_max: int
    fostering_types: tuple[str, ...]
    specialisms: tuple[str, ...]
    supervising_social_worker_id: int


def parse_stage(value: str | Stage) -> Stage:
    try:
        return Stage(value)
    except ValueError:
        known = ", ".join(s.value for s in Stage)
        raise InvalidInput(f"Unknown stage {value!r}. Stages are: {known}", "to_stage") from None


def _funnel_position(stage: Stage) -> int:
    index = stage.funnel_index
    assert index is not None
    return index


def _last_event(session: Session, household_id: int) -> StageEvent | None:
    return session.exec(
        select(StageEvent)
        .where(StageEvent.household_id == household_id)
        .order_by(StageEvent.occurred_at.desc(), StageEvent.id.desc())
    ).first()


def _left_from(session: Session, household: Household) -> Stage:
    """The funnel stage a closed household was at when it left."""
    event = _last_event(session, household.id)
    if event is not None and event.from_stage is not None:
        if event.from_stage == Stage.ON_HOLD:
            return Stage(household.held_from_stage or Stage.ENQUIRY)
        return Stage(event.from_stage)
    return Stage.ENQUIRY


def classify_move(
    session: Session, household: Household, to_stage: Stage, *, approving: bool = False
) -> Move:
    """Is this move allowed at all, and does it need an explicit reopen? Raises if impossible.
    A move to `approved` is only possible when `approving` (the agency decision, or trusted
    system code), so no list of moves for staff ever offers it."""
    current = Stage(household.stage)
    if to_stage == current:
        raise InvalidInput(f"The household is already at {current.label.lower()}", "to_stage")
    if to_stage == Stage.APPROVED and not approving:
        raise InvalidInput(APPROVAL_BY_DECISION, "to_stage")

    if current in CLOSED_STAGES:
        if to_stage.funnel_index is None:
            raise InvalidInput(
                f"A {current.label.lower()} household can only be reopened to a funnel stage",
                "to_stage",
            )
        if _funnel_position(to_stage) > _funnel_position(_left_from(session, household)):
            raise InvalidInput(
                "A reopened household goes back to the stage it left from or an earlier one",
                "to_stage",
            )
        return Move(to_stage, needs_reopen=True)

    # Where the household really is in the funnel, looking through a pause.
    position_stage = Stage(household.held_from_stage) if current == Stage.ON_HOLD else current
    position = _funnel_position(position_stage)

    if to_stage == Stage.DEREGISTERED:
        if position_stage != Stage.APPROVED:
            raise InvalidInput("Only an approved household can be deregistered", "to_stage")
        return Move(to_stage, needs_reopen=False)
    if to_stage in (Stage.WITHDRAWN, Stage.NOT_PROGRESSED):
        if position_stage == Stage.APPROVED:
            raise InvalidInput(
                "An approved household leaves by deregistration, not withdrawal", "to_stage"
            )
        return Move(to_stage, needs_reopen=False)
    if to_stage == Stage.ON_HOLD:
        if position_stage == Stage.APPROVED:
            raise InvalidInput(
                "An approved carer takes a break on their carer record, not on hold", "to_stage"
            )
        return Move(to_stage, needs_reopen=False)
    # A funnel stage: forward (skips allowed) or, with a reopen, backward.
    if current == Stage.ON_HOLD and to_stage == position_stage:
        return Move(to_stage, needs_reopen=False)
    return Move(to_stage, needs_reopen=_funnel_position(to_stage) < position)


def _check_reason(session: Session, to_stage: Stage, reason_code: str | None) -> str | None:
    kind = REASON_LISTS.get(to_stage)
    if reason_code is None or not reason_code.strip():
        if to_stage in CLOSED_STAGES:
            raise InvalidInput(
                f"Choose a reason for moving to {to_stage.label.lower()}", "reason_code"
            )
        return None
    if kind is None:
        raise InvalidInput(
            f"A move to {to_stage.label.lower()} does not take a reason from a list",
            "reason_code",
        )
    reason = session.exec(
        select(Reason).where(
            Reason.kind == kind, Reason.code == reason_code.strip(), Reason.active.is_(True)
        )
    ).first()
    if reason is None:
        # Plain words for people: the codes are ours, not theirs.
        raise InvalidInput(
            f"Choose one of the reasons for moving to {to_stage.label.lower()}", "reason_code"
        )
    return reason.code


def move_stage(
    session: Session,
    actor: Actor,
    household_id: int,
    to_stage: str | Stage,
    *,
    reason_code: str | None = None,
    reason_text: str | None = None,
    reopen: bool = False,
    occurred_at: datetime | None = None,
    settings: Settings | None = None,
) -> StageEvent:
    """Move a household to `to_stage`; raises InvalidInput / NotAllowed and changes nothing
    when the move is not right. `settings`, when given, says whether Telegram is on for the
    messages that tell people of cancelled visits (without, a linked chat counts). No member
    of staff approves by a move (APPROVAL_BY_DECISION); trusted system code may."""
    if parse_stage(to_stage) == Stage.APPROVED and not actor.is_system:
        raise NotAllowed(APPROVAL_BY_DECISION)
    with transaction(session):
        event = apply_move(
            session,
            actor,
            household_id,
            to_stage,
            reason_code=reason_code,
            reason_text=reason_text,
            reopen=reopen,
            occurred_at=occurred_at,
            settings=settings,
        )
    session.refresh(event)
    return event


def apply_move(
    session: Session,
    actor: Actor,
    household_id: int,
    to_stage: str | Stage,
    *,
    reason_code: str | None = None,
    reason_text: str | None = None,
    reopen: bool = False,
    occurred_at: datetime | None = None,
    settings: Settings | None = None,
    approval: ApprovalTerms | None = None,
) -> StageEvent:
    """`move_stage` inside the caller's transaction (nothing committed here), for a service
    whose own change and the move must land together: the agency decision
    (crm.services.panel), which alone brings `approval` for a member of staff."""
    target = parse_stage(to_stage)
    household = session.get(Household, household_id)
    if household is None or household.anonymised_at is not None:
        raise NotFound(f"No household with id {household_id}")
    if not actor.may_work_on(household.area_id):
        raise NotAllowed("This household is in an area you do not work in")
    if target == Stage.APPROVED and not actor.is_system and approval is None:
        raise NotAllowed(APPROVAL_BY_DECISION)

    if target == Stage.DEREGISTERED and not (actor.is_system or actor.role in CARER_TEAM_ROLES):
        raise NotAllowed("Deregistration is for the carer's supervising team or a manager")
    move = classify_move(session, household, target, approving=True)
    checks.require_stage_one_complete(session, actor, household, target)
    reason_text = " ".join(reason_text.split()) if reason_text else None
    if move.needs_reopen and not reopen:
        raise InvalidInput(
            f"Moving from {Stage(household.stage).label.lower()} back to "
            f"{target.label.lower()} is a reopen: confirm the reopen and say why",
            "reopen",
        )
    if move.needs_reopen and not reason_text:
        raise InvalidInput("Say why the household is being reopened", "reason_text")
    code = _check_reason(session, target, reason_code)

    now = clock.now()
    when = occurred_at or now
    if when.tzinfo is None:
        raise InvalidInput("The time of the move must be timezone-aware", "occurred_at")
    if when > now:
        raise InvalidInput("A stage move cannot be in the future", "occurred_at")
    last = _last_event(session, household.id)
    if last is not None and when < last.occurred_at:
        raise InvalidInput(
            "A stage move cannot be earlier than the household's last move", "occurred_at"
        )

    current = Stage(household.stage)
    event = StageEvent(
        household_id=household.id,
        from_stage=current,
        to_stage=target,
        occurred_at=when,
        actor_id=actor.user_id,
        actor_label=actor.label,
        reason_code=code,
        reason_text=reason_text,
    )
    session.add(event)
    held = household.held_from_stage
    if target == Stage.ON_HOLD:
        held = current
    elif current == Stage.ON_HOLD and target not in CLOSED_STAGES:
        held = None
    # Only if nobody moved it since we checked: two moves from the same stage at once
    # (the board and the record, two workers) must not both land.
    moved = session.exec(
        sa.update(Household)
        .where(Household.id == household.id, Household.stage == current.value)
        .values(stage=target, stage_entered_at=when, held_from_stage=held, updated_at=now)
        .execution_options(synchronize_session="fetch")
    )
    if moved.rowcount != 1:
        raise InvalidInput(
            "Someone moved this household a moment ago: reload it and try again", "to_stage"
        )
    _update_carer_record(session, household, target, when, code, reason_text, approval)
    lifecycle.close_what_follows(
        session,
        actor,
        household,
        why=lifecycle.change_for_move(current, target),
        reason=_closing_reason(session, target, code),
        settings=settings,
    )
    audit.record(
        session,
        actor,
        AuditAction.UPDATE,
        "household",
        household.id,
        stage_from=current.value,
        stage_to=target.value,
        reopen=move.needs_reopen,
    )
    session.flush()
    return event


def _closing_reason(session: Session, target: Stage, code: str | None) -> str:
    words = CLOSING_WORDS.get(target, f"Moved to {target.label.lower()}")
    label = None
    if code is not None:
        label = session.exec(
            select(Reason.label).where(Reason.kind == REASON_LISTS[target], Reason.code == code)
        ).first()
    return f"{words}: {label}" if label else words


def _update_carer_record(
    session: Session,
    household: Household,
    target: Stage,
    when: datetime,
    reason_code: str | None,
    reason_text: str | None,
    approval: ApprovalTerms | None = None,
) -> None:
    """Approval opens the carer record (with the decision's terms and supervising social
    worker); deregistration closes it."""
    carer = session.exec(select(Carer).where(Carer.household_id == household.id)).first()
    if target == Stage.APPROVED:
        approved_on = clock.local_date(when)
        if carer is None:
            carer = new_carer_record(household, approved_on)
        else:
            if carer.status == CarerStatus.DEREGISTERED:
                # Approved again after leaving: a new approval, with its own first review and
                # TSD deadline.
                carer.approved_on = approved_on
                for name, due in carer_due_dates(approved_on, household.is_kinship).items():
                    setattr(carer, name, due)
            carer.status = CarerStatus.ACTIVE
            carer.deregistered_on = None
        if approval is not None:
            carer.places = approval.places
            carer.age_min = approval.age_min
            carer.age_max = approval.age_max
            carer.fostering_types = list(approval.fostering_types)
            carer.specialisms = list(approval.specialisms)
            carer.supervising_social_worker_id = approval.supervising_social_worker_id
        carer.status_changed_at = when
        session.add(carer)
    elif target == Stage.DEREGISTERED and carer is not None:
        carer.status = CarerStatus.DEREGISTERED
        carer.status_changed_at = when
        carer.deregistered_on = clock.local_date(when)
        carer.deregistration_reason_code = reason_code
        carer.deregistration_reason_text = reason_text
        session.add(carer)
        # However the approval ended, a notice still running has ended with it (else a carer
        # approved again would be deregistered by the nightly job on the old notice).
        session.exec(
            sa.update(CarerLeaving)
            .where(
                CarerLeaving.carer_id == carer.id,
                CarerLeaving.withdrawn_on.is_(None),
                CarerLeaving.approval_ended_on.is_(None),
            )
            .values(approval_ended_on=carer.deregistered_on)
        )


def new_carer_record(household: Household, approved_on: date) -> Carer:
    return Carer(
        household_id=household.id,
        approved_on=approved_on,
        is_family_and_friends=household.is_kinship,
        **carer_due_dates(approved_on, household.is_kinship),
        status=CarerStatus.ACTIVE,
    )


def carer_due_dates(approved_on: date, is_kinship: bool) -> dict[str, date]:
    """First annual review within 12 months of approval; TSD standards within 12 months
    (18 for family and friends carers). Also read by the tracker import's bulk path."""
    tsd_months = 18 if is_kinship else 12
    return {
        "annual_review_due": approved_on + relativedelta(years=1),
        "tsd_due": approved_on + relativedelta(months=tsd_months),
    }
