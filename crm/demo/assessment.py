"""Households in assessment (stage one and two, panel, or paused from them): their members and
pets, an assessing social worker, the checks in varied states (received with each outcome,
requested and waiting, some past their target, some not yet asked for), Skills to Foster and
the Form F's progress. From a stream of its own, so the rest of the demo stays as it was."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from crm.demo.words import FEMALE_NAMES, MALE_NAMES, SURNAMES
from crm.services import checks
from crm.services.assessment import SKILLS_TO_FOSTER, form_f_sections

ASSESSED = frozenset({"stage_one", "stage_two", "panel"})


def _age(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class AssessmentMixin:
    def _assessment(
        self,
        plan: Any,
        applicants: list[dict[str, Any]],
        stage: str,
        held_from: str | None,
        entered: Any,
    ) -> None:
        at = held_from if stage == "on_hold" else stage
        if at not in ASSESSED or plan.area is None:
            return
        rng: random.Random = self.rng_assessment
        today: date = self.as_of - timedelta(days=1)
        if plan.area.assessors:
            plan.assessor_id = rng.choice(plan.area.assessors)
        moment = entered
        people = []

        def member(kind: str, first: str, last: str, born: date | None, **extra: Any) -> None:
            member_id = self.ids.household_member()
            self.rows.household_member(
                id=member_id,
                household_id=plan.id,
                applicant_id=extra.get("applicant_id"),
                kind=kind,
                first_name=first,
                last_name=last,
                date_of_birth=born,
                relationship=extra.get("relationship"),
                notes=None,
                created_at=moment,
                updated_at=moment,
            )
            people.append({"id": member_id, "kind": kind, "date_of_birth": born})

        for applicant in applicants:
            member(
                "applicant", applicant["first_name"], applicant["last_name"],
                applicant["date_of_birth"], applicant_id=applicant["id"],
            )  # fmt: skip
        surname = applicants[0]["last_name"]
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
            born = today - timedelta(days=rng.randint(2 * 365, 21 * 365))
            son = rng.random() < 0.5
            member(
                "birth_child", rng.choice(MALE_NAMES if son else FEMALE_NAMES), surname, born,
                relationship="son" if son else "daughter",
            )  # fmt: skip
        if rng.random() < 0.12:
            member(
                "other_adult", rng.choice(FEMALE_NAMES + MALE_NAMES), rng.choice(SURNAMES),
                today - timedelta(days=rng.randint(60 * 365, 80 * 365)), relationship="parent",
            )  # fmt: skip
        if rng.random() < 0.05:
            member("lodger", rng.choice(MALE_NAMES), rng.choice(SURNAMES), None)
        if rng.random() < 0.15:
            member(
                "former_partner", rng.choice(FEMALE_NAMES + MALE_NAMES), rng.choice(SURNAMES),
                None, relationship="former husband or wife",
            )  # fmt: skip
        if rng.random() < 0.12:
            member(
                "adult_child_away", rng.choice(FEMALE_NAMES + MALE_NAMES), surname,
                today - timedelta(days=rng.randint(22 * 365, 35 * 365)),
            )  # fmt: skip
        pets = rng.random() < 0.4
        if pets:
            for species in rng.sample(("Dog", "Cat", "Rabbit", "Guinea pigs"), rng.randint(1, 2)):
                self.rows.household_pet(
                    id=self.ids.household_pet(),
                    household_id=plan.id,
                    species=species,
                    name=None,
                    notes=None,
                    created_at=moment,
                )
        self._demo_checks(plan, people, pets, at, today, rng)
        if at in ("stage_two", "panel"):
            start = min(today, entered.date() + timedelta(days=rng.randint(7, 40)))
            for person in people[: len(applicants)]:
                self.rows.course_attendance(
                    id=self.ids.course_attendance(),
                    household_id=plan.id,
                    member_id=person["id"],
                    course=SKILLS_TO_FOSTER,
                    attended_from=start - timedelta(days=1),
                    attended_to=start,
                    completed=True,
                    created_at=moment,
                )
            sections = form_f_sections()
            done = len(sections) if at == "panel" else rng.randint(0, len(sections) - 1)
            for index, (key, _label) in enumerate(sections):
                if index < done:
                    status = "complete"
                elif index == done:
                    status = rng.choice(("in_progress", "drafted"))
                else:
                    continue
                self.rows.form_f_section(
                    id=self.ids.form_f_section(),
                    household_id=plan.id,
                    section_key=key,
                    status=status,
                    updated_by_id=plan.assessor_id,
                    updated_at=moment,
                )

    def _demo_checks(
        self,
        plan: Any,
        people: list[dict],
        pets: bool,
        at: str,
        today: date,
        rng: random.Random,
    ) -> None:
        """Past stage one every required check is in; in stage one, a mix."""
        config = checks.load_config()
        adults = {
            p["id"]
            for p in people
            if p["kind"] in ("applicant", "other_adult", "lodger", "birth_child")
            and (p["date_of_birth"] is None or _age(p["date_of_birth"], today) >= 18)
        }
        by_kind = {
            "adult": [p for p in people if p["id"] in adults],
            "applicant": [p for p in people if p["kind"] == "applicant"],
            "former_partner": [p for p in people if p["kind"] == "former_partner"],
            "adult_child_away": [p for p in people if p["kind"] == "adult_child_away"],
            "birth_child": [],
            "household": [None],
            "pets": [None] if pets else [],
        }
        for kind in config.kinds:
            if not kind.required and rng.random() < 0.7:
                continue
            for person in by_kind[kind.applies_to]:
                for _ in range(kind.count):
                    state = "received" if at != "stage_one" else rng.choice(
                        ("received", "received", "waiting", "waiting", "not_requested")
                    )  # fmt: skip
                    requested = today - timedelta(days=rng.randint(5, 70))
                    received = chased = outcome = expires = None
                    if state == "received":
                        received = min(today, requested + timedelta(days=rng.randint(3, 40)))
                        outcome = rng.choices(
                            ("clear", "information_to_consider", "concern"), (0.86, 0.12, 0.02)
                        )[0]
                        if kind.expires_after_months:
                            expires = received + timedelta(days=kind.expires_after_months * 30)
                    elif state == "waiting" and rng.random() < 0.4:
                        chased = min(today, requested + timedelta(days=rng.randint(10, 30)))
                    elif state == "not_requested":
                        requested = None
                    label = None
                    if kind.key == "personal_reference":
                        label = f"{rng.choice(FEMALE_NAMES + MALE_NAMES)} {rng.choice(SURNAMES)}"
                    self.rows.household_check(
                        id=self.ids.household_check(),
                        household_id=plan.id,
                        member_id=person["id"] if person else None,
                        check_key=kind.key,
                        label=label,
                        requested_on=requested,
                        chased_on=chased,
                        received_on=received,
                        outcome=outcome,
                        expires_on=expires,
                        notes=None,
                        created_at=plan.stage_entered_at,
                        updated_at=plan.stage_entered_at,
                    )
