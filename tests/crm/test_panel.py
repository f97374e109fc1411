"""The panel and the agency decision (crm.services.panel), on SQLite and PostgreSQL."""

from datetime import date, timedelta

import pytest
from sqlmodel import func, select

import crm.models as m
from crm import clock
from crm.services import panel
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed
from crm.services.households import record_consent
from crm.services.pipeline import move_stage
from crm.services.reminders import run as run_reminder
from crm.testing.fixtures import new_household

SYSTEM = Actor.system("test")
# DEFAULT_NOW is Tuesday 10 March 2026.
PANEL_DAY = date(2026, 3, 24)
TERMS = panel.TermsInput(
    places="2", age_min="5", age_max="11", fostering_types=["short_term", "long_term"],
    specialisms=["sibling_groups"],
)  # fmt: skip


def staff(session, org, role: m.Role, email: str, areas) -> m.StaffUser:
    user = m.StaffUser(email=email, name=email.split("@")[0].title(), role=role, password_hash="x")
    session.add(user)
    session.flush()
    for area in areas:
        session.add(m.StaffArea(staff_id=user.id, area_id=area.id))
    session.commit()
    return user


@pytest.fixture
def decider(session, org) -> m.StaffUser:
    return staff(session, org, m.Role.DECISION_MAKER, "decider@test.example", [org.north])


@pytest.fixture
def manager(session, org) -> Actor:
    return Actor.for_staff(session, org.manager)


def at_stage_two(session, settings, *, email: str = "kim.lee@example.com") -> m.Household:
    household = new_household(session, settings, email=email)
    record_consent(
        session, SYSTEM, household.id, scope="email", granted=True,
        wording="You may email me about fostering.",
    )  # fmt: skip
    for stage in ("initial_visit", "application", "stage_one", "stage_two"):
        clock.advance(timedelta(minutes=5))
        move_stage(session, SYSTEM, household.id, stage)
    session.refresh(household)
    return household


def actors_by_role(session, org, decider) -> dict[m.Role, Actor]:
    return {
        m.Role.ADMIN: Actor.for_staff(session, org.admin),
        m.Role.MANAGER: Actor.for_staff(session, org.manager),
        m.Role.RECRUITMENT_OFFICER: Actor.for_staff(session, org.officer_north),
        m.Role.ASSESSING_SOCIAL_WORKER: Actor.for_staff(session, org.assessor_north),
        m.Role.SUPERVISING_SOCIAL_WORKER: Actor.for_staff(session, org.supervisor_north),
        m.Role.DECISION_MAKER: Actor.for_staff(session, decider),
    }


def meeting(session, settings, manager, *, on: date = PANEL_DAY, capacity: int = 4):
    return panel.create_meeting(
        session, manager, settings, meets_on=on, chair="Pat Chair", capacity=capacity
    )


def recommended(session, settings, manager, household, choice="approve", notes=None):
    """Listed for the panel on PANEL_DAY, the panel met, and recommended `choice`."""
    listing = panel.list_household(
        session, manager, settings, meeting(session, settings, manager).id, household.id
    )
    clock.set_now(clock.now().replace(month=3, day=PANEL_DAY.day, hour=16))
    return panel.record_recommendation(
        session, manager, settings, listing.id, recommendation=choice,
        terms=TERMS if choice == "approve" else None, notes=notes,
    )  # fmt: skip


def outbox(session, template: str) -> list[m.OutboxMessage]:
    return list(
        session.exec(select(m.OutboxMessage).where(m.OutboxMessage.template == template)).all()
    )


# -- meetings and listings -----------------------------------------------------------------


def test_a_meeting_has_papers_due_five_working_days_before(session, settings, org, manager):
    made = meeting(session, settings, manager)
    # Tuesday 24 March: five working days back is Tuesday 17 March.
    assert made.papers_due_on == date(2026, 3, 17)
    assert (made.chair, made.capacity) == ("Pat Chair", 4)


def test_bad_meetings_say_why_and_save_nothing(session, settings, org, manager):
    with pytest.raises(InvalidInput) as caught:
        panel.create_meeting(
            session, manager, settings, meets_on=date(2026, 3, 1), chair=" ", capacity="lots"
        )
    assert set(caught.value.errors) == {"meets_on", "chair", "capacity"}
    assert session.exec(select(func.count()).select_from(m.PanelMeeting)).one() == 0


