"""Importing a tracker: check the whole file, compare each row with what the CRM has, then
create or update households row by row through the services (see crm.services.imports)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from crm import clock
from crm.models import EnquiryChannel, Household, Stage, StageEvent, Task, TaskKind
from crm.services.actors import Actor
from crm.services.enquiries import (
    ApplicantDetails,
    EnquiryInput,
    create_enquiry,
    find_existing_household,
)
from crm.services.errors import ServiceError
from crm.services.imports.columns import read_tracker
from crm.services.imports.values import Lists, Problem, TrackerRow, check_row, local_today
from crm.services.pipeline import move_stage
from crm.services.tasks import complete_task
from crm.services.timeline import log_activity
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


def plan_rows(session: Session, rows: list[TrackerRow], tz: ZoneInfo) -> list[Plan]:
    """Decide, for every checked row, whether it creates, updates, or is left alone."""
    plans = []
    seen_contacts: dict[str, int] = {}
    references = [r.reference for r in rows]
    existing = {
        h.reference: h
        for h in session.exec(select(Household).where(Household.reference.in_(references))).all()
    }
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
        contacts = [c for c in (row.email, row.phone) if c]
        earlier = next((seen_contacts[c] for c in contacts if c in seen_contacts), None)
        if earlier is not None:
            plans.append(
                Plan(row, "duplicate", f"same email or phone as row {earlier}; not imported")
            )
            continue
        match = find_existing_household(
            session, [row.email] if row.email else [], [row.phone] if row.phone else []
        )
        if match is not None:
            plans.append(
                Plan(
                    row,
                    "duplicate",
                    f"the email or phone belongs to household {match.reference}; not imported",
                    match.id,
                )
            )
            continue
        for contact in contacts:
            seen_contacts[contact] = row.row
        moves = list(row.stages.items())
        if row.leaving:
            moves.append((row.leaving.stage, row.leaving.on))
        plans.append(Plan(row, "create", _describe(row.history()), moves=moves))
    return plans


# -- importing ----------------------------------------------------------------------------


@dataclass
class RowResult:
    row: int
    reference: str
    status: str
    detail: str = ""

    def __str__(self) -> str:
        return f"Row {self.row} ({self.reference}): {self.status}" + (
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

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def invalid_rows(self) -> int:
        return len({p.row for p in self.problems})

    def summary(self) -> str:
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
        for status in ("duplicate", "conflict", "failed"):
            if self.count(status):
                parts.append(f"{self.count(status)} {status}")
        if self.invalid_rows:
            parts.append(f"{self.invalid_rows} skipped as invalid")
        return f"{self.file_name}: {self.rows_read} rows read; " + ", ".join(parts) + "."


def _noon(day: date, tz: ZoneInfo) -> datetime:
    """A tracker date as a moment: noon UK time, or now for today's date before noon."""
    return min(datetime.combine(day, time(12), tzinfo=tz).astimezone(UTC), clock.now())


def _close_call_back(session: Session, actor: Actor, household_id: int) -> None:
    open_tasks = session.exec(
        select(Task.id).where(
            Task.household_id == household_id,
            Task.kind.in_([TaskKind.RESPOND_TO_ENQUIRY, TaskKind.SECOND_ATTEMPT]),
            Task.done_at.is_(None),
        )
    ).all()
    for task_id in open_tasks:
        complete_task(session, actor, task_id)


def _apply(session: Session, actor: Actor, settings: Settings, plan: Plan, tz: ZoneInfo) -> str:
    row = plan.row
    if plan.action == "create":
        result = create_enquiry(
            session,
            actor,
            EnquiryInput(
                applicant=ApplicantDetails(row.first_name, row.last_name, row.email, row.phone),
                enquiry_channel=EnquiryChannel.IMPORT,
                postcode=row.postcode,
                area_name=row.area_name,
                source_key=row.source_key,
                campaign_name=row.campaign_name,
                enquired_at=_noon(row.enquired_on, tz),
                first_contact_at=_noon(row.first_contact_on, tz) if row.first_contact_on else None,
                reference=row.reference,
            ),
            settings,
        )
        if not result.created:
            # Someone with this email or phone arrived between the check and now.
            return "duplicate"
        household_id = result.household.id
    else:
        household_id = plan.household_id
        if plan.first_contact:
            log_activity(
                session,
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
        move_stage(
            session,
            actor,
            household_id,
            stage,
            reason_code=reason_code,
            reason_text=reason_text,
            occurred_at=_noon(on, tz),
        )
    moved_on = bool(row.stages) or row.leaving is not None
    if moved_on:
        _close_call_back(session, actor, household_id)
    return "created" if plan.action == "create" else "updated"


def import_tracker(
    session: Session,
    settings: Settings,
    path: Path,
    *,
    skip_invalid: bool = False,
    dry_run: bool = False,
    on_row: Callable[[], None] | None = None,
) -> ImportReport:
    """Check the whole file, then (if it is clean, or `skip_invalid`) import it row by row.
    `dry_run` checks and plans but changes nothing; `on_row` is called after each row is
    imported (for a progress bar). Raises TrackerError when the file itself cannot be read."""
    tracker = read_tracker(path)
    tz = ZoneInfo(settings.service.timezone)
    lists = Lists.read(session)
    today = local_today(settings)
    checked: list[TrackerRow] = []
    problems: list[Problem] = []
    first_row_of: dict[str, int] = {}
    for number, values in tracker.rows:
        row, row_problems = check_row(number, values, lists, today)
        reference = " ".join(values.get("reference", "").split()).casefold()
        if reference:
            if reference in first_row_of:
                row_problems.append(
                    Problem(
                        number,
                        "reference",
                        f"The same reference is on row {first_row_of[reference]}",
                    )
                )
                row = None
            else:
                first_row_of[reference] = number
        problems.extend(row_problems)
        if row is not None:
            checked.append(row)
    report = ImportReport(
        file_name=path.name,
        rows_read=len(tracker.rows),
        problems=problems,
        results=[],
        ignored_columns=tracker.ignored_columns,
        imported=False,
    )
    if problems and not skip_invalid:
        session.rollback()
        return report

    plans = plan_rows(session, checked, tz)
    # The checks above only read; end that transaction so each service call runs its own.
    session.rollback()
    if dry_run:
        report.dry_run = True
        report.results = [
            RowResult(p.row.row, p.row.reference, PLANNED.get(p.action, p.action), p.detail)
            for p in plans
        ]
        return report
    actor = Actor.system(ACTOR_LABEL)
    for plan in plans:
        if on_row is not None:
            on_row()
        if plan.action in ("create", "update"):
            try:
                status = _apply(session, actor, settings, plan, tz)
            except ServiceError as exc:
                session.rollback()
                report.results.append(
                    RowResult(plan.row.row, plan.row.reference, "failed", str(exc))
                )
                continue
            detail = plan.detail
            if status == "duplicate":
                detail = "the email or phone now belongs to another household; not imported"
            report.results.append(RowResult(plan.row.row, plan.row.reference, status, detail))
        else:
            report.results.append(
                RowResult(plan.row.row, plan.row.reference, plan.action, plan.detail)
            )
    report.imported = True
    return report
