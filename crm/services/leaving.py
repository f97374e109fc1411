"""Breaks from fostering and leaving: the one way to record either.

- A **break**: the carer stops taking children for a while (a reason and an expected end);
  the approval stays. It ends when they resume, on a date. One break at a time; a new one
  starts after the last ended.
- **Deregistration** starts with the carer's written notice. The approval ends 28 days after
  it (DOMAIN: "written notice; approval ends 28 days later"); until then the carer is *under
  notice*. The reason comes from the service's deregistration list (`Reason`, kind
  deregistered), with the carer's own words for "other". The exit conversation (when, who held
  it, what was said and what would have kept them) may be recorded with the notice or later.
- When the approval ends (at once for a notice recorded 28 days or more after it was given;
  otherwise the nightly job `end_due_approvals`), the household moves to `deregistered`
  through the pipeline, so what follows from it closes in the same transaction
  (crm.services.lifecycle: supervision visits still to come cancelled, open tasks closed,
  pending messages cancelled, the Mockingbird membership ended; the carer reminders look only
  at active carers and carers on a break, so they stop). A break still open ends that day.
  A carer with children still placed keeps their approval until the placements are ended or
  moved: the job leaves them, and says how many.

Placements (crm.services.placements) and the matching search (crm.services.matching) read
`standing` to refuse or flag a carer on a break or under notice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from crm import clock
from crm.db import transaction
from crm.models import (
    AuditAction,
    Carer,
    CarerBreak,
    CarerLeaving,
    CarerStatus,
    Household,
    Placement,
    Reason,
    ReasonKind,
    Role,
    StaffUser,
    Stage,
    StageEvent,
)
from crm.services import access, audit, pipeline
from crm.services.actors import Actor
from crm.services.carers import get_carer
from crm.services.errors import InvalidInput, NotAllowed

LEAVING_ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.SUPERVISING_SOCIAL_WORKER})
NOTICE_DAYS = 28
OTHER = "other"


def _today() -> date:
    return clock.local_date(clock.now())


def _words(value: str | None, limit: int) -> str | None:
    value = " ".join((value or "").split())
    return value[:limit] or None


def _text(value: str | None, limit: int = 5000) -> str | None:
    value = (value or "").strip()
    return value[:limit] or None


def approval_ends(notice_given_on: date) -> date:
    """The day the approval ends: 28 days after the written notice."""
    return notice_given_on + timedelta(days=NOTICE_DAYS)


def _may(session: Session, actor: Actor, carer_id: int) -> tuple[Carer, Household]:
    if not actor.is_system and actor.role not in LEAVING_ROLES:
        raise NotAllowed("Only supervising social workers and managers record breaks and notice")
    carer, household = get_carer(session, actor, carer_id)
    if not actor.may_work_on(household.area_id):
        raise NotAllowed("This carer is in an area you do not work in")
    return carer, household


def open_break(session: Session, carer_id: int) -> CarerBreak | None:
    return session.exec(
        select(CarerBreak).where(CarerBreak.carer_id == carer_id, CarerBreak.ended_on.is_(None))
    ).first()


def _live() -> sa.ColumnElement[bool]:
    return CarerLeaving.withdrawn_on.is_(None) & CarerLeaving.approval_ended_on.is_(None)


def live_notice(session: Session, carer_id: int) -> CarerLeaving | None:
    """The notice still running (not withdrawn, the approval not yet ended)."""
    return session.exec(
        select(CarerLeaving).where(CarerLeaving.carer_id == carer_id, _live())
    ).first()


def leaving_of(session: Session, carer_id: int) -> CarerLeaving | None:
    """The carer's latest notice that was not withdrawn: still running, or the one that ended
    their approval."""
    return session.exec(
        select(CarerLeaving)
        .where(CarerLeaving.carer_id == carer_id, CarerLeaving.withdrawn_on.is_(None))
        .order_by(CarerLeaving.notice_given_on.desc(), CarerLeaving.id.desc())
        .limit(1)
    ).first()


def notices_of(session: Session, actor: Actor, carer_id: int) -> list[CarerLeaving]:
    """Every notice the carer gave, latest first (withdrawn ones too)."""
    carer, _ = get_carer(session, actor, carer_id)
    return _notices(session, carer.id)


def _notices(session: Session, carer_id: int) -> list[CarerLeaving]:
    return list(
        session.exec(
            select(CarerLeaving)
            .where(CarerLeaving.carer_id == carer_id)
            .order_by(CarerLeaving.notice_given_on.desc(), CarerLeaving.id.desc())
        ).all()
    )


# -- breaks ----------------------------------------------------------------------------------


def start_break(
    session: Session,
    actor: Actor,
    carer_id: int,
    *,
    started_on: date | None,
    reason: str | None,
    expected_end_on: date | None,
) -> CarerBreak:
    carer, _ = _may(session, actor, carer_id)
    if carer.status == CarerStatus.DEREGISTERED:
        raise InvalidInput("This carer is deregistered")
    if carer.status == CarerStatus.ON_BREAK or open_break(session, carer.id) is not None:
        raise InvalidInput("This carer is already on a break")
    errors: dict[str, str] = {}
    today = _today()
    reason = _words(reason, 500)
    if not reason:
        errors["reason"] = "Say why the carer is taking a break"
    if started_on is None:
        errors["started_on"] = "Enter the date the break starts"
    elif started_on > today:
        errors["started_on"] = "The break cannot start in the future: record it when it starts"
    elif started_on < carer.approved_on:
        errors["started_on"] = "The break cannot start before the carer was approved"
    else:
        last_end = session.exec(
            select(sa.func.max(CarerBreak.ended_on)).where(CarerBreak.carer_id == carer.id)
        ).one()
        if last_end is not None and started_on < last_end:
            errors["started_on"] = (
                f"The break cannot start before the last one ended ({last_end:%-d %B %Y})"
            )
    if expected_end_on is None:
        errors["expected_end_on"] = "Enter when the break is expected to end"
    elif started_on is not None and expected_end_on < started_on:
        errors["expected_end_on"] = "The expected end must be on or after the start"
    if errors:
        raise InvalidInput(errors)
    with transaction(session):
        taken = CarerBreak(
            carer_id=carer.id,
            started_on=started_on,
            reason=reason,
            expected_end_on=expected_end_on,
            recorded_by_id=actor.user_id,
        )
        session.add(taken)
        carer.status = CarerStatus.ON_BREAK
        carer.status_changed_at = clock.now()
        session.add(carer)
        session.flush()
        audit.record(session, actor, AuditAction.CREATE, "carer_break", taken.id, carer_id=carer.id)
        audit.record(session, actor, AuditAction.UPDATE, "carer", carer.id, status="on_break")
    session.refresh(taken)
    return taken


def end_break(
    session: Session, actor: Actor, carer_id: int, *, ended_on: date | None
) -> CarerBreak:
    """The carer resumed fostering on `ended_on`."""
    carer, _ = _may(session, actor, carer_id)
    taken = open_break(session, carer.id)
    if carer.status != CarerStatus.ON_BREAK or taken is None:
        raise InvalidInput("This carer is not on a break")
    if ended_on is None:
        raise InvalidInput("Enter the date the carer resumed fostering", "ended_on")
    if ended_on > _today():
        raise InvalidInput("The date they resumed cannot be in the future", "ended_on")
    if ended_on < taken.started_on:
        raise InvalidInput(
            f"The carer cannot resume before the break started ({taken.started_on:%-d %B %Y})",
            "ended_on",
        )
    with transaction(session):
        taken.ended_on = ended_on
        session.add(taken)
        carer.status = CarerStatus.ACTIVE
        carer.status_changed_at = clock.now()
        session.add(carer)
        audit.record(
            session, actor, AuditAction.UPDATE, "carer_break", taken.id, carer_id=carer.id,
            resumed=True,
        )  # fmt: skip
        audit.record(session, actor, AuditAction.UPDATE, "carer", carer.id, status="active")
    session.refresh(taken)
    return taken


def breaks_of(session: Session, actor: Actor, carer_id: int) -> list[CarerBreak]:
    carer, _ = get_carer(session, actor, carer_id)
    return _breaks(session, carer.id)


def _breaks(session: Session, carer_id: int) -> list[CarerBreak]:
    return list(
        session.exec(
            select(CarerBreak)
            .where(CarerBreak.carer_id == carer_id)
            .order_by(CarerBreak.started_on.desc(), CarerBreak.id.desc())
        ).all()
    )


# -- notice and the exit conversation -------------------------------------------------------


def reasons(session: Session) -> list[Reason]:
    """The deregistration reasons, "other" last."""
    rows = session.exec(
        select(Reason).where(Reason.kind == ReasonKind.DEREGISTERED, Reason.active.is_(True))
    ).all()
    return sorted(rows, key=lambda r: (r.code == OTHER, r.label))


@dataclass
class ExitConversation:
    held_on: date | None = None
    held_by_id: int | None = None
    notes: str | None = None
    would_have_kept: str | None = None

    @property
    def given(self) -> bool:
        return bool(
            self.held_on or _text(self.notes) or _text(self.would_have_kept) or self.held_by_id
        )


def _check_conversation(
    session: Session,
    actor: Actor,
    carer: Carer,
    household: Household,
    talk: ExitConversation,
    errors: dict[str, str],
) -> int | None:
    """Validate the exit conversation into `errors`; returns who held it."""
    if talk.held_on is None:
        errors["exit_on"] = "Enter the date of the exit conversation"
    elif talk.held_on > _today():
        errors["exit_on"] = "The exit conversation cannot be in the future"
    elif talk.held_on < carer.approved_on:
        errors["exit_on"] = "The exit conversation cannot be before the carer was approved"
    if not _text(talk.notes):
        errors["exit_notes"] = "Enter what was said in the exit conversation"
    held_by = talk.held_by_id or actor.user_id
    if held_by is None:
        errors["exit_by_id"] = "Choose who held the exit conversation"
    elif held_by != actor.user_id:
        staff = session.get(StaffUser, held_by)
        if not access.may_own_work(session, staff, household.area_id):
            errors["exit_by_id"] = "Choose someone working in this carer's area"
    return held_by


def _check_reason(session: Session, code: str | None, words: str | None, errors: dict) -> None:
    known = {r.code for r in reasons(session)}
    if not code or code not in known:
        errors["reason_code"] = "Choose why the carer is leaving"
    elif code == OTHER and not words:
        errors["reason_text"] = "Say, in the carer's words, why they are leaving"


def give_notice(
    session: Session,
    actor: Actor,
    carer_id: int,
    *,
    notice_given_on: date | None,
    reason_code: str | None,
    reason_text: str | None = None,
    conversation: ExitConversation | None = None,
) -> CarerLeaving:
    """Record the carer's written notice. The approval ends 28 days after it: at once when
    that day has come (everything that follows closes in this transaction), otherwise by the
    nightly job."""
    carer, household = _may(session, actor, carer_id)
    if carer.status == CarerStatus.DEREGISTERED:
        raise InvalidInput("This carer is deregistered")
    existing = live_notice(session, carer.id)
    if existing is not None:
        raise InvalidInput(
            f"This carer has already given notice: their approval ends on "
            f"{existing.approval_ends_on:%-d %B %Y}"
        )
    errors: dict[str, str] = {}
    today = _today()
    if notice_given_on is None:
        errors["notice_given_on"] = "Enter the date of the carer's written notice"
    elif notice_given_on > today:
        errors["notice_given_on"] = (
            "The notice date cannot be in the future: record the notice once it is given"
        )
    elif notice_given_on < carer.approved_on:
        errors["notice_given_on"] = "The notice cannot be before the carer was approved"
    code = (reason_code or "").strip()
    words = _words(reason_text, 2000)
    _check_reason(session, code, words, errors)
    talk = conversation or ExitConversation()
    held_by = None
    if talk.given:
        held_by = _check_conversation(session, actor, carer, household, talk, errors)
    ends = approval_ends(notice_given_on) if "notice_given_on" not in errors else None
    if ends is not None and ends <= today and not errors:
        placed = _placed(session, carer.id)
        if placed:
            errors["notice_given_on"] = (
                f"The 28 days' notice is over, so the approval ends now, but "
                f"{placed} child{'' if placed == 1 else 'ren'} still live with the carer: end or "
                f"move the placement{'' if placed == 1 else 's'} first"
            )
    if errors:
        raise InvalidInput(errors)
    with transaction(session):
        leaving = CarerLeaving(
            carer_id=carer.id,
            notice_given_on=notice_given_on,
            approval_ends_on=ends,
            reason_code=code,
            reason_text=words,
            recorded_by_id=actor.user_id,
        )
        if talk.given:
            _apply_conversation(leaving, talk, held_by)
        session.add(leaving)
        session.flush()
        audit.record(
            session, actor, AuditAction.CREATE, "carer_leaving", leaving.id,
            carer_id=carer.id, reason=code, approval_ends_on=ends.isoformat(),
        )  # fmt: skip
        if ends <= today:
            _end_approval(session, actor, carer, household, leaving)
    session.refresh(leaving)
    return leaving


def _apply_conversation(leaving: CarerLeaving, talk: ExitConversation, held_by: int | None) -> None:
    leaving.exit_conversation_on = talk.held_on
    leaving.exit_conversation_by_id = held_by
    leaving.exit_conversation_notes = _text(talk.notes)
    leaving.exit_would_have_kept = _text(talk.would_have_kept)


def record_exit_conversation(
    session: Session, actor: Actor, carer_id: int, conversation: ExitConversation
) -> CarerLeaving:
    """The exit conversation, after the notice (also once the approval has ended); it goes
    with the carer's latest notice that was not withdrawn."""
    carer, household = _may(session, actor, carer_id)
    leaving = leaving_of(session, carer.id)
    if leaving is None:
        raise InvalidInput("Record the carer's notice first")
    errors: dict[str, str] = {}
    held_by = _check_conversation(session, actor, carer, household, conversation, errors)
    if errors:
        raise InvalidInput(errors)
    with transaction(session):
        _apply_conversation(leaving, conversation, held_by)
        session.add(leaving)
        audit.record(
            session, actor, AuditAction.UPDATE, "carer_leaving", leaving.id,
            carer_id=carer.id, exit_conversation=True,
        )  # fmt: skip
    session.refresh(leaving)
    return leaving