@pytest.mark.parametrize("role", list(m.Role))
def test_only_managers_and_admins_run_the_panel(session, settings, org, decider, role):
    actor = actors_by_role(session, org, decider)[role]
    household = at_stage_two(session, settings)
    if role in (m.Role.MANAGER, m.Role.ADMIN):
        made = meeting(session, settings, actor)
        listing = panel.list_household(session, actor, settings, made.id, household.id)
        assert listing.household_id == household.id
        return
    with pytest.raises(NotAllowed):
        meeting(session, settings, actor)
    made = meeting(session, settings, Actor.for_staff(session, org.manager))
    with pytest.raises(NotAllowed):
        panel.list_household(session, actor, settings, made.id, household.id)
    assert session.exec(select(func.count()).select_from(m.PanelListing)).one() == 0


def test_listing_moves_stage_two_to_panel_and_tells_the_applicants(session, settings, org, manager):
    household = at_stage_two(session, settings)
    made = meeting(session, settings, manager)
    listing = panel.list_household(session, manager, settings, made.id, household.id)
    session.refresh(household)
    assert household.stage == m.Stage.PANEL
    [told] = outbox(session, "panel_date_set")
    assert told.recipient == "kim.lee@example.com"
    assert told.payload["panel_date"] == "24 March 2026"
    # Listed once only, while that listing waits.
    with pytest.raises(InvalidInput, match="already listed"):
        panel.list_household(session, manager, settings, made.id, household.id)
    assert listing.id is not None


def test_no_message_without_consent(session, settings, org, manager):
    household = new_household(session, settings, email="no.consent@example.com")
    for stage in ("initial_visit", "application", "stage_one", "stage_two"):
        clock.advance(timedelta(minutes=5))
        move_stage(session, SYSTEM, household.id, stage)
    panel.list_household(session, manager, settings, meeting(session, settings, manager).id,
                         household.id)  # fmt: skip
    assert outbox(session, "panel_date_set") == []


def test_a_full_panel_refuses_another_household(session, settings, org, manager):
    made = meeting(session, settings, manager, capacity=1)
    first = at_stage_two(session, settings, email="one@example.com")
    second = at_stage_two(session, settings, email="two@example.com")
    panel.list_household(session, manager, settings, made.id, first.id)
    with pytest.raises(InvalidInput, match="is full") as caught:
        panel.list_household(session, manager, settings, made.id, second.id)
    assert "meeting_id" in caught.value.errors
    session.refresh(second)
    assert second.stage == m.Stage.STAGE_TWO  # nothing half-done: the move did not land


def test_only_stage_two_or_panel_is_listed(session, settings, org, manager):
    household = new_household(session, settings)
    with pytest.raises(InvalidInput, match="from stage two"):
        panel.list_household(
            session, manager, settings, meeting(session, settings, manager).id, household.id
        )


# -- the recommendation --------------------------------------------------------------------


def test_the_recommendation_comes_after_the_meeting_with_terms_or_reasons(
    session, settings, org, manager
):
    household = at_stage_two(session, settings)
    listing = panel.list_household(
        session, manager, settings, meeting(session, settings, manager).id, household.id
    )
    with pytest.raises(InvalidInput, match="record its recommendation after"):
        panel.record_recommendation(
            session, manager, settings, listing.id, recommendation="approve", terms=TERMS
        )
    clock.set_now(clock.now().replace(day=24, hour=16))
    with pytest.raises(InvalidInput) as caught:
        panel.record_recommendation(
            session, manager, settings, listing.id, recommendation="approve",
            terms=panel.TermsInput(places="1", age_min="12", age_max="4"),
        )  # fmt: skip
    assert caught.value.errors["age_max"].startswith("The oldest age must be")
    assert "fostering_types" in caught.value.errors
    with pytest.raises(InvalidInput, match="Say why"):
        panel.record_recommendation(session, manager, settings, listing.id, recommendation="defer")
    done = panel.record_recommendation(
        session, manager, settings, listing.id, recommendation="approve", terms=TERMS,
        notes="Warm, thoughtful couple",
    )  # fmt: skip
    assert done.recommendation == m.Recommendation.APPROVE
    assert (done.recommended_places, done.recommended_age_min, done.recommended_age_max) == (
        2, 5, 11,
    )  # fmt: skip
    # Seven working days after Tuesday 24 March: Thursday 2 April.
    assert done.decision_due_on == date(2026, 4, 2)
    with pytest.raises(InvalidInput, match="already on file"):
        panel.record_recommendation(
            session, manager, settings, listing.id, recommendation="defer", notes="Oops"
        )


