"""A safeguarding concern raised from outside (the chat assistant): the urgent-task rule.

Someone telling us a child may be at risk is given the emergency advice at once by whoever
heard it (the assistant does that in the same reply). Here is what staff must then do: an
urgent task, due immediately, in the team queue of the area the person is in (the hub's when we
do not know), with the person's own words so nobody has to go looking; and an email to every
manager and admin covering that area saying a concern is waiting (through the outbox, without
the person's words, so the detail stays inside the CRM). Staff messages do not wait for quiet
hours, so the email goes at night too.

The chat a concern came from is a link on the task (`Task.conversation_id`), never words in its
title or detail or in the alert: a Telegram chat id identifies the person, and erasing them
must find the concern even when it was raised before the chat was tied to their household.
When the chat's enquiry creates the household, its concerns join it (`link_concerns`).

The kind of harm it seems to be about (`category`, one of CONCERN_CATEGORIES) and whether the
writer seems to be a child talking about themselves are recorded in the task and named in
plain words in the email, so whoever picks it up knows at a glance what they are walking into.
They are the assistant's reading of the words, never a finding: the task says so.
Nothing here logs the person's words.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, select

from crm import clock
from crm.models import (
    Area,
    AuditAction,
    Channel,
    ChatChannel,
    ChatConversation,
    Household,
    Role,
    StaffArea,
    StaffUser,
    Task,
    TaskKind,
    TaskPriority,
)
from crm.services import audit
from crm.services.actors import Actor
from crm.services.errors import InvalidInput
from crm.services.outbox import enqueue_message
from crm.services.tasks import create_task
from crm.settings import Settings

ALERT_TEMPLATE = "safeguarding_alert_staff"
ALERT_ROLES = (Role.MANAGER, Role.ADMIN)
MAX_WORDS_KEPT = 2000
NOT_KNOWN = "not known yet"

# The recognised kinds of harm to a child, in the words staff use. The keys are what the chat
# assistant's safeguarding check reports (bot.safeguarding.CATEGORIES is this tuple of keys).
CONCERN_CATEGORIES: dict[str, str] = {
    "physical_abuse": "physical abuse",
    "emotional_abuse": "emotional abuse",
    "sexual_abuse": "sexual abuse",
    "neglect": "neglect",
    "domestic_abuse": "domestic abuse around children",
    "sexual_exploitation": "child sexual exploitation",
    "criminal_exploitation": "child criminal exploitation, such as county lines",
    "online_abuse": "online abuse",
    "child_disclosing": "a child or young person saying they are not safe",
    "unclear": "a worry about a child, the kind of harm not said yet",
}

log = logging.getLogger(__name__)
# How the assistant (bot/) names the chat in `where` while it does not pass `conversation_id`:
# read the chat from there, and keep only the kind of chat in the words.
TELEGRAM_CHAT_NAMED = re.compile(r"^Telegram chat (\S+)$")
WEB_CHAT_NAMED = re.compile(r"^web chat \(conversation (\d+)\)$")


@dataclass(frozen=True)
class ChildrensServices:
    """Who to call about a child: the area's front door, or the service-wide number."""

    area_name: str | None
    phone: str


def childrens_services_for(
    session: Session, settings: Settings, area_id: int | None
) -> ChildrensServices:
    area = session.get(Area, area_id) if area_id is not None else None
    if area is not None and area.childrens_services_phone:
        return ChildrensServices(area.name, area.childrens_services_phone)
    return ChildrensServices(
        area.name if area is not None else None, settings.service.childrens_services_phone
    )


