"""Stage histories: the chain of stage events move_stage would have written, with holds,
withdrawals and not-progressed decisions, for regular and kinship households."""

from __future__ import annotations

import heapq
import random
from datetime import datetime, timedelta
from typing import Any

from crm.demo.chance import lognormal
from crm.demo.households import HouseholdPlan
from crm.demo.shape import (
    APPLICATION_PASS,
    CALIBRATION,
    DEREGISTRATION_PER_YEAR,
    DROP_DAYS,
    DURATIONS,
    HOLD_CHANCE,
    HOLD_DAYS,
    KINSHIP_DURATIONS,
    KINSHIP_PASS,
    KINSHIP_VISIT,
    NOT_PROGRESSED_SHARE,
    PANEL_PASS,
    SOURCES,
    STAGE_ONE_PASS,
)


class PipelineMixin:
    """Each household's stage events."""

    def _leave_event(
        self, stage: str, actor: int | None, at: datetime, code: str, rng: random.Random
    ) -> tuple:
        label = f"staff:{actor}" if actor else "system:demo"
        return (stage, at, actor, label, code, self.reason_text(code, rng))

    def _triage_history(
        self,
        events: list[tuple],
        first_contact: datetime | None,
        attempts: list[datetime],
        district: str,
        rng: random.Random,
    ) -> None:
        """Outside every area: the hub tells them who to contact and closes the enquiry."""
        actor = self.hub_manager
        if first_contact is None:
            at = self.calendar.later(attempts[-1], rng.randint(7, 14), rng)
            events.append(self._leave_event("withdrawn", actor, at, "no_response", rng))
            return
        at = self.calendar.later(first_contact, rng.randint(0, 3), rng)
        code = "out_of_area" if "out_of_area" in self.reasons["not_progressed"] else None
        if code is None:
            code = self._reason_choices[("not_progressed", "enquiry")](rng)
        text = f"Lives in {district}: passed to their local fostering service"
        events.append(("not_progressed", at, actor, f"staff:{actor}", code, text))

    def _drop(
        self,
        plan: HouseholdPlan,
        events: list[tuple],
        stage: str,
        since: datetime,
        actor: int | None,
        rng: random.Random,
    ) -> None:
        at = self.calendar.later(since, lognormal(rng, DROP_DAYS[stage]), rng)
        if rng.random() < NOT_PROGRESSED_SHARE[stage]:
            code = self._reason_choices[("not_progressed", stage)](rng)
            events.append(self._leave_event("not_progressed", actor, at, code, rng))
        else:
            code = self._reason_choices[("withdrawn", stage)](rng)
            events.append(self._leave_event("withdrawn", actor, at, code, rng))

    def _advance(
        self,
        events: list[tuple],
        stage: str,
        next_stage: str,
        since: datetime,
        days: float,
        actor: int | None,
        passes: bool,
        plan: HouseholdPlan,
        rng: random.Random,
    ) -> datetime | None:
        """One stage: perhaps a pause, then on to `next_stage` or out. Returns when the
        household reached `next_stage`, or None when it left the funnel."""
        label = f"staff:{actor}" if actor else "system:demo"
        if stage in ("application", "stage_one", "stage_two") and rng.random() < HOLD_CHANCE:
            hold_at = self.calendar.later(since, days * rng.uniform(0.15, 0.6), rng)
            code = self.choose_on_hold(rng)
            events.append(("on_hold", hold_at, actor, label, code, self.reason_text(code, rng)))
            back_at = self.calendar.later(hold_at, rng.uniform(*HOLD_DAYS), rng)
            if not passes and rng.random() < 0.5:
                code = self._reason_choices[("withdrawn", "on_hold")](rng)
                events.append(self._leave_event("withdrawn", actor, back_at, code, rng))
                return None
            events.append((stage, back_at, actor, label, None, "Ready to carry on"))
            # The clock was paused: what was left of the stage runs from the return.
            days = max(1.0, days - (hold_at - since).days)
            since = back_at
        if not passes:
            self._drop(plan, events, stage, since, actor, rng)
            return None
        at = self.calendar.later(since, days, rng)
        events.append((next_stage, at, actor, label, None, None))
        return at

    def _regular_history(
        self,
        plan: HouseholdPlan,
        events: list[tuple],
        appointments: list[dict[str, Any]],
        first_contact: datetime,
        response_multiplier: float,
        rng: random.Random,
    ) -> None:
        officer = plan.officer
        visit_chance = min(
            0.95,
            CALIBRATION["visit_base"] * SOURCES[plan.source][1] * response_multiplier,
        )
        if rng.random() >= visit_chance:
            self._drop(plan, events, "enquiry", first_contact, officer, rng)
            return
        days = lognormal(rng, DURATIONS["enquiry"])
        at = self._initial_visit(plan, events, appointments, first_contact, days, rng)
        events.append(("initial_visit", at, officer, f"staff:{officer}", None, None))

        assessor = rng.choice(plan.area.assessors)
        steps = [
            ("initial_visit", "application", officer, CALIBRATION["apply_after_visit"]),
            ("application", "stage_one", assessor, APPLICATION_PASS),
            ("stage_one", "stage_two", assessor, STAGE_ONE_PASS),
            ("stage_two", "panel", assessor, CALIBRATION["stage_two_pass"]),
            ("panel", "approved", plan.area.manager, PANEL_PASS),
        ]
        for stage, next_stage, actor, chance in steps:
            days = lognormal(rng, DURATIONS[stage])
            passes = rng.random() < chance
            at = self._advance(events, stage, next_stage, at, days, actor, passes, plan, rng)
            if at is None:
                return
        self._after_approval(plan, events, at, rng)

    def _kinship_history(
        self,
        plan: HouseholdPlan,
        events: list[tuple],
        appointments: list[dict[str, Any]],
        first_contact: datetime,
        rng: random.Random,
    ) -> None:
        """A connected person: a child already lives with them, so assessment starts at once
        (stage one, the application skipped), sometimes after an initial visit."""
        officer = plan.officer
        assessor = rng.choice(plan.area.assessors)
        k = KINSHIP_PASS
        at = first_contact
        stage = "enquiry"
        if rng.random() < KINSHIP_VISIT:
            if rng.random() >= k["visit_to_iv"]:
                self._drop(plan, events, "enquiry", at, officer, rng)
                return
            days = lognormal(rng, KINSHIP_DURATIONS["enquiry"])
            at = self._initial_visit(plan, events, appointments, at, days, rng)
            events.append(("initial_visit", at, officer, f"staff:{officer}", None, None))
            stage, chance = "initial_visit", k["iv_to_stage_one"]
        else:
            chance = k["enquiry_to_stage_one"]
        steps = [
            (stage, "stage_one", assessor, chance),
            ("stage_one", "stage_two", assessor, k["stage_one"]),
            ("stage_two", "panel", assessor, k["stage_two"]),
            ("panel", "approved", plan.area.manager, k["panel"]),
        ]
        for stage, next_stage, actor, chance in steps:
            days = lognormal(rng, KINSHIP_DURATIONS[stage])
            passes = rng.random() < chance
            at = self._advance(events, stage, next_stage, at, days, actor, passes, plan, rng)
            if at is None:
                return
        self._after_approval(plan, events, at, rng)

    def _after_approval(
        self, plan: HouseholdPlan, events: list[tuple], approved_at: datetime, rng: random.Random
    ) -> None:
        if approved_at >= self.cutoff:
            return
        heapq.heappush(self.approved_pool, (approved_at, plan.id))
        years = rng.expovariate(DEREGISTRATION_PER_YEAR)
        notice = approved_at + timedelta(days=years * 365.25)
        ends = notice + timedelta(days=28)  # approval ends 28 days after written notice
        if ends < self.cutoff:
            ends = self.calendar.office_moment(self.calendar.local_date(ends), rng, approved_at)
            if ends < self.cutoff:
                code = self.choose_dereg(rng)
                notice_day = self.calendar.local_date(notice)
                text = (
                    f"{self.reason_text(code, rng) or 'Gave notice'}. Written notice received "
                    f"{notice_day.day} {notice_day:%B %Y}; approval ended 28 days later."
                )
                actor = plan.area.manager
                events.append(("deregistered", ends, actor, f"staff:{actor}", code, text))

    def _count_reached(self, history: list[tuple], kinship: bool) -> None:
        furthest = -1
        for event in history:
            index = _FUNNEL_INDEX.get(event[0], -1)
            if index > furthest:
                furthest = index
        reached = self.reached
        for stage in _FUNNEL[: furthest + 1]:
            reached[stage] += 1


_FUNNEL = ("enquiry", "initial_visit", "application", "stage_one", "stage_two", "panel", "approved")
_FUNNEL_INDEX = {stage: index for index, stage in enumerate(_FUNNEL)}
