"""Retention check-ins: a short "how are things?" to approved carers, answered in one tap.

A check-in goes by Telegram (buttons 1-5 and "I'd like a call") or by email (one link per
answer to a page that needs no sign-in, signed and expiring). Both land in `answer_check_in`.
A low score (2 or less) or a request for a call gives the supervising social worker a task due
within 1 working day and flags the carer as at risk; two check-ins in a row left unanswered
give them a task too (`flag_unanswered_check_ins`, run by the scheduler).

Telegram callback data
----------------------
Each button carries ``checkin:<check_in id>:<answer>`` where the answer is ``1``..``5`` or
``call``, e.g. ``checkin:42:4`` or ``checkin:42:call`` (at most 64 bytes, as Telegram allows).
The chat assistant routes any callback whose data starts with ``checkin:`` to
`handle_callback(session, settings, data, chat_id=...)` and shows its `reply` to the person
(answerCallbackQuery and/or a new message).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from crm import clock
from crm.db import savepoint
from crm.models import (
    Activity,
    ActivityKind,
    AuditAction,
    Carer,
    Channel,
    CheckIn,
    Household,
    OutboxMessage,
    OutboxStatus,
    StaffUser,
    Task,
    TaskKind,
    TaskPriority,
    TelegramChatLink,
)
from crm.services import audit, outbox
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed, NotFound
from crm.services.tasks import create_task
from crm.settings import Settings
from crm.workdays import add_office_days

CALLBACK_PREFIX = "checkin"
CALL_ANSWER = "call"
LOW_SCORE = 2
TOKEN_SALT = "fostercrm-check-in"
TOKEN_MAX_AGE = 30 * 24 * 3600
# A check-in counts as unanswered once this long has passed without an answer.
ANSWER_WINDOW = timedelta(days=7)
SCORE_LABELS = {
    1: "Really struggling",
    2: "Finding it hard",
    3: "Getting by",
    4: "Going well",
    5: "Going really well",
}
CHECK_IN_ACTOR = Actor.system("check-in")
DEFAULT_TZ = ZoneInfo("Europe/London")


# -- callback data ---------------------------------------------------------------------------


def callback_data(check_in_id: int, answer: int | str) -> str:
    """The data for one Telegram button: `checkin:<id>:<1-5|call>`."""
    return f"{CALLBACK_PREFIX}:{check_in_id}:{answer}"


def is_check_in_callback(data: str | None) -> bool:
    return bool(data) and data.startswith(f"{CALLBACK_PREFIX}:")


def parse_callback_data(data: str) -> tuple[int, int | None, bool]:
    """(check-in id, score or None, wants a call) from button data; InvalidInput if malformed."""
    parts = (data or "").split(":")
    if len(parts) != 3 or parts[0] != CALLBACK_PREFIX or not parts[1].isdigit():
        raise InvalidInput("That button is not a check-in answer", "callback_data")
    check_in_id, answer = int(parts[1]), parts[2]
    if answer == CALL_ANSWER:
        return check_in_id, None, True
    if answer.isdigit() and 1 <= int(answer) <= 5:
        return check_in_id, int(answer), False
    raise InvalidInput("That button is not a check-in answer", "callback_data")


def telegram_keyboard(check_in_id: int) -> dict:
    """The inline keyboard (Bot API JSON) sent with a Telegram check-in."""
    scores = [{"text": str(n), "callback_data": callback_data(check_in_id, n)} for n in range(1, 6)]
    call = [{"text": "I'd like a call", "callback_data": callback_data(check_in_id, CALL_ANSWER)}]
    return {"inline_keyboard": [scores, call]}


# -- email links -----------------------------------------------------------------------------


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        settings.require_secret_key(), salt=TOKEN_SALT, signer=outbox.ClockSigner
    )


def make_answer_token(settings: Settings, check_in_id: int) -> str:
    return _serializer(settings).dumps({"c": check_in_id})


def read_answer_token(settings: Settings, token: str) -> int:
    """The check-in id in a link; InvalidInput when forged or older than 30 days."""
    try:
        return int(_serializer(settings).loads(token, max_age=TOKEN_MAX_AGE)["c"])
    except SignatureExpired:
        raise InvalidInput(
            "This link has expired. Your supervising social worker will be in touch soon."
        ) from None
    except (BadSignature, KeyError, TypeError, ValueError):
        raise InvalidInput("This link is not valid. Please check you copied all of it.") from None


def answer_urls(settings: Settings, check_in_id: int) -> dict[str, str]:
    """One link per answer for the email: {"1": url, ..., "5": url, "call": url}."""
    token = make_answer_token(settings, check_in_id)
    base = settings.service.public_base_url.rstrip("/")
    answers = [str(n) for n in range(1, 6)] + [CALL_ANSWER]
    return {answer: f"{base}/check-in/{token}/{answer}" for answer in answers}


# -- sending ---------------------------------------------------------------------------------


def start_check_in(
    session: Session,
    settings: Settings,
    carer: Carer,
    *,
    unique_key: str,
    reason: str,
    now: datetime | None = None,
    book: outbox.RecipientBook | None = None,
) -> CheckIn | None:
    """Write a check-in and its outbox message into the caller's transaction. None when this
    check-in exists already (`unique_key`) or the carer agreed to no channel we can use.
    A scan over many carers passes one `book` of recipients for them all."""
    now = now or clock.now()
    if session.exec(select(CheckIn.id).where(CheckIn.unique_key == unique_key)).first():
        return None
    if book is None:
        book = outbox.RecipientBook(session, settings, [carer.household_id], [carer.id])
    recipients = book.recipients(carer.household_id, carer.id, template="check_in")
    if not recipients:
        return None
    channel = recipients[0].channel
    household = session.get(Household, carer.household_id)
    check_in = CheckIn(carer_id=carer.id, channel=channel, sent_at=now, unique_key=unique_key)
    session.add(check_in)
    session.flush()
    first = None
    for recipient in (r for r in recipients if r.channel == channel):
        message = outbox.enqueue_message(
            session,
            channel=channel,
            recipient=recipient.address,
            template="check_in",
            payload={
                "check_in_id": check_in.id,
                "reason": reason,
                "greeting_name": greeting_name(household),
            },
            due_at=now,
            unique_key=f"{unique_key}:{channel.value}:{recipient.address}",
            carer_id=carer.id,
        )
        first = first or message
    if first is not None:
        session.flush()
        check_in.outbox_message_id = first.id
        session.add(check_in)
    return check_in


def greeting_name(household: Household | None) -> str:
    if household is None or not household.applicants:
        return "there"
    return " and ".join(a.first_name for a in household.applicants)


def mark_check_in_sent(session: Session, outbox_message_id: int, sent_at: datetime) -> None:
    """The dispatcher's note that the message went: the check-in's clock starts then."""
    check_in = session.exec(
        select(CheckIn).where(CheckIn.outbox_message_id == outbox_message_id)
    ).first()
    if check_in is not None and check_in.answered_at is None:
        check_in.sent_at = sent_at
        session.add(check_in)


# -- answering -------------------------------------------------------------------------------


@dataclass
class AnswerResult:
    check_in: CheckIn
    follow_up_task: Task | None
    reply: str  # what to tell the person


def _follow_up_due(settings: Settings | None, now: datetime) -> datetime:
    """One working day of office time from now."""
    if settings is None:
        return add_office_days(now, 1, DEFAULT_TZ, time(9, 0), time(17, 0))
    return add_office_days(
        now,
        1,
        settings.tz,
        settings.service.office_hours_start,
        settings.service.office_hours_end,
    )


def answer_check_in(
    session: Session,
    check_in_id: int,
    score: int | None = None,
    wants_call: bool = False,
    comment: str | None = None,
    via: str = "email",
    *,
    settings: Settings | None = None,
) -> AnswerResult:
    """Store a carer's answer on their record. A check-in has one answer: answering again
    updates the score and comment (a call, once asked for, stays asked for) and the same entry
    on the timeline, never a new one. A score of 2 or less, or a request for a call, gives the
    supervising social worker one task (once per check-in) due within 1 working day and flags
    the carer as at risk."""
    errors: dict[str, str] = {}
    if score is not None and (isinstance(score, bool) or not 1 <= int(score) <= 5):
        errors["score"] = "Choose a number from 1 to 5"
    comment = " ".join(comment.split())[:2000] if comment and comment.strip() else None
    if score is None and not wants_call and comment is None:
        errors["score"] = "Choose a number from 1 to 5, or ask for a call"
    if errors:
        raise InvalidInput(errors)
    # Answers to one check-in are taken one at a time (a link posted many times at once).
    check_in = session.exec(
        select(CheckIn)
        .where(CheckIn.id == check_in_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if check_in is None:
        raise NotFound(f"No check-in with id {check_in_id}")
    carer = session.get(Carer, check_in.carer_id)
    now = clock.now()

    if score is not None:
        check_in.score = int(score)
    check_in.wants_call = bool(check_in.wants_call or wants_call)
    if comment is not None:
        check_in.comment = comment
    first_answer = check_in.answered_at is None
    check_in.answered_at = check_in.answered_at or now
    session.add(check_in)

    parts = []
    if check_in.score is not None:
        parts.append(f"{check_in.score} out of 5 ({SCORE_LABELS[check_in.score].lower()})")
    if check_in.wants_call:
        parts.append("would like a call")
    summary = "Check-in answered: " + ", ".join(parts) if parts else "Check-in: comment added"
    _answer_entry(
        session,
        check_in,
        household_id=carer.household_id,
        actor_label=f"carer ({via})"[:60],
        summary=summary[:200],
        now=now,
    )
    audit.record(
        session,
        CHECK_IN_ACTOR,
        AuditAction.UPDATE,
        "check_in",
        check_in.id,
        answered=True,
        via=via,
        first_answer=first_answer,
    )

    task = None
    worrying = (check_in.score is not None and check_in.score <= LOW_SCORE) or check_in.wants_call
    if worrying:
        local_day = now.astimezone(settings.tz if settings else DEFAULT_TZ)
        reason = f"Check-in on {local_day:%d %b %Y}: " + ", ".join(parts)
        carer.at_risk = True
        carer.at_risk_reason = reason[:500]
        session.add(carer)
        title = (
            "Call the carer: they asked for a call"
            if check_in.wants_call
            else f"Call the carer: check-in score {check_in.score} out of 5"
        )
        task = create_task(
            session,
            CHECK_IN_ACTOR,
            kind=TaskKind.CHECK_IN_FOLLOW_UP,
            title=title,
            detail=(reason + (f'\nThey wrote: "{comment}"' if comment else ""))[:2000],
            carer_id=carer.id,
            owner_id=_working_owner(session, carer.supervising_social_worker_id),
            priority=TaskPriority.URGENT,
            due_at=_follow_up_due(settings, now),
            unique_key=f"check_in:{check_in.id}:follow_up",
            commit=False,
        )
        if task is not None:
            check_in.follow_up_task_id = task.id
            session.add(check_in)
            _alert_supervising_social_worker(session, carer, check_in, reason, now)
    session.commit()
    session.refresh(check_in)
    if check_in.wants_call:
        reply = "Thank you. Your supervising social worker will call you within a working day."
    elif worrying:
        reply = (
            "Thank you for telling us. Your supervising social worker will be in touch within "
            "a working day."
        )
    else:
        reply = "Thank you, that's really helpful to know."
    return AnswerResult(check_in=check_in, follow_up_task=task, reply=reply)


def _answer_entry(
    session: Session,
    check_in: CheckIn,
    *,
    household_id: int,
    actor_label: str,
    summary: str,
    now: datetime,
) -> Activity:
    """The check-in's one entry on the timeline, written or brought up to date."""

    def existing() -> Activity | None:
        return session.exec(select(Activity).where(Activity.check_in_id == check_in.id)).first()

    entry = existing()
    if entry is None:
        entry = Activity(
            household_id=household_id,
            kind=ActivityKind.NOTE,
            check_in_id=check_in.id,
            occurred_at=now,
            actor_label=actor_label,
            summary=summary,
            body=check_in.comment,
        )
        try:
            with savepoint(session):
                session.add(entry)
            return entry
        except IntegrityError:  # written a moment ago by the same answer sent twice
            entry = existing()
            if entry is None:
                raise
    entry.occurred_at = now
    entry.actor_label = actor_label
    entry.summary = summary
    entry.body = check_in.comment
    session.add(entry)
    return entry