def withdraw_notice(
    session: Session,
    actor: Actor,
    carer_id: int,
    *,
    withdrawn_on: date | None,
    reason: str | None,
) -> CarerLeaving:
    """The carer changed their mind before the approval ended: the notice stops, the approval
    stays, and nothing that followed from the notice is left running (the nightly job reads
    only live notices; placements and matching stop flagging them)."""
    carer, _ = _may(session, actor, carer_id)
    notice = live_notice(session, carer.id)
    if notice is None or carer.status == CarerStatus.DEREGISTERED:
        raise InvalidInput("This carer has no notice running to withdraw")
    errors: dict[str, str] = {}
    reason = _words(reason, 500)
    if withdrawn_on is None:
        errors["withdrawn_on"] = "Enter the date the carer withdrew their notice"
    elif withdrawn_on > _today():
        errors["withdrawn_on"] = "The date they withdrew their notice cannot be in the future"
    elif withdrawn_on < notice.notice_given_on:
        errors["withdrawn_on"] = (
            f"The notice cannot be withdrawn before it was given "
            f"({notice.notice_given_on:%-d %B %Y})"
        )
    if not reason:
        errors["withdrawn_reason"] = "Say why the carer is staying"
    if errors:
        raise InvalidInput(errors)
    with transaction(session):
        notice.withdrawn_on = withdrawn_on
        notice.withdrawn_reason = reason
        session.add(notice)
        audit.record(
            session, actor, AuditAction.UPDATE, "carer_leaving", notice.id,
            carer_id=carer.id, withdrawn=withdrawn_on.isoformat(),
        )  # fmt: skip
    session.refresh(notice)
    return notice


