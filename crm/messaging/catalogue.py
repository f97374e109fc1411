"""Every message we send, declared once: who it is for, whether it waits for the end of quiet
hours, which channels may carry it, and its templates. The outbox (who may be sent what,
what may go at night), the renderer (calendar invites), the dispatcher (which channels) and the
subject access document (what each message was) all read this table, so a new message is
one entry here plus its folder in config/templates/.

A template folder config/templates/<folder>/ holds one set of files per channel (the channel
module says which: email has subject.txt, email.txt and optionally email.html; Telegram has
telegram.txt). tests/crm/messaging/test_catalogue.py checks that each entry has the files of
every channel it allows, and that every template folder and every template the code queues
has an entry.

A name that is not here (a message written by hand, or a typo) is treated as a message to the
public with no restriction on channel, so it waits for consent and quiet hours and then fails
loudly at rendering: its template is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from crm.models import Channel


class Audience(StrEnum):
    PUBLIC = "public"  # a household or a carer: consent, opt-outs and quiet hours apply
    STAFF = "staff"  # our staff or managers: no consent check, no quiet hours


class QuietHours(StrEnum):
    WAIT = "wait"  # held until quiet hours end
    GO = "go"  # sent at once, night or day


EMAIL_ONLY = frozenset({Channel.EMAIL})
EMAIL_AND_TELEGRAM = frozenset({Channel.EMAIL, Channel.TELEGRAM})
# Text messages are for what is worth a text: visits (reminders, confirmations, cancellations).
EMAIL_TELEGRAM_AND_SMS = EMAIL_AND_TELEGRAM | {Channel.SMS}


@dataclass(frozen=True)
class Template:
    name: str
    audience: Audience
    quiet_hours: QuietHours
    # The channels that may carry it; None: any (a name the catalogue does not know).
    channels: frozenset[Channel] | None
    # config/templates/<folder>/; None when the body is built in code (the weekly report).
    folder: str | None
    # The visit's calendar entry travels with the email (crm.messaging.calendar).
    calendar_invite: bool = False
    # A notice that a visit was cancelled: sent while the visit is cancelled, not booked.
    cancels_visit: bool = False
    # What the message was, in the person's words (their subject access document).
    described: str | None = None

    def allows(self, channel: Channel | str) -> bool:
        return self.channels is None or channel in self.channels

    @property
    def for_public(self) -> bool:
        return self.audience == Audience.PUBLIC

    @property
    def waits_in_quiet_hours(self) -> bool:
        return self.quiet_hours == QuietHours.WAIT


def public(
    name: str,
    *,
    described: str | None = None,
    channels: frozenset[Channel] = EMAIL_AND_TELEGRAM,
    quiet_hours: QuietHours = QuietHours.WAIT,
    calendar_invite: bool = False,
    cancels_visit: bool = False,
) -> Template:
    """A message to a household or a carer: consent, opt-outs and (unless `quiet_hours` says
    GO) quiet hours apply."""
    return Template(
        name=name,
        audience=Audience.PUBLIC,
        quiet_hours=quiet_hours,
        channels=channels,
        folder=name,
        calendar_invite=calendar_invite,
        cancels_visit=cancels_visit,
        described=described,
    )


def staff(
    name: str,
    *,
    described: str | None = None,
    channels: frozenset[Channel] = EMAIL_ONLY,
    built_in_code: bool = False,
    calendar_invite: bool = False,
    cancels_visit: bool = False,
) -> Template:
    """A message to our staff: no consent check, and it goes in quiet hours."""
    return Template(
        name=name,
        audience=Audience.STAFF,
        quiet_hours=QuietHours.GO,
        channels=channels,
        folder=None if built_in_code else name,
        calendar_invite=calendar_invite,
        cancels_visit=cancels_visit,
        described=described,
    )


WEEKLY_REPORT = "weekly_funnel_report"

TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        # -- visits ---------------------------------------------------------------------------
        public(
            "visit_reminder",
            described="Visit reminder",
            calendar_invite=True,
            channels=EMAIL_TELEGRAM_AND_SMS,
        ),
        # Answers what the person has just done (a booking in the chat): they are waiting
        # for it, so it goes at once even late in the evening.
        public(
            "visit_confirmation",
            described="Visit confirmation",
            quiet_hours=QuietHours.GO,
            calendar_invite=True,
            channels=EMAIL_TELEGRAM_AND_SMS,
        ),
        public(
            "visit_cancelled",
            calendar_invite=True,
            cancels_visit=True,
            channels=EMAIL_TELEGRAM_AND_SMS,
        ),
        staff(
            "visit_reminder_staff",
            described="Reminder to our staff about your visit",
            calendar_invite=True,
        ),
        staff("visit_cancelled_staff", calendar_invite=True, cancels_visit=True),
        # -- enquiries and the pipeline -------------------------------------------------------
        public("enquiry_sorry_for_the_wait", described="Sorry for the wait"),
        staff(
            "enquiry_response_overdue_staff",
            described="Reminder to our staff: reply to your enquiry",
        ),
        staff(
            "initial_visit_not_offered_staff",
            described="Reminder to our staff: offer you an initial visit",
        ),
        public("stalled_case_nudge", described="Checking in about your application"),
        staff("panel_timescale_alert", described="Alert to our staff: the panel timescale"),
        # -- panel and the agency decision (crm.services.panel) --------------------------------
        public("panel_date_set", described="Your panel date: what happens next"),
        public("panel_decision_approved", described="The agency decision: you are approved"),
        public("panel_decision_not_approved", described="The agency decision, in writing"),
        staff("panel_papers_due_staff", described="Reminder to our staff: your panel papers"),
        staff(
            "panel_decision_due_staff",
            described="Reminder to our decision maker: the decision after your panel",
        ),
        # -- the assessment -------------------------------------------------------------------
        staff("check_overdue_staff", described="Reminder to our staff: chase one of your checks"),
        staff(
            "member_turning_18_staff",
            described="Reminder to our staff: a child in your household turns 18 (DBS check)",
        ),
        # -- carers ---------------------------------------------------------------------------
        public("check_in", described="Check-in: how things are going"),
        staff(
            "check_in_alert_staff",
            described="Alert to your supervising social worker about your check-in",
        ),
        staff(
            "annual_review_due_staff",
            described="Reminder to our staff: your annual review is due",
        ),
        public("tsd_reminder", described="Reminder: your TSD standards"),
        staff("tsd_due_staff", described="Reminder to our staff: your TSD standards are due"),
        staff(
            "supervision_overdue_staff",
            described="Reminder to our staff: a supervision visit is due",
        ),
        # -- safeguarding and reports ---------------------------------------------------------
        staff("safeguarding_alert_staff", described="Safeguarding alert to our managers"),
        # Built by the funnel report at send time (crm.messaging.dispatcher), not a folder.
        staff(WEEKLY_REPORT, built_in_code=True),
    )
}


def template(name: str) -> Template:
    """The catalogue entry for `name`; a name we do not know reads as a public message that
    any channel may carry (see the module docstring)."""
    known = TEMPLATES.get(name)
    if known is not None:
        return known
    return Template(
        name=name,
        audience=Audience.PUBLIC,
        quiet_hours=QuietHours.WAIT,
        channels=None,
        folder=name,
    )


def staff_templates() -> frozenset[str]:
    return frozenset(n for n, t in TEMPLATES.items() if not t.for_public)


def sent_in_quiet_hours() -> frozenset[str]:
    """The templates that go during quiet hours: staff messages and the exempt public ones."""
    return frozenset(n for n, t in TEMPLATES.items() if not t.waits_in_quiet_hours)


def cancellation_notices() -> frozenset[str]:
    return frozenset(n for n, t in TEMPLATES.items() if t.cancels_visit)


def descriptions() -> dict[str, str]:
    """What each message was, in the person's words, where we have put it in words."""
    return {n: t.described for n, t in TEMPLATES.items() if t.described}
