"""Importing a tracker: check the whole file, compare each row with what the CRM has, then
create or update households row by row through the services (see crm.services.imports)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from rapidfuzz import fuzz
from sqlmodel import Session, select

from crm import clock
from crm.db import analyse
from crm.models import (
    Activity,
    ActivityKind,
    Applicant,
    Area,
    AreaPostcodeDistrict,
    AuditAction,
    AuditEvent,
    Campaign,
    Carer,
    CarerStatus,
    EnquiryChannel,
    Household,
    Reason,
    ReasonKind,
    Role,
    Source,
    StaffArea,
    StaffUser,
    Stage,
    StageEvent,
    Task,
    TaskKind,
    TaskPriority,
)
from crm.services import audit
from crm.services.actors import Actor
from crm.services.enquiries import response_due
from crm.services.errors import NotAllowed, ServiceError
from crm.services.imports.columns import DATE_COLUMNS, TrackerFile, display_row, read_tracker
from crm.services.imports.dates import date_order
from crm.services.imports.mapping import ImportMapping, normalise
from crm.services.imports.values import (
    Lists,
    NewEntry,
    Problem,
    TrackerRow,
    check_row,
    local_today,
)
from crm.services.pipeline import carer_due_dates, move_stage
from crm.services.timeline import log_activity
from crm.services.validation import postcode_district
from crm.settings import Settings

ACTOR_LABEL = "import"

PLANNED = {"create": "would create", "update": "would update"}
CLOSED = (Stage.WITHDRAWN, Stage.NOT_PROGRESSED, Stage.DEREGISTERED)


# -- comparing with what the CRM has --------------------------------------------------------


@dataclass
class Plan:
    """What importing one row will do."""

    row: TrackerRow
    # "create", "update", "unchanged", "duplicate" or "conflict"
    action: str
    detail: str = ""
    household_id: int | None = None
    moves: list[tuple[Stage, date]] = field(default_factory=list)
    first_contact: date | None = None


def _local_date(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


@dataclass
class CrmHistory:
    stages: dict[Stage, date]  # first local date each funnel stage was entered
    closing: tuple[Stage, date] | None  # the move that closed it, if it is closed now
    current: Stage
    last_move_on: date | None


def _crm_history(session: Session, household: Household, tz: ZoneInfo) -> CrmHistory:
    events = session.exec(
        select(StageEvent)
        .where(StageEvent.household_id == household.id)
        .order_by(StageEvent.occurred_at, StageEvent.id)
    ).all()
    stages: dict[Stage, date] = {Stage.ENQUIRY: _local_date(household.enquired_at, tz)}
    closing = None
    for event in events:
        stage = Stage(event.to_stage)
        if stage.funnel_index is not None:
            if stage != Stage.ENQUIRY:
                stages.setdefault(stage, _local_date(event.occurred_at, tz))
            closing = None
        elif stage in CLOSED:
            closing = (stage, _local_date(event.occurred_at, tz))
    return CrmHistory(
        stages=stages,
        closing=closing,
        current=Stage(events[-1].to_stage) if events else Stage.ENQUIRY,
        last_move_on=_local_date(events[-1].occurred_at, tz) if events else None,
    )


def _describe(stages: Iterable[tuple[Stage, date]]) -> str:
    return ", ".join(f"{s.label.lower()} {d:%d/%m/%Y}" for s, d in stages) or "nothing"


def plan_existing(session: Session, row: TrackerRow, household: Household, tz: ZoneInfo) -> Plan:
    """Compare a row with the household the CRM already has under its reference.

    Same history: unchanged. The tracker only adds to the end (later stages, a withdrawal,
    a first contact): update with just those. The CRM knows more (it has moved on since the
    tracker was last written): unchanged. Anything else: conflict, and the CRM's record wins.
    """
    crm = _crm_history(session, household, tz)
    tracker = {Stage.ENQUIRY: row.enquired_on, **row.stages}
    tracker_closing = (row.leaving.stage, row.leaving.on) if row.leaving else None

    def conflict(detail: str) -> Plan:
        return Plan(row, "conflict", detail + "; left as the CRM has it", household.id)

    differing = sorted(
        (s for s in tracker.keys() & crm.stages.keys() if tracker[s] != crm.stages[s]),
        key=lambda s: s.funnel_index,
    )
    if differing:
        stage = differing[0]
        return conflict(
            f"{stage.label.lower()} is {tracker[stage]:%d/%m/%Y} in the tracker but "
            f"{crm.stages[stage]:%d/%m/%Y} in the CRM"
        )
    furthest = max(crm.stages, key=lambda s: s.funnel_index)
    moves = sorted(
        ((s, tracker[s]) for s in tracker.keys() - crm.stages.keys()),
        key=lambda move: move[0].funnel_index,
    )
    if moves and moves[0][0].funnel_index < furthest.funnel_index:
        return conflict(
            f"the tracker has {_describe(moves[:1])}, before the household's furthest stage "
            f"in the CRM ({furthest.label.lower()})"
        )
    if tracker_closing and tracker_closing != crm.closing:
        if crm.closing is not None:
            return conflict(
                f"the tracker says {_describe([tracker_closing])} but the CRM has "
                f"{_describe([crm.closing])}"
            )
        moves.append(tracker_closing)
    if moves:
        if crm.current in CLOSED:
            return conflict(
                f"the tracker adds {_describe(moves)} but the household is "
                f"{crm.current.label.lower()} in the CRM (reopen it there if that is right)"
            )
        if crm.current == Stage.APPROVED and moves[-1][0] in CLOSED:
            return conflict(f"the tracker adds {_describe(moves)} to an approved household")
        if crm.last_move_on and moves[0][1] < crm.last_move_on:
            return conflict(
                f"the tracker adds {_describe(moves[:1])}, before the CRM's latest move "
                f"({crm.last_move_on:%d/%m/%Y})"
            )
    first_contact = (
        row.first_contact_on
        if row.first_contact_on and household.first_contact_at is None
        else None
    )
    if not moves and first_contact is None:
        moved_on = bool(crm.stages.keys() - tracker.keys()) or (
            crm.closing is not None and tracker_closing is None
        )
        detail = "already imported" + ("; the CRM has moved on since" if moved_on else "")
        return Plan(row, "unchanged", detail, household.id)
    parts = [f"adds {_describe(moves)}"] if moves else []
    if first_contact:
        parts.append(f"records first contact {first_contact:%d/%m/%Y}")
    return Plan(
        row,
        "update",
        "; ".join(parts),
        household.id,
        moves=moves,
        first_contact=first_contact,
    )


# -- the same person twice ------------------------------------------------------------------


def similar_names(first_a: str, last_a: str, first_b: str, last_b: str) -> bool:
    """The same person written twice ("Sam Okafor", "Samantha Okafor", "Kim Lee", "kim  lee"),
    not two people of one family who share a landline ("John Smith", "Jane Smith")."""
    first_a, first_b = first_a.casefold().strip(), first_b.casefold().strip()
    if fuzz.ratio(last_a.casefold(), last_b.casefold()) < 85:
        return False
    if not first_a or not first_b:
        return True
    return (
        fuzz.ratio(first_a, first_b) >= 85
        or (min(len(first_a), len(first_b)) >= 3 and (
            first_a.startswith(first_b) or first_b.startswith(first_a)
        ))
    )  # fmt: skip


@dataclass
class _Known:
    """Someone already seen (in the CRM, or on an earlier row of the file)."""

    first_name: str
    last_name: str
    row: int | None = None
    household: Household | None = None


def _crm_people(
    session: Session, rows: list[TrackerRow]
) -> tuple[dict[str, _Known], dict[str, list[_Known]]]:
    """The CRM's applicants with any of the rows' emails or phones, read in a few queries."""
    emails = sorted({r.email for r in rows if r.email})
    phones = sorted({r.phone for r in rows if r.phone})
    by_email: dict[str, _Known] = {}
    by_phone: dict[str, list[_Known]] = {}
    for column, values in ((Applicant.email, emails), (Applicant.phone, phones)):
        for start in range(0, len(values), 500):
            found = session.exec(
                select(Applicant, Household)
                .join(Household, Household.id == Applicant.household_id)
                .where(column.in_(values[start : start + 500]), Household.anonymised_at.is_(None))
                .order_by(Household.enquired_at.desc())
            ).all()
            for applicant, household in found:
                known = _Known(applicant.first_name, applicant.last_name, household=household)
                if applicant.email:
                    by_email.setdefault(applicant.email, known)
                if applicant.phone:
                    by_phone.setdefault(applicant.phone, []).append(known)
    return by_email, by_phone


def plan_rows(session: Session, rows: list[TrackerRow], tz: ZoneInfo) -> list[Plan]:
    """Decide, for every checked row, whether it creates, updates, or is left alone. The same
    person twice (the same email, or the same phone and a similar name), in the file or in
    the CRM, is a duplicate and is not imported; a shared phone number with a different name is
    imported as its own household and said so, never merged."""
    plans = []
    references = [r.reference for r in rows]
    existing: dict[str, Household] = {}
    for start in range(0, len(references), 500):
        chunk = references[start : start + 500]
        existing.update(
            (h.reference, h)
            for h in session.exec(select(Household).where(Household.reference.in_(chunk))).all()
        )
    crm_email, crm_phone = _crm_people(session, [r for r in rows if r.reference not in existing])
    file_email: dict[str, _Known] = {}
    file_phone: dict[str, list[_Known]] = {}
    for row in rows:
        household = existing.get(row.reference)
        if household is not None:
            if household.anonymised_at is not None:
                plans.append(
                    Plan(row, "unchanged", "the household has been anonymised", household.id)
                )
            else:
                plans.append(plan_existing(session, row, household, tz))
            continue
        duplicate, shared = _duplicate_of(row, file_email, file_phone, crm_email, crm_phone)
        if duplicate is not None:
            plans.append(duplicate)
            continue
        me = _Known(row.first_name, row.last_name, row=row.row)
        if row.email:
            file_email.setdefault(row.email, me)
        if row.phone:
            file_phone.setdefault(row.phone, []).append(me)
        moves = list(row.stages.items())
        if row.leaving:
            moves.append((row.leaving.stage, row.leaving.on))
        detail = _describe(row.history())
        if shared:
            detail += f"; {shared}"
        plans.append(Plan(row, "create", detail, moves=moves))
    return plans


def _duplicate_of(
    row: TrackerRow,
    file_email: dict[str, _Known],
    file_phone: dict[str, list[_Known]],
    crm_email: dict[str, _Known],
    crm_phone: dict[str, list[_Known]],
) -> tuple[Plan | None, str]:
    def where(known: _Known) -> str:
        if known.household is not None:
            return f"household {known.household.reference}"
        return f"row {display_row(known.row or 0)}"

    def plan(known: _Known, what: str) -> Plan:
        return Plan(
            row,
            "duplicate",
            f"{what} as {where(known)} ({known.first_name} {known.last_name}); not imported",
            known.household.id if known.household else None,
        )

    for table in (file_email, crm_email):
        if row.email and row.email in table:
            return plan(table[row.email], "the same email"), ""
    shared = ""
    for table in (file_phone, crm_phone):
        for known in table.get(row.phone or "", []):
            if similar_names(row.first_name, row.last_name, known.first_name, known.last_name):
                return plan(known, "the same phone and a similar name"), ""
            shared = shared or (
                f"shares a phone number with {where(known)} ({known.first_name} "
                f"{known.last_name}), a different name: imported as its own household"
            )
    return None, shared


# -- the report ------------------------------------------------------------------------------


@dataclass
class RowResult:
    row: int
    reference: str
    status: str
    detail: str = ""
    sheet: str | None = None

    def __str__(self) -> str:
        where = f"Sheet {self.sheet!r}, row" if self.sheet else "Row"
        return f"{where} {display_row(self.row)} ({self.reference}): {self.status}" + (
            f" – {self.detail}" if self.detail else ""
        )


@dataclass
class ImportReport:
    file_name: str
    rows_read: int
    problems: list[Problem]
    results: list[RowResult]
    ignored_columns: list[str]
    imported: bool
    dry_run: bool = False
    # Things the user should know that are not a row's problem: sheets not imported, merged
    # cells, how a date column was read.
    notes: list[str] = field(default_factory=list)
    new_entries: list[NewEntry] = field(default_factory=list)
    # value list -> the file's words filed under "other" -> rows
    other_values: dict[str, Counter] = field(default_factory=dict)
    # Why nothing was imported although the rows were good (the database refused a row).
    failed: str | None = None

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def invalid_rows(self) -> int:
        return len({p.row for p in self.problems})

    def explanations(self) -> list[str]:
        """Sentences for everything the import decides that is not a row's own result."""
        lines = list(self.notes)
        if self.ignored_columns:
            lines.append(f"Columns not used: {', '.join(self.ignored_columns)}")
        verb = "Would add" if self.dry_run or not self.imported else "Added"
        for entry in self.new_entries:
            noun = {"withdrawn": "withdrawal reason", "not_progressed": "not-progressed reason"}
            lines.append(
                f"{verb} {noun.get(entry.kind, entry.kind)} {entry.label!r} "
                f"({entry.rows} row{'s' if entry.rows != 1 else ''})"
            )
        for kind, words in self.other_values.items():
            listed = ", ".join(f"{w!r} ({n})" for w, n in words.most_common())
            lines.append(f"Filed under other, with the file's words kept: {kind} {listed}")
        return lines

    def summary(self) -> str:
        if self.failed:
            return f"{self.file_name}: nothing was imported: {self.failed}"
        if self.dry_run:
            parts = [
                f"would create {self.count('would create')}",
                f"update {self.count('would update')}",
                f"leave {self.count('unchanged')} unchanged",
            ]
            for status in ("duplicate", "conflict"):
                if self.count(status):
                    parts.append(f"{self.count(status)} {status}")
            if self.invalid_rows:
                parts.append(f"{self.invalid_rows} invalid")
            return (
                f"{self.file_name}: {self.rows_read} rows read; "
                + ", ".join(parts)
                + ". Dry run: nothing was imported."
            )
        if not self.imported:
            return (
                f"{self.file_name}: {self.invalid_rows} of {self.rows_read} rows have problems; "
                "nothing was imported. Fix them, or use --skip-invalid to import the rest."
            )
        parts = [
            f"{self.count('created')} created",
            f"{self.count('updated')} updated",
            f"{self.count('unchanged')} unchanged",
        ]
        for status in ("duplicate", "conflict"):
            if self.count(status):
                parts.append(f"{self.count(status)} {status}")
        if self.invalid_rows:
            parts.append(f"{self.invalid_rows} skipped as invalid")
        return f"{self.file_name}: {self.rows_read} rows read; " + ", ".join(parts) + "."