def _placed(session: Session, carer_id: int) -> int:
    return session.exec(
        select(sa.func.count(Placement.id)).where(
            Placement.carer_id == carer_id, Placement.ended_on.is_(None)
        )
    ).one()


def _end_approval(
    session: Session, actor: Actor, carer: Carer, household: Household, leaving: CarerLeaving
) -> None:
    """The approval ends (in the caller's transaction): the deregistration move, and with it
    everything lifecycle closes; a break still open ends the same day."""
    now = clock.now()
    # The move is dated the day the approval ended, unless the household's history has a later
    # move (a record entered late): a stage history never goes backwards.
    when = datetime.combine(leaving.approval_ends_on, time(0, 0), clock.ENGLAND)
    last = session.exec(
        select(StageEvent.occurred_at)
        .where(StageEvent.household_id == household.id)
        .order_by(StageEvent.occurred_at.desc())
        .limit(1)
    ).first()
    if when > now or (last is not None and when < last):
        when = now
    pipeline.apply_move(
        session,
        actor,
        household.id,
        Stage.DEREGISTERED,
        reason_code=leaving.reason_code,
        reason_text=leaving.reason_text,
        occurred_at=when,
    )
    session.refresh(carer)
    carer.deregistered_on = leaving.approval_ends_on
    session.add(carer)
    leaving.approval_ended_on = leaving.approval_ends_on
    session.add(leaving)
    taken = open_break(session, carer.id)
    if taken is not None:
        taken.ended_on = max(taken.started_on, leaving.approval_ends_on)
        session.add(taken)
    audit.record(
        session, actor, AuditAction.UPDATE, "carer_leaving", leaving.id,
        carer_id=carer.id, approval_ended=leaving.approval_ends_on.isoformat(),
    )  # fmt: skip
    session.flush()


