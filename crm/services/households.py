"""Reading households for staff: search and lists, the pipeline board, the household page
with its timeline, and the home page's lists.

Who may see which household (and every other record) is decided in crm.services.access; every
list here goes through it. Opening a household's page records an audit `view` event.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from sqlmodel import Session, select

from crm import clock, stages
from crm.db import transaction
from crm.models import (
    Activity,
    ActivityKind,
    Applicant,
    Appointment,
    AppointmentStatus,
    AuditAction,
    Campaign,
    Carer,
    ChatConversation,
    ChatMessage,
    Consent,
    Household,
    OutboxMessage,
    Reason,
    Role,
    Source,
    StaffUser,
    Stage,
    StageEvent,
    Task,
)
from crm.services import access, audit, search
from crm.services.actors import Actor
from crm.services.enquiries import ApplicantDetails, check_applicant
from crm.services.errors import InvalidInput, NotAllowed, NotFound
from crm.services.pipeline import REASON_LISTS, classify_move
from crm.settings import Settings

BOARD_STAGES = Stage.in_group("board")
BOARD_CARDS_PER_STAGE = 20
PAGE_SIZE = 25
# Lists count matches up to this many; beyond it people narrow the search rather than page.
COUNT_CAP = 10_000
# Each order ends in a unique column, so a row's sort key says exactly where a page ends and the
# next page can start after it (keyset pagination) instead of counting past every row before.
SORTS = {
    "enquired_desc": (Household.enquired_at.desc(), Household.id.desc()),
    "enquired_asc": (Household.enquired_at.asc(), Household.id.asc()),
    "stage_time_asc": (Household.stage_entered_at.asc(), Household.id.asc()),
    "updated_desc": (Household.updated_at.desc(), Household.id.desc()),
    "reference": (Household.reference.asc(),),
}
DEFAULT_SORT = "enquired_desc"
# References as they are stored ("FC-2026-AB12"): a page key in that order must look like one.
_REFERENCE_KEY = re.compile(r"[A-Z0-9-]{1,40}")


def get_household(
    session: Session, actor: Actor, household_id: int, *, record_view: bool = False
) -> Household:
    """The household if the actor may see it (NotFound / NotAllowed otherwise)."""
    household = session.get(Household, household_id)
    if household is None:
        raise NotFound(f"No household with id {household_id}")
    if not access.may_view_household(actor, household):
        raise NotAllowed("This household is not in your areas or your work")
    if record_view:
        with transaction(session):
            audit.record(session, actor, AuditAction.VIEW, "household", household.id)
    return household


# -- list and search ----------------------------------------------------------------------


# The two pathways, shown apart on the board and in the report: connected persons (kinship,
# family and friends already caring for a known child) and everyone else.
MAINSTREAM, KINSHIP = "mainstream", "kinship"
PATHWAYS = {MAINSTREAM: "Mainstream", KINSHIP: "Connected persons (family and friends)"}


@dataclass
class HouseholdQuery:
    q: str = ""
    stage: str = ""
    area_id: int | None = None
    officer_id: int | None = None
    source_key: str = ""
    campaign_id: int | None = None
    # "" every household; "mainstream" or "kinship" (connected persons: family and friends).
    pathway: str = ""
    include_closed: bool = True
    # "" is the default: best match first when searching, then newest enquiry first.
    sort: str = ""
    page: int = 1
    per_page: int = PAGE_SIZE
    count_cap: int = COUNT_CAP
    # Keyset pagination: the sort key of the row the page starts after (or ends before).
    after: str = ""
    before: str = ""


@dataclass
class HouseholdPage:
    rows: list[Household]
    total: int
    page: int
    per_page: int
    officers: dict[int, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    areas: dict[int, str] = field(default_factory=dict)
    # True when there are more than COUNT_CAP matches (total is then COUNT_CAP).
    capped: bool = False
    # The keys the next and previous pages' links carry (None: that link counts pages).
    next_key: str | None = None
    previous_key: str | None = None

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def _filtered(
    session: Session, actor: Actor, query: HouseholdQuery
) -> tuple[list[sa.ColumnElement[bool]], sa.ColumnElement | None]:
    """The list's conditions (the visibility rule first) and, for a name search, the score."""
    conditions = [access.household_visibility(actor), Household.anonymised_at.is_(None)]
    found = search.match(session, query.q)
    if found is not None:
        conditions.append(found.condition)
    if query.stage:
        conditions.append(Household.stage == query.stage)
    elif not query.include_closed:
        conditions.append(Household.stage.not_in(Stage.in_group("closed")))
    if query.area_id:
        conditions.append(Household.area_id == query.area_id)
    if query.officer_id:
        conditions.append(Household.assigned_officer_id == query.officer_id)
    if query.source_key:
        conditions.append(Household.source_key == query.source_key)
    if query.campaign_id:
        conditions.append(Household.campaign_id == query.campaign_id)
    if query.pathway in PATHWAYS:
        conditions.append(Household.is_kinship.is_(query.pathway == KINSHIP))
    return conditions, found.score if found is not None else None


