"""Approved carers: their record, terms of approval, placements, supervision, check-ins
and what follows an answer, and deregistrations."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta

from crm.demo.chance import lognormal
from crm.demo.households import HouseholdPlan
from crm.demo.shape import ON_BREAK_SHARE
from crm.demo.words import CHECK_IN_COMMENTS
from crm.models import (
    Household,
)
from crm.services.checkins import LOW_SCORE, SCORE_LABELS
from crm.services.pipeline import new_carer_record
from crm.workdays import add_office_days


def due_rule(kinship: bool) -> tuple[relativedelta, relativedelta]:
    """The pipeline's rule for a new carer's annual review and TSD dates, as offsets from
    approval (building a record per carer costs more than all the rest of the carer)."""
    approved_on = date(2001, 1, 15)
    record = new_carer_record(Household(id=0, is_kinship=kinship), approved_on)
    return (
        relativedelta(record.annual_review_due, approved_on),
        relativedelta(record.tsd_due, approved_on),
    )


class CarersMixin:
    """Carers after approval."""

    def _carer(self, plan: HouseholdPlan, approved_at: datetime, history: list[tuple]) -> None:
        rng = self.rng_carers
        cal = self.calendar
        carer_id = self.ids.carer()
        approved_on = approved_at.date()
        # The due dates rule is the pipeline's (annual review, TSD by 12 or 18 months).
        review_after, tsd_after = self.due_rules[plan.kinship]
        dereg = next((e for e in history if e[0] == "deregistered"), None)
        end_at = dereg[1] if dereg else self.cutoff
        end_day = cal.local_date(end_at)
        places, age_min, age_max, types, specialisms = self._terms(plan.kinship, rng)
        status, status_changed_at = "active", approved_at
        if dereg:
            status, status_changed_at = "deregistered", dereg[1]
        elif (self.cutoff - approved_at).days > 180 and rng.random() < ON_BREAK_SHARE:
            status = "on_break"
            status_changed_at = cal.office_moment(
                self.as_of - timedelta(days=rng.randint(10, 150)), rng
            )
            if status_changed_at >= self.cutoff:
                status, status_changed_at = "active", approved_at
        self.carer_status[status] += 1
        placement_end = cal.local_date(status_changed_at) if status == "on_break" else end_day
        supervisor = rng.choice(plan.area.supervisors)

        # Annual reviews held most years; a few are overdue.
        review_due = approved_on + review_after
        while review_due <= self.as_of and rng.random() < 0.93:
            review_due += relativedelta(years=1)
        tsd_due = approved_on + tsd_after
        tsd_done = None
        months = 18 if plan.kinship else 12
        if rng.random() < (0.88 if tsd_due <= self.as_of else 0.45):
            candidate = approved_on + timedelta(days=rng.randint(90, months * 30 - 10))
            if candidate < min(self.as_of, end_day):
                tsd_done = candidate

        last_supervision = self._supervision(
            carer_id, plan, supervisor, status, approved_at, end_at, rng
        )
        worrying = self._check_ins(plan, carer_id, supervisor, approved_at, end_at, dereg, rng)
        # A worrying answer flags the carer; their social worker clears it once things settle,
        # so only recent ones still show.
        at_risk_reason = None
        recent = [w for w in worrying if w[0] >= self.cutoff - timedelta(days=75)]
        if recent and status != "deregistered":
            at_risk_reason = recent[-1][1][:500]
        self.rows.carer(
            id=carer_id,
            household_id=plan.id,
            approved_on=approved_on,
            places=places,
            age_min=age_min,
            age_max=age_max,
            fostering_types=types,
            specialisms=specialisms,
            is_family_and_friends=plan.kinship,
            supervising_social_worker_id=supervisor,
            annual_review_due=review_due,
            tsd_due=tsd_due,
            tsd_completed_on=tsd_done,
            last_supervision_at=last_supervision,
            status=status,
            status_changed_at=status_changed_at,
            deregistered_on=dereg[1].date() if dereg else None,
            deregistration_reason_code=dereg[4] if dereg else None,
            deregistration_reason_text=dereg[5] if dereg else None,
            at_risk=at_risk_reason is not None,
            at_risk_reason=at_risk_reason,
            created_at=approved_at,
        )
        self.placing_ages = (age_min, min(age_max, 17) if age_min <= 17 else age_max)
        self._placements(
            plan, carer_id, approved_on, placement_end, places, types, status, dereg, rng
        )
        self._support(
            carer_id, supervisor, approved_on, end_day, last_supervision, review_due, tsd_done,
            places, age_min, age_max, types,
        )  # fmt: skip
        if (
            status == "active"
            and review_due <= self.as_of + timedelta(days=30)
            and rng.random() < 0.6
        ):
            slot = self.book.take([supervisor], self.tomorrow, rng, days=28)
            if slot is not None:
                staff, starts, ends = slot
                booked_at = max(approved_at, self.cutoff - timedelta(days=14))
                self._carer_appointment(
                    "annual_review", "booked", staff, starts, ends, plan, carer_id, booked_at
                )

    def _terms(
        self, kinship: bool, rng: random.Random
    ) -> tuple[int, int, int, list[str], list[str]]:
        """Approval terms: places, age range, types of fostering, specialisms."""
        if kinship:
            places = 1 if rng.random() < 0.8 else 2
            types = ["long_term"] if rng.random() < 0.7 else ["short_term", "long_term"]
            return places, 0, 17, types, []
        places = rng.choices((1, 2, 3), weights=(40, 45, 15))[0]
        age_min, age_max = rng.choices(
            ((0, 4), (0, 10), (0, 17), (5, 17), (11, 17), (0, 2), (16, 21)),
            weights=(12, 20, 28, 15, 15, 5, 5),
        )[0]
        types = []
        for value, chance in (
            ("emergency", 0.3),
            ("short_term", 0.85),
            ("long_term", 0.55),
            ("short_breaks", 0.25),
            ("parent_and_child", 0.06),
            ("remand", 0.04 if age_max >= 12 else 0.0),
            ("staying_put", 0.4 if age_max >= 18 else 0.0),
            ("specialist", 0.08),
        ):
            if rng.random() < chance:
                types.append(value)
        if not types:
            types.append("short_term")
        specialisms = []
        if age_max >= 15 and rng.random() < 0.45:
            specialisms.append("teenagers")
        if places >= 2 and rng.random() < 0.4:
            specialisms.append("sibling_groups")
        if "specialist" in types or rng.random() < 0.08:
            specialisms.append("disability")
        if "parent_and_child" in types:
            specialisms.append("parent_and_child")
        if age_max >= 14 and rng.random() < 0.08:
            specialisms.append("unaccompanied_asylum_seeking_children")
        return places, age_min, age_max, types, specialisms

    def _placements(
        self,
        plan: HouseholdPlan,
        carer_id: int,
        approved_on: date,
        end_day: date,
        places: int,
        types: list[str],
        status: str,
        dereg: tuple | None,
        rng: random.Random,
    ) -> None:
        durations = {
            "emergency": (10, 0.6, 1, 40),
            "short_term": (160, 0.7, 20, 700),
            "long_term": (900, 0.6, 200, 4000),
            "short_breaks": (4, 0.5, 2, 14),
            "parent_and_child": (100, 0.3, 60, 200),
            "remand": (60, 0.5, 7, 200),
            "staying_put": (500, 0.4, 120, 1100),
            "specialist": (400, 0.6, 60, 2000),
        }
        last_day = self.as_of - timedelta(days=1)
        for place in range(places):
            if plan.kinship and place == 0:
                # The child they were already caring for, placed before approval.
                start = plan.enquired_at.date()
                kinds = ["long_term"]
            else:
                start = approved_on + timedelta(days=int(lognormal(rng, (35, 0.8, 0, 300))))
                kinds = types
            while start < min(end_day, last_day):
                kind = rng.choice(kinds)
                ends = start + timedelta(days=int(lognormal(rng, durations[kind])))
                ended_on = ends if ends <= last_day else None
                if ended_on is None or ended_on > end_day:
                    # Open at the end: a break or deregistration ends every placement.
                    ended_on = end_day if status != "active" else None
                placement_id = self.ids.placement()
                self.rows.placement(
                    id=placement_id,
                    carer_id=carer_id,
                    # A case-system number, never a child's name.
                    child_reference=f"{plan.area.spec.code}-{placement_id + 100000:07d}",
                    fostering_type=kind,
                    started_on=start,
                    ended_on=ended_on,
                    created_at=self.calendar.at(start, 12 * 60),
                    **self._placement_details(plan.area.spec.name, start, ended_on),
                )
                if ended_on is None or plan.kinship and place == 0:
                    break
                start = ended_on + timedelta(days=int(lognormal(rng, (30, 0.9, 1, 365))))
                if status == "deregistered" and dereg[4] == "special_guardianship":
                    break

    def _supervision(
        self,
        carer_id: int,
        plan: HouseholdPlan,
        supervisor: int,
        status: str,
        approved_at: datetime,
        end_at: datetime,
        rng: random.Random,
    ) -> datetime | None:
        """The last supervision visit (done, in the diary), and for some the next one."""
        cal = self.calendar
        first_visit = approved_at + timedelta(days=3)
        if status == "deregistered":
            moment = cal.office_moment(
                cal.local_date(end_at) - timedelta(days=rng.randint(10, 60)), rng
            )
            return moment if first_visit <= moment < end_at else None
        overdue = rng.random() < 0.1
        back = rng.randint(45, 90) if overdue else rng.randint(5, 38)
        earliest = max(cal.at(self.as_of - timedelta(days=back), 0), first_visit)
        last = None
        if earliest < self.cutoff:
            slot = self.book.take([supervisor], earliest, rng, days=back, before=self.cutoff)
            if slot is not None:
                staff, starts, last = slot
                booked_at = max(approved_at, starts - timedelta(days=14))
                self._carer_appointment(
                    "supervision_visit", "completed", staff, starts, last, plan, carer_id, booked_at
                )
        if status == "active" and rng.random() < 0.35:
            upcoming = self.book.take([supervisor], self.tomorrow, rng, days=21)
            if upcoming is not None:
                staff, starts, ends = upcoming
                booked_at = max(approved_at, self.cutoff - timedelta(days=rng.randint(1, 20)))
                self._carer_appointment(
                    "supervision_visit", "booked", staff, starts, ends, plan, carer_id, booked_at
                )
        return last

    def _check_in_channel(
        self, plan: HouseholdPlan, carer_id: int, approved_at: datetime, rng: random.Random
    ) -> tuple[str, list[str]]:
        """How check-ins reach this carer, chosen as outbox.reachable_recipients would: their
        preferred channel if they agreed to it. Signing the foster carer agreement at approval
        records the consent, and some move to Telegram for the one-tap answers."""
        preferred = plan.preferred_channel
        if plan.emails and not (preferred == "telegram" and plan.telegram_chat):
            channel = "telegram" if rng.random() < 0.12 else "email"
        else:
            channel = "telegram"
        if channel == "telegram":
            plan.preferred_channel = "telegram"
            if plan.telegram_chat is None:
                plan.telegram_chat = str(600_000_000 + plan.id)
                self.rows.telegram_chat_link(
                    id=self.ids.telegram_chat_link(),
                    chat_id=plan.telegram_chat,
                    household_id=plan.id,
                    carer_id=carer_id,
                    linked_at=approved_at + timedelta(days=2),
                    opted_out_at=None,
                )
        elif preferred == "telegram":
            plan.preferred_channel = "email"
        if channel not in plan.consented:
            plan.consented.add(channel)
            label = "Telegram" if channel == "telegram" else "email"
            self.rows.consent(
                id=self.ids.consent(),
                household_id=plan.id,
                scope=channel,
                granted=True,
                wording=f"Foster carer agreement: you may contact us by {label} about support "
                "and check-ins.",
                via="carer_agreement",
                recorded_at=approved_at,
                recorded_by_id=None,
            )
        recipients = plan.emails if channel == "email" else [plan.telegram_chat]
        return channel, list(dict.fromkeys(recipients))

    def _check_ins(
        self,
        plan: HouseholdPlan,
        carer_id: int,
        supervisor: int,
        approved_at: datetime,
        end_at: datetime,
        dereg: tuple | None,
        rng: random.Random,
    ) -> list[tuple[datetime, str]]:
        """Retention check-ins through the outbox, as crm.services.checkins writes them:
        monthly in the first year, then every six weeks (the settings' cadence), about two in
        three answered. Carers who leave unhappy score lower as the end nears, which is what
        the at-risk flag looks for. Returns (answered at, at-risk reason) of worrying answers."""
        cal = self.calendar
        reminders = self.settings.reminders
        mood = rng.gauss(3.9, 0.5)
        unhappy = dereg is not None and dereg[4] in ("unhappy_with_support", "burnout")
        channel, recipients = self._check_in_channel(plan, carer_id, approved_at, rng)
        worrying = []
        sent_day = cal.local_date(approved_at)
        first_year_end = sent_day + timedelta(days=365)
        stop = min(end_at, self.cutoff)
        while True:
            first_year = sent_day < first_year_end
            step = (
                reminders.checkin_first_year_every_days
                if first_year
                else reminders.checkin_every_days
            )
            sent_day += timedelta(days=step)
            sent_at = cal.at(sent_day, 10 * 60)
            if sent_at >= stop:
                break
            check_in_id = self.ids.check_in()
            key = f"checkin:{carer_id}:{sent_day.isoformat()}"
            outbox_ids = []
            for address in recipients:
                outbox_id = self.ids.outbox_message()
                outbox_ids.append(outbox_id)
                self.rows.outbox_message(
                    id=outbox_id,
                    channel=channel,
                    recipient=address,
                    template="check_in",
                    payload={
                        "check_in_id": check_in_id,
                        "reason": "first_year" if first_year else "regular",
                        "greeting_name": plan.greeting,
                    },
                    due_at=sent_at,
                    unique_key=f"{key}:{channel}:{address}",
                    status="sent",
                    attempts=1,
                    next_attempt_at=None,
                    claimed_by=None,
                    claimed_until=None,
                    provider_message_id=f"demo-{outbox_id}",
                    error=None,
                    sent_at=sent_at,
                    household_id=None,
                    carer_id=carer_id,
                    staff_id=None,
                    created_at=sent_at,
                )
            answered_at = score = comment = task_id = None
            wants_call = False
            if rng.random() < 0.65:
                answered_at = sent_at + timedelta(minutes=rng.randint(20, 4 * 24 * 60))
                if answered_at.astimezone(cal.tz).hour < 7:  # people answer when awake
                    answered_at += timedelta(hours=8)
                if answered_at >= stop:
                    answered_at = None
            if answered_at is not None:
                level = mood
                if unhappy:
                    months_left = (end_at - sent_at).days / 30
                    level -= max(0.0, 2.2 - 0.35 * months_left)
                score = min(5, max(1, round(rng.gauss(level, 0.8))))
                band = "low" if score <= LOW_SCORE else ("high" if score == 5 else "mid")
                if band == "low" or rng.random() < 0.25:
                    comment = rng.choice(CHECK_IN_COMMENTS[band])
                wants_call = rng.random() < (0.4 if score <= LOW_SCORE else 0.04)
                parts = [f"{score} out of 5 ({SCORE_LABELS[score].lower()})"]
                if wants_call:
                    parts.append("would like a call")
                self.rows.activity(
                    id=self.ids.activity(),
                    household_id=plan.id,
                    kind="note",
                    occurred_at=answered_at,
                    actor_id=None,
                    actor_label=f"carer ({channel})",
                    summary="Check-in answered: " + ", ".join(parts),
                    body=comment,
                    call_outcome=None,
                    conversation_id=None,
                    outbox_message_id=None,
                    created_at=answered_at,
                )
                if score <= LOW_SCORE or wants_call:
                    local_day = cal.local_date(answered_at)
                    reason = f"Check-in on {local_day:%d %b %Y}: " + ", ".join(parts)
                    task_id = self._follow_up(
                        plan,
                        carer_id,
                        check_in_id,
                        supervisor,
                        answered_at,
                        reason,
                        comment,
                        None if wants_call else score,
                        rng,
                    )
                    worrying.append((answered_at, reason))
            self.rows.check_in(
                id=check_in_id,
                carer_id=carer_id,
                channel=channel,
                sent_at=sent_at,
                outbox_message_id=outbox_ids[0],
                answered_at=answered_at,
                score=score,
                wants_call=wants_call,
                comment=comment,
                follow_up_task_id=task_id,
                unique_key=key,
            )
        return worrying

    def _follow_up(
        self,
        plan: HouseholdPlan,
        carer_id: int,
        check_in_id: int,
        supervisor: int,
        answered_at: datetime,
        reason: str,
        comment: str | None,
        score: int | None,
        rng: random.Random,
    ) -> int:
        """The task answer_check_in gives the supervising social worker: urgent, due within a
        working day; most are done by now."""
        service = self.settings.service
        due = add_office_days(
            answered_at, 1, self.calendar.tz, service.office_hours_start, service.office_hours_end
        )
        done_at = None
        if due < self.cutoff and rng.random() < 0.9:
            done_at = min(self.calendar.later(answered_at, rng.randint(0, 1), rng), due)
        task_id = self.ids.task()
        self.rows.task(
            id=task_id,
            kind="check_in_follow_up",
            title="Call the carer: they asked for a call"
            if score is None
            else f"Call the carer: check-in score {score} out of 5",
            detail=(reason + (f'\nThey wrote: "{comment}"' if comment else ""))[:2000],
            household_id=None,
            carer_id=carer_id,
            owner_id=supervisor,
            area_id=plan.area.id,
            priority="urgent",
            due_at=due,
            done_at=done_at,
            done_by_id=supervisor if done_at else None,
            unique_key=f"check_in:{check_in_id}:follow_up",
            created_by_id=None,
            created_at=answered_at,
        )
        if done_at is None:
            self.current["open_tasks"] += 1
        return task_id
