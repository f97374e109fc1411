"""Every change of state closes what follows from it.

When a household leaves the funnel, is approved, is erased, or a carer deregisters, some of
what was live about it no longer makes sense: visits in staff diaries, open tasks, messages
waiting in the outbox. `close_what_follows` closes them in the caller's transaction (the stage
move's, the erasure's), so the change and its consequences land together or not at all.

What each change closes (`RULES`):

- withdrawn, not progressed, erased, deregistered: every visit still to come (with the
  household, or with the carer by `carer_id`), every open task but a safeguarding one, every
  pending message but a safeguarding alert, its place on a panel still to come (the listing
  is kept, marked withdrawn, and the place is free), and their place in a Mockingbird
  constellation (a hub home's constellation stays, for a manager to give it a new hub home).
  The person is told of each cancelled visit where they agreed to hear from us (never after
  an erasure: there is nobody left to tell).
- approved, withdrawn, not progressed, erased: a connected person's temporary approval
  (regulation 24) ends that day.
- approved: the recruitment and assessment visits still to come (initial visits, information
  and assessment sessions), the recruitment tasks (call-backs to a new enquirer, second
  attempts, stalled-case, panel-timescale, panel papers and decision tasks) and the messages
  that belonged to them (sorry-for-the-wait, stalled-case nudges and the matching staff
  alerts).
- on hold, and any other move: the stalled-case task and nudge for the stage it left (the scan
  writes new ones from the new stage's target days, so on hold the household hears from us
  again only after the on-hold target, by design). Visits stay: a pause is often short, and
  staff cancel by hand what will not happen. The 8-month panel timescale keeps running on hold
  (it is statutory), so its alerts stay too.
- leaving `enquiry` forwards: the call-back and second-attempt tasks and the sorry-for-the-wait
  message, as someone has clearly spoken to them.

Safeguarding is never closed by a change of state: the concern is about a child, not about the
household's journey. The scheduler's scans do not write them again afterwards: they look only
at booked visits, at households in the funnel stages and at active carers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session, select

from crm import clock
from crm.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    AuditAction,
    Carer,
    Household,
    OutboxMessage,
    PanelListing,
    PanelMeeting,
    Stage,
    Task,
    TaskKind,
)
from crm.services import audit, kinship, mockingbird, outbox
from crm.services.actors import Actor
from crm.services.appointments import CANCELLATION_NOTICES, cancel_booked
from crm.settings import Settings


class Change(StrEnum):
    WITHDRAWN = "withdrawn"
    NOT_PROGRESSED = "not_progressed"
    DEREGISTERED = "deregistered"
    ERASED = "erased"
    APPROVED = "approved"
    ON_HOLD = "on_hold"
    LEFT_ENQUIRY = "left_enquiry"
    MOVED = "moved"
    INITIAL_VISIT_BOOKED = "initial_visit_booked"


ENDS_TEMPORARY_APPROVAL = frozenset(
    {Change.APPROVED, Change.WITHDRAWN, Change.NOT_PROGRESSED, Change.ERASED}
)
ALL = None  # every visit kind / task kind / message template (but safeguarding)
NEVER_CLOSED_TASKS = frozenset({TaskKind.SAFEGUARDING})
# Safeguarding alerts, and the notices that a visit is cancelled (still true after any change).
NEVER_CANCELLED_MESSAGES = frozenset({"safeguarding_alert_staff"}) | CANCELLATION_NOTICES
RECRUITMENT_VISITS = frozenset(
    {
        AppointmentKind.INITIAL_VISIT,
        AppointmentKind.INFORMATION_SESSION,
        AppointmentKind.ASSESSMENT_SESSION,
    }
)
STALLED_TASKS = frozenset({TaskKind.STALLED_CASE})
STALLED_MESSAGES = frozenset({"stalled_case_nudge"})
# "Offer an initial visit" is an enquiry's task: it makes no sense once they have moved on.
VISIT_OFFER_TASKS = frozenset({TaskKind.OFFER_VISIT})
VISIT_OFFER_MESSAGES = frozenset({"initial_visit_not_offered_staff"})
ENQUIRY_TASKS = (
    frozenset({TaskKind.RESPOND_TO_ENQUIRY, TaskKind.SECOND_ATTEMPT}) | VISIT_OFFER_TASKS
)
ENQUIRY_MESSAGES = (
    frozenset({"enquiry_sorry_for_the_wait", "enquiry_response_overdue_staff"})
    | VISIT_OFFER_MESSAGES
)

# The 8-month timescale's alerts and the panel's papers and decision reminders.
PANEL_TASKS = frozenset({TaskKind.PANEL_DEADLINE, TaskKind.PANEL_PAPERS, TaskKind.PANEL_DECISION})
PANEL_MESSAGES = frozenset(
    {"panel_timescale_alert", "panel_papers_due_staff", "panel_decision_due_staff"}
)


@dataclass(frozen=True)
class Rule:
    # Which visits still to come are cancelled (empty: none; ALL: every kind).
    visits: frozenset[AppointmentKind] | None
    tasks: frozenset[TaskKind] | None
    messages: frozenset[str] | None
    tell_person: bool = True
    # Take the household off panels still to come that have not considered it yet.
    panel_listings: bool = False


ENDS_EVERYTHING = Rule(visits=ALL, tasks=ALL, messages=ALL, panel_listings=True)
RULES: dict[Change, Rule] = {
    Change.WITHDRAWN: ENDS_EVERYTHING,
    Change.NOT_PROGRESSED: ENDS_EVERYTHING,
    Change.DEREGISTERED: ENDS_EVERYTHING,
    Change.ERASED: Rule(
        visits=ALL, tasks=ALL, messages=ALL, tell_person=False, panel_listings=True
    ),
    Change.APPROVED: Rule(
        visits=RECRUITMENT_VISITS,
        tasks=STALLED_TASKS | ENQUIRY_TASKS | PANEL_TASKS,
        messages=STALLED_MESSAGES | ENQUIRY_MESSAGES | PANEL_MESSAGES,
    ),
    Change.ON_HOLD: Rule(visits=frozenset(), tasks=STALLED_TASKS, messages=STALLED_MESSAGES),
    Change.LEFT_ENQUIRY: Rule(
        visits=frozenset(),
        tasks=STALLED_TASKS | ENQUIRY_TASKS,
        messages=STALLED_MESSAGES | ENQUIRY_MESSAGES,
    ),
    Change.MOVED: Rule(visits=frozenset(), tasks=STALLED_TASKS, messages=STALLED_MESSAGES),
    # A visit booked is a visit offered: the chaser to offer one is done with.
    Change.INITIAL_VISIT_BOOKED: Rule(
        visits=frozenset(), tasks=VISIT_OFFER_TASKS, messages=VISIT_OFFER_MESSAGES
    ),
}
CHANGE_FOR_STAGE = {
    Stage.WITHDRAWN: Change.WITHDRAWN,
    Stage.NOT_PROGRESSED: Change.NOT_PROGRESSED,
    Stage.DEREGISTERED: Change.DEREGISTERED,
    Stage.APPROVED: Change.APPROVED,
    Stage.ON_HOLD: Change.ON_HOLD,
}


def change_for_move(from_stage: Stage, to_stage: Stage) -> Change:
    change = CHANGE_FOR_STAGE.get(to_stage)
    if change is not None:
        return change
    if from_stage == Stage.ENQUIRY and (to_stage.funnel_index or 0) > 0:
        return Change.LEFT_ENQUIRY
    return Change.MOVED


@dataclass
class Closed:
    """What a change closed, for the caller to say so."""

    visits: list[Appointment] = field(default_factory=list)
    tasks: int = 0
    messages: int = 0
    memberships: int = 0
    temporary_approval: bool = False
    panel_listings: int = 0


def close_what_follows(
    session: Session,
    actor: Actor,
    household: Household,
    *,
    why: Change,
    reason: str,
    settings: Settings | None = None,
) -> Closed:
    """Close what no longer makes sense after `why` happened to `household`, in the caller's
    transaction (nothing is committed here). `reason` is a short sentence for staff, kept on
    each cancelled visit and closed task ("Withdrawn: timing not right"); the person's message
    says only what happened, never staff's words."""
    rule = RULES[why]
    now = clock.now()
    closed = Closed()
    carer_id = session.exec(select(Carer.id).where(Carer.household_id == household.id)).first()

    # Anything about this household, or about them as a carer (supervision, reviews, TSD and
    # check-ins are linked by carer_id only).
    def theirs(model: type) -> sa.ColumnElement[bool]:
        condition = model.household_id == household.id
        if carer_id is not None:
            condition = sa.or_(condition, model.carer_id == carer_id)
        return condition

    # Messages first, so the notices written for the cancelled visits below are not caught.
    messages = sa.and_(
        theirs(OutboxMessage), OutboxMessage.template.not_in(sorted(NEVER_CANCELLED_MESSAGES))
    )
    if rule.messages is not ALL:
        messages = sa.and_(messages, OutboxMessage.template.in_(sorted(rule.messages)))
    if rule.messages is ALL or rule.messages:
        closed.messages = outbox.cancel_pending(
            session, messages, reason=f"no longer needed ({reason})"
        )

    if rule.visits is ALL or rule.visits:
        query = select(Appointment).where(
            theirs(Appointment),
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.starts_at > now,
        )
        if rule.visits is not ALL:
            query = query.where(Appointment.kind.in_(sorted(rule.visits)))
        for appointment in session.exec(query.order_by(Appointment.starts_at)).all():
            cancel_booked(
                session,
                actor,
                appointment,
                reason=reason,
                why=why.value,
                tell_person=rule.tell_person,
                settings=settings,
            )
            closed.visits.append(appointment)

    if rule.tasks is ALL or rule.tasks:
        tasks = sa.and_(
            theirs(Task),
            Task.done_at.is_(None),
            Task.kind.not_in(sorted(NEVER_CLOSED_TASKS)),
        )
        if rule.tasks is not ALL:
            tasks = sa.and_(tasks, Task.kind.in_(sorted(rule.tasks)))
        closed.tasks = session.execute(
            sa.update(Task)
            .where(tasks)
            .values(done_at=now, done_by_id=actor.user_id, closed_reason=reason[:500])
            .execution_options(synchronize_session="fetch")
        ).rowcount

    if why in (Change.DEREGISTERED, Change.ERASED) and carer_id is not None:
        # A carer who leaves leaves their Mockingbird constellation too.
        closed.memberships = mockingbird.carer_left(
            session, carer_id, clock.now().astimezone(clock.ENGLAND).date(), reason
        )

    if why in ENDS_TEMPORARY_APPROVAL:
        # A connected person's temporary approval (regulation 24) ends with full approval or
        # with leaving; nothing else would stop its expiry reminders.
        closed.temporary_approval = kinship.household_changed(
            session, household.id, clock.now().astimezone(clock.ENGLAND).date(), reason
        )

    if rule.panel_listings:
        still_to_come = (
            select(PanelMeeting.id)
            .where(
                PanelMeeting.id == PanelListing.meeting_id,
                PanelMeeting.meets_on >= clock.local_date(now),
            )
            .exists()
        )
        closed.panel_listings = session.execute(
            sa.update(PanelListing)
            .where(
                PanelListing.household_id == household.id,
                PanelListing.recommendation.is_(None),
                PanelListing.withdrawn_at.is_(None),
                still_to_come,
            )
            .values(withdrawn_at=now)
            .execution_options(synchronize_session="fetch")
        ).rowcount

    if (
        closed.visits
        or closed.tasks
        or closed.messages
        or closed.panel_listings
        or closed.memberships
    ):
        counts = {
            "visits_cancelled": len(closed.visits),
            "tasks_closed": closed.tasks,
            "messages_cancelled": closed.messages,
        }
        if closed.panel_listings:
            counts["panel_listings_withdrawn"] = closed.panel_listings
        if closed.memberships:
            counts["constellation_memberships_ended"] = closed.memberships
        audit.record(
            session,
            actor,
            AuditAction.UPDATE,
            "household",
            household.id,
            closed_after=why.value,
            **counts,
        )
    session.flush()
    return closed
