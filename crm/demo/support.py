"""Keeping carers: what placements record beyond their dates, supervision visits with their
notes, annual reviews and training. From a stream of its own, so the rest of the demo data
stays as it was."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta

from crm.demo.words import (
    PLACEMENT_ENDINGS,
    SUPERVISION_NOTES,
    SUPERVISION_RAISED,
    TRAINING_COURSES,
)


class SupportMixin:
    """Rows for crm.models.placements' tables, added beside each carer."""

    def _placement_details(self, area_name: str, started_on: date, ended_on: date | None) -> dict:
        rng: random.Random = self.rng_support
        details = {
            # Most children are placed by the carer's own authority; some by a neighbour's.
            "placing_authority": area_name
            if rng.random() < 0.8
            else rng.choice([a.spec.name for a in self.areas]),
            "emergency": rng.random() < 0.18,
            # Within the terms the carer has now (placements outside them are rare).
            "child_age": rng.randint(*self.placing_ages),
        }
        if ended_on is not None:
            planned = rng.random() < 0.7
            details["ending"] = "planned" if planned else "unplanned"
            details["end_reason"] = rng.choice(
                PLACEMENT_ENDINGS["planned" if planned else "unplanned"]
            )
        return details

    def _support(
        self,
        carer_id: int,
        supervisor: int,
        approved_on: date,
        end_day: date,
        last_supervision: datetime | None,
        review_due: date,
        tsd_done: date | None,
        places: int,
        age_min: int,
        age_max: int,
        types: list[str],
    ) -> None:
        rng: random.Random = self.rng_support
        cal = self.calendar
        last_day = min(end_day, self.as_of - timedelta(days=1))
        # Supervision visits: the last one (the diary's completed visit), and a few before it,
        # about every six weeks, one in a year or so unannounced.
        if last_supervision is not None:
            on = cal.local_date(last_supervision)
            for n in range(rng.randint(1, 4)):
                if on < approved_on or on > last_day:
                    break
                self.rows.supervision_visit(
                    id=self.ids.supervision_visit(),
                    carer_id=carer_id,
                    visited_on=on,
                    kind="unannounced" if rng.random() < (0.35 if n else 0.12) else "announced",
                    notes=rng.choice(SUPERVISION_NOTES),
                    carer_raised=rng.choice(SUPERVISION_RAISED) if rng.random() < 0.5 else None,
                    recorded_by_id=supervisor,
                    created_at=cal.at(on, 17 * 60),
                )
                on -= timedelta(days=rng.randint(35, 56))
        # Annual reviews held before the next one falls due (the carer's review_due moved on
        # a year for each); the first went to panel.
        due = approved_on + relativedelta(years=1)
        first = True
        while due < review_due and due <= last_day:
            held = due - timedelta(days=rng.randint(0, 25))
            if held > approved_on:
                self.rows.annual_review(id=self.ids.annual_review(),
                    carer_id=carer_id,
                    reviewed_on=held,
                    outcome=(
                        "approval_continues"
                        if rng.random() < 0.9
                        else "continues_with_support_plan"
                    ),
                    terms_changed=False,
                    terms_before={"places": places, "age_min": age_min, "age_max": age_max,
                                  "fostering_types": sorted(types)},
                    terms_after={"places": places, "age_min": age_min, "age_max": age_max,
                                 "fostering_types": sorted(types)},
                    goes_to_panel=first,
                    notes="Reviewed with the carer and the children's social workers.",
                    recorded_by_id=supervisor,
                    created_at=cal.at(held, 16 * 60),
                )  # fmt: skip
                first = False
            due += relativedelta(years=1)
        # Training: the TSD portfolio when completed, and a few courses.
        if tsd_done is not None:
            self._training(carer_id, supervisor, "TSD standards portfolio", tsd_done, 2.0)
        for _ in range(rng.randint(0, 3)):
            span = (last_day - approved_on).days
            if span <= 0:
                break
            course, hours = rng.choice(TRAINING_COURSES)
            self._training(
                carer_id, supervisor, course, approved_on + timedelta(days=rng.randint(0, span)),
                hours,
            )  # fmt: skip

    def _training(
        self, carer_id: int, supervisor: int, course: str, on: date, hours: float
    ) -> None:
        self.rows.training_record(
            id=self.ids.training_record(),
            carer_id=carer_id,
            course=course,
            completed_on=on,
            hours=hours,
            recorded_by_id=supervisor,
            created_at=self.calendar.at(on, 15 * 60),
        )
