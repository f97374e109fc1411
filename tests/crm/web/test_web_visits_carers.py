"""Visits (week view, availability) and carers (list, record, at risk, deregistration)."""

import re
from datetime import UTC, date, datetime, time

import pytest
from sqlmodel import select

import crm.models as m
from crm.services.actors import Actor
from crm.services.appointments import book_appointment, free_slots
from crm.services.carers import assign_supervisor
from crm.services.pipeline import move_stage


def test_week_view_shows_booked_and_free(client_for, org, make_household, session, settings):
    household = make_household(first="Wendy", last="Week")
    # Wednesday 11 March 2026, 09:30 London (GMT).
    booked_at = datetime(2026, 3, 11, 9, 30, tzinfo=UTC)
    book_appointment(
        session,
        Actor.system("test"),
        settings,
        staff_id=org.officer_north.id,
        kind="initial_visit",
        starts_at=booked_at,
        household_id=household.id,
    )
    c = client_for(org.officer_north)
    page = c.get("/visits").get_data(as_text=True)
    assert "week of 9 March 2026" in page
    assert "9:30am</strong> Initial visit" in page and "Wendy Week" in page
    assert "11am free" in page
    team = c.get("/visits?staff=team").get_data(as_text=True)
    assert "Assessor.North" in team and "Officer.South" not in team
    # Another area's diary is not offered.
    assert c.get(f"/visits?staff={org.officer_south.id}").status_code == 403
    nxt = c.get("/visits?week=2026-03-16").get_data(as_text=True)
    assert "week of 16 March 2026" in nxt and "Wendy Week" not in nxt
    # A supervising social worker sees the booked slot but not the name of an enquiring
    # household they may not open.
    supervisor = client_for(org.supervisor_north).get("/visits?staff=team")
    html = supervisor.get_data(as_text=True)
    assert "9:30am</strong> Initial visit" in html
    assert "Wendy Week" not in html


def test_edit_weekly_pattern_and_exceptions(client_for, org, session, settings):
    url = f"/visits/availability/{org.officer_north.id}"
    c = client_for(org.officer_north)
    assert "09:30" in c.get(url).get_data(as_text=True)
    bad = c.post(url, {"action": "pattern", "start0": "10:00", "end0": "09:00"}, token_from=url)
    assert bad.status_code == 400
    assert "Monday: the end must be after the start" in bad.get_data(as_text=True)
    pattern = {"action": "pattern", "start1": "10:00", "end1": "13:00", "slot1": "60"}
    assert c.post(url, pattern, token_from=url).status_code == 302
    patterns = session.exec(
        select(m.AvailabilityPattern).where(m.AvailabilityPattern.staff_id == org.officer_north.id)
    ).all()
    assert [(p.weekday, p.start_time, p.end_time, p.slot_minutes) for p in patterns] == [
        (1, time(10, 0), time(13, 0), 60)
    ]
    tuesday_next = date(2026, 3, 17)
    slots = free_slots(session, settings, [org.officer_north.id], tuesday_next, tuesday_next)
    assert len(slots) == 3
    away = {"action": "exception", "on_date": "2026-03-17", "available": "no", "note": "Training"}
    assert c.post(url, away, token_from=url).status_code == 302
    session.expire_all()
    assert free_slots(session, settings, [org.officer_north.id], tuesday_next, tuesday_next) == []
    page = c.get(url).get_data(as_text=True)
    assert "Training" in page
    exception_id = re.search(r'name="exception_id" value="(\d+)"', page).group(1)
    assert (
        c.post(url, {"action": "delete", "exception_id": exception_id}, token_from=url).status_code
        == 302
    )
    session.expire_all()
    assert (
        len(free_slots(session, settings, [org.officer_north.id], tuesday_next, tuesday_next)) == 3
    )
    # Someone else's availability: a manager of the area may, a colleague may not.
    assert client_for(org.manager).get(url).status_code == 200
    assert client_for(org.assessor_north).get(url).status_code == 403


def make_carer(session, make_household, org, **kw):
    household = make_household(**kw)
    move_stage(session, Actor.system("test"), household.id, m.Stage.APPROVED)
    carer = session.exec(select(m.Carer).where(m.Carer.household_id == household.id)).one()
    assign_supervisor(session, Actor.system("test"), carer.id, org.supervisor_north.id)
    return carer


def test_carers_list_and_record(client_for, org, make_household, session):
    carer = make_carer(session, make_household, org, first="Cara", last="Giver")
    carer.places = 2
    session.add(
        m.Placement(
            carer_id=carer.id,
            child_reference="CH-1",
            fostering_type="long_term",
            started_on=date(2025, 6, 1),
        )
    )
    for n, score in enumerate([5, 4, 2, 2]):
        session.add(
            m.CheckIn(
                carer_id=carer.id,
                channel="email",
                unique_key=f"ci{n}",
                score=score,
                sent_at=datetime(2025, 9 + n, 1, tzinfo=UTC),
            )
        )
    session.add(carer)
    session.commit()
    c = client_for(org.supervisor_north)
    listing = c.get("/carers").get_data(as_text=True)
    assert "Cara Giver" in listing and "1 / 2" in listing and "(1 vacant)" in listing
    assert "Approved places 2, children placed 1, vacancies 1" in listing
    page = c.get(f"/carers/{carer.id}").get_data(as_text=True)
    assert "CH-1" in page and "Long term" in page
    assert "Supervisor.North" in page
    assert "Score trend: <strong>Falling</strong>" in page and "5 → 4 → 2 → 2" in page
    assert "Due " in page  # TSD due date
    view = session.exec(select(m.AuditEvent).where(m.AuditEvent.entity == "carer")).all()
    assert [e.action for e in view][-1] == m.AuditAction.VIEW


