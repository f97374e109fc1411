from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import func, select

import crm.models as m
from crm import clock
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed
from crm.services.pipeline import move_stage
from crm.testing.fixtures import new_household


@pytest.fixture
def household(session, org, settings) -> m.Household:
    return new_household(session, settings)


@pytest.fixture
def officer(session, org) -> Actor:
    return Actor.for_staff(session, org.officer_north)


def stages(session, household) -> list[tuple]:
    events = session.exec(
        select(m.StageEvent)
        .where(m.StageEvent.household_id == household.id)
        .order_by(m.StageEvent.id)
    ).all()
    return [(e.from_stage, e.to_stage) for e in events]


def counts(session) -> tuple[int, int]:
    return (
        session.exec(select(func.count()).select_from(m.StageEvent)).one(),
        session.exec(select(func.count()).select_from(m.AuditEvent)).one(),
    )


def step(minutes: int = 60) -> None:
    clock.advance(timedelta(minutes=minutes))


def test_forward_move_writes_event_stage_and_audit(session, household, officer, org):
    step()
    event = move_stage(session, officer, household.id, "initial_visit")
    session.refresh(household)
    assert household.stage == m.Stage.INITIAL_VISIT
    assert household.stage_entered_at == event.occurred_at == clock.now()
    assert event.actor_id == org.officer_north.id
    assert stages(session, household) == [
        (None, m.Stage.ENQUIRY),
        (m.Stage.ENQUIRY, m.Stage.INITIAL_VISIT),
    ]
    audit = session.exec(select(m.AuditEvent).order_by(m.AuditEvent.id.desc())).first()
    assert audit.detail == {"stage_from": "enquiry", "stage_to": "initial_visit", "reopen": False}


def test_skipping_stages_forward_is_allowed(session, household, officer):
    step()
    move_stage(session, officer, household.id, m.Stage.STAGE_ONE)
    session.refresh(household)
    assert household.stage == m.Stage.STAGE_ONE


def test_unknown_stage_is_refused(session, household, officer):
    before = counts(session)
    with pytest.raises(InvalidInput, match="Unknown stage 'interview'"):
        move_stage(session, officer, household.id, "interview")
    assert counts(session) == before


def test_withdrawn_needs_a_reason_from_the_list(session, household, officer):
    before = counts(session)
    with pytest.raises(InvalidInput) as caught:
        move_stage(session, officer, household.id, "withdrawn")
    assert "reason_code" in caught.value.errors
    with pytest.raises(InvalidInput, match="Choose one of the reasons for moving to withdrawn"):
        move_stage(session, officer, household.id, "withdrawn", reason_code="bored")
    assert counts(session) == before
    session.refresh(household)
    assert household.stage == m.Stage.ENQUIRY

    step()
    event = move_stage(
        session, officer, household.id, "withdrawn", reason_code="timing", reason_text="New job"
    )
    assert (event.reason_code, event.reason_text) == ("timing", "New job")


def test_not_progressed_needs_a_reason(session, household, officer):
    with pytest.raises(InvalidInput):
        move_stage(session, officer, household.id, "not_progressed")
    step()
    move_stage(session, officer, household.id, "not_progressed", reason_code="checks")


def test_backwards_needs_a_reopen_with_a_reason(session, household, officer):
    step()
    move_stage(session, officer, household.id, "application")
    before = counts(session)
    with pytest.raises(InvalidInput) as caught:
        move_stage(session, officer, household.id, "initial_visit")
    assert "reopen" in caught.value.errors
    with pytest.raises(InvalidInput) as caught:
        move_stage(session, officer, household.id, "initial_visit", reopen=True)
    assert "reason_text" in caught.value.errors
    assert counts(session) == before

    step()
    move_stage(
        session,
        officer,
        household.id,
        "initial_visit",
        reopen=True,
        reason_text="Application was logged by mistake",
    )
    session.refresh(household)
    assert household.stage == m.Stage.INITIAL_VISIT


def test_closed_household_reopens_only_explicitly_and_not_beyond_where_it_left(
    session, household, officer
):
    step()
    move_stage(session, officer, household.id, "initial_visit")
    step()
    move_stage(session, officer, household.id, "withdrawn", reason_code="timing")
    with pytest.raises(InvalidInput, match="reopen"):
        move_stage(session, officer, household.id, "initial_visit")
    with pytest.raises(InvalidInput, match="left from"):
        move_stage(
            session, officer, household.id, "application", reopen=True, reason_text="Back in touch"
        )
    step()
    move_stage(
        session,
        officer,
        household.id,
        "initial_visit",
        reopen=True,
        reason_text="Back in touch after moving house",
    )
    session.refresh(household)
    assert household.stage == m.Stage.INITIAL_VISIT


