"""The fostering panel and the agency decision.

In the words of a fostering team:
- managers (and admins) run the panel's business: they set up panel meetings (a date, a chair,
  how many households it can consider), list a household for a meeting (a household in stage
  two moves to `panel` as it is listed), note that the papers went out (due
  `panel.papers_due_working_days` working days before) and record the panel's recommendation
  after it met: approve (with the terms it recommends), do not approve, or defer;
- only the agency decision maker decides, for a household at `panel` with a recommendation on
  file (a deferral is not one: the household goes back to a later panel), once per listing,
  due `panel.decision_within_working_days` after the panel. Approving takes the terms (number
  of children, age range, types of fostering, specialisms) and the supervising social worker;
  it moves the household to `approved` and opens the carer record with them, in one
  transaction. Not approving moves the household to `not_progressed` with the reason, and the
  applicants are told in writing;
- the applicants hear what happens next and whom to contact when a panel date is set and when
  the decision is made, where they agreed to hear from us (the outbox);
- National Minimum Standard 14: the panel's recommendation within 8 months of the application
  (`reminders.panel_deadline_months`); `timescale` says how many days are left, and an
  application is at risk with fewer than `panel.at_risk_days` left.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlalchemy.orm import selectinload
from sqlmodel import Session, select

from crm import clock, workdays
from crm.db import transaction
from crm.models import (
    AuditAction,
    Decision,
    FosteringType,
    Household,
    PanelListing,
    PanelMeeting,
    Reason,
    ReasonKind,
    Recommendation,
    Role,
    Specialism,
    StaffArea,
    StaffUser,
    Stage,
    StageEvent,
    Task,
    TaskKind,
)
from crm.services import access, audit, checkins, outbox, pipeline
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed, NotFound
from crm.settings import Settings

# Who runs the panel's business (meetings, listings, papers, recommendations).
PANEL_ADMIN_ROLES = frozenset({Role.MANAGER, Role.ADMIN})
# Who makes the agency decision.
DECISION_ROLES = frozenset({Role.DECISION_MAKER})
# A household is listed from stage two (it moves to panel), or again from panel after a
# deferral.
LISTABLE_STAGES = frozenset({Stage.STAGE_TWO, Stage.PANEL})
# A recommendation the decision maker decides on; a deferral sends it back to a later panel.
DECIDABLE = frozenset({Recommendation.APPROVE, Recommendation.DO_NOT_APPROVE})
MAX_CAPACITY = 30
MAX_PLACES = 6
MAX_AGE = 25  # staying put: young people stay on past 18
NOTES_LIMIT = 4000

# Messages to the applicants (crm.messaging.catalogue; wording in config/templates/).
PANEL_DATE_SET = "panel_date_set"
DECISION_APPROVED = "panel_decision_approved"
DECISION_NOT_APPROVED = "panel_decision_not_approved"
# The reminders' task keys (crm.services.reminders.panel), closed by what ends them.
PAPERS_KEY = "panel_papers:"
DECISION_KEY = "panel_decision:"


# -- who may -------------------------------------------------------------------------------


def _require_panel_admin(actor: Actor) -> None:
    if actor.is_system or actor.role in PANEL_ADMIN_ROLES:
        return
    raise NotAllowed("The panel's business is run by managers and admins")


def _require_decision_maker(actor: Actor) -> None:
    # Not even trusted system code decides: the decision is a person's, by law.
    if actor.role not in DECISION_ROLES:
        raise NotAllowed("Only the agency decision maker records the agency decision")


def may_run_panel(actor: Actor) -> bool:
    return actor.is_system or actor.role in PANEL_ADMIN_ROLES


def may_decide(actor: Actor) -> bool:
    return actor.role in DECISION_ROLES


# -- what was typed ------------------------------------------------------------------------


@dataclass
class TermsInput:
    """Approval terms as typed (strings from a form, or values from code)."""

    places: str | int | None = None
    age_min: str | int | None = None
    age_max: str | int | None = None
    fostering_types: Iterable[str] = ()
    specialisms: Iterable[str] = ()


@dataclass(frozen=True)
class Terms:
    places: int
    age_min: int
    age_max: int
    fostering_types: tuple[str, ...]
    specialisms: tuple[str, ...]


def _whole_number(value: str | int | None, field: str, label: str, errors: dict) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        errors[field] = f"Enter {label}"
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        errors[field] = f"{label[0].upper()}{label[1:]} must be a whole number"
        return None


def check_terms(raw: TermsInput) -> tuple[Terms | None, dict[str, str]]:
    """The terms, or the message for each field that is wrong."""
    errors: dict[str, str] = {}
    places = _whole_number(raw.places, "places", "the number of children", errors)
    if places is not None and not 1 <= places <= MAX_PLACES:
        errors["places"] = f"The number of children must be between 1 and {MAX_PLACES}"
    age_min = _whole_number(raw.age_min, "age_min", "the youngest age", errors)
    age_max = _whole_number(raw.age_max, "age_max", "the oldest age", errors)
    for field, age in (("age_min", age_min), ("age_max", age_max)):
        if age is not None and not 0 <= age <= MAX_AGE:
            errors[field] = f"Ages must be between 0 and {MAX_AGE}"
    if (
        age_min is not None
        and age_max is not None
        and "age_min" not in errors
        and "age_max" not in errors
        and age_min > age_max
    ):
        errors["age_max"] = "The oldest age must be the same as or more than the youngest age"
    types = tuple(dict.fromkeys(t for t in raw.fostering_types if t))
    if not types:
        errors["fostering_types"] = "Choose at least one type of fostering"
    elif any(t not in FosteringType._value2member_map_ for t in types):
        errors["fostering_types"] = "Choose the types of fostering from the list"
    specialisms = tuple(dict.fromkeys(s for s in raw.specialisms if s))
    if any(s not in Specialism._value2member_map_ for s in specialisms):
        errors["specialisms"] = "Choose the specialisms from the list"
    if errors:
        return None, errors
    return Terms(places, age_min, age_max, types, specialisms), {}


def _clean_notes(value: str | None) -> str | None:
    if value is None:
        return None
    text = "\n".join(line.rstrip() for line in value.strip().splitlines())
    return text or None


# -- meetings ------------------------------------------------------------------------------


def papers_due(settings: Settings, meets_on: date) -> date:
    return workdays.subtract_working_days_from_date(
        meets_on, settings.panel.papers_due_working_days
    )


def decision_due(settings: Settings, meets_on: date) -> date:
    return workdays.add_working_days_to_date(meets_on, settings.panel.decision_within_working_days)


def create_meeting(
    session: Session,
    actor: Actor,
    settings: Settings,
    *,
    meets_on: date | None,
    chair: str | None,
    capacity: str | int | None,
) -> PanelMeeting:
    _require_panel_admin(actor)
    errors: dict[str, str] = {}
    today = clock.local_date(clock.now())
    if meets_on is None:
        errors["meets_on"] = "Enter the date the panel meets"
    elif meets_on < today:
        errors["meets_on"] = "The panel's date must be today or in the future"
    chair = " ".join((chair or "").split())
    if not chair:
        errors["chair"] = "Enter the name of the panel's chair"
    elif len(chair) > 120:
        errors["chair"] = "The chair's name must be 120 characters or fewer"
    places = _whole_number(
        capacity, "capacity", "how many households the panel can consider", errors
    )
    if places is not None and not 1 <= places <= MAX_CAPACITY:
        errors["capacity"] = f"The panel can consider between 1 and {MAX_CAPACITY} households"
    if errors:
        raise InvalidInput(errors)
    meeting = PanelMeeting(
        meets_on=meets_on,
        chair=chair,
        capacity=places,
        papers_due_on=papers_due(settings, meets_on),
        created_by_id=actor.user_id,
    )
    with transaction(session):
        session.add(meeting)
        session.flush()
        audit.record(session, actor, AuditAction.CREATE, "panel_meeting", meeting.id)
    session.refresh(meeting)
    return meeting


def get_meeting(session: Session, actor: Actor, meeting_id: int) -> PanelMeeting:
    if not (may_run_panel(actor) or may_decide(actor)):
        raise NotAllowed("Panel meetings are for managers, admins and the agency decision maker")
    meeting = session.get(PanelMeeting, meeting_id)
    if meeting is None:
        raise NotFound(f"No panel meeting with id {meeting_id}")
    return meeting


@dataclass
class MeetingRow:
    meeting: PanelMeeting
    listed: int  # households the actor may see, and others (counted, never named)

    @property
    def places_left(self) -> int:
        return max(0, self.meeting.capacity - self.listed)


def meetings(session: Session, actor: Actor, *, upcoming_only: bool = False) -> list[MeetingRow]:
    """Panel meetings, newest first (the coming ones first when `upcoming_only`)."""
    if not (may_run_panel(actor) or may_decide(actor)):
        raise NotAllowed("Panel meetings are for managers, admins and the agency decision maker")
    counts = (
        select(PanelListing.meeting_id, sa.func.count().label("n"))
        .where(PanelListing.withdrawn_at.is_(None))
        .group_by(PanelListing.meeting_id)
        .subquery()
    )
    query = select(PanelMeeting, sa.func.coalesce(counts.c.n, 0)).outerjoin(
        counts, counts.c.meeting_id == PanelMeeting.id
    )
    today = clock.local_date(clock.now())
    if upcoming_only:
        query = query.where(PanelMeeting.meets_on >= today).order_by(PanelMeeting.meets_on)
    else:
        query = query.order_by(PanelMeeting.meets_on.desc(), PanelMeeting.id.desc())
    return [MeetingRow(meeting, n) for meeting, n in session.exec(query).all()]


@dataclass
class ListingRow:
    listing: PanelListing
    household: Household
    timescale: Timescale


@dataclass
class MeetingView:
    meeting: PanelMeeting
    rows: list[ListingRow]
    hidden: int  # listed households outside the actor's areas: counted, never named
    met: bool

    @property
    def listed(self) -> int:
        return len(self.rows) + self.hidden

    @property
    def places_left(self) -> int:
        return max(0, self.meeting.capacity - self.listed)


def meeting_view(
    session: Session, actor: Actor, settings: Settings, meeting_id: int
) -> MeetingView:
    meeting = get_meeting(session, actor, meeting_id)
    listings = session.exec(
        select(PanelListing)
        .where(PanelListing.meeting_id == meeting.id, PanelListing.withdrawn_at.is_(None))
        .order_by(PanelListing.id)
    ).all()
    visible = access.visible_households(session, actor, [li.household_id for li in listings])
    rows = [
        ListingRow(
            li, visible[li.household_id], timescale(session, settings, visible[li.household_id])
        )
        for li in listings
        if li.household_id in visible
    ]
    return MeetingView(
        meeting=meeting,
        rows=rows,
        hidden=len(listings) - len(rows),
        met=meeting.meets_on <= clock.local_date(clock.now()),
    )


# -- listing a household -------------------------------------------------------------------


def open_listing(session: Session, household_id: int) -> PanelListing | None:
    """The listing still waiting for the panel or for the decision, if any."""
    return session.exec(
        select(PanelListing)
        .where(
            PanelListing.household_id == household_id,
            PanelListing.withdrawn_at.is_(None),
            PanelListing.decision.is_(None),
            sa.or_(
                PanelListing.recommendation.is_(None),
                PanelListing.recommendation.in_(sorted(DECIDABLE)),
            ),
        )
        .order_by(PanelListing.id.desc())
    ).first()


def _household_for(session: Session, actor: Actor, household_id: int) -> Household:
    household = session.get(Household, household_id)
    if household is None or household.anonymised_at is not None:
        raise NotFound(f"No household with id {household_id}")
    if not access.may_view_household(actor, household) or not actor.may_work_on(household.area_id):
        raise NotAllowed("This household is not in your areas or your work")
    return household


def list_household(
    session: Session,
    actor: Actor,
    settings: Settings,
    meeting_id: int | str | None,
    household_id: int,
) -> PanelListing:
    """List a household for a panel meeting: from stage two (it moves to panel now) or from
    panel after a deferral. The meeting must be still to come and have room."""
    _require_panel_admin(actor)
    household = _household_for(session, actor, household_id)
    try:
        meeting = session.get(PanelMeeting, int(meeting_id)) if meeting_id else None
    except (TypeError, ValueError):
        meeting = None
    if meeting is None:
        raise InvalidInput("Choose a panel meeting", "meeting_id")
    today = clock.local_date(clock.now())
    if meeting.meets_on < today:
        raise InvalidInput("That panel has already met: choose one still to come", "meeting_id")
    stage = Stage(household.stage)
    if stage not in LISTABLE_STAGES:
        raise InvalidInput(
            f"A household is listed for panel from stage two; this one is at {stage.label.lower()}",
            "meeting_id",
        )
    waiting = open_listing(session, household.id)
    if waiting is not None:
        other = session.get(PanelMeeting, waiting.meeting_id)
        raise InvalidInput(
            f"This household is already listed for the panel on {_day(other.meets_on)}",
            "meeting_id",
        )
    with transaction(session):
        # Holds the meeting's row on PostgreSQL while the places are counted, so two listings
        # at once cannot both take the last place.
        session.exec(
            select(PanelMeeting.id).where(PanelMeeting.id == meeting.id).with_for_update()
        ).first()
        listed = session.exec(
            select(sa.func.count())
            .select_from(PanelListing)
            .where(PanelListing.meeting_id == meeting.id, PanelListing.withdrawn_at.is_(None))
        ).one()
        if listed >= meeting.capacity:
            raise InvalidInput(
                f"The panel on {_day(meeting.meets_on)} is full ({meeting.capacity} households): "
                "choose another",
                "meeting_id",
            )
        if stage == Stage.STAGE_TWO:
            pipeline.apply_move(session, actor, household.id, Stage.PANEL, settings=settings)
        listing = PanelListing(
            meeting_id=meeting.id, household_id=household.id, listed_by_id=actor.user_id
        )
        session.add(listing)
        session.flush()
        audit.record(
            session, actor, AuditAction.CREATE, "panel_listing", listing.id,
            household_id=household.id, meeting_id=meeting.id,
        )  # fmt: skip
        _tell_applicants(
            session,
            settings,
            household,
            PANEL_DATE_SET,
            key=f"{PANEL_DATE_SET}:{listing.id}",
            payload={
                "panel_date": _day(meeting.meets_on),
                **_contact(session, household),
            },
        )
    session.refresh(listing)
    return listing


def get_listing(session: Session, actor: Actor, listing_id: int) -> tuple[PanelListing, Household]:
    listing = session.get(PanelListing, listing_id)
    if listing is None:
        raise NotFound(f"No panel listing with id {listing_id}")
    household = session.get(Household, listing.household_id)
    if household is None or not access.may_view_household(actor, household):
        raise NotAllowed("This household is not in your areas or your work")
    return listing, household


def mark_papers_sent(session: Session, actor: Actor, listing_id: int) -> PanelListing:
    _require_panel_admin(actor)
    listing, household = get_listing(session, actor, listing_id)
    if listing.papers_sent_on is not None:
        raise InvalidInput("The papers are already marked as sent", "papers")
    if listing.recommendation is not None:
        raise InvalidInput("The panel has already made its recommendation", "papers")
    with transaction(session):
        listing.papers_sent_on = clock.local_date(clock.now())
        session.add(listing)
        _close_tasks(session, actor, f"{PAPERS_KEY}{listing.id}", "The papers went out")
        audit.record(session, actor, AuditAction.UPDATE, "panel_listing", listing.id, papers=True)
    session.refresh(listing)
    return listing


# -- the panel's recommendation ------------------------------------------------------------


def record_recommendation(
    session: Session,
    actor: Actor,
    settings: Settings,
    listing_id: int,
    *,
    recommendation: str | None,
    terms: TermsInput | None = None,
    notes: str | None = None,
) -> PanelListing:
    """What the panel recommended, after it met. Approve takes the recommended terms; do not
    approve and defer take notes saying why."""
    _require_panel_admin(actor)
    listing, household = get_listing(session, actor, listing_id)
    if not actor.may_work_on(household.area_id):
        raise NotAllowed("This household is in an area you do not work in")
    meeting = session.get(PanelMeeting, listing.meeting_id)
    if listing.recommendation is not None:
        raise InvalidInput("The panel's recommendation is already on file", "recommendation")
    today = clock.local_date(clock.now())
    if meeting.meets_on > today:
        raise InvalidInput(
            f"The panel meets on {_day(meeting.meets_on)}: record its recommendation after that",
            "recommendation",
        )
    if Stage(household.stage) != Stage.PANEL:
        raise InvalidInput(
            f"The household is at {Stage(household.stage).label.lower()}, not panel",
            "recommendation",
        )
    errors: dict[str, str] = {}
    try:
        chosen = Recommendation(recommendation or "")
    except ValueError:
        chosen = None
        errors["recommendation"] = "Choose the panel's recommendation"
    notes = _clean_notes(notes)
    if notes and len(notes) > NOTES_LIMIT:
        errors["notes"] = f"Notes must be {NOTES_LIMIT:,} characters or fewer"
    checked = None
    if chosen == Recommendation.APPROVE:
        checked, term_errors = check_terms(terms or TermsInput())
        errors.update(term_errors)
    elif chosen is not None and not notes:
        errors["notes"] = "Say why the panel recommended this"
    if errors:
        raise InvalidInput(errors)
    with transaction(session):
        listing.recommendation = chosen
        if checked is not None:
            listing.recommended_places = checked.places
            listing.recommended_age_min = checked.age_min
            listing.recommended_age_max = checked.age_max
            listing.recommended_fostering_types = list(checked.fostering_types)
            listing.recommended_specialisms = list(checked.specialisms)
        listing.recommendation_notes = notes
        listing.recommended_at = clock.now()
        listing.recommended_by_id = actor.user_id
        if chosen in DECIDABLE:
            listing.decision_due_on = decision_due(settings, meeting.meets_on)
        session.add(listing)
        _close_tasks(session, actor, f"{PAPERS_KEY}{listing.id}", "The panel has met")
        audit.record(
            session, actor, AuditAction.UPDATE, "panel_listing", listing.id,
            recommendation=chosen.value, notes=bool(notes),
        )  # fmt: skip
    session.refresh(listing)
    return listing


# -- the agency decision -------------------------------------------------------------------


def supervisor_problem(
    session: Session, staff: StaffUser | None, household: Household
) -> str | None:
    if staff is None or not staff.active:
        return "Choose the supervising social worker"
    if staff.role != Role.SUPERVISING_SOCIAL_WORKER:
        return f"{staff.name} is not a supervising social worker"
    works_there = session.exec(
        select(StaffArea.staff_id).where(
            StaffArea.staff_id == staff.id, StaffArea.area_id == household.area_id
        )
    ).first()
    if household.area_id is None or works_there is None:
        return f"{staff.name} does not work in this household's area"
    return None


def possible_supervisors(session: Session, household: Household) -> list[StaffUser]:
    """Who the decision form offers as the supervising social worker."""
    if household.area_id is None:
        return []
    return list(
        session.exec(
            select(StaffUser)
            .join(StaffArea, StaffArea.staff_id == StaffUser.id)
            .where(
                StaffUser.active.is_(True),
                StaffUser.role == Role.SUPERVISING_SOCIAL_WORKER,
                StaffArea.area_id == household.area_id,
            )
            .order_by(StaffUser.name, StaffUser.id)
        ).all()
    )


def not_approved_reasons(session: Session) -> list[Reason]:
    return list(
        session.exec(
            select(Reason)
            .where(Reason.kind == ReasonKind.NOT_PROGRESSED, Reason.active.is_(True))
            .order_by(Reason.label)
        ).all()
    )


def record_decision(
    session: Session,
    actor: Actor,
    listing_id: int,
    *,
    decision: str | None,
    terms: TermsInput | None = None,
    supervising_social_worker_id: int | str | None = None,
    reason_code: str | None = None,
    notes: str | None = None,
    settings: Settings | None = None,
) -> PanelListing:
    """The agency decision on a panel listing. Approved: with the terms and the supervising
    social worker, the household moves to approved and its carer record opens with them.
    Not approved: with the reason (from the not-progressed list) and the words for the
    applicants' letter, the household moves to not progressed. One decision per listing;
    the decision, the move, what the move closes and the applicants' message land together."""
    _require_decision_maker(actor)
    listing, household = get_listing(session, actor, listing_id)
    if not actor.may_work_on(household.area_id):
        raise NotAllowed("This household is in an area you do not work in")
    if listing.decision is not None:
        raise InvalidInput("The agency decision for this panel is already on file", "decision")
    if listing.recommendation is None:
        raise InvalidInput("The panel's recommendation is not on file yet", "decision")
    if Recommendation(listing.recommendation) not in DECIDABLE:
        raise InvalidInput("The panel deferred: list the household for a later panel", "decision")
    if Stage(household.stage) != Stage.PANEL:
        raise InvalidInput(
            f"The household is at {Stage(household.stage).label.lower()}, not panel", "decision"
        )
    errors: dict[str, str] = {}
    try:
        chosen = Decision(decision or "")
    except ValueError:
        chosen = None
        errors["decision"] = "Choose the decision"
    notes = _clean_notes(notes)
    if notes and len(notes) > NOTES_LIMIT:
        errors["notes"] = f"Notes must be {NOTES_LIMIT:,} characters or fewer"
    approval = None
    if chosen == Decision.APPROVED:
        checked, term_errors = check_terms(terms or TermsInput())
        errors.update(term_errors)
        try:
            ssw_id = int(supervising_social_worker_id) if supervising_social_worker_id else None
        except (TypeError, ValueError):
            ssw_id = None
        problem = supervisor_problem(
            session, session.get(StaffUser, ssw_id) if ssw_id else None, household
        )
        if problem:
            errors["supervising_social_worker_id"] = problem
        if checked is not None and not problem:
            approval = pipeline.ApprovalTerms(
                places=checked.places,
                age_min=checked.age_min,
                age_max=checked.age_max,
                fostering_types=checked.fostering_types,
                specialisms=checked.specialisms,
                supervising_social_worker_id=ssw_id,
            )
    elif chosen == Decision.NOT_APPROVED:
        codes = {r.code for r in not_approved_reasons(session)}
        if not reason_code or reason_code not in codes:
            errors["reason_code"] = "Choose the reason for not approving"
        if not notes:
            errors["notes"] = "Say why, in words for the applicants' letter"
    if errors:
        raise InvalidInput(errors)

    now = clock.now()
    with transaction(session):
        # Only if nobody decided a moment ago: a second decision never lands.
        decided = session.exec(
            sa.update(PanelListing)
            .where(PanelListing.id == listing.id, PanelListing.decision.is_(None))
            .values(
                decision=chosen,
                decided_at=now,
                decided_by_id=actor.user_id,
                decision_reason_code=reason_code if chosen == Decision.NOT_APPROVED else None,
                decision_notes=notes,
            )
            .execution_options(synchronize_session="fetch")
        )
        if decided.rowcount != 1:
            raise InvalidInput("The agency decision for this panel is already on file", "decision")
        if chosen == Decision.APPROVED:
            pipeline.apply_move(
                session, actor, household.id, Stage.APPROVED, approval=approval, settings=settings
            )
        else:
            pipeline.apply_move(
                session, actor, household.id, Stage.NOT_PROGRESSED,
                reason_code=reason_code, reason_text=notes, settings=settings,
            )  # fmt: skip
        _close_tasks(session, actor, f"{DECISION_KEY}{listing.id}", "The decision was made")
        audit.record(
            session, actor, AuditAction.UPDATE, "panel_listing", listing.id,
            decision=chosen.value, notes=bool(notes),
        )  # fmt: skip
        # After the move: leaving the funnel cancels the household's waiting messages, and
        # this one is about that very decision.
        if chosen == Decision.APPROVED:
            ssw = session.get(StaffUser, approval.supervising_social_worker_id)
            payload = {
                "supervisor_name": ssw.name,
                "places": approval.places,
                "age_min": approval.age_min,
                "age_max": approval.age_max,
            }
            template = DECISION_APPROVED
        else:
            payload = {"reason_words": notes, **_contact(session, household)}
            template = DECISION_NOT_APPROVED
        _tell_applicants(
            session, settings, household, template, key=f"{template}:{listing.id}", payload=payload
        )
    session.refresh(listing)
    return listing