def raise_concern(
    session: Session,
    actor: Actor,
    settings: Settings,
    *,
    words: str,
    where: str,
    area_id: int | None = None,
    household_id: int | None = None,
    conversation_id: int | None = None,
    unique_key: str | None = None,
    category: str | None = None,
    about_self: bool = False,
) -> Task | None:
    """Record a safeguarding concern: an urgent task due now, and an alert to managers.

    `words` is what the person wrote; `where` says where they wrote it ("Telegram chat",
    "web chat"), and `conversation_id` which chat it was. `category` is the kind of harm it
    seems to be about (a key of CONCERN_CATEGORIES; None when not known) and `about_self` says
    the writer seems to be a child or young person talking about themselves. With
    `unique_key`, the same concern is recorded once however often it is passed in (a retried
    message). Returns the task, or None when it existed already."""
    if category is not None and category not in CONCERN_CATEGORIES:
        raise InvalidInput(
            f"Unknown kind of concern {category!r}: use one of {', '.join(CONCERN_CATEGORIES)}",
            "category",
        )
    category_label = CONCERN_CATEGORIES[category] if category is not None else NOT_KNOWN
    named, where = _chat_named_in(session, where)
    conversation = named
    if conversation_id is not None:
        conversation = session.get(ChatConversation, conversation_id)
        if conversation is None:
            raise InvalidInput(f"No chat with id {conversation_id}", "conversation_id")
    if conversation is not None and household_id is None:
        household_id = conversation.household_id
    if household_id is not None and area_id is None:
        household = session.get(Household, household_id)
        area_id = household.area_id if household is not None else None
    now = clock.now()
    task = create_task(
        session,
        actor,
        kind=TaskKind.SAFEGUARDING,
        title=f"Safeguarding concern raised in the {where}: act today",
        detail=_detail(now, settings, where, category_label, about_self, words),
        due_at=now,
        household_id=household_id,
        area_id=area_id,
        priority=TaskPriority.URGENT,
        unique_key=unique_key,
        commit=False,
    )
    if task is None:
        return None
    if conversation is not None:
        task.conversation_id = conversation.id
        session.add(task)
    for staff in _people_to_alert(session, area_id):
        enqueue_message(
            session,
            channel=Channel.EMAIL,
            recipient=staff.email,
            template=ALERT_TEMPLATE,
            payload={
                "task_id": task.id,
                "task_title": task.title,
                "where": where,
                "area_name": _area_name(session, area_id),
                "category": category,
                "category_label": category_label,
                "about_self": about_self,
                "due_at": now.isoformat(),
                "staff_name": staff.name,
            },
            due_at=now,
            unique_key=f"safeguarding:{task.id}:alert:{staff.id}",
            staff_id=staff.id,
        )
    session.commit()
    session.refresh(task)
    # Which concern and where, for whoever reads the logs; never what the person wrote.
    log.info(
        "safeguarding concern recorded: task %s, area %s, category %s, about_self %s",
        task.id,
        area_id,
        category or "not known",
        about_self,
    )
    return task


def _chat_named_in(session: Session, where: str) -> tuple[ChatConversation | None, str]:
    """The chat a `where` such as "Telegram chat 123" names, and the words without its id."""
    where = " ".join((where or "").split())
    if match := TELEGRAM_CHAT_NAMED.match(where):
        found = session.exec(
            select(ChatConversation).where(
                ChatConversation.channel == ChatChannel.TELEGRAM,
                ChatConversation.external_id == match.group(1),
            )
        ).first()
        return found, "Telegram chat"
    if match := WEB_CHAT_NAMED.match(where):
        return session.get(ChatConversation, int(match.group(1))), "web chat"
    return None, where


def _detail(now, settings: Settings, where: str, label: str, about_self: bool, words: str) -> str:
    told = (
        "The assistant told them to call 999 if they are in danger now and gave them "
        "Childline (0800 1111) and the children's services number."
        if about_self
        else "The assistant told them to call 999 if a child is in immediate danger and gave "
        "them the children's services number."
    )
    who = (
        "The writer seems to be a child or young person talking about themselves.\n"
        if about_self
        else ""
    )
    heading = (
        f"Raised at {now.astimezone(settings.tz):%d %b %Y %H:%M} in the {where}. {told}\n\n"
        f"What it seems to be about: {label} (the assistant's reading of their words; "
        f"read them yourself).\n{who}\nWhat they wrote:\n"
    )
    # The task's detail holds MAX_WORDS_KEPT characters in all; longer words are in the chat
    # transcript, which the task links to.
    words = (words or "").strip()[: MAX_WORDS_KEPT - len(heading)]
    return heading + words


def link_concerns(session: Session, actor: Actor, conversation_id: int, household_id: int) -> int:
    """Concerns raised in a chat before it was tied to a household join that household (in the
    caller's transaction), so they show on its record and its erasure finds them."""
    task_ids = list(
        session.exec(
            select(Task.id).where(
                Task.conversation_id == conversation_id, Task.household_id.is_(None)
            )
        )
    )
    if task_ids:
        session.exec(sa.update(Task).where(Task.id.in_(task_ids)).values(household_id=household_id))
    for task_id in task_ids:
        audit.record(session, actor, AuditAction.UPDATE, "task", task_id, household=True)
    return len(task_ids)


def _area_name(session: Session, area_id: int | None) -> str:
    area = session.get(Area, area_id) if area_id is not None else None
    return area.name if area is not None else "not known yet (hub triage)"


def _people_to_alert(session: Session, area_id: int | None) -> list[StaffUser]:
    """Active managers of the area (all managers when the area is unknown), and admins."""
    query = select(StaffUser).where(StaffUser.active.is_(True), StaffUser.role.in_(ALERT_ROLES))
    if area_id is not None:
        in_area = select(StaffArea.staff_id).where(StaffArea.area_id == area_id)
        query = query.where(
            sa.or_(StaffUser.role == Role.ADMIN, StaffUser.id.in_(in_area.scalar_subquery()))
        )
    return list(session.exec(query.order_by(StaffUser.id)).all())
