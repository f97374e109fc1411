"""Annual reviews (terms confirmed or changed, the first to panel) and TSD and training."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func
from sqlmodel import select

import crm.models as m
from crm.services import reviews
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed
from crm.services.reviews import Terms
from tests.crm.keeping.helpers import approved_carer, place


def test_first_review_goes_to_panel_and_changed_terms_become_the_carers(session, settings, org):
    carer = approved_carer(session, settings, org, places=1, ages=(0, 10), types=("short_term",))
    ssw = Actor.for_staff(session, org.supervisor_north)
    first = reviews.record_review(
        session, ssw, carer.id, reviewed_on=date(2025, 1, 10), outcome="approval_continues",
        notes="Going well", terms=Terms(1, 0, 10, ["short_term"]),
    )  # fmt: skip
    assert first.goes_to_panel and not first.terms_changed
    session.refresh(carer)
    assert carer.annual_review_due == date(2026, 1, 10)
    second = reviews.record_review(
        session, ssw, carer.id, reviewed_on=date(2026, 2, 1), outcome="approval_continues",
        notes="Ready for siblings", terms=Terms(2, 4, 12, ["short_term", "long_term"]),
    )  # fmt: skip
    assert not second.goes_to_panel and second.terms_changed
    assert second.terms_before["places"] == 1 and second.terms_after["places"] == 2
    session.refresh(carer)
    assert (carer.places, carer.age_min, carer.age_max) == (2, 4, 12)
    assert carer.fostering_types == ["long_term", "short_term"]
    assert carer.annual_review_due == date(2027, 2, 1)
    changed = session.exec(
        select(m.AuditEvent).where(
            m.AuditEvent.entity == "carer", m.AuditEvent.entity_id == carer.id
        )
    ).all()
    assert any(e.detail.get("terms") for e in changed)


def test_review_before_approval_or_bad_terms_is_refused(session, settings, org):
    carer = approved_carer(session, settings, org, approved_on=date(2025, 6, 1), places=2)
    place(session, carer, "R-1")
    place(session, carer, "R-2")
    ssw = Actor.for_staff(session, org.supervisor_north)
    with pytest.raises(InvalidInput) as refused:
        reviews.record_review(
            session, ssw, carer.id, reviewed_on=date(2025, 5, 1), outcome="nope", notes=None,
            terms=Terms(1, 12, 5, []),
        )  # fmt: skip
    errors = refused.value.errors
    assert "before the carer was approved" in errors["reviewed_on"]
    assert "2 children placed" in errors["places"]
    assert set(errors) == {"reviewed_on", "outcome", "places", "age_max", "fostering_types"}
    assert session.exec(select(func.count(m.AnnualReview.id))).one() == 0
    session.refresh(carer)
    assert carer.places == 2


def test_review_closes_the_reminders_task(session, settings, org):
    carer = approved_carer(session, settings, org)
    from crm import clock
    from crm.services.tasks import create_task

    task = create_task(
        session, Actor.system("scheduler"), kind=m.TaskKind.ANNUAL_REVIEW, title="Review due",
        due_at=clock.now(), carer_id=carer.id, unique_key=f"carer:{carer.id}:annual_review:x:30",
    )  # fmt: skip
    reviews.record_review(
        session, Actor.for_staff(session, org.supervisor_north), carer.id,
        reviewed_on=date(2026, 3, 1), outcome="approval_continues", notes=None,
    )  # fmt: skip
    session.refresh(task)
    assert task.done_at is not None


def test_training_and_tsd_completion(session, settings, org):
    kin = approved_carer(session, settings, org, kinship=True, approved_on=date(2025, 9, 1))
    kin.tsd_due = None
    session.add(kin)
    session.commit()
    assert reviews.tsd_deadline(kin) == date(2027, 3, 1)  # 18 months for family and friends
    ssw = Actor.for_staff(session, org.supervisor_north)
    reviews.record_training(
        session, ssw, kin.id, course="Safer caring", completed_on=date(2026, 2, 1), hours=3
    )
    session.refresh(kin)
    assert kin.tsd_completed_on is None
    reviews.record_training(
        session, ssw, kin.id, course="TSD portfolio", completed_on=date(2026, 3, 2), hours=1.5,
        completes_tsd=True,
    )  # fmt: skip
    session.refresh(kin)
    assert kin.tsd_completed_on == date(2026, 3, 2) and kin.tsd_due == date(2027, 3, 1)
    assert [t.course for t in reviews.training_of(session, ssw, kin.id)] == [
        "TSD portfolio", "Safer caring",
    ]  # fmt: skip
    with pytest.raises(InvalidInput) as refused:
        reviews.record_training(
            session, ssw, kin.id, course="", completed_on=date(2026, 4, 1), hours=0,
            completes_tsd=True,
        )  # fmt: skip
    assert set(refused.value.errors) == {"course", "completed_on", "hours", "completes_tsd"}
    normal = approved_carer(session, settings, org, approved_on=date(2025, 9, 1))
    normal.tsd_due = None
    assert reviews.tsd_deadline(normal) == date(2026, 9, 1)


@pytest.mark.parametrize("role", ["officer_north", "assessor_north"])
def test_other_roles_cannot_record_reviews_or_training(session, settings, org, role):
    carer = approved_carer(session, settings, org)
    actor = Actor.for_staff(session, getattr(org, role))
    with pytest.raises(NotAllowed):
        reviews.record_review(
            session, actor, carer.id, reviewed_on=date(2026, 3, 1), outcome="approval_continues",
            notes=None,
        )  # fmt: skip
    with pytest.raises(NotAllowed):
        reviews.record_training(
            session, actor, carer.id, course="x", completed_on=date(2026, 3, 1), hours=1
        )
