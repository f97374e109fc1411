"""The reminders engine: a reminder is declared as data (a `ReminderSpec`: what is due, who is
told, with which templates, under which unique key) and `run` carries out any spec at a given
`now`.

A spec's selector (`due`) reads the database for what is due *now* and returns `Due` items;
the engine writes each item's task and messages with the item's unique key, so running a spec
twice (or late, or after a restart) writes nothing new and misses nothing. Selectors decide
from state, not from "what happened since the last run", which is what makes a late start
safe: a day-before visit reminder that should have gone at 10:00 still goes at 15:00, until
the morning-of reminder takes over. Quiet hours and channels belong to the templates
(crm.services.outbox), not to the reminders.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

from sqlmodel import Session, select

from crm.models import (
    Carer,
    Channel,
    Household,
    OutboxMessage,
    StaffUser,
    Task,
    TaskKind,
    TaskPriority,
)
from crm.services import checkins, outbox
from crm.services.actors import Actor
from crm.services.reminders import people
from crm.services.tasks import create_task
from crm.settings import Settings

SCHEDULER = Actor.system("scheduler")


class Audience(StrEnum):
    # The household (or carer) by the channels they agreed to; nothing if none.
    HOUSEHOLD = "household"
    # Each member of staff the item names, by email.
    STAFF = "staff"
    # A check-in to a carer: the check-in record and its message (crm.services.checkins).
    CHECK_IN = "check_in"


@dataclass(frozen=True)
class Notice:
    """A message a reminder sends: its template (which carries the quiet-hours rule), who gets
    it, and the summary count it adds to (None: not counted)."""

    template: str
    audience: Audience
    counts_as: str | None = None


@dataclass
class TaskDraft:
    """The task a due item gives staff. With no owner it goes to the team queue."""

    kind: TaskKind
    title: str
    due_at: datetime
    detail: str | None = None
    owner_id: int | None = None
    priority: TaskPriority = TaskPriority.NORMAL
    counts_as: str | None = None
    # An open task made without a key (the call-back task made with an enquiry) that is raised
    # to this draft's title, priority, owner and key, rather than adding a second task.
    raises: Task | None = None


@dataclass
class Due:
    """One thing that is due now. Everything it writes carries `key` (messages add their
    channel and address, or the member of staff). When it has a task that exists already, it
    writes and tells nothing."""

    key: str
    # Whose record the task and the staff messages concern.
    household_id: int | None = None
    carer_id: int | None = None
    # Who household notices go to (and the greeting's name); a check-in's carer.
    household: Household | None = None
    carer: Carer | None = None
    task: TaskDraft | None = None
    # Which of the spec's notices go, each with its payload.
    notices: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Who staff notices go to.
    staff: list[StaffUser] = field(default_factory=list)


@dataclass(frozen=True)
class ReminderSpec:
    """One reminder, declared as data. The scheduler runs it `every` (APScheduler trigger
    fields, London time; crm.scheduler.jobs), and `run` carries it out."""

    id: str
    title: str
    every: Mapping[str, Any]
    # Every unique key the reminder writes starts with this.
    keys: str
    # What is due at scan.now.
    due: Callable[[Scan], Iterable[Due]]
    notices: Mapping[str, Notice] = field(default_factory=dict)
    # The summary's counts, in order.
    counts: tuple[str, ...] = ()
    run_at_start: bool = False
    # After the items are written: more counts for the summary (same transaction).
    finish: Callable[[Scan], Mapping[str, int]] | None = None


class Scan:
    """One run of a spec: the session, settings and `now`, and what its keys already wrote."""

    def __init__(self, spec: ReminderSpec, session: Session, settings: Settings, now: datetime):
        self.spec = spec
        self.session = session
        self.settings = settings
        self.now = now
        self._keys: dict[Any, set[str]] = {}
        self._stems: set[str] | None = None
        people.fresh_scan(session)

    @property
    def today(self) -> date:
        return local_date(self.settings, self.now)

    def used_keys(self, model: Any = Task) -> set[str]:
        """Unique keys with the spec's prefix already in `model` (Task, OutboxMessage,
        CheckIn): one query for the whole scan instead of one per candidate."""
        if model not in self._keys:
            column = model.unique_key
            self._keys[model] = set(
                self.session.exec(select(column).where(column.like(f"{self.spec.keys}%"))).all()
            )
        return self._keys[model]

    def messaged(self, key: str) -> bool:
        """Has any message gone under `key` (to anyone, by any channel)? A message's key is
        the item's key plus its channel and address (or "staff" and an id)."""
        if self._stems is None:
            self._stems = set()
            for used in self.used_keys(OutboxMessage):
                parts = used.split(":")
                self._stems.update(":".join(parts[:end]) for end in range(1, len(parts)))
        return key in self._stems


