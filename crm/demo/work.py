"""The timeline of what staff did, and the work open today: call-backs and follow-ups."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from crm.demo.households import HouseholdPlan
from crm.demo.words import VISIT_NOTES
from crm.services.enquiries import response_due


class WorkMixin:
    """Activities, response tasks and open work."""

    def _timeline(
        self,
        plan: HouseholdPlan,
        history: list[tuple],
        attempts: list[datetime],
        first_contact: datetime | None,
        by_email: bool,
        rng: random.Random,
    ) -> None:
        officer = plan.officer or self.hub_manager
        label = f"staff:{officer}"

        def activity(kind: str, at: datetime, summary: str, outcome: str | None = None) -> None:
            self.rows.activity(
                id=self.ids.activity(),
                household_id=plan.id,
                kind=kind,
                occurred_at=at,
                actor_id=officer,
                actor_label=label,
                summary=summary,
                body=None,
                call_outcome=outcome,
                conversation_id=None,
                outbox_message_id=None,
                created_at=at,
            )

        for at in attempts:
            if rng.random() < 0.5:
                activity("call", at, "Called: left a voicemail", "voicemail")
            else:
                activity("call", at, "Called: no answer", "no_answer")
        if first_contact is not None:
            if by_email:
                activity("email", first_contact, "Sent the information pack and visit dates")
            else:
                activity(
                    "call", first_contact, f"Spoke to {plan.first_name} about fostering", "spoke"
                )
        previous = None
        for event in history:
            stage, at = event[0], event[1]
            if previous == "on_hold":  # carrying on after a pause is not a new visit or form
                pass
            elif stage == "initial_visit":
                activity("note", at, rng.choice(VISIT_NOTES))
            elif stage == "application":
                activity("email", at, "Application form received")
            previous = stage

    def _response_tasks(
        self,
        plan: HouseholdPlan,
        history: list[tuple],
        attempts: list[datetime],
        first_contact: datetime | None,
        rng: random.Random,
    ) -> None:
        """The call-back task create_enquiry opens, closed by the first contact (or when the
        enquiry closed without one); still open for those not reached yet."""
        area_id = plan.area.id if plan.area else None
        due = response_due(self.settings, plan.enquired_at)
        done_at = first_contact
        if done_at is None and history[-1][0] != "enquiry":
            done_at = history[-1][1]
        self.rows.task(
            id=self.ids.task(),
            kind="respond_to_enquiry",
            title="Call back a new enquirer",
            detail=None,
            household_id=plan.id,
            carer_id=None,
            owner_id=plan.officer,
            area_id=area_id,
            due_at=due,
            done_at=done_at,
            done_by_id=(plan.officer or self.hub_manager) if done_at else None,
            unique_key=None,
            created_by_id=plan.officer if plan.channel == "staff" else None,
            created_at=plan.enquired_at,
        )
        if done_at is None:
            self.current["open_tasks"] += 1
            if attempts:
                second_due = self.calendar.at(
                    self.calendar.add_working(self.calendar.local_date(attempts[-1]), 2), 17 * 60
                )
                self.rows.task(
                    id=self.ids.task(),
                    kind="second_attempt",
                    title="Try the enquirer again",
                    detail="The first call was not answered",
                    household_id=plan.id,
                    carer_id=None,
                    owner_id=plan.officer,
                    area_id=area_id,
                    due_at=second_due,
                    done_at=None,
                    done_by_id=None,
                    unique_key=None,
                    created_by_id=plan.officer,
                    created_at=attempts[-1],
                )
                self.current["open_tasks"] += 1

    def _open_work(self, plan: HouseholdPlan, stage: str, rng: random.Random) -> None:
        """What is on people's lists today for households in assessment."""
        if plan.area is None:
            return
        if stage == "stage_one" and rng.random() < 0.4:
            assessor = rng.choice(plan.area.assessors)
            due_day = self.calendar.next_working(self.as_of + timedelta(days=rng.randint(-4, 14)))
            self.rows.task(
                id=self.ids.task(),
                kind="general",
                title="Chase outstanding references",
                detail=None,
                household_id=plan.id,
                carer_id=None,
                owner_id=assessor,
                area_id=plan.area.id,
                due_at=self.calendar.at(due_day, 17 * 60),
                done_at=None,
                done_by_id=None,
                unique_key=None,
                created_by_id=assessor,
                created_at=self.cutoff - timedelta(days=rng.randint(3, 20)),
            )
            self.current["open_tasks"] += 1
        elif stage == "stage_two" and rng.random() < 0.6:
            assessor = rng.choice(plan.area.assessors)
            earliest = self.tomorrow + timedelta(days=rng.randint(0, 10))
            slot = self.book.take([assessor], earliest, rng, days=21)
            if slot is not None:
                staff, starts, ends = slot
                booked_at = self.cutoff - timedelta(days=rng.randint(2, 20))
                appointment = self._appointment(
                    "assessment_session",
                    "booked",
                    staff,
                    starts,
                    ends,
                    booked_at,
                    plan,
                    by_staff=True,
                )
                appointment["notes"] = "Form F session"
                self.rows.appointment(**appointment)
                self.current["booked_appointments"] += 1