def test_on_hold_resumes_where_it_paused(session, household, officer):
    step()
    move_stage(session, officer, household.id, "application")
    step()
    move_stage(session, officer, household.id, "on_hold", reason_code="house_move")
    session.refresh(household)
    assert (household.stage, household.held_from_stage) == (m.Stage.ON_HOLD, m.Stage.APPLICATION)
    # Resuming at an earlier stage would be going backwards.
    with pytest.raises(InvalidInput, match="reopen"):
        move_stage(session, officer, household.id, "enquiry")
    step()
    move_stage(session, officer, household.id, "application")
    session.refresh(household)
    assert (household.stage, household.held_from_stage) == (m.Stage.APPLICATION, None)


def test_on_hold_can_end_in_withdrawal_and_reopen_to_the_held_stage(session, household, officer):
    step()
    move_stage(session, officer, household.id, "stage_one")
    step()
    move_stage(session, officer, household.id, "on_hold")
    step()
    move_stage(session, officer, household.id, "withdrawn", reason_code="finances")
    step()
    move_stage(session, officer, household.id, "stage_one", reopen=True, reason_text="Resumed")
    session.refresh(household)
    assert household.stage == m.Stage.STAGE_ONE


def test_approval_opens_a_carer_record_and_deregistration_closes_it(
    session, household, officer, org
):
    step()
    move_stage(session, Actor.system("test"), household.id, "panel")  # history
    step()
    # Staff approve only through the agency decision (tests/crm/test_panel.py).
    move_stage(session, Actor.system("test"), household.id, "approved")
    carer = session.exec(select(m.Carer).where(m.Carer.household_id == household.id)).one()
    assert carer.status == m.CarerStatus.ACTIVE
    assert carer.approved_on.isoformat() == "2026-03-10"
    assert carer.annual_review_due.isoformat() == "2027-03-10"
    assert carer.tsd_due.isoformat() == "2027-03-10"

    with pytest.raises(InvalidInput, match="deregistration"):
        move_stage(session, officer, household.id, "withdrawn", reason_code="timing")
    supervisor = Actor.for_staff(session, org.supervisor_north)
    with pytest.raises(InvalidInput):
        move_stage(session, supervisor, household.id, "deregistered")
    # Ending a carer's registration is for their supervising team, not recruitment.
    with pytest.raises(NotAllowed):
        move_stage(session, officer, household.id, "deregistered", reason_code="retirement")
    step()
    move_stage(session, supervisor, household.id, "deregistered", reason_code="retirement")
    session.refresh(carer)
    assert carer.status == m.CarerStatus.DEREGISTERED
    assert carer.deregistration_reason_code == "retirement"


def test_approval_date_is_englands_date_not_utcs(session, household, officer):
    # 00:30 on 1 July in London is still 30 June in UTC.
    clock.set_now(datetime(2026, 6, 30, 23, 30, tzinfo=UTC))
    move_stage(session, Actor.system("test"), household.id, "approved")
    carer = session.exec(select(m.Carer).where(m.Carer.household_id == household.id)).one()
    assert carer.approved_on.isoformat() == "2026-07-01"


def test_only_approved_households_deregister(session, household, org):
    with pytest.raises(InvalidInput, match="Only an approved"):
        move_stage(
            session,
            Actor.for_staff(session, org.supervisor_north),
            household.id,
            "deregistered",
            reason_code="retirement",
        )


def test_same_stage_future_and_out_of_order_times_are_refused(session, household, officer):
    with pytest.raises(InvalidInput, match="already"):
        move_stage(session, officer, household.id, "enquiry")
    with pytest.raises(InvalidInput, match="future"):
        move_stage(
            session,
            officer,
            household.id,
            "initial_visit",
            occurred_at=clock.now() + timedelta(days=1),
        )
    with pytest.raises(InvalidInput, match="earlier"):
        move_stage(
            session,
            officer,
            household.id,
            "initial_visit",
            occurred_at=datetime(2020, 1, 1, tzinfo=UTC),
        )