@dataclass
class DecisionRow:
    listing: PanelListing
    household: Household
    meeting: PanelMeeting
    overdue: bool


def decisions_waiting(session: Session, actor: Actor) -> list[DecisionRow]:
    """Recommendations waiting for the agency decision, in households the actor may see,
    the longest waiting first."""
    if not (may_decide(actor) or may_run_panel(actor)):
        raise NotAllowed("The agency decisions are for the decision maker, managers and admins")
    rows = session.exec(
        select(PanelListing, Household, PanelMeeting)
        .join(Household, Household.id == PanelListing.household_id)
        .join(PanelMeeting, PanelMeeting.id == PanelListing.meeting_id)
        .where(
            PanelListing.decision.is_(None),
            PanelListing.recommendation.in_(sorted(DECIDABLE)),
            Household.stage == Stage.PANEL,
            Household.anonymised_at.is_(None),
            access.household_visibility(actor),
        )
        .options(selectinload(Household.applicants))
        .order_by(PanelMeeting.meets_on, PanelListing.id)
    ).all()
    today = clock.local_date(clock.now())
    return [
        DecisionRow(li, h, mt, li.decision_due_on is not None and li.decision_due_on < today)
        for li, h, mt in rows
    ]


# -- the 8-month timescale -----------------------------------------------------------------