# -- importing ----------------------------------------------------------------------------

IMPORT_ROLES = frozenset({Role.ADMIN, Role.MANAGER})


# What an import writes in bulk, for the planner's statistics afterwards.
IMPORTED_TABLES = ("household", "applicant", "consent", "stage_event", "activity", "carer")


def check_may_import(actor: Actor, adds_entries: bool = False) -> None:
    """Managers and admins import; only an admin adds entries to the service's lists (a
    command run on the server, the system actor, may do both)."""
    if actor.is_system:
        return
    if actor.role not in IMPORT_ROLES:
        raise NotAllowed("Importing a tracker is for managers and admins")
    if adds_entries and actor.role != Role.ADMIN:
        raise NotAllowed(
            "Only an admin can add sources, campaigns or reasons: map these values to ones "
            "the lists have, or file them under other"
        )


def _noon(day: date, tz: ZoneInfo) -> datetime:
    """A tracker date as a moment: noon UK time, or now for today's date before noon."""
    return min(datetime.combine(day, time(12), tzinfo=tz).astimezone(UTC), clock.now())


@contextmanager
def _one_transaction(session: Session) -> Iterator[Session]:
    """A session whose every commit (the services commit their own work) is only a savepoint
    inside one transaction, committed at the end: the whole import lands, or none of it."""
    session.rollback()
    engine = session.get_bind()
    with engine.connect() as connection:
        outer = connection.begin()
        if connection.dialect.name == "sqlite":
            # pysqlite opens no transaction before a SAVEPOINT (see crm.db.savepoint).
            connection.exec_driver_sql("BEGIN")
        inner = Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield inner
            inner.flush()
            outer.commit()
        except BaseException:
            outer.rollback()
            raise
        finally:
            inner.close()