# -- the agency decision -------------------------------------------------------------------


def decide_yes(session, actor, listing, ssw_id, settings, terms=TERMS):
    return panel.record_decision(
        session, actor, listing.id, decision="approved", terms=terms,
        supervising_social_worker_id=ssw_id, settings=settings,
    )  # fmt: skip


def test_the_decision_maker_approves_with_terms_and_the_supervising_social_worker(
    session, settings, org, manager, decider
):
    household = at_stage_two(session, settings)
    listing = recommended(session, settings, manager, household)
    clock.advance(timedelta(days=1))
    decided = decide_yes(
        session, Actor.for_staff(session, decider), listing, org.supervisor_north.id, settings
    )
    assert decided.decision == m.Decision.APPROVED
    assert decided.decided_by_id == decider.id
    session.refresh(household)
    assert household.stage == m.Stage.APPROVED
    carer = session.exec(select(m.Carer).where(m.Carer.household_id == household.id)).one()
    assert (carer.places, carer.age_min, carer.age_max) == (2, 5, 11)
    assert carer.fostering_types == ["short_term", "long_term"]
    assert carer.specialisms == ["sibling_groups"]
    assert carer.supervising_social_worker_id == org.supervisor_north.id
    [told] = outbox(session, "panel_decision_approved")
    assert told.payload["supervisor_name"] == org.supervisor_north.name
    event = session.exec(
        select(m.StageEvent).where(m.StageEvent.household_id == household.id)
        .order_by(m.StageEvent.id.desc())
    ).first()  # fmt: skip
    assert (event.from_stage, event.to_stage, event.actor_id) == ("panel", "approved", decider.id)


@pytest.mark.parametrize("role", list(m.Role))
def test_only_the_decision_maker_decides(session, settings, org, manager, decider, role):
    household = at_stage_two(session, settings)
    listing = recommended(session, settings, manager, household)
    actor = actors_by_role(session, org, decider)[role]
    if role == m.Role.DECISION_MAKER:
        decide_yes(session, actor, listing, org.supervisor_north.id, settings)
        session.refresh(household)
        assert household.stage == m.Stage.APPROVED
        return
    with pytest.raises(NotAllowed, match="decision maker"):
        decide_yes(session, actor, listing, org.supervisor_north.id, settings)
    session.refresh(household)
    session.refresh(listing)
    assert household.stage == m.Stage.PANEL and listing.decision is None


def test_system_code_does_not_decide_either(session, settings, org, manager):
    household = at_stage_two(session, settings)
    listing = recommended(session, settings, manager, household)
    with pytest.raises(NotAllowed):
        decide_yes(session, SYSTEM, listing, org.supervisor_north.id, settings)


def test_a_decision_needs_a_recommendation_and_panel(session, settings, org, manager, decider):
    actor = Actor.for_staff(session, decider)
    household = at_stage_two(session, settings)
    listing = panel.list_household(
        session, manager, settings, meeting(session, settings, manager).id, household.id
    )
    with pytest.raises(InvalidInput, match="recommendation is not on file"):
        decide_yes(session, actor, listing, org.supervisor_north.id, settings)
    clock.set_now(clock.now().replace(day=24, hour=16))
    panel.record_recommendation(
        session, manager, settings, listing.id, recommendation="defer", notes="More on pets"
    )
    with pytest.raises(InvalidInput, match="deferred"):
        decide_yes(session, actor, listing, org.supervisor_north.id, settings)
    session.refresh(household)
    assert household.stage == m.Stage.PANEL


def test_bad_decisions_say_why_and_change_nothing(session, settings, org, manager, decider):
    actor = Actor.for_staff(session, decider)
    household = at_stage_two(session, settings)
    listing = recommended(session, settings, manager, household)
    south_ssw = staff(
        session, org, m.Role.SUPERVISING_SOCIAL_WORKER, "ssw.south@test.example", [org.south]
    )
    with pytest.raises(InvalidInput) as caught:
        decide_yes(
            session, actor, listing, south_ssw.id, settings,
            terms=panel.TermsInput(places="", age_min="10", age_max="3"),
        )  # fmt: skip
    errors = caught.value.errors
    assert errors["places"] == "Enter the number of children"
    assert errors["age_max"].startswith("The oldest age must be")
    assert errors["fostering_types"] == "Choose at least one type of fostering"
    assert "does not work in this household's area" in errors["supervising_social_worker_id"]
    with pytest.raises(InvalidInput) as caught:
        decide_yes(session, actor, listing, org.officer_north.id, settings)
    assert "not a supervising social worker" in caught.value.errors["supervising_social_worker_id"]
    session.refresh(household)
    assert household.stage == m.Stage.PANEL
    assert session.exec(select(m.Carer)).first() is None