@dataclass(frozen=True)
class Timescale:
    applied_on: date | None
    deadline: date | None
    days_left: int | None
    recommended: bool
    at_risk: bool

    @property
    def running(self) -> bool:
        return self.applied_on is not None and not self.recommended

    @property
    def overdue(self) -> bool:
        return self.running and self.days_left is not None and self.days_left < 0


def _applied_at(session: Session, household_ids: list[int]) -> dict[int, datetime]:
    if not household_ids:
        return {}
    rows = session.exec(
        select(StageEvent.household_id, sa.func.min(StageEvent.occurred_at))
        .where(
            StageEvent.household_id.in_(household_ids),
            StageEvent.to_stage.in_(Stage.in_group("applied")),
        )
        .group_by(StageEvent.household_id)
    ).all()
    return dict(rows)


def _recommended(session: Session, household_ids: list[int]) -> set[int]:
    if not household_ids:
        return set()
    return set(
        session.exec(
            select(PanelListing.household_id).where(
                PanelListing.household_id.in_(household_ids),
                PanelListing.recommendation.in_(sorted(DECIDABLE)),
            )
        ).all()
    )


def _timescale(
    settings: Settings, applied_at: datetime | None, recommended: bool, stage: Stage, today: date
) -> Timescale:
    if applied_at is None:
        return Timescale(None, None, None, recommended, False)
    applied_on = applied_at.astimezone(settings.tz).date()
    deadline = applied_on + relativedelta(months=settings.reminders.panel_deadline_months)
    days_left = (deadline - today).days
    still_counting = not recommended and stage in Stage.in_group("assessment")
    return Timescale(
        applied_on,
        deadline,
        days_left,
        recommended,
        still_counting and days_left <= settings.panel.at_risk_days,
    )