def _working_owner(session: Session, staff_id: int | None) -> int | None:
    if staff_id is None:
        return None
    staff = session.get(StaffUser, staff_id)
    return staff_id if staff is not None and staff.active else None


def _alert_supervising_social_worker(
    session: Session, carer: Carer, check_in: CheckIn, reason: str, now: datetime
) -> None:
    owner = _working_owner(session, carer.supervising_social_worker_id)
    if owner is None:
        return
    staff = session.get(StaffUser, owner)
    household = session.get(Household, carer.household_id)
    outbox.enqueue_message(
        session,
        channel=Channel.EMAIL,
        recipient=staff.email,
        template="check_in_alert_staff",
        payload={
            "staff_name": staff.name,
            "carer_name": household.display_name if household else f"Carer {carer.id}",
            "household_reference": household.reference if household else "",
            "reason": reason,
            "comment": check_in.comment or "",
        },
        due_at=now,
        unique_key=f"check_in:{check_in.id}:alert:{owner}",
        carer_id=carer.id,
        staff_id=owner,
    )


def handle_callback(
    session: Session,
    settings: Settings | None,
    data: str,
    *,
    chat_id: int | str | None = None,
) -> AnswerResult:
    """Answer a check-in from a Telegram button press. With `chat_id`, the press must come
    from a chat linked to that carer (or their household): NotAllowed otherwise."""
    check_in_id, score, wants_call = parse_callback_data(data)
    check_in = session.get(CheckIn, check_in_id)
    if check_in is None:
        raise NotFound(f"No check-in with id {check_in_id}")
    if chat_id is not None:
        carer = session.get(Carer, check_in.carer_id)
        link = session.exec(
            select(TelegramChatLink).where(TelegramChatLink.chat_id == str(chat_id))
        ).first()
        linked = link is not None and (
            link.carer_id == carer.id or link.household_id == carer.household_id
        )
        if not linked:
            raise NotAllowed("This check-in belongs to someone else")
    return answer_check_in(
        session,
        check_in_id,
        score=score,
        wants_call=wants_call,
        via="telegram",
        settings=settings,
    )