def lookups(session: Session) -> dict[str, dict]:
    """Names for ids shown in lists: officers, sources, areas, campaigns."""
    from crm.models import Area

    return {
        "officers": dict(session.exec(select(StaffUser.id, StaffUser.name)).all()),
        "sources": dict(session.exec(select(Source.key, Source.label)).all()),
        "areas": dict(session.exec(select(Area.id, Area.name)).all()),
        "campaigns": dict(session.exec(select(Campaign.id, Campaign.name)).all()),
    }


def _sort_columns(sort: str) -> list[Any]:
    return [term.element for term in SORTS[sort]]


def sort_key(household: Household, sort: str) -> str:
    """The row's place in `sort`, as a page link carries it: "2026-11-30T09:15:00+00:00~42"."""
    values = []
    for column in _sort_columns(sort):
        value = getattr(household, column.key)
        values.append(value.isoformat() if isinstance(value, datetime) else str(value))
    return "~".join(values)


def _parse_key(text: str, sort: str) -> list[Any] | None:
    columns = _sort_columns(sort)
    parts = text.split("~")
    if len(parts) != len(columns):
        return None
    values: list[Any] = []
    try:
        for column, part in zip(columns, parts, strict=True):
            if column.key == "id":
                values.append(int(part))
            elif column.key == "reference":
                if not _REFERENCE_KEY.fullmatch(part):
                    return None
                values.append(part)
            else:
                moment = datetime.fromisoformat(part)
                if moment.tzinfo is None:
                    return None
                values.append(moment)
    except ValueError:
        return None
    return values


def _beyond(sort: str, key: list[Any], *, forwards: bool) -> sa.ColumnElement[bool]:
    """Rows after `key` in `sort` (or before it): one row-value comparison, which both
    databases read as a range of the sort's index."""
    columns = _sort_columns(sort)
    descending = SORTS[sort][0].modifier is sa.sql.operators.desc_op
    later = (
        sa.tuple_(*columns) < sa.tuple_(*key)
        if descending
        else (sa.tuple_(*columns) > sa.tuple_(*key))
    )
    if forwards:
        return later
    return (
        sa.tuple_(*columns) > sa.tuple_(*key)
        if descending
        else (sa.tuple_(*columns) < sa.tuple_(*key))
    )


def _reversed(order: tuple) -> list[Any]:
    return [
        term.element.asc() if term.modifier is sa.sql.operators.desc_op else term.element.desc()
        for term in order
    ]