def timescale(session: Session, settings: Settings, household: Household) -> Timescale:
    """Days left of the 8 months from the application to the panel's recommendation."""
    stage = (
        Stage(household.held_from_stage or household.stage)
        if household.stage == Stage.ON_HOLD
        else Stage(household.stage)
    )
    return _timescale(
        settings,
        _applied_at(session, [household.id]).get(household.id),
        household.id in _recommended(session, [household.id]),
        stage,
        clock.local_date(clock.now()),
    )


@dataclass
class TimescaleRow:
    household: Household
    timescale: Timescale
    listing: PanelListing | None
    meeting: PanelMeeting | None


def timescales(
    session: Session, actor: Actor, settings: Settings, *, at_risk_only: bool = False
) -> list[TimescaleRow]:
    """Households in assessment that the actor may see, with the days left of the 8 months,
    the fewest first: the manager's list."""
    if not may_run_panel(actor):
        raise NotAllowed("The panel timescales are for managers and admins")
    assessment = Stage.in_group("assessment")
    households = session.exec(
        select(Household)
        .where(
            sa.or_(
                Household.stage.in_(assessment),
                sa.and_(
                    Household.stage == Stage.ON_HOLD, Household.held_from_stage.in_(assessment)
                ),
            ),
            Household.anonymised_at.is_(None),
            access.household_visibility(actor),
        )
        .options(selectinload(Household.applicants))
    ).all()
    ids = [h.id for h in households]
    applied = _applied_at(session, ids)
    recommended = _recommended(session, ids)
    listings: dict[int, PanelListing] = {}
    for listing in (
        session.exec(
            select(PanelListing).where(PanelListing.household_id.in_(ids)).order_by(PanelListing.id)
        ).all()
        if ids
        else []
    ):
        listings[listing.household_id] = listing
    meetings_by_id = (
        {
            mt.id: mt
            for mt in session.exec(
                select(PanelMeeting).where(
                    PanelMeeting.id.in_(sorted({li.meeting_id for li in listings.values()}))
                )
            ).all()
        }
        if listings
        else {}
    )
    today = clock.local_date(clock.now())
    rows = []
    for household in households:
        stage = (
            Stage(household.held_from_stage or household.stage)
            if household.stage == Stage.ON_HOLD
            else Stage(household.stage)
        )
        scale = _timescale(
            settings, applied.get(household.id), household.id in recommended, stage, today
        )
        if not scale.running or (at_risk_only and not scale.at_risk):
            continue
        listing = listings.get(household.id)
        rows.append(
            TimescaleRow(
                household,
                scale,
                listing,
                meetings_by_id.get(listing.meeting_id) if listing else None,
            )
        )
    rows.sort(key=lambda r: (r.timescale.days_left, r.household.id))
    return rows