# -- unanswered ------------------------------------------------------------------------------


def flag_unanswered_check_ins(
    session: Session, settings: Settings, now: datetime | None = None
) -> int:
    """A task for the supervising social worker of each carer whose last two check-ins that
    actually reached them went unanswered (the later one at least a week ago). Adds to the
    caller's transaction; returns how many tasks were created."""
    now = now or clock.now()
    ranked = (
        select(
            CheckIn.id,
            CheckIn.carer_id,
            CheckIn.sent_at,
            CheckIn.answered_at,
            sa.func.row_number()
            .over(
                partition_by=CheckIn.carer_id,
                order_by=(CheckIn.sent_at.desc(), CheckIn.id.desc()),
            )
            .label("rank"),
        )
        .join(OutboxMessage, OutboxMessage.id == CheckIn.outbox_message_id)
        .where(OutboxMessage.status == OutboxStatus.SENT)
        .subquery()
    )
    latest: dict[int, list] = {}
    for row in session.execute(
        select(ranked).where(ranked.c.rank <= 2).order_by(ranked.c.carer_id, ranked.c.rank)
    ):
        latest.setdefault(row.carer_id, []).append(row)
    created = 0
    for carer_id, (last, *rest) in latest.items():
        if not rest:
            continue
        before = rest[0]
        if last.answered_at is not None or before.answered_at is not None:
            continue
        if now - last.sent_at < ANSWER_WINDOW:
            continue
        carer = session.get(Carer, carer_id)
        if carer is None or carer.status != "active":
            continue
        if session.get(Household, carer.household_id).anonymised_at is not None:
            continue  # erased: nobody to get in touch with
        task = create_task(
            session,
            CHECK_IN_ACTOR,
            kind=TaskKind.CHECK_IN_FOLLOW_UP,
            title="Get in touch: two check-ins in a row unanswered",
            detail=(
                f"No answer to the check-ins sent on {before.sent_at:%d %b %Y} and "
                f"{last.sent_at:%d %b %Y}. Worth a call to see how things are."
            ),
            carer_id=carer_id,
            owner_id=_working_owner(session, carer.supervising_social_worker_id),
            due_at=_follow_up_due(settings, now),
            unique_key=f"check_in:{last.id}:unanswered_twice",
            commit=False,
        )
        if task is not None:
            created += 1
    return created