@dataclass
class EndedApprovals:
    ended: list[int] = field(default_factory=list)
    # Carers whose notice is over but who still have children placed.
    held: list[int] = field(default_factory=list)


def end_due_approvals(session: Session, actor: Actor, today: date) -> EndedApprovals:
    """End the approval of every carer whose 28 days' notice is over (the nightly job; safe to
    run twice or late). Each carer in a transaction of their own."""
    due = session.exec(
        select(CarerLeaving.id, Carer.id)
        .join(Carer, Carer.id == CarerLeaving.carer_id)
        .where(
            CarerLeaving.approval_ends_on <= today,
            _live(),
            Carer.status != CarerStatus.DEREGISTERED,
        )
        .order_by(CarerLeaving.approval_ends_on, Carer.id)
    ).all()
    result = EndedApprovals()
    for leaving_id, carer_id in due:
        if _placed(session, carer_id):
            result.held.append(carer_id)
            continue
        with transaction(session):
            carer = session.get(Carer, carer_id)
            leaving = session.get(CarerLeaving, leaving_id)
            household = session.get(Household, carer.household_id)
            _end_approval(session, actor, carer, household, leaving)
        result.ended.append(carer_id)
    return result


# -- the carer's page ------------------------------------------------------------------------


@dataclass
class LeavingRecord:
    """What the carer's page shows of breaks and notice, and what the reader may do."""

    on_break: CarerBreak | None
    notice: CarerLeaving | None  # still running
    last: CarerLeaving | None  # the latest not withdrawn (running, or the one that ended it)
    breaks: list[CarerBreak]
    notices: list[CarerLeaving]
    may_act: bool


