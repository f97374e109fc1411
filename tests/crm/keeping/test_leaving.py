"""Breaks and leaving (crm.services.leaving): a break with a reason and an expected end,
resumed on a date; written notice, the approval ending 28 days later with everything that
follows from it closed; the exit conversation; placements and matching refusing or flagging a
carer on a break or under notice. "Today" is 10 March 2026 (the test clock)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

import crm.models as m
from crm import clock
from crm.services import leaving, matching, mockingbird, placements
from crm.services.actors import Actor
from crm.services.appointments import book_appointment
from crm.services.errors import InvalidInput, NotAllowed
from crm.services.reminders.engine import SCHEDULER
from crm.services.tasks import create_task
from tests.crm.keeping.helpers import approved_carer, place

TODAY = date(2026, 3, 10)


def count(session, model) -> int:  # noqa: ANN001
    return session.exec(select(func.count(model.id))).one()


def audits(session, entity: str) -> list[m.AuditEvent]:  # noqa: ANN001
    return list(session.exec(select(m.AuditEvent).where(m.AuditEvent.entity == entity)).all())


def take_break(session, actor, carer, **kw):  # noqa: ANN001, ANN003, ANN201
    data = dict(
        started_on=date(2026, 3, 2), reason="Family illness", expected_end_on=date(2026, 6, 1)
    )
    data.update(kw)
    return leaving.start_break(session, actor, carer.id, **data)


def notice(session, actor, carer, **kw):  # noqa: ANN001, ANN003, ANN201
    data = dict(notice_given_on=date(2026, 3, 2), reason_code="retirement")
    data.update(kw)
    return leaving.give_notice(session, actor, carer.id, **data)


def test_a_break_starts_with_a_reason_and_ends_when_the_carer_resumes(session, settings, org):
    carer = approved_carer(session, settings, org)
    ssw = Actor.for_staff(session, org.supervisor_north)
    taken = take_break(session, ssw, carer)
    session.refresh(carer)
    assert carer.status == m.CarerStatus.ON_BREAK
    assert (taken.reason, taken.expected_end_on, taken.ended_on) == (
        "Family illness",
        date(2026, 6, 1),
        None,
    )
    assert [a.action for a in audits(session, "carer_break")] == [m.AuditAction.CREATE]
    with pytest.raises(InvalidInput, match="already on a break"):
        take_break(session, ssw, carer)

    ended = leaving.end_break(session, ssw, carer.id, ended_on=date(2026, 3, 9))
    session.refresh(carer)
    assert carer.status == m.CarerStatus.ACTIVE and ended.ended_on == date(2026, 3, 9)
    assert [b.id for b in leaving.breaks_of(session, ssw, carer.id)] == [taken.id]
    with pytest.raises(InvalidInput, match="not on a break"):
        leaving.end_break(session, ssw, carer.id, ended_on=TODAY)
    # A new break starts after the last one ended.
    with pytest.raises(InvalidInput) as refused:
        take_break(session, ssw, carer, started_on=date(2026, 3, 5))
    assert "before the last one ended" in refused.value.errors["started_on"]


def test_bad_break_dates_are_refused_and_nothing_is_saved(session, settings, org):
    carer = approved_carer(session, settings, org, approved_on=date(2025, 6, 1))
    ssw = Actor.for_staff(session, org.supervisor_north)
    for kw, name, words in (
        ({"started_on": TODAY + timedelta(days=1)}, "started_on", "cannot start in the future"),
        ({"started_on": date(2025, 5, 31)}, "started_on", "before the carer was approved"),
        ({"started_on": None}, "started_on", "Enter the date"),
        ({"expected_end_on": date(2026, 3, 1)}, "expected_end_on", "on or after the start"),
        ({"expected_end_on": None}, "expected_end_on", "Enter when"),
        ({"reason": "   "}, "reason", "Say why"),
    ):
        with pytest.raises(InvalidInput) as refused:
            take_break(session, ssw, carer, **kw)
        assert words in refused.value.errors[name]
    session.refresh(carer)
    assert carer.status == m.CarerStatus.ACTIVE and count(session, m.CarerBreak) == 0

    take_break(session, ssw, carer)
    for on, words in (
        (date(2026, 3, 1), "before the break started"),
        (TODAY + timedelta(days=1), "cannot be in the future"),
        (None, "Enter the date"),
    ):
        with pytest.raises(InvalidInput) as refused:
            leaving.end_break(session, ssw, carer.id, ended_on=on)
        assert words in refused.value.errors["ended_on"]
    session.refresh(carer)
    assert carer.status == m.CarerStatus.ON_BREAK
    assert leaving.open_break(session, carer.id) is not None


def test_only_the_supervising_team_in_the_area_records_breaks_and_notice(session, settings, org):
    carer = approved_carer(session, settings, org)
    officer = Actor.for_staff(session, org.officer_north)
    with pytest.raises(NotAllowed):
        take_break(session, officer, carer)
    with pytest.raises(NotAllowed):
        notice(session, officer, carer)
    south = session.exec(select(m.Area).where(m.Area.name == "Southshire")).one()
    outsider = m.StaffUser(
        email="ssw.south@test.example",
        name="Ssw South",
        role=m.Role.SUPERVISING_SOCIAL_WORKER,
        password_hash="x",
    )
    session.add(outsider)
    session.flush()
    session.add(m.StaffArea(staff_id=outsider.id, area_id=south.id))
    session.commit()
    with pytest.raises(NotAllowed):
        take_break(session, Actor.for_staff(session, outsider), carer)
    assert count(session, m.CarerBreak) == 0 and count(session, m.CarerLeaving) == 0
    # A manager may.
    take_break(session, Actor.for_staff(session, org.manager), carer)


def test_notice_puts_the_carer_under_notice_for_28_days(session, settings, org):
    carer = approved_carer(session, settings, org, places=3)
    other = approved_carer(session, settings, org, places=3, name="Other")
    ssw = Actor.for_staff(session, org.supervisor_north)
    given = notice(session, ssw, carer, reason_code="other", reason_text="  Moving   abroad ")
    assert given.approval_ends_on == date(2026, 3, 30)
    assert given.reason_text == "Moving abroad" and given.recorded_by_id == org.supervisor_north.id
    session.refresh(carer)
    assert carer.status == m.CarerStatus.ACTIVE  # approved until the 28 days are over
    assert [a.detail["approval_ends_on"] for a in audits(session, "carer_leaving")] == [
        "2026-03-30"
    ]
    with pytest.raises(InvalidInput, match="already given notice"):
        notice(session, ssw, carer)

    # No new child with a carer under notice; a move to them is refused too.
    data = placements.PlacementInput(
        child_reference="C-1", placing_authority="Northshire", fostering_type="long_term",
        started_on=TODAY, child_age=8,
    )  # fmt: skip
    with pytest.raises(InvalidInput) as refused:
        placements.add_placement(session, ssw, carer.id, data)
    assert "has given notice" in refused.value.errors["__all__"]
    moving = place(session, other, "C-2")
    with pytest.raises(InvalidInput) as refused:
        placements.move_placement(
            session, ssw, moving.id, to_carer_id=carer.id, moved_on=TODAY,
            reason="Closer to school", ending="planned",
        )  # fmt: skip
    assert "has given notice" in refused.value.errors["__all__"]
    assert count(session, m.Placement) == 1

    # The search lists them, last among the same distance, and says why.
    found = matching.search(
        session, ssw, matching.Needs(ages=[8], postcode="LE1 6ZG"), limit=10
    ).matches
    assert [f.carer.id for f in found] == [other.id, carer.id]
    assert found[1].cautions == ["Has given notice: approval ends 30 March 2026"]


def test_a_break_is_explained_in_the_search_and_refused_for_placements(session, settings, org):
    carer = approved_carer(session, settings, org)
    ssw = Actor.for_staff(session, org.supervisor_north)
    take_break(session, ssw, carer)
    [found] = matching.search(session, ssw, matching.Needs(ages=[5], postcode="LE1 6ZG")).matches
    assert found.cautions == ["On a break from fostering (expected to end 1 June 2026)"]
    data = placements.PlacementInput(
        child_reference="C-1", placing_authority="Northshire", fostering_type="long_term",
        started_on=TODAY, child_age=8,
    )  # fmt: skip
    with pytest.raises(InvalidInput) as refused:
        placements.add_placement(session, ssw, carer.id, data)
    assert "on a break" in refused.value.errors["__all__"]


def test_bad_notice_is_refused_with_a_message_per_field_and_nothing_saved(session, settings, org):
    carer = approved_carer(session, settings, org, approved_on=date(2025, 6, 1))
    ssw = Actor.for_staff(session, org.supervisor_north)
    for kw, name, words in (
        ({"notice_given_on": TODAY + timedelta(days=3)}, "notice_given_on", "in the future"),
        ({"notice_given_on": date(2025, 5, 1)}, "notice_given_on", "before the carer was"),
        ({"notice_given_on": None}, "notice_given_on", "Enter the date"),
        ({"reason_code": "bored"}, "reason_code", "Choose why"),
        ({"reason_code": ""}, "reason_code", "Choose why"),
        ({"reason_code": "other", "reason_text": " "}, "reason_text", "in the carer's words"),
        (
            {"conversation": leaving.ExitConversation(notes="Felt alone")},
            "exit_on",
            "Enter the date of the exit conversation",
        ),
        (
            {"conversation": leaving.ExitConversation(held_on=TODAY + timedelta(days=1))},
            "exit_on",
            "cannot be in the future",
        ),
        (
            {"conversation": leaving.ExitConversation(held_on=TODAY)},
            "exit_notes",
            "what was said",
        ),
        (
            {
                "conversation": leaving.ExitConversation(
                    held_on=TODAY, notes="Said a lot", held_by_id=org.officer_south.id
                )
            },
            "exit_by_id",
            "working in this carer's area",
        ),
    ):
        with pytest.raises(InvalidInput) as refused:
            notice(session, ssw, carer, **kw)
        assert words in refused.value.errors[name], (kw, refused.value.errors)
    session.refresh(carer)
    assert carer.status == m.CarerStatus.ACTIVE and count(session, m.CarerLeaving) == 0
    assert audits(session, "carer_leaving") == []


def test_notice_over_28_days_ago_ends_the_approval_and_closes_what_follows(session, settings, org):
    carer = approved_carer(session, settings, org)
    hub = approved_carer(session, settings, org, name="Hub")
    manager = Actor.for_staff(session, org.manager)
    ssw = Actor.for_staff(session, org.supervisor_north)
    [constellation] = [
        mockingbird.start_constellation(
            session, manager, name="Riverside", hub_carer_id=hub.id,
            started_on=date(2025, 1, 6), today=TODAY,
        )
    ]  # fmt: skip
    mockingbird.add_satellite(
        session, manager, constellation.id, carer_id=carer.id, joined_on=date(2025, 2, 1),
        today=TODAY,
    )  # fmt: skip
    visit = book_appointment(
        session, ssw, settings, staff_id=org.supervisor_north.id, kind="supervision_visit",
        starts_at=datetime(2026, 3, 20, 10, 0, tzinfo=UTC), carer_id=carer.id,
        check_availability=False,
    )  # fmt: skip
    task = create_task(
        session, ssw, kind=m.TaskKind.GENERAL, title="Send the training dates",
        carer_id=carer.id, due_at=clock.now() + timedelta(days=3),
    )  # fmt: skip
    take_break(session, ssw, carer, started_on=date(2026, 1, 5))

    given = notice(
        session, ssw, carer, notice_given_on=date(2026, 1, 20), reason_code="unhappy_with_support",
        conversation=leaving.ExitConversation(
            held_on=date(2026, 1, 27), notes="Felt unsupported after the last placement ended",
            would_have_kept="A quicker call back from the out-of-hours line",
        ),
    )  # fmt: skip
    session.expire_all()
    carer = session.get(m.Carer, carer.id)
    assert given.approval_ends_on == date(2026, 2, 17)
    assert carer.status == m.CarerStatus.DEREGISTERED
    assert carer.deregistered_on == date(2026, 2, 17)
    assert carer.deregistration_reason_code == "unhappy_with_support"
    household = session.get(m.Household, carer.household_id)
    assert household.stage == m.Stage.DEREGISTERED
    event = session.exec(
        select(m.StageEvent)
        .where(m.StageEvent.household_id == household.id)
        .order_by(m.StageEvent.id.desc())
    ).first()
    assert (event.to_stage, event.reason_code) == (m.Stage.DEREGISTERED, "unhappy_with_support")
    assert session.get(m.Appointment, visit.id).status == m.AppointmentStatus.CANCELLED
    closed = session.get(m.Task, task.id)
    assert closed.done_at is not None
    assert closed.closed_reason == "The carer deregistered: Unhappy with support"
    [membership] = session.exec(
        select(m.ConstellationMember).where(m.ConstellationMember.carer_id == carer.id)
    ).all()
    assert membership.left_on == TODAY
    [ended_break] = leaving.breaks_of(session, ssw, carer.id)
    assert ended_break.ended_on == date(2026, 2, 17)
    kept = session.get(m.CarerLeaving, given.id)
    assert kept.exit_conversation_by_id == org.supervisor_north.id
    assert kept.exit_would_have_kept == "A quicker call back from the out-of-hours line"
    # Nothing more to record: the approval has ended.
    with pytest.raises(InvalidInput, match="deregistered"):
        take_break(session, ssw, carer)


def test_the_nightly_job_ends_approvals_once_the_notice_is_over(session, settings, org):
    carer = approved_carer(session, settings, org)
    with_child = approved_carer(session, settings, org, name="Placed")
    ssw = Actor.for_staff(session, org.supervisor_north)
    notice(session, ssw, carer)
    notice(session, ssw, with_child, notice_given_on=date(2026, 3, 3))
    place(session, with_child, "C-9")
    assert leaving.end_due_approvals(session, SCHEDULER, date(2026, 3, 29)).ended == []

    clock.set_now(datetime(2026, 3, 31, 0, 20, tzinfo=UTC))
    result = leaving.end_due_approvals(session, SCHEDULER, date(2026, 3, 31))
    assert (result.ended, result.held) == ([carer.id], [with_child.id])
    session.expire_all()
    assert session.get(m.Carer, carer.id).status == m.CarerStatus.DEREGISTERED
    assert session.get(m.Carer, carer.id).deregistered_on == date(2026, 3, 30)
    assert session.get(m.Carer, with_child.id).status == m.CarerStatus.ACTIVE
    # Twice or late: nothing new.
    again = leaving.end_due_approvals(session, SCHEDULER, date(2026, 4, 2))
    assert (again.ended, again.held) == ([], [with_child.id])
    events = session.exec(
        select(func.count(m.StageEvent.id)).where(m.StageEvent.to_stage == m.Stage.DEREGISTERED)
    ).one()
    assert events == 1


def test_notice_over_is_refused_while_children_are_still_placed(session, settings, org):
    carer = approved_carer(session, settings, org)
    place(session, carer, "C-3")
    ssw = Actor.for_staff(session, org.supervisor_north)
    with pytest.raises(InvalidInput) as refused:
        notice(session, ssw, carer, notice_given_on=date(2026, 1, 2))
    assert "end or move the placement first" in refused.value.errors["notice_given_on"]
    assert count(session, m.CarerLeaving) == 0
    session.refresh(carer)
    assert carer.status == m.CarerStatus.ACTIVE


def test_the_exit_conversation_can_be_recorded_after_the_notice(session, settings, org):
    carer = approved_carer(session, settings, org)
    ssw = Actor.for_staff(session, org.supervisor_north)
    with pytest.raises(InvalidInput, match="notice first"):
        leaving.record_exit_conversation(
            session, ssw, carer.id, leaving.ExitConversation(held_on=TODAY, notes="x")
        )
    notice(session, ssw, carer)
    with pytest.raises(InvalidInput) as refused:
        leaving.record_exit_conversation(
            session, ssw, carer.id, leaving.ExitConversation(held_on=TODAY)
        )
    assert set(refused.value.errors) == {"exit_notes"}
    kept = leaving.record_exit_conversation(
        session, ssw, carer.id,
        leaving.ExitConversation(
            held_on=date(2026, 3, 9), held_by_id=org.manager.id, notes="Retiring, content",
            would_have_kept="Nothing: it is time",
        ),
    )  # fmt: skip
    assert (kept.exit_conversation_on, kept.exit_conversation_by_id) == (
        date(2026, 3, 9),
        org.manager.id,
    )
    assert kept.exit_conversation_notes == "Retiring, content"


def test_a_withdrawn_notice_stops_everything_the_notice_started(session, settings, org):
    carer = approved_carer(session, settings, org)
    ssw = Actor.for_staff(session, org.supervisor_north)
    given = notice(session, ssw, carer)
    assert leaving.standing(session, [carer.id])[carer.id].notice is not None
    for bad, field in (
        ({"withdrawn_on": None, "reason": "Staying"}, "withdrawn_on"),
        ({"withdrawn_on": TODAY + timedelta(days=1), "reason": "Staying"}, "withdrawn_on"),
        ({"withdrawn_on": date(2026, 3, 1), "reason": "Staying"}, "withdrawn_on"),
        ({"withdrawn_on": TODAY, "reason": "  "}, "withdrawn_reason"),
    ):
        with pytest.raises(InvalidInput) as refused:
            leaving.withdraw_notice(session, ssw, carer.id, **bad)
        assert set(refused.value.errors) == {field}, bad
        assert leaving.live_notice(session, carer.id).id == given.id
    kept = leaving.withdraw_notice(
        session, ssw, carer.id, withdrawn_on=TODAY, reason="A better support plan agreed"
    )
    assert (kept.withdrawn_on, kept.withdrawn_reason) == (TODAY, "A better support plan agreed")
    assert leaving.live_notice(session, carer.id) is None
    assert leaving.standing(session, [carer.id])[carer.id].problems == []
    # The nightly job leaves the carer approved on the day the notice would have ended.
    clock.set_now(datetime(2026, 3, 31, 0, 20, tzinfo=UTC))
    assert leaving.end_due_approvals(session, SCHEDULER, date(2026, 3, 31)).ended == []
    session.refresh(carer)
    assert carer.status == m.CarerStatus.ACTIVE
    with pytest.raises(InvalidInput, match="no notice running"):
        leaving.withdraw_notice(session, ssw, carer.id, withdrawn_on=TODAY, reason="Again")
    # They may give notice again; the page shows both.
    second = notice(session, ssw, carer, notice_given_on=date(2026, 3, 30))
    assert [n.id for n in leaving.notices_of(session, ssw, carer.id)] == [second.id, given.id]
    assert leaving.leaving_of(session, carer.id).id == second.id
    assert [e.action for e in audits(session, "carer_leaving")][-2:] == [
        m.AuditAction.UPDATE,
        m.AuditAction.CREATE,
    ]


def test_only_the_carer_team_withdraws_a_notice(session, settings, org):
    carer = approved_carer(session, settings, org)
    notice(session, Actor.for_staff(session, org.supervisor_north), carer)
    for user in (org.officer_north, org.assessor_north, org.officer_south):
        with pytest.raises(NotAllowed):
            leaving.withdraw_notice(
                session, Actor.for_staff(session, user), carer.id, withdrawn_on=TODAY,
                reason="Staying",
            )  # fmt: skip
    assert leaving.live_notice(session, carer.id) is not None


def test_a_carer_approved_again_after_leaving_may_give_notice_again(session, settings, org):
    from crm.services.pipeline import move_stage

    carer = approved_carer(session, settings, org)
    ssw = Actor.for_staff(session, org.supervisor_north)
    first = notice(session, ssw, carer, notice_given_on=date(2026, 1, 20))
    session.refresh(carer)
    assert carer.status == m.CarerStatus.DEREGISTERED
    assert session.get(m.CarerLeaving, first.id).approval_ended_on == date(2026, 2, 17)
    # Approved again (a reopened household, through the pipeline).
    move_stage(
        session, Actor.system("test"), carer.household_id, m.Stage.APPROVED, reopen=True,
        reason_text="Came back to fostering",
    )  # fmt: skip
    session.expire_all()
    carer = session.get(m.Carer, carer.id)
    assert carer.status == m.CarerStatus.ACTIVE
    assert (carer.approved_on, carer.annual_review_due) == (TODAY, date(2027, 3, 10))
    # The old notice neither flags them nor ends the new approval.
    assert leaving.standing(session, [carer.id])[carer.id].notice is None
    assert leaving.end_due_approvals(session, SCHEDULER, TODAY).ended == []
    with pytest.raises(InvalidInput) as refused:
        notice(session, ssw, carer, notice_given_on=date(2026, 2, 10))
    # A notice goes with the new approval.
    assert "before the carer was approved" in refused.value.errors["notice_given_on"]
    second = notice(session, ssw, carer, notice_given_on=TODAY)
    assert second.approval_ends_on == date(2026, 4, 7)
    assert leaving.live_notice(session, carer.id).id == second.id


def test_a_deregistration_by_any_route_ends_a_notice_still_running(session, settings, org):
    from crm.services.pipeline import move_stage

    carer = approved_carer(session, settings, org)
    ssw = Actor.for_staff(session, org.supervisor_north)
    given = notice(session, ssw, carer)
    move_stage(
        session, Actor.for_staff(session, org.manager), carer.household_id,
        m.Stage.DEREGISTERED, reason_code="retirement",
    )  # fmt: skip
    session.expire_all()
    assert session.get(m.CarerLeaving, given.id).approval_ended_on == TODAY
    assert leaving.live_notice(session, carer.id) is None