def run(spec: ReminderSpec, session: Session, settings: Settings, now: datetime) -> dict:
    """Carry out `spec` at `now`: write what is due, commit, return the summary counts."""
    scan = Scan(spec, session, settings, now)
    summary: dict[str, Any] = dict.fromkeys(spec.counts, 0)
    items = list(spec.due(scan))
    if items:
        reached = [
            item
            for item in items
            if any(spec.notices[name].audience != Audience.STAFF for name in item.notices)
        ]
        messages = Messages(
            session,
            settings,
            [item.household.id for item in reached if item.household is not None],
            [item.carer_id for item in reached if item.carer_id is not None],
        )
        for item in items:
            if item.task is not None and not _write_task(session, item, summary):
                continue
            for name, payload in item.notices.items():
                notice = spec.notices[name]
                if notice.audience == Audience.STAFF:
                    for member in item.staff:
                        messages.staff(
                            member,
                            kind=notice.counts_as,
                            template=notice.template,
                            payload=payload,
                            key=item.key,
                            now=now,
                            household_id=item.household_id,
                            carer_id=item.carer_id,
                        )
                elif notice.audience == Audience.HOUSEHOLD:
                    messages.public(
                        item.household,
                        kind=notice.counts_as,
                        template=notice.template,
                        payload=payload,
                        key=item.key,
                        now=now,
                        carer_id=item.carer_id,
                    )
                else:
                    check_in = checkins.start_check_in(
                        session,
                        settings,
                        item.carer,
                        unique_key=item.key,
                        reason=payload["reason"],
                        now=now,
                        book=messages.book,
                    )
                    if check_in is not None and notice.counts_as:
                        summary[notice.counts_as] += 1
        for kind, count in messages.write().items():
            if kind in summary:
                summary[kind] += count
    if spec.finish is not None:
        summary.update(spec.finish(scan))
    session.commit()
    return summary


def _write_task(session: Session, item: Due, summary: dict[str, Any]) -> bool:
    draft = item.task
    if draft.raises is not None:
        task = draft.raises
        task.owner_id = draft.owner_id
        task.priority = draft.priority
        task.unique_key = item.key
        task.title = draft.title
        session.add(task)
        new = True
    else:
        new = (
            create_task(
                session,
                SCHEDULER,
                kind=draft.kind,
                title=draft.title,
                detail=draft.detail,
                household_id=item.household_id,
                carer_id=item.carer_id,
                owner_id=draft.owner_id,
                priority=draft.priority,
                due_at=draft.due_at,
                unique_key=item.key,
                commit=False,
            )
            is not None
        )
    if new and draft.counts_as:
        summary[draft.counts_as] += 1
    return new


class Messages:
    """The messages a run writes: recipients looked up for all its households at once, and
    the rows inserted together at the end (outbox.enqueue_many: a key that exists is skipped,
    so a second run writes nothing). `write()` returns how many new messages each kind had."""

    def __init__(
        self,
        session: Session,
        settings: Settings,
        household_ids: Iterable[int] = (),
        carer_ids: Iterable[int] = (),
    ) -> None:
        self.session = session
        self.book = outbox.RecipientBook(session, settings, household_ids, carer_ids)
        self.rows: list[dict[str, Any]] = []
        self.kinds: dict[str, str | None] = {}

    def public(
        self,
        household: Household,
        *,
        kind: str | None,
        template: str,
        payload: dict[str, Any],
        key: str,
        now: datetime,
        carer_id: int | None = None,
    ) -> None:
        """To the household (or carer) by the channel they agreed to; nothing if none."""
        for recipient in self.book.recipients(household.id, carer_id, template=template):
            unique_key = f"{key}:{recipient.channel.value}:{recipient.address}"
            self.kinds[unique_key] = kind
            self.rows.append(
                {
                    "channel": recipient.channel,
                    "recipient": recipient.address,
                    "template": template,
                    "payload": {"greeting_name": checkins.greeting_name(household), **payload},
                    "due_at": now,
                    "unique_key": unique_key,
                    "household_id": None if carer_id else household.id,
                    "carer_id": carer_id,
                }
            )

    def staff(
        self,
        staff: StaffUser,
        *,
        kind: str | None,
        template: str,
        payload: dict[str, Any],
        key: str,
        now: datetime,
        household_id: int | None = None,
        carer_id: int | None = None,
    ) -> None:
        unique_key = f"{key}:staff:{staff.id}"
        self.kinds[unique_key] = kind
        self.rows.append(
            {
                "channel": Channel.EMAIL,
                "recipient": staff.email,
                "template": template,
                "payload": {"staff_name": staff.name, **payload},
                "due_at": now,
                "unique_key": unique_key,
                "household_id": household_id,
                "carer_id": carer_id,
                "staff_id": staff.id,
            }
        )

    def write(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for key in outbox.enqueue_many(self.session, self.rows):
            if self.kinds[key]:
                counts[self.kinds[key]] += 1
        self.rows.clear()
        return counts


# -- time and words shared by the selectors ----------------------------------------------------


def local_date(settings: Settings, moment: datetime) -> date:
    return moment.astimezone(settings.tz).date()


def at_local(settings: Settings, day: date, when: time) -> datetime:
    """A London wall-clock time on `day`, as an aware datetime (DST-correct)."""
    return datetime.combine(day, when, settings.tz)


def date_text(day: date) -> str:
    return f"{day.day} {day.strftime('%B %Y')}"


def office_hours(settings: Settings) -> tuple[Any, time, time]:
    """The arguments crm.workdays.add_office_days takes after the start and the days."""
    return settings.tz, settings.service.office_hours_start, settings.service.office_hours_end