def search_households(session: Session, actor: Actor, query: HouseholdQuery) -> HouseholdPage:
    conditions, score = _filtered(session, actor, query)
    # Counting every match of a broad list costs a full scan; past the cap nobody pages anyway.
    matches = select(Household.id).where(*conditions).limit(query.count_cap + 1).subquery()
    total = session.exec(select(sa.func.count()).select_from(matches)).one()
    capped = total > query.count_cap
    total = min(total, query.count_cap)
    per_page = max(1, min(query.per_page, 200))
    pages = max(1, math.ceil(total / per_page))
    page = max(1, min(query.page, pages))
    sort = query.sort if query.sort in SORTS else DEFAULT_SORT
    statement = select(Household).options(selectinload(Household.applicants)).limit(per_page)
    # A search's matches are few and best first; a list in a column's order may be paged deep,
    # so its links carry the last row's key rather than a count of rows to skip.
    keyset = not (score is not None and query.sort not in SORTS)
    after = _parse_key(query.after, sort) if keyset and query.after else None
    before = _parse_key(query.before, sort) if keyset and query.before and not after else None
    if not keyset:
        statement = statement.where(*conditions).order_by(score.desc(), *SORTS[sort])
        rows = list(session.exec(statement.offset((page - 1) * per_page)).all())
    elif after is not None:
        statement = statement.where(*conditions, _beyond(sort, after, forwards=True))
        rows = list(session.exec(statement.order_by(*SORTS[sort])).all())
    elif before is not None:
        statement = statement.where(*conditions, _beyond(sort, before, forwards=False))
        rows = list(reversed(session.exec(statement.order_by(*_reversed(SORTS[sort]))).all()))
    else:
        statement = statement.where(*conditions).order_by(*SORTS[sort])
        rows = list(session.exec(statement.offset((page - 1) * per_page)).all())
    names = lookups(session)
    result = HouseholdPage(
        rows=rows,
        total=total,
        page=page,
        per_page=per_page,
        officers=names["officers"],
        sources=names["sources"],
        areas=names["areas"],
        capped=capped,
    )
    if keyset and rows:
        result.next_key = sort_key(rows[-1], sort)
        # Page 1 is the list's start: its link needs no key.
        result.previous_key = sort_key(rows[0], sort) if page > 2 else None
    return result


def export_rows(
    session: Session, actor: Actor, query: HouseholdQuery, limit: int = 100_000
) -> tuple[list[str], list[list[Any]]]:
    """The household list as rows for a CSV or Excel download; records an audit `export`."""
    conditions, score = _filtered(session, actor, query)
    order = SORTS.get(query.sort) or (
        (score.desc(), *SORTS[DEFAULT_SORT]) if score is not None else SORTS[DEFAULT_SORT]
    )
    households = session.exec(
        select(Household)
        .where(*conditions)
        .order_by(*order)
        .limit(limit)
        .options(selectinload(Household.applicants))
    ).all()
    names = lookups(session)
    header = [
        "Reference", "Names", "Email", "Phone", "Postcode", "Area", "Stage",
        "Enquired", "Source", "Campaign", "Officer",
    ]  # fmt: skip
    rows = []
    for h in households:
        first = h.applicants[0] if h.applicants else None
        rows.append(
            [
                h.reference,
                h.display_name,
                first.email if first else "",
                first.phone if first else "",
                h.postcode or "",
                names["areas"].get(h.area_id, "Triage (no area)"),
                Stage(h.stage).label,
                h.enquired_at.date().isoformat(),
                names["sources"].get(h.source_key, ""),
                names["campaigns"].get(h.campaign_id, ""),
                names["officers"].get(h.assigned_officer_id, ""),
            ]
        )
    with transaction(session):
        audit.record(
            session, actor, AuditAction.EXPORT, "household_list", None,
            rows=len(rows), filters=_describe_query(query),
        )  # fmt: skip
    return header, rows


def _describe_query(query: HouseholdQuery) -> dict[str, Any]:
    # The audit log names the filters used, never the search text (it may be a name).
    described: dict[str, Any] = {"searched": bool(query.q)}
    for name in ("stage", "area_id", "officer_id", "source_key", "campaign_id"):
        value = getattr(query, name)
        if value:
            described[name] = value
    return described


# -- the pipeline board -------------------------------------------------------------------


@dataclass
class BoardCard:
    household: Household
    days_in_stage: int
    target_days: int | None
    source: str
    officer: str
    moves: list[Stage]

    @property
    def over_target(self) -> bool:
        return self.target_days is not None and self.days_in_stage > self.target_days


@dataclass
class BoardColumn:
    stage: Stage
    count: int
    over_target: int
    target_days: int | None
    cards: list[BoardCard]
    # Of `count`, the connected persons (kinship) households, counted apart.
    kinship: int = 0