def _add_entries(db: Session, entries: list[NewEntry]) -> None:
    for entry in entries:
        if entry.kind == "source":
            db.add(Source(key=entry.key, label=entry.label))
        elif entry.kind == "campaign":
            db.add(Campaign(name=entry.key))
        else:
            db.add(Reason(kind=ReasonKind(entry.kind), code=entry.key, label=entry.label))
    db.flush()


class _Officers:
    """The least busy recruitment officer of an area, as create_enquiry picks one, kept in
    memory across the rows of one import."""

    def __init__(self, db: Session) -> None:
        self.db = db
        self.load: dict[int, dict[int, int]] = {}

    def pick(self, area_id: int | None, at_enquiry: bool) -> int | None:
        if area_id is None:
            return None
        if area_id not in self.load:
            open_enquiries = (
                select(sa.func.count(Household.id))
                .where(
                    Household.assigned_officer_id == StaffUser.id,
                    Household.stage == Stage.ENQUIRY,
                )
                .correlate(StaffUser)
                .scalar_subquery()
            )
            self.load[area_id] = dict(
                self.db.exec(
                    select(StaffUser.id, open_enquiries)
                    .join(StaffArea, StaffArea.staff_id == StaffUser.id)
                    .where(
                        StaffArea.area_id == area_id,
                        StaffUser.role == Role.RECRUITMENT_OFFICER,
                        StaffUser.active.is_(True),
                    )
                ).all()
            )
        officers = self.load[area_id]
        if not officers:
            return None
        chosen = min(officers, key=lambda staff_id: (officers[staff_id], staff_id))
        if at_enquiry:
            officers[chosen] += 1
        return chosen