# -- the household page's panel section ----------------------------------------------------


@dataclass
class HouseholdPanel:
    timescale: Timescale
    listings: list[tuple[PanelListing, PanelMeeting]]
    upcoming: list[MeetingRow]
    may_list: bool
    may_decide: bool


def household_panel(
    session: Session, actor: Actor, settings: Settings, household: Household
) -> HouseholdPanel:
    """What the household page shows about panel: the timescale, its listings and (for the
    panel's admins) the meetings it could be listed for."""
    if not access.may_view_household(actor, household):
        raise NotAllowed("This household is not in your areas or your work")
    listings = session.exec(
        select(PanelListing, PanelMeeting)
        .join(PanelMeeting, PanelMeeting.id == PanelListing.meeting_id)
        .where(PanelListing.household_id == household.id)
        .order_by(PanelMeeting.meets_on.desc(), PanelListing.id.desc())
    ).all()
    may_list = (
        may_run_panel(actor)
        and household.anonymised_at is None
        and Stage(household.stage) in LISTABLE_STAGES
        and open_listing(session, household.id) is None
    )
    upcoming = (
        [row for row in meetings(session, actor, upcoming_only=True) if row.places_left > 0]
        if may_list
        else []
    )
    return HouseholdPanel(
        timescale=timescale(session, settings, household),
        listings=list(listings),
        upcoming=upcoming,
        may_list=may_list,
        may_decide=may_decide(actor),
    )