def allowed_moves(session: Session, household: Household) -> list[Stage]:
    """Stages the household may move to without a reopen (for the board's quick move)."""
    moves = []
    for stage in Stage:
        try:
            move = classify_move(session, household, stage)
        except InvalidInput:
            continue
        if not move.needs_reopen:
            moves.append(stage)
    return moves


def board(
    session: Session,
    actor: Actor,
    settings: Settings,
    *,
    area_id: int | None = None,
    officer_id: int | None = None,
    source_key: str = "",
    campaign_id: int | None = None,
    pathway: str = "",
    cards_per_stage: int = BOARD_CARDS_PER_STAGE,
) -> list[BoardColumn]:
    """A column per stage with its count (and, of it, the connected persons) and the
    households waiting longest first. `pathway` "mainstream" or "kinship" shows one only."""
    query = HouseholdQuery(
        area_id=area_id,
        officer_id=officer_id,
        source_key=source_key,
        campaign_id=campaign_id,
        pathway=pathway,
    )
    conditions, _ = _filtered(session, actor, query)
    now = clock.now()
    targets = {stage: stages.target_days(settings, stage) for stage in BOARD_STAGES}
    # One pass for every column's count and how many are over their stage's target.
    over_case = sa.case(
        *[
            (
                sa.and_(
                    Household.stage == stage,
                    Household.stage_entered_at < now - timedelta(days=days),
                ),
                1,
            )
            for stage, days in targets.items()
            if days is not None
        ],
        else_=0,
    )
    kinship_case = sa.case((Household.is_kinship.is_(True), 1), else_=0)
    totals = {
        stage: (count, over or 0, kin or 0)
        for stage, count, over, kin in session.exec(
            select(
                Household.stage,
                sa.func.count(Household.id),
                sa.func.sum(over_case),
                sa.func.sum(kinship_case),
            )
            .where(*conditions, Household.stage.in_(BOARD_STAGES))
            .group_by(Household.stage)
        ).all()
    }
    names = lookups(session)
    # Without a database read, a household's possible moves depend only on where it is.
    moves_for: dict[tuple[str, str | None], list[Stage]] = {}

    def moves(household: Household) -> list[Stage]:
        key = (household.stage, household.held_from_stage)
        if key not in moves_for:
            moves_for[key] = allowed_moves(session, household)
        return moves_for[key]

    # Every column's longest-waiting households in one statement (one round trip, not eight):
    # each part walks the (stage, stage_entered_at) index and stops at the limit.
    parts = []
    for stage in BOARD_STAGES:
        # Approved households are carers now: newest first; elsewhere, longest waiting first.
        order = (
            Household.stage_entered_at.desc()
            if stage == Stage.APPROVED
            else (Household.stage_entered_at.asc())
        )
        part = (
            select(Household.id)
            .where(*conditions, Household.stage == stage)
            .order_by(order)
            .limit(cards_per_stage)
            .subquery()
        )
        parts.append(select(part.c.id))
    households = session.exec(
        select(Household)
        .where(Household.id.in_(sa.union_all(*parts).scalar_subquery()))
        .options(selectinload(Household.applicants))
    ).all()
    by_stage: dict[str, list[Household]] = {}
    for h in households:
        by_stage.setdefault(h.stage, []).append(h)
    columns = []
    for stage in BOARD_STAGES:
        target = targets[stage]
        count, over, kin = totals.get(stage, (0, 0, 0))
        in_stage = sorted(
            by_stage.get(stage, []),
            key=lambda h: h.stage_entered_at,
            reverse=stage == Stage.APPROVED,
        )
        cards = [
            BoardCard(
                household=h,
                days_in_stage=(now - h.stage_entered_at).days,
                target_days=target,
                source=names["sources"].get(h.source_key, "Not recorded"),
                officer=names["officers"].get(h.assigned_officer_id, "Unassigned"),
                moves=moves(h),
            )
            for h in in_stage
        ]
        columns.append(BoardColumn(stage, count, int(over), target, cards, int(kin)))
    return columns