def _create_all(
    db: Session,
    actor: Actor,
    settings: Settings,
    plans: list[Plan],
    tz: ZoneInfo,
    marks: dict[int, str],
) -> None:
    """Households, applicants, stage events, timeline marks and audit entries for every new
    row, in a few statements each (at 10,000 rows, a service call per row would take minutes).
    The rules are create_enquiry's and move_stage's for history: checked already by
    check_row and plan_rows; area by name or postcode district; the least busy officer; no
    call-back task whose time has already passed."""
    if not plans:
        return
    now = clock.now()
    connection = db.connection()
    areas = dict(db.exec(select(Area.name, Area.id)).all())
    districts = dict(
        db.exec(select(AreaPostcodeDistrict.district, AreaPostcodeDistrict.area_id)).all()
    )
    campaigns = dict(db.exec(select(Campaign.name, Campaign.id)).all())
    officers = _Officers(db)
    households = []
    for plan in plans:
        row = plan.row
        history = [(s, _noon(d, tz)) for s, d in row.history()]
        area_id = (
            areas.get(row.area_name)
            if row.area_name
            else districts.get(postcode_district(row.postcode))
            if row.postcode
            else None
        )
        households.append(
            {
                "reference": row.reference,
                "area_id": area_id,
                "postcode": row.postcode,
                "enquiry_channel": EnquiryChannel.IMPORT.value,
                "source_key": row.source_key,
                "campaign_id": campaigns.get(row.campaign_name) if row.campaign_name else None,
                "source_text": row.source_text[:200] if row.source_text else None,
                "campaign_text": row.campaign_text[:200] if row.campaign_text else None,
                "is_kinship": False,
                "assigned_officer_id": officers.pick(area_id, len(history) == 1),
                "stage": history[-1][0].value,
                "stage_entered_at": history[-1][1],
                "enquired_at": history[0][1],
                "first_contact_at": _noon(row.first_contact_on, tz)
                if row.first_contact_on
                else None,
                "created_at": now,
                "updated_at": now,
            }
        )
    # One executemany, then the ids by reference (unique): a RETURNING in parameter order
    # would be one statement per row on SQLite.
    connection.execute(sa.insert(Household), households)
    id_of: dict[str, int] = {}
    references = [h["reference"] for h in households]
    for start in range(0, len(references), 500):
        id_of.update(
            connection.execute(
                sa.select(Household.reference, Household.id).where(
                    Household.reference.in_(references[start : start + 500])
                )
            ).all()
        )
    ids = [id_of[reference] for reference in references]

    applicants, events, activities, audits, tasks, carers = [], [], [], [], [], []
    for plan, household_id, household in zip(plans, ids, households, strict=True):
        row = plan.row
        applicants.append(
            {
                "household_id": household_id,
                "position": 1,
                "first_name": row.first_name,
                "last_name": row.last_name,
                "email": row.email,
                "phone": row.phone,
                "created_at": now,
            }
        )
        previous = None
        for stage, on in row.history():
            leaving = row.leaving if row.leaving and stage == row.leaving.stage else None
            events.append(
                {
                    "household_id": household_id,
                    "from_stage": previous.value if previous else None,
                    "to_stage": stage.value,
                    "occurred_at": _noon(on, tz),
                    "actor_id": actor.user_id,
                    "actor_label": ACTOR_LABEL,
                    "reason_code": leaving.reason_code if leaving else None,
                    "reason_text": leaving.reason_text if leaving else None,
                    "recorded_at": now,
                }
            )
            previous = stage
        # Dated now, not on the tracker's dates: the stalled-case reminders count from the
        # household's latest activity, so a case the tracker left at stage two in 2023 is
        # watched from the import on, rather than nudged at once for years of silence.
        activities.append(
            {
                "household_id": household_id,
                "kind": ActivityKind.IMPORTED.value,
                "occurred_at": now,
                "actor_id": actor.user_id,
                "actor_label": ACTOR_LABEL,
                "summary": marks[row.row][:200],
                "created_at": now,
            }
        )
        audits.append(
            {
                "occurred_at": now,
                "actor_id": actor.user_id,
                "actor_label": actor.label,
                "action": AuditAction.CREATE.value,
                "entity": "household",
                "entity_id": household_id,
                "detail": {"channel": EnquiryChannel.IMPORT.value, "row": display_row(row.row)},
            }
        )
        at_enquiry = household["stage"] == Stage.ENQUIRY.value
        if at_enquiry and household["first_contact_at"] is None:
            due = response_due(settings, household["enquired_at"])
            # History is history: a call-back that was due before today is not a task now.
            if due > now:
                tasks.append(
                    {
                        "kind": TaskKind.RESPOND_TO_ENQUIRY.value,
                        "title": "Call back a new enquirer",
                        "household_id": household_id,
                        "owner_id": household["assigned_officer_id"],
                        "area_id": household["area_id"],
                        "priority": TaskPriority.NORMAL.value,
                        "due_at": due,
                        "created_by_id": actor.user_id,
                        "created_at": now,
                    }
                )
        if Stage.APPROVED in row.stages:
            # Approval opens the carer record, with the pipeline's review and TSD dates.
            approved_on = row.stages[Stage.APPROVED]
            carers.append(
                {
                    "household_id": household_id,
                    "approved_on": approved_on,
                    "is_family_and_friends": False,
                    "status": CarerStatus.ACTIVE.value,
                    "status_changed_at": _noon(approved_on, tz),
                    **carer_due_dates(approved_on, False),
                }
            )
    for model, values in (
        (Applicant, applicants),
        (StageEvent, events),
        (Activity, activities),
        (AuditEvent, audits),
        (Task, tasks),
        (Carer, carers),
    ):
        if values:
            connection.execute(sa.insert(model), values)