def test_officer_of_another_area_is_not_allowed(session, household, org):
    other = Actor.for_staff(session, org.officer_south)
    before = counts(session)
    with pytest.raises(NotAllowed):
        move_stage(session, other, household.id, "initial_visit")
    assert counts(session) == before


def test_stage_events_cannot_be_edited(session, household):
    event = session.exec(select(m.StageEvent)).first()
    event.reason_text = "rewriting history"
    session.add(event)
    with pytest.raises(ValueError, match="append-only"):
        session.commit()
    session.rollback()


def test_two_moves_from_the_same_stage_at_once_only_one_lands(engine, session, household, org):
    from sqlmodel import Session

    with Session(engine) as board, Session(engine) as record:
        # Both screens loaded the household at `enquiry` before either move was sent.
        # (Held in variables, as a request holds them: the identity map keeps them weakly.)
        on_board = board.get(m.Household, household.id)
        on_record = record.get(m.Household, household.id)
        assert on_board.stage == on_record.stage == m.Stage.ENQUIRY
        step()
        move_stage(board, Actor.for_staff(board, org.officer_north), household.id, "initial_visit")
        with pytest.raises(InvalidInput, match="a moment ago"):
            move_stage(
                record,
                Actor.for_staff(record, org.officer_north),
                household.id,
                "withdrawn",
                reason_code="timing",
            )
    session.expire_all()
    assert session.get(m.Household, household.id).stage == m.Stage.INITIAL_VISIT
    assert stages(session, household) == [
        (None, m.Stage.ENQUIRY),
        (m.Stage.ENQUIRY, m.Stage.INITIAL_VISIT),
    ]


# -- nobody approves by a move (only the agency decision: tests/crm/test_panel.py) ----------


def _decision_maker(session, org) -> m.StaffUser:
    staff = m.StaffUser(
        email="decider@test.example", name="Decider", role=m.Role.DECISION_MAKER,
        password_hash="x",
    )  # fmt: skip
    session.add(staff)
    session.flush()
    session.add(m.StaffArea(staff_id=staff.id, area_id=org.north.id))
    session.commit()
    return staff


@pytest.mark.parametrize("role", list(m.Role))
def test_no_member_of_staff_approves_by_a_move_whatever_their_role(session, household, org, role):
    staff = {
        m.Role.ADMIN: org.admin,
        m.Role.MANAGER: org.manager,
        m.Role.RECRUITMENT_OFFICER: org.officer_north,
        m.Role.ASSESSING_SOCIAL_WORKER: org.assessor_north,
        m.Role.SUPERVISING_SOCIAL_WORKER: org.supervisor_north,
    }.get(role) or _decision_maker(session, org)
    assert staff.role == role
    for stage in ("initial_visit", "application", "stage_one", "stage_two", "panel"):
        step()
        move_stage(session, Actor.system("test"), household.id, stage)
    before = counts(session)
    step()
    with pytest.raises(NotAllowed, match="Only the agency decision maker approves"):
        move_stage(session, Actor.for_staff(session, staff), household.id, "approved")
    session.refresh(household)
    assert household.stage == m.Stage.PANEL
    assert counts(session) == before
    assert session.exec(select(m.Carer).where(m.Carer.household_id == household.id)).first() is None


def test_straight_from_stage_two_to_approved_is_refused_and_never_offered(session, household, org):
    from crm.services.households import allowed_moves

    manager = Actor.for_staff(session, org.manager)
    # Brought to stage two as history (the stage-one checks are another test's business).
    for stage in ("initial_visit", "application", "stage_one", "stage_two"):
        step()
        move_stage(session, Actor.system("test"), household.id, stage)
    session.refresh(household)
    assert m.Stage.APPROVED not in allowed_moves(session, household)
    with pytest.raises(NotAllowed):
        move_stage(session, manager, household.id, m.Stage.APPROVED)
    session.refresh(household)
    assert household.stage == m.Stage.STAGE_TWO


def test_a_deregistered_carer_is_not_reapproved_by_a_reopen(session, household, org):
    move_stage(session, Actor.system("test"), household.id, "approved")
    step()
    supervisor = Actor.for_staff(session, org.supervisor_north)
    move_stage(session, supervisor, household.id, "deregistered", reason_code="retirement")
    step()
    with pytest.raises(NotAllowed):
        move_stage(
            session, Actor.for_staff(session, org.manager), household.id, "approved",
            reopen=True, reason_text="Came back",
        )  # fmt: skip