def test_a_second_decision_for_the_same_listing_is_refused(
    session, settings, org, manager, decider
):
    actor = Actor.for_staff(session, decider)
    household = at_stage_two(session, settings)
    listing = recommended(session, settings, manager, household)
    decide_yes(session, actor, listing, org.supervisor_north.id, settings)
    with pytest.raises(InvalidInput, match="already on file"):
        panel.record_decision(
            session, actor, listing.id, decision="not_approved", reason_code="unsuitable",
            notes="Changed my mind", settings=settings,
        )  # fmt: skip
    session.refresh(household)
    assert household.stage == m.Stage.APPROVED


def test_not_approving_closes_the_household_and_writes_to_the_applicants(
    session, settings, org, manager, decider
):
    actor = Actor.for_staff(session, decider)
    household = at_stage_two(session, settings)
    listing = recommended(
        session, settings, manager, household, "do_not_approve", notes="Space at home"
    )
    reason = panel.not_approved_reasons(session)[0]
    with pytest.raises(InvalidInput) as caught:
        panel.record_decision(session, actor, listing.id, decision="not_approved")
    assert set(caught.value.errors) == {"reason_code", "notes"}
    panel.record_decision(
        session, actor, listing.id, decision="not_approved", reason_code=reason.code,
        notes="There is not yet a bedroom for a child.", settings=settings,
    )  # fmt: skip
    session.refresh(household)
    assert household.stage == m.Stage.NOT_PROGRESSED
    event = session.exec(
        select(m.StageEvent).where(m.StageEvent.household_id == household.id)
        .order_by(m.StageEvent.id.desc())
    ).first()  # fmt: skip
    assert event.reason_code == reason.code
    [letter] = outbox(session, "panel_decision_not_approved")
    assert letter.status == m.OutboxStatus.PENDING
    assert letter.payload["reason_words"] == "There is not yet a bedroom for a child."
    assert session.exec(select(m.Carer)).first() is None


# -- reminders -----------------------------------------------------------------------------


def test_the_papers_reminder_goes_before_they_are_due_once(session, settings, org, manager):
    household = at_stage_two(session, settings)
    panel.list_household(
        session, manager, settings, meeting(session, settings, manager).id, household.id
    )
    # Papers due Tuesday 17 March; chased from Friday 13 March.
    assert run_reminder("panel_papers", session, settings, clock.now())["papers"] == 0
    friday = clock.now().replace(day=13, hour=8)
    assert run_reminder("panel_papers", session, settings, friday)["papers"] == 1
    assert run_reminder("panel_papers", session, settings, friday)["papers"] == 0
    task = session.exec(select(m.Task).where(m.Task.kind == m.TaskKind.PANEL_PAPERS)).one()
    assert task.done_at is None
    listing = session.exec(select(m.PanelListing)).one()
    panel.mark_papers_sent(session, manager, listing.id)
    session.refresh(task)
    assert task.done_at is not None


def test_the_decision_reminder_tells_the_decision_maker_and_the_decision_closes_it(
    session, settings, org, manager, decider
):
    household = at_stage_two(session, settings)
    listing = recommended(session, settings, manager, household)
    summary = run_reminder("panel_decisions", session, settings, clock.now())
    assert summary["due"] == 1
    assert [m_.recipient for m_ in outbox(session, "panel_decision_due_staff")] == [decider.email]
    late = clock.now() + timedelta(days=12)
    assert run_reminder("panel_decisions", session, settings, late)["overdue"] == 1
    decide_yes(session, Actor.for_staff(session, decider), listing, org.supervisor_north.id,
               settings)  # fmt: skip
    open_tasks = session.exec(
        select(m.Task).where(m.Task.kind == m.TaskKind.PANEL_DECISION, m.Task.done_at.is_(None))
    ).all()
    assert open_tasks == []