def _update(
    db: Session, actor: Actor, settings: Settings, plan: Plan, tz: ZoneInfo, mark: str
) -> None:
    """A household we have, given what the tracker adds at the end of its history: through
    the services (move_stage closes what follows each move), inside the one transaction."""
    row, household_id = plan.row, plan.household_id
    assert household_id is not None
    if plan.first_contact:
        log_activity(
            db,
            actor,
            household_id,
            "call",
            summary="First contact (from the tracker)",
            call_outcome="spoke",
            occurred_at=_noon(plan.first_contact, tz),
        )
    for stage, on in plan.moves:
        reason_code = reason_text = None
        if row.leaving and stage == row.leaving.stage:
            reason_code, reason_text = row.leaving.reason_code, row.leaving.reason_text
        # An approval in the tracker is the record of an agency decision made before, not a
        # new one: it is written as the import's history (no member of staff approves by a
        # move); the audit entry of the import names who ran it.
        mover = Actor.system(ACTOR_LABEL) if stage == Stage.APPROVED else actor
        move_stage(
            db,
            mover,
            household_id,
            stage,
            reason_code=reason_code,
            reason_text=reason_text,
            occurred_at=_noon(on, tz),
            settings=settings,
        )
    db.add(
        Activity(
            household_id=household_id,
            kind=ActivityKind.IMPORTED,
            occurred_at=clock.now(),
            actor_id=actor.user_id,
            actor_label=ACTOR_LABEL,
            summary=mark[:200],
        )
    )
    db.flush()