# -- the household page -------------------------------------------------------------------


@dataclass
class TimelineEntry:
    at: datetime
    kind: str  # stage, note, call, message, chat, visit, task, ...
    title: str
    by: str = ""
    body: str | None = None
    badge: str | None = None
    lines: list[tuple[str, Any]] = field(default_factory=list)


def actor_names(session: Session) -> dict[str, str]:
    return {f"staff:{i}": name for i, name in session.exec(select(StaffUser.id, StaffUser.name))}


def _who(label: str | None, names: dict[str, str]) -> str:
    if not label:
        return ""
    return names.get(label, label)


def timeline(session: Session, household: Household) -> list[TimelineEntry]:
    """Everything that happened with a household, newest first."""
    names = actor_names(session)
    reasons = {(r.kind, r.code): r.label for r in session.exec(select(Reason))}
    entries: list[TimelineEntry] = []
    for e in session.exec(select(StageEvent).where(StageEvent.household_id == household.id)):
        to_stage = Stage(e.to_stage)
        title = (
            f"Moved from {Stage(e.from_stage).label} to {to_stage.label}"
            if e.from_stage
            else f"Enquiry received ({to_stage.label})"
        )
        body = None
        if e.reason_code:
            kind = REASON_LISTS.get(to_stage)
            body = reasons.get((kind, e.reason_code), e.reason_code)
        if e.reason_text:
            body = f"{body}: {e.reason_text}" if body else e.reason_text
        entries.append(
            TimelineEntry(e.occurred_at, "stage", title, _who(e.actor_label, names), body, "Stage")
        )
    for a in session.exec(select(Activity).where(Activity.household_id == household.id)):
        kind = ActivityKind(a.kind)
        title = a.summary
        badge = kind.value.replace("_", " ").capitalize()
        lines = []
        if a.call_outcome:
            lines.append(("Outcome", str(a.call_outcome).replace("_", " ").capitalize()))
        entries.append(
            TimelineEntry(
                a.occurred_at, kind.value, title, _who(a.actor_label, names), a.body, badge, lines
            )
        )
    for m in session.exec(select(OutboxMessage).where(OutboxMessage.household_id == household.id)):
        lines = [("Channel", str(m.channel).capitalize()), ("Status", str(m.status).capitalize())]
        if m.sent_at:
            lines.append(("Sent", m.sent_at))
        if m.error:
            lines.append(("Error", m.error))
        entries.append(
            TimelineEntry(
                m.created_at, "message", f"Message: {m.template.replace('_', ' ')}",
                "Outbox", None, f"Message {m.status}", lines,
            )
        )  # fmt: skip
    conversations = session.exec(
        select(ChatConversation).where(
            ChatConversation.household_id == household.id,
            ChatConversation.consent_given_at.is_not(None),
            ChatConversation.erased_at.is_(None),
        )
    ).all()
    for c in conversations:
        messages = session.exec(
            select(ChatMessage).where(ChatMessage.conversation_id == c.id).order_by(ChatMessage.id)
        ).all()
        transcript = "\n".join(
            f"{'Them' if msg.from_person else 'Assistant'}: {msg.text}" for msg in messages
        )
        entries.append(
            TimelineEntry(
                c.started_at, "chat", f"Chat with the assistant ({str(c.channel)})",
                "Assistant", transcript, "Chat",
            )
        )  # fmt: skip
    for ap in session.exec(select(Appointment).where(Appointment.household_id == household.id)):
        status = AppointmentStatus(ap.status)
        lines = [("When", ap.starts_at), ("With", names.get(f"staff:{ap.staff_id}", ""))]
        if ap.cancel_reason:
            lines.append(("Reason", ap.cancel_reason))
        entries.append(
            TimelineEntry(
                ap.created_at, "visit", f"{ap.kind.replace('_', ' ').capitalize()} {status.value}",
                _who(ap.booked_by_label, names), ap.notes, "Visit", lines,
            )
        )  # fmt: skip
    for t in session.exec(select(Task).where(Task.household_id == household.id)):
        state = "closed" if t.closed_reason else "done" if t.done_at else "open"
        lines = [("Due", t.due_at)]
        if t.owner_id:
            lines.append(("Owner", names.get(f"staff:{t.owner_id}", "")))
        if t.closed_reason:
            lines.append(("Closed, not done", t.closed_reason))
        entries.append(
            TimelineEntry(
                t.created_at, "task", f"Task: {t.title}",
                names.get(f"staff:{t.created_by_id}", "System") if t.created_by_id else "System",
                t.detail, f"Task {state}", lines,
            )
        )  # fmt: skip
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries


