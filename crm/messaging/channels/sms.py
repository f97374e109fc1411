"""Text messages by GOV.UK Notify: sms.txt, to each applicant's UK mobile number.

On when FOSTERCRM_NOTIFY_API_KEY is set (with `notify.sms_template_id`). Consent is its own
scope (`sms`). A number that replied STOP gets nothing more, whoever it belongs to
(`sms_opt_out`); the replies are read from Notify by the scheduler
(crm.scheduler.housekeeping), which records them through crm.services.outbox.record_stop.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, select

from crm.messaging.channels.base import Draft, MessageChannel, Outgoing, Templates
from crm.messaging.channels.notify import NotifySmsSender, TextMessage, reference_for
from crm.models import Applicant, Channel, ConsentScope, OutboxMessage, SmsOptOut
from crm.settings import Settings

CHUNK = 900  # stays under SQLite's limit on bound parameters
STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit"})


def is_uk_mobile(e164: str | None) -> bool:
    # 07 numbers, but not 070 (personal numbers, which forward anywhere) or 076 (pagers).
    return bool(e164) and e164.startswith("+447") and not e164.startswith(("+4470", "+4476"))


def normalise(phone: str) -> str:
    """A number as Notify reports it (447700900123) or as typed, in E.164."""
    digits = "".join(ch for ch in phone if ch.isdigit() or ch == "+")
    if digits.startswith("+"):
        return digits
    if digits.startswith("44"):
        return "+" + digits
    if digits.startswith("0"):
        return "+44" + digits[1:]
    return digits


def is_stop(text: str) -> bool:
    words = "".join(ch if ch.isalnum() else " " for ch in text.lower()).split()
    return bool(words) and words[0] in STOP_WORDS


def render(templates: Templates, draft: Draft) -> Outgoing:
    body = templates.text(draft, "sms.txt")
    content = TextMessage(draft.message.recipient, body, reference_for(draft.message))
    return Outgoing(content, templates.summary(draft))


def available(settings: Settings | None) -> bool:
    return settings is not None and settings.sms_enabled


class MobileNumbers:
    """Each applicant's UK mobile number that has not replied STOP."""

    def __init__(self, session: Session, households: Sequence[int], carers: Sequence[int]) -> None:
        self.by_household: dict[int, list[str]] = defaultdict(list)
        ids = sorted(set(households))
        rows: list[tuple[int, str]] = []
        for start in range(0, len(ids), CHUNK):
            rows += session.exec(
                select(Applicant.household_id, Applicant.phone)
                .where(
                    Applicant.household_id.in_(ids[start : start + CHUNK]),
                    Applicant.phone.is_not(None),
                )
                .order_by(Applicant.household_id, Applicant.position)
            ).all()
        phones = sorted({p for _, p in rows if is_uk_mobile(p)})
        stopped: set[str] = set()
        for start in range(0, len(phones), CHUNK):
            chunk = phones[start : start + CHUNK]
            stopped |= set(session.exec(select(SmsOptOut.phone).where(SmsOptOut.phone.in_(chunk))))
        for household_id, phone in rows:
            known = self.by_household[household_id]
            if is_uk_mobile(phone) and phone not in stopped and phone not in known:
                known.append(phone)

    def of(self, household_id: int, carer_id: int | None = None) -> list[str]:
        return list(self.by_household.get(household_id, []))


def opted_out(session: Session, phone: str) -> str | None:
    if session.get(SmsOptOut, normalise(phone)) is not None:
        return "the person replied STOP to our text messages"
    return None


def record_opt_out(session: Session, phone: str, now: datetime) -> bool:
    """In the caller's transaction; False when the number had already opted out."""
    phone = normalise(phone)
    if session.get(SmsOptOut, phone) is not None:
        return False
    session.add(SmsOptOut(phone=phone, opted_out_at=now))
    return True


def households_at(session: Session, phone: str) -> list[int]:
    return sorted(
        set(
            session.exec(
                select(Applicant.household_id).where(Applicant.phone == normalise(phone))
            ).all()
        )
    )


def already_sent(settings: Settings, message: OutboxMessage) -> str | None:
    from crm.messaging.channels.notify import notification_for

    return notification_for(settings, message)


SMS = MessageChannel(
    channel=Channel.SMS,
    parts=("sms.txt",),
    label="Text message",
    render=render,
    sender=NotifySmsSender,
    consent=ConsentScope.SMS,
    available=available,
    addresses=MobileNumbers,
    opted_out=opted_out,
    record_opt_out=record_opt_out,
    households_at=households_at,
    already_sent=already_sent,
)