# -- shared --------------------------------------------------------------------------------


def _day(day: date) -> str:
    return f"{day.day} {day.strftime('%B %Y')}"


def _contact(session: Session, household: Household) -> dict[str, str]:
    """Whom the applicants contact: their officer on record, else the team."""
    officer = (
        session.get(StaffUser, household.assigned_officer_id)
        if household.assigned_officer_id
        else None
    )
    return {"contact_name": officer.name if officer is not None and officer.active else ""}


def _tell_applicants(
    session: Session,
    settings: Settings | None,
    household: Household,
    template: str,
    *,
    key: str,
    payload: dict,
) -> None:
    """To the applicants by the channel they agreed to (nothing if none), in the caller's
    transaction."""
    now = clock.now()
    for recipient in outbox.reachable_recipients(
        session, settings, household.id, template=template
    ):
        outbox.enqueue_message(
            session,
            channel=recipient.channel,
            recipient=recipient.address,
            template=template,
            payload={**payload, "greeting_name": checkins.greeting_name(household)},
            due_at=now,
            unique_key=f"{key}:{recipient.channel.value}:{recipient.address}",
            household_id=household.id,
        )


def _close_tasks(session: Session, actor: Actor, key_prefix: str, reason: str) -> None:
    session.execute(
        sa.update(Task)
        .where(
            Task.unique_key.like(f"{key_prefix}:%") | (Task.unique_key == key_prefix),
            Task.done_at.is_(None),
            Task.kind.in_([TaskKind.PANEL_PAPERS, TaskKind.PANEL_DECISION]),
        )
        .values(done_at=clock.now(), done_by_id=actor.user_id, closed_reason=reason)
        .execution_options(synchronize_session="fetch")
    )