@dataclass
class HouseholdView:
    household: Household
    consents: list[Consent]
    source: str
    campaign: str
    area: str
    officer: str
    open_tasks: list[Task]
    upcoming: list[Appointment]
    timeline: list[TimelineEntry]
    carer: Carer | None
    moves: list[Stage]
    reopen_moves: list[Stage]
    days_in_stage: int
    target_days: int | None


def household_view(
    session: Session, actor: Actor, settings: Settings, household_id: int
) -> HouseholdView:
    """Everything on the household page. Records that the actor viewed the record."""
    household = get_household(session, actor, household_id, record_view=True)
    names = lookups(session)
    consents = session.exec(
        select(Consent).where(Consent.household_id == household.id).order_by(Consent.id.desc())
    ).all()
    tasks = session.exec(
        select(Task)
        .where(Task.household_id == household.id, Task.done_at.is_(None))
        .order_by(Task.due_at)
    ).all()
    upcoming = session.exec(
        select(Appointment)
        .where(
            Appointment.household_id == household.id,
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.starts_at > clock.now(),
        )
        .order_by(Appointment.starts_at)
    ).all()
    carer = session.exec(select(Carer).where(Carer.household_id == household.id)).first()
    moves, reopen = [], []
    if household.anonymised_at is None:
        for stage in Stage:
            try:
                move = classify_move(session, household, stage)
            except InvalidInput:
                continue
            (reopen if move.needs_reopen else moves).append(stage)
    return HouseholdView(
        household=household,
        consents=list(consents),
        source=names["sources"].get(household.source_key, "Not recorded"),
        campaign=names["campaigns"].get(household.campaign_id, ""),
        area=names["areas"].get(household.area_id, "Triage (no area yet)"),
        officer=names["officers"].get(household.assigned_officer_id, "Unassigned"),
        open_tasks=list(tasks),
        upcoming=list(upcoming),
        timeline=timeline(session, household),
        carer=carer,
        moves=moves,
        reopen_moves=reopen,
        days_in_stage=(clock.now() - household.stage_entered_at).days,
        target_days=stages.target_days(settings, household.stage),
    )


def assign_officer(
    session: Session, actor: Actor, household_id: int, officer_id: int | None
) -> Household:
    """Give the household to a member of staff who works in its area (or to nobody); who may
    hold it is crm.services.access.officer_problem."""
    household = get_household(session, actor, household_id)
    if household.anonymised_at is not None:
        raise NotFound(f"No household with id {household_id}")
    if not actor.may_work_on(household.area_id):
        raise NotAllowed("This household is in an area you do not work in")
    if officer_id is not None:
        problem = access.officer_problem(session, session.get(StaffUser, officer_id), household)
        if problem:
            raise InvalidInput(problem, "officer_id")
    with transaction(session):
        household.assigned_officer_id = officer_id
        household.updated_at = clock.now()
        session.add(household)
        audit.record(
            session, actor, AuditAction.UPDATE, "household", household.id, assigned_officer=True
        )
    session.refresh(household)
    return household


# -- the home page ------------------------------------------------------------------------


@dataclass
class HomeLists:
    tasks_due: list[Task]
    late_enquiries: list[tuple[Household, Task]]
    visits: list[Appointment]
    at_risk_carers: list[tuple[Carer, Household]]
    households: dict[int, Household]


def week_bounds(settings: Settings, day: date) -> tuple[datetime, datetime]:
    """Monday 00:00 to the next Monday 00:00 (London time) of the week containing `day`."""
    monday = day - timedelta(days=day.weekday())
    start = datetime.combine(monday, time.min, settings.tz)
    return start, start + timedelta(days=7)