def _mark(file_name: str, row: TrackerRow) -> str:
    sheet = f", sheet {row.sheet!r}" if row.sheet else ""
    return f"Imported from {file_name}{sheet}, row {display_row(row.row)}"


def date_orders(tracker: TrackerFile, mapping: ImportMapping) -> tuple[dict[str, str], list[str]]:
    """Which way round each date column's dates are, and a sentence for each guess."""
    orders: dict[str, str] = {}
    notes = []
    for column in tracker.columns:
        if column not in DATE_COLUMNS:
            continue
        heading = tracker.heading_of.get(column, column)
        said = mapping.dates.get(normalise(heading)) or mapping.dates.get(normalise(column))
        if said:
            orders[column] = said
            continue
        orders[column], note = date_order([values[column] for _, values in tracker.rows])
        if note:
            notes.append(f"{heading}: {note}")
    return orders, notes


def import_tracker(
    session: Session,
    settings: Settings,
    path: Path,
    *,
    mapping: ImportMapping | None = None,
    create_missing: bool = False,
    skip_invalid: bool = False,
    dry_run: bool = False,
    actor: Actor | None = None,
    file_name: str | None = None,
    on_row: Callable[[], None] | None = None,
) -> ImportReport:
    """The one way a tracker comes in, for the command line and the web wizard alike: read the
    file (raises TrackerError, a sentence, when the file itself cannot be used, and MappingError
    when the mapping is wrong), check every row, plan each one against the CRM, then (unless
    `dry_run`, and if every row is good or `skip_invalid`) import it all in one transaction.
    `on_row` is called as rows are checked (for a progress bar)."""
    actor = actor or Actor.system(ACTOR_LABEL)
    check_may_import(actor)
    mapping = mapping or ImportMapping()
    name = file_name or path.name
    tracker = read_tracker(path, mapping, name=name)
    tz = ZoneInfo(settings.service.timezone)
    lists = Lists.read(session, mapping, create_missing)
    today = local_today(settings)
    orders, date_notes = date_orders(tracker, mapping)
    checked: list[TrackerRow] = []
    problems: list[Problem] = []
    first_row_of: dict[str, int] = {}
    for number, values in tracker.rows:
        sheet = tracker.sheet_of_row.get(number)
        row, row_problems = check_row(number, values, lists, today, orders, sheet)
        unreadable = tracker.cell_problems.get(number, {})
        if unreadable:
            # The cell's own problem says it all: not also "enter a date".
            row_problems = [p for p in row_problems if p.column not in unreadable]
            row_problems += [Problem(number, c, text, sheet) for c, text in unreadable.items()]
            row = None
        reference = " ".join(values.get("reference", "").split()).casefold()
        if reference:
            if reference in first_row_of:
                earlier = first_row_of[reference]
                where = tracker.sheet_of_row.get(earlier)
                row_problems.append(
                    Problem(
                        number,
                        "reference",
                        f"The same reference is on {f'sheet {where!r}, ' if where else ''}"
                        f"row {display_row(earlier)}",
                        sheet,
                    )
                )
                row = None
            else:
                first_row_of[reference] = number
        problems.extend(row_problems)
        if row is not None:
            row.sheet = sheet
            checked.append(row)
        if on_row is not None:
            on_row()
    report = ImportReport(
        file_name=name,
        rows_read=len(tracker.rows),
        problems=problems,
        results=[],
        ignored_columns=tracker.ignored_columns,
        imported=False,
        notes=tracker.notes + date_notes,
        other_values=lists.other,
    )
    plans = plan_rows(session, checked, tz)
    # Only entries a row that will be created or updated needs are added.
    wanted = _entries_wanted(plans, lists)
    report.new_entries = wanted
    session.rollback()
    report.dry_run = dry_run
    report.results = [
        RowResult(
            p.row.row,
            p.row.reference,
            PLANNED.get(p.action, p.action) if dry_run else p.action,
            p.detail,
            p.row.sheet,
        )
        for p in plans
    ]
    if dry_run or (problems and not skip_invalid):
        if not dry_run:
            report.results = []
        return report
    check_may_import(actor, adds_entries=bool(wanted))
    marks = {p.row.row: _mark(name, p.row) for p in plans}
    status = {"create": "created", "update": "updated"}
    if not any(p.action in ("create", "update") for p in plans):
        report.results = [
            RowResult(p.row.row, p.row.reference, p.action, p.detail, p.row.sheet) for p in plans
        ]
        report.imported = True
        return report
    try:
        with _one_transaction(session) as db:
            _add_entries(db, wanted)
            _create_all(db, actor, settings, [p for p in plans if p.action == "create"], tz, marks)
            for plan in plans:
                if plan.action == "update":
                    _update(db, actor, settings, plan, tz, marks[plan.row.row])
            audit.record(
                db,
                actor,
                AuditAction.CREATE,
                "tracker_import",
                None,
                created=sum(1 for p in plans if p.action == "create"),
                updated=sum(1 for p in plans if p.action == "update"),
            )
    except (ServiceError, sa.exc.IntegrityError) as exc:
        report.failed = str(exc).splitlines()[0]
        report.results = []
        return report
    report.results = [
        RowResult(p.row.row, p.row.reference, status.get(p.action, p.action), p.detail, p.row.sheet)
        for p in plans
    ]
    report.imported = True
    # Many rows may have come at once: the lists' and search's query plans follow them.
    analyse(session.get_bind(), IMPORTED_TABLES)
    return report


def _entries_wanted(plans: list[Plan], lists: Lists) -> list[NewEntry]:
    used: set[tuple[str, str]] = set()
    for plan in plans:
        if plan.action not in ("create", "update"):
            continue
        row = plan.row
        if row.source_key:
            used.add(("source", row.source_key))
        if row.campaign_name:
            used.add(("campaign", row.campaign_name))
        if row.leaving:
            used.add((row.leaving.stage.value, row.leaving.reason_code))
    return [
        entry
        for entries in lists.new.values()
        for entry in entries.values()
        if (entry.kind, entry.key) in used
    ]