def test_a_recommendation_stops_the_timescale_alerts(session, settings, org, manager):
    household = at_stage_two(session, settings)
    recommended(session, settings, manager, household)
    eight_months_on = clock.now() + timedelta(days=250)
    assert run_reminder("panel_timescales", session, settings, eight_months_on)["overdue"] == 0


# -- the 8-month timescale -----------------------------------------------------------------


def test_days_left_and_the_at_risk_flag(session, settings, org, manager):
    household = at_stage_two(session, settings)
    scale = panel.timescale(session, settings, household)
    # Applied 10 March 2026: the recommendation is due by 10 November 2026.
    assert scale.deadline == date(2026, 11, 10)
    assert scale.days_left == (date(2026, 11, 10) - date(2026, 3, 10)).days
    assert not scale.at_risk
    clock.set_now(clock.now() + timedelta(days=200))
    scale = panel.timescale(session, settings, household)
    assert scale.days_left <= settings.panel.at_risk_days and scale.at_risk
    [row] = panel.timescales(session, manager, settings, at_risk_only=True)
    assert row.household.id == household.id
    with pytest.raises(NotAllowed):
        panel.timescales(session, Actor.for_staff(session, org.officer_north), settings)


def test_the_decision_maker_sees_panel_households_in_their_areas_only(
    session, settings, org, manager, decider
):
    from crm.services import access

    actor = Actor.for_staff(session, decider)
    household = at_stage_two(session, settings)
    assert not access.may_view_household(actor, household)
    recommended(session, settings, manager, household)
    session.refresh(household)
    assert access.may_view_household(actor, household)
    [row] = panel.decisions_waiting(session, actor)
    assert row.household.id == household.id
    south = staff(session, org, m.Role.DECISION_MAKER, "decider.south@test.example", [org.south])
    assert panel.decisions_waiting(session, Actor.for_staff(session, south)) == []


# -- data protection -----------------------------------------------------------------------


def test_subject_access_shows_the_panel_and_erasure_removes_the_words(
    session, settings, org, manager, decider
):
    from crm.services.data_protection import anonymise_household, subject_access_export

    household = at_stage_two(session, settings)
    listing = recommended(
        session, settings, manager, household, "do_not_approve", notes="Worried about space"
    )
    reason = panel.not_approved_reasons(session)[0]
    panel.record_decision(
        session, Actor.for_staff(session, decider), listing.id, decision="not_approved",
        reason_code=reason.code, notes="No spare bedroom yet.", settings=settings,
    )  # fmt: skip
    document = subject_access_export(session, manager, settings, household.id)
    [section] = [s for s in document.sections if s.key == "panel"]
    [row] = section.rows
    assert "Do not approve" in row and "Worried about space" in row
    assert "No spare bedroom yet." in row and reason.label in row and decider.name in row

    # A fresh look, as a new request has: the test's session still holds the applicants.
    session.expire_all()
    anonymise_household(session, manager, household.id, reason="Asked in writing")
    listing = session.get(m.PanelListing, listing.id)
    session.refresh(listing)
    assert listing.recommendation_notes is None and listing.decision_notes is None
    # The outcome stays for the statistics.
    assert listing.decision == m.Decision.NOT_APPROVED


def test_a_household_that_withdraws_gives_up_its_place_on_the_panel(
    session, settings, org, manager
):
    made = meeting(session, settings, manager, capacity=1)
    first = at_stage_two(session, settings, email="one@example.com")
    second = at_stage_two(session, settings, email="two@example.com")
    listing = panel.list_household(session, manager, settings, made.id, first.id)
    clock.advance(timedelta(hours=1))
    move_stage(session, manager, first.id, "withdrawn", reason_code="timing")
    session.refresh(listing)
    assert listing.withdrawn_at is not None
    # The place is free for the next household.
    panel.list_household(session, manager, settings, made.id, second.id)
    view = panel.meeting_view(session, manager, settings, made.id)
    assert [row.household.id for row in view.rows] == [second.id]


def test_the_decision_maker_signs_in_with_a_second_step_by_default():
    from crm.services import second_factor
    from crm.settings import load_settings

    defaults = load_settings(environ={})
    user = m.StaffUser(email="d@example.org", name="D", role=m.Role.DECISION_MAKER)
    assert second_factor.unknown_role_names(defaults) == []
    assert second_factor.required_for(defaults, user)
    assert m.Role.DECISION_MAKER.label == "Agency decision maker"