def test_at_risk_flag_and_deregistration(client_for, org, make_household, session):
    carer = make_carer(session, make_household, org, first="Risa", last="Leaving")
    c = client_for(org.supervisor_north)
    url = f"/carers/{carer.id}"
    refused = c.post(f"{url}/at-risk", {"at_risk": "yes", "reason": ""}, token_from=url)
    assert "Say why the carer may be at risk" in refused.get_data(as_text=True)
    ok = c.post(
        f"{url}/at-risk",
        {"at_risk": "yes", "reason": "Burnout after a hard placement"},
        token_from=url,
    )
    assert ok.status_code == 302
    assert "Burnout after a hard placement" in c.get("/home").get_data(as_text=True)
    assert "At risk" in c.get("/carers?at_risk=1").get_data(as_text=True)
    # A notice recorded more than 28 days after it was given ends the approval at once.
    carer.approved_on = date(2025, 1, 6)
    session.add(carer)
    session.commit()
    notice = f"{url}/notice"
    no_reason = c.post(notice, {"notice_given_on": ["2", "2", "2026"]}, token_from=notice)
    assert no_reason.status_code == 400
    assert "Choose why the carer is leaving" in no_reason.get_data(as_text=True)
    done = c.post(
        notice,
        {"notice_given_on": ["2", "2", "2026"], "reason_code": "burnout",
         "reason_text": "Needs a rest"},
        token_from=notice,
    )  # fmt: skip
    assert done.status_code == 302
    session.expire_all()
    carer = session.get(m.Carer, carer.id)
    household = session.get(m.Household, carer.household_id)
    assert carer.status == m.CarerStatus.DEREGISTERED
    assert carer.deregistration_reason_code == "burnout"
    assert household.stage == m.Stage.DEREGISTERED
    event = session.exec(
        select(m.StageEvent).where(m.StageEvent.to_stage == m.Stage.DEREGISTERED)
    ).one()
    assert event.reason_code == "burnout" and event.actor_id == org.supervisor_north.id
    assert "Risa Leaving" not in c.get("/carers").get_data(as_text=True)
    assert "Risa Leaving" in c.get("/carers?status=all").get_data(as_text=True)


def test_manager_assigns_supervisor(client_for, org, make_household, session):
    carer = make_carer(session, make_household, org)
    c = client_for(org.manager)
    url = f"/carers/{carer.id}/supervisor"
    assert c.post(url, {"staff_id": ""}, token_from=url).status_code == 302
    session.refresh(carer)
    assert carer.supervising_social_worker_id is None
    wrong = c.post(url, {"staff_id": str(org.officer_north.id)}, token_from=url)
    assert "Choose a supervising social worker" in wrong.get_data(as_text=True)
    session.refresh(carer)
    assert carer.supervising_social_worker_id is None


def test_break_and_supervision_visit(client_for, org, make_household, session):
    carer = make_carer(session, make_household, org)
    url = f"/carers/{carer.id}"
    c = client_for(org.supervisor_north)
    taking = {"started_on": ["10", "3", "2026"], "reason": "Family illness",
              "expected_end_on": ["10", "6", "2026"]}  # fmt: skip
    started = c.post(f"{url}/break", taking, token_from=f"{url}/break")
    assert started.status_code == 302
    session.refresh(carer)
    assert carer.status == m.CarerStatus.ON_BREAK
    page = c.get(url).get_data(as_text=True)
    assert "Record that they resumed fostering" in page and "Family illness" in page
    back = c.post(
        f"{url}/break/end", {"ended_on": ["10", "3", "2026"]}, token_from=f"{url}/break/end"
    )
    assert back.status_code == 302
    session.refresh(carer)
    assert carer.status == m.CarerStatus.ACTIVE
    form = f"{url}/supervision-visits/new"
    visit = {"kind": "announced", "notes": "All well"}
    future = c.post(form, {"visited_on": ["1", "4", "2026"], **visit}, token_from=form)
    assert future.status_code == 400
    assert "cannot be in the future" in future.get_data(as_text=True)
    session.refresh(carer)
    assert carer.last_supervision_at is None
    done = c.post(form, {"visited_on": ["10", "3", "2026"], **visit}, token_from=form)
    assert done.status_code == 302
    session.refresh(carer)
    assert carer.last_supervision_at.date() == date(2026, 3, 10)
    assert "10 Mar 2026" in c.get(url).get_data(as_text=True)


def test_a_supervisor_from_another_area_cannot_be_assigned(org, make_household, session):
    from crm.services.errors import InvalidInput

    carer = make_carer(session, make_household, org, first="Area", last="Check")
    south_supervisor = m.StaffUser(
        email="supervisor.south@test.example",
        name="South Supervisor",
        role=m.Role.SUPERVISING_SOCIAL_WORKER,
        password_hash="x",
    )
    session.add(south_supervisor)
    session.flush()
    session.add(m.StaffArea(staff_id=south_supervisor.id, area_id=org.south.id))
    session.commit()
    with pytest.raises(InvalidInput, match="works in this carer's area"):
        assign_supervisor(
            session, Actor.for_staff(session, org.manager), carer.id, south_supervisor.id
        )
    session.refresh(carer)
    assert carer.supervising_social_worker_id == org.supervisor_north.id
