"""Visits and appointments, booked in the staff's free slots."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from crm.demo.households import HouseholdPlan


class VisitsMixin:
    """Initial visits and carers' appointments, each in a free slot."""

    def _initial_visit(
        self,
        plan: HouseholdPlan,
        events: list[tuple],
        appointments: list[dict[str, Any]],
        first_contact: datetime,
        days: float,
        rng: random.Random,
    ) -> datetime:
        """Book the visit in a free slot of the officer's diary; the stage moves when it is
        done. A few households miss the first date or rearrange it."""
        cal = self.calendar
        planned = cal.later(first_contact, days, rng)
        officers = [plan.officer] + [o for o in plan.area.officers if o != plan.officer]
        booked_at = first_contact
        if rng.random() < 0.07:
            earliest = cal.later(first_contact, 1, rng)
            earlier = self.book.take(officers[:1], earliest, rng, before=min(planned, self.cutoff))
            if earlier is not None:
                staff, starts, ends = earlier
                missed = rng.random() < 0.45
                status = "no_show" if missed else "cancelled"
                cancelled_at = None
                if not missed:
                    cancelled_at = starts - timedelta(days=rng.randint(1, 3))
                    cancelled_at = max(cancelled_at, booked_at + timedelta(minutes=30))
                appointments.append(
                    self._appointment(
                        "initial_visit",
                        status,
                        staff,
                        starts,
                        ends,
                        booked_at,
                        plan,
                        cancelled_at=cancelled_at,
                        cancel_reason=None if missed else "Applicant asked to rearrange",
                    )
                )
                planned = max(planned, cal.later(ends, 3, rng))
        slot = self._slot(officers, planned, rng)
        if slot is None:  # nobody free in weeks: the visit happens, off the diary
            return planned
        staff, starts, ends = slot
        status = "completed" if starts < self.cutoff else "booked"
        appointments.append(
            self._appointment("initial_visit", status, staff, starts, ends, booked_at, plan)
        )
        return ends + timedelta(minutes=rng.randint(10, 90))

    def _slot(
        self, staff: Sequence[int], earliest: datetime, rng: random.Random
    ) -> tuple[int, datetime, datetime] | None:
        """A past slot stays in the past; one that falls on or after `as_of` is booked from
        tomorrow (what happens today is up to the people using the demo)."""
        slot = self.book.take(staff, earliest, rng, before=self.cutoff)
        if slot is None:
            slot = self.book.take(staff, max(earliest, self.tomorrow), rng)
        return slot

    def _appointment(
        self,
        kind: str,
        status: str,
        staff: int,
        starts: datetime,
        ends: datetime,
        booked_at: datetime,
        plan: HouseholdPlan | None,
        carer_id: int | None = None,
        cancelled_at: datetime | None = None,
        cancel_reason: str | None = None,
        by_staff: bool = False,
    ) -> dict[str, Any]:
        # People who enquired by chat book their own visit there; the rest are booked by staff.
        if not by_staff and plan is not None and plan.channel in ("webchat", "telegram"):
            booked_by, label = None, f"assistant:{plan.channel}"
        else:
            booked_by, label = staff, f"staff:{staff}"
        return {
            "kind": kind,
            "status": status,
            "staff_id": staff,
            "household_id": plan.id if carer_id is None and plan else None,
            "carer_id": carer_id,
            "starts_at": starts,
            "ends_at": ends,
            "location": plan.address if plan else None,
            "notes": None,
            "moved_to_id": None,
            "cancelled_at": cancelled_at,
            "cancel_reason": cancel_reason,
            "booked_by_id": booked_by,
            "booked_by_label": label,
            "created_at": min(booked_at, self.cutoff - timedelta(minutes=1)),
            "id": self.ids.appointment(),
        }

    def _carer_appointment(
        self,
        kind: str,
        status: str,
        staff: int,
        starts: datetime,
        ends: datetime,
        plan: HouseholdPlan,
        carer_id: int,
        booked_at: datetime,
    ) -> None:
        appointment = self._appointment(
            kind, status, staff, starts, ends, booked_at, plan, carer_id=carer_id, by_staff=True
        )
        self.rows.appointment(**appointment)
        if status == "booked":
            self.current["booked_appointments"] += 1