def home_lists(session: Session, actor: Actor, settings: Settings) -> HomeLists:
    """The home page's panels. Each goes through crm.services.access, at read time: a task
    given to someone before they could see its household (or after they moved area) is not
    listed, and a visit in their diary shows its household's name only if they may open it."""
    now = clock.now()
    today = now.astimezone(settings.tz).date()
    end_of_today = datetime.combine(today + timedelta(days=1), time.min, settings.tz)
    tasks_due = session.exec(
        select(Task)
        .where(
            Task.owner_id == actor.user_id,
            Task.done_at.is_(None),
            Task.due_at < end_of_today,
            access.task_visibility(actor),
        )
        .order_by(Task.due_at)
        .limit(100)
    ).all()

    # Enquiries past the response target: nobody has spoken to them and the call-back is late.
    from crm.models import TaskKind

    late_query = (
        select(Household, Task)
        .join(Task, Task.household_id == Household.id)
        .where(
            access.household_visibility(actor),
            Household.stage == Stage.ENQUIRY,
            Household.first_contact_at.is_(None),
            Household.anonymised_at.is_(None),
            Task.kind.in_([TaskKind.RESPOND_TO_ENQUIRY, TaskKind.SECOND_ATTEMPT]),
            Task.done_at.is_(None),
            Task.due_at < now,
        )
        .order_by(Task.due_at)
        .limit(100)
        .options(selectinload(Household.applicants))  # the panel names each household
    )
    if actor.role == Role.RECRUITMENT_OFFICER:
        late_query = late_query.where(
            sa.or_(
                Household.assigned_officer_id == actor.user_id,
                Household.assigned_officer_id.is_(None),
            )
        )
    late = (
        list(session.exec(late_query).all()) if actor.role != Role.SUPERVISING_SOCIAL_WORKER else []
    )

    # The actor's own diary: every booked visit shows (they have to be there), named below
    # only through the visibility rule.
    week_start, week_end = week_bounds(settings, today)
    visits = session.exec(
        select(Appointment)
        .where(
            Appointment.staff_id == actor.user_id,
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.starts_at >= week_start,
            Appointment.starts_at < week_end,
        )
        .order_by(Appointment.starts_at)
    ).all()

    carer_query = (
        select(Carer, Household)
        .join(Household, Household.id == Carer.household_id)
        .where(
            Carer.at_risk.is_(True),
            Carer.status != "deregistered",
            Household.anonymised_at.is_(None),
            access.carer_visibility(actor),
        )
        .options(selectinload(Household.applicants))
    )
    if actor.role == Role.SUPERVISING_SOCIAL_WORKER:
        # "Carers of yours": the ones they supervise, not every carer they could open.
        carer_query = carer_query.where(Carer.supervising_social_worker_id == actor.user_id)
    at_risk = list(session.exec(carer_query.limit(100)).all())

    households = access.visible_households(
        session,
        actor,
        [t.household_id for t in tasks_due] + [v.household_id for v in visits],
    )
    return HomeLists(list(tasks_due), late, list(visits), at_risk, households)


# -- changing a household's details -------------------------------------------------------


# Corrections take the same fields, and the same checks, as a new enquiry's applicant.
ApplicantChange = ApplicantDetails


@dataclass
class DetailsChange:
    applicants: list[ApplicantChange]
    address_line_1: str | None = None
    address_line_2: str | None = None
    town: str | None = None
    postcode: str | None = None
    preferred_channel: str | None = None


def _tidy(value: str | None, limit: int) -> str | None:
    value = " ".join((value or "").split())
    return value[:limit] or None