def leaving_record(session: Session, actor: Actor, carer_id: int) -> LeavingRecord:
    carer, household = get_carer(session, actor, carer_id)
    notices = _notices(session, carer.id)
    kept = [n for n in notices if n.withdrawn_on is None]  # latest first, as leaving_of
    return LeavingRecord(
        on_break=open_break(session, carer.id),
        notice=next((n for n in kept if n.approval_ended_on is None), None),
        last=kept[0] if kept else None,
        breaks=_breaks(session, carer.id),
        notices=notices,
        may_act=(actor.is_system or actor.role in LEAVING_ROLES)
        and actor.may_work_on(household.area_id),
    )


# -- what placements and matching read ------------------------------------------------------


@dataclass
class Standing:
    """Whether a carer may take a child now, and why not."""

    on_break: CarerBreak | None = None
    notice: CarerLeaving | None = None

    @property
    def problems(self) -> list[str]:
        out = []
        if self.on_break is not None:
            out.append(
                f"On a break from fostering (expected to end "
                f"{self.on_break.expected_end_on:%-d %B %Y})"
            )
        if self.notice is not None:
            out.append(f"Has given notice: approval ends {self.notice.approval_ends_on:%-d %B %Y}")
        return out


def standing(session: Session, carer_ids: list[int]) -> dict[int, Standing]:
    """Each carer's open break and notice (for carers not yet deregistered)."""
    out = {i: Standing() for i in carer_ids}
    if not carer_ids:
        return out
    for taken in session.exec(
        select(CarerBreak).where(CarerBreak.carer_id.in_(carer_ids), CarerBreak.ended_on.is_(None))
    ).all():
        out[taken.carer_id].on_break = taken
    for notice in session.exec(
        select(CarerLeaving)
        .join(Carer, Carer.id == CarerLeaving.carer_id)
        .where(
            CarerLeaving.carer_id.in_(carer_ids),
            _live(),
            Carer.status != CarerStatus.DEREGISTERED,
        )
    ).all():
        out[notice.carer_id].notice = notice
    return out


def under_notice() -> sa.ColumnElement[bool]:
    """A condition on Carer: they have given notice (and are not yet deregistered)."""
    return (
        select(CarerLeaving.id)
        .where(CarerLeaving.carer_id == Carer.id, _live())
        .correlate(Carer)
        .exists()
    ) & (Carer.status != CarerStatus.DEREGISTERED)