def update_details(
    session: Session, actor: Actor, household_id: int, change: DetailsChange
) -> Household:
    """Correct names, contact details and address (one or two applicants). Validated first;
    the audit log names the fields that changed, never their values. The area stays as it is:
    moving a household to another area is a decision, not a side effect of a typo fix."""
    from crm.messaging.channels import contact_way
    from crm.services.validation import normalise_postcode

    household = get_household(session, actor, household_id)
    if household.anonymised_at is not None:
        raise NotFound(f"No household with id {household_id}")
    if not actor.may_work_on(household.area_id):
        raise NotAllowed("This household is in an area you do not work in")
    errors: dict[str, str] = {}
    if not 1 <= len(change.applicants) <= 2:
        raise InvalidInput("A household has one or two applicants", "first_name")
    cleaned: list[ApplicantDetails] = []
    for index, person in enumerate(change.applicants):
        prefix = "" if index == 0 else "second_"
        cleaned.append(check_applicant(prefix, person, errors, contact_required=index == 0))
    postcode = None
    if change.postcode and change.postcode.strip():
        try:
            postcode = normalise_postcode(change.postcode)
        except ValueError as exc:
            errors["postcode"] = str(exc)
    channel = None
    if change.preferred_channel:
        try:
            channel = contact_way(change.preferred_channel)
        except ValueError:
            errors["preferred_channel"] = "Choose how they prefer to be contacted"
    if errors:
        raise InvalidInput(errors)

    changed: list[str] = []
    values = {
        "address_line_1": _tidy(change.address_line_1, 200),
        "address_line_2": _tidy(change.address_line_2, 200),
        "town": _tidy(change.town, 100),
        "postcode": postcode,
        "preferred_channel": channel,
    }
    with transaction(session):
        for name, value in values.items():
            if getattr(household, name) != value:
                setattr(household, name, value)
                changed.append(name)
        existing = {a.position: a for a in household.applicants}
        for position, person in enumerate(cleaned, start=1):
            applicant = existing.get(position)
            if applicant is None:
                applicant = Applicant(
                    household_id=household.id,
                    position=position,
                    first_name=person.first_name,
                    last_name=person.last_name,
                )
                household.applicants.append(applicant)
                changed.append(f"applicant_{position}_added")
            for name in ("first_name", "last_name", "email", "phone", "date_of_birth"):
                if getattr(applicant, name) != getattr(person, name):
                    setattr(applicant, name, getattr(person, name))
                    changed.append(f"applicant_{position}_{name}")
            session.add(applicant)
        if len(cleaned) == 1 and 2 in existing:
            household.applicants.remove(existing[2])
            changed.append("applicant_2_removed")
        household.updated_at = clock.now()
        session.add(household)
        audit.record(session, actor, AuditAction.UPDATE, "household", household.id, changed=changed)
    session.refresh(household)
    return household


def record_consent(
    session: Session,
    actor: Actor,
    household_id: int,
    *,
    scope: str,
    granted: bool,
    wording: str,
) -> Consent:
    """Record that the person gave or withdrew consent (append-only: the newest row per scope
    is what holds now)."""
    from crm.messaging.channels import consent_scope

    household = get_household(session, actor, household_id)
    if household.anonymised_at is not None:
        raise NotFound(f"No household with id {household_id}")
    if not actor.may_work_on(household.area_id):
        raise NotAllowed("This household is in an area you do not work in")
    try:
        scope = consent_scope(scope)
    except ValueError:
        raise InvalidInput("Choose what the consent is for", "scope") from None
    wording = " ".join((wording or "").split())
    if not wording:
        raise InvalidInput(
            "Record what they agreed to, or how they withdrew, in their words", "wording"
        )
    consent = Consent(
        household_id=household.id, scope=scope, granted=granted, wording=wording[:2000],
        via="staff", recorded_by_id=actor.user_id,
    )  # fmt: skip
    with transaction(session):
        session.add(consent)
        audit.record(
            session, actor, AuditAction.UPDATE, "household", household.id,
            consent=scope.value, granted=granted,
        )  # fmt: skip
    session.refresh(consent)
    return consent


def current_consents(consents: list[Consent]) -> dict[str, Consent]:
    """The newest consent row per scope (rows newest first or in any order)."""
    newest: dict[str, Consent] = {}
    for consent in sorted(consents, key=lambda c: (c.recorded_at, c.id or 0)):
        newest[str(consent.scope)] = consent
    return newest
