"""Each reminder run directly at chosen times (the movable clock), on SQLite and PostgreSQL:
across the clock changes (29 March and 25 October 2026), a bank holiday and a weekend. Every
reminder run twice writes nothing the second time."""

from datetime import UTC, date, datetime, timedelta

from sqlmodel import select

import crm.models as m
from crm import clock
from crm.services import reminders
from crm.services.actors import Actor
from crm.services.appointments import book_appointment, cancel_appointment
from crm.services.pipeline import move_stage
from crm.services.timeline import log_activity
from tests.crm.scheduler.helpers import make_carer, make_household, outbox, tasks

SYSTEM = Actor.system("test")


def at(*args) -> datetime:
    return clock.set_now(datetime(*args, tzinfo=UTC)) or clock.now()


def book(session, settings, household, staff, starts_at):
    return book_appointment(
        session,
        SYSTEM,
        settings,
        staff_id=staff.id,
        kind=m.AppointmentKind.INITIAL_VISIT,
        starts_at=starts_at,
        household_id=household.id,
        location="At home",
    )


# -- visit reminders -------------------------------------------------------------------------


def test_visit_reminders_across_the_change_to_summer_time(session, org, sched_settings):
    at(2026, 3, 26, 12, 0)  # Thursday, GMT
    household = make_household(session, sched_settings)
    # Monday 30 March 09:30 BST = 08:30 UTC; the clocks went forward on Sunday 29 March.
    visit = book(
        session,
        sched_settings,
        household,
        org.officer_north,
        datetime(2026, 3, 30, 8, 30, tzinfo=UTC),
    )

    # The day before at 10:00 London time is 09:00 UTC on Sunday 29 March (BST).
    now = at(2026, 3, 29, 8, 59)
    assert reminders.run("visit_reminders", session, sched_settings, now) == {
        "household": 0,
        "staff": 0,
    }
    now = at(2026, 3, 29, 9, 0)
    assert reminders.run("visit_reminders", session, sched_settings, now) == {
        "household": 1,
        "staff": 1,
    }
    assert reminders.run("visit_reminders", session, sched_settings, now) == {
        "household": 0,
        "staff": 0,
    }
    [to_household] = outbox(session, template="visit_reminder")
    assert to_household.recipient == "sam.patel@example.com"
    assert to_household.payload["when"] == "day_before"
    assert to_household.payload["appointment_id"] == visit.id
    [to_staff] = outbox(session, template="visit_reminder_staff")
    assert to_staff.recipient == org.officer_north.email
    assert to_staff.staff_id == org.officer_north.id

    # Late on Sunday evening: still nothing new. The morning of: 08:00 BST = 07:00 UTC.
    now = at(2026, 3, 29, 22, 0)
    assert reminders.run("visit_reminders", session, sched_settings, now) == {
        "household": 0,
        "staff": 0,
    }
    now = at(2026, 3, 30, 6, 59)
    assert reminders.run("visit_reminders", session, sched_settings, now) == {
        "household": 0,
        "staff": 0,
    }
    now = at(2026, 3, 30, 7, 0)
    assert reminders.run("visit_reminders", session, sched_settings, now) == {
        "household": 1,
        "staff": 0,
    }
    whens = [msg.payload["when"] for msg in outbox(session, template="visit_reminder")]
    assert whens == ["day_before", "morning_of"]


def test_visit_reminders_across_the_change_back_to_greenwich_time(session, org, sched_settings):
    at(2026, 10, 21, 12, 0)
    household = make_household(session, sched_settings)
    # Monday 26 October 09:30 GMT; the clocks went back at 02:00 BST on Sunday 25 October.
    book(
        session,
        sched_settings,
        household,
        org.officer_north,
        datetime(2026, 10, 26, 9, 30, tzinfo=UTC),
    )
    # 10:00 on Sunday is 10:00 UTC now, not 09:00 as it was the day before.
    now = at(2026, 10, 25, 9, 30)
    assert reminders.run("visit_reminders", session, sched_settings, now)["household"] == 0
    now = at(2026, 10, 25, 10, 0)
    assert reminders.run("visit_reminders", session, sched_settings, now)["household"] == 1


def test_a_late_start_sends_the_day_before_reminder_late_but_not_after_the_morning(
    session, org, sched_settings
):
    household = make_household(session, sched_settings)
    book(
        session,
        sched_settings,
        household,
        org.officer_north,
        datetime(2026, 3, 12, 9, 30, tzinfo=UTC),
    )
    # The scheduler was down all Wednesday daytime and comes back at 20:00: still sent.
    now = at(2026, 3, 11, 20, 0)
    assert reminders.run("visit_reminders", session, sched_settings, now)["household"] == 1
    # A second visit, scanned for the first time the next morning: only the morning one.
    second = make_household(
        session, sched_settings, first_name="Alex", email_address="alex@example.com", phone=None
    )
    book(
        session, sched_settings, second, org.officer_north, datetime(2026, 3, 12, 11, 0, tzinfo=UTC)
    )
    now = at(2026, 3, 12, 8, 5)
    reminders.run("visit_reminders", session, sched_settings, now)
    whens = [
        msg.payload["when"]
        for msg in outbox(session, template="visit_reminder", recipient="alex@example.com")
    ]
    assert whens == ["morning_of"]


def test_no_reminder_without_consent_or_for_a_cancelled_visit(session, org, sched_settings):
    household = make_household(session, sched_settings, consents=())
    book(
        session,
        sched_settings,
        household,
        org.officer_north,
        datetime(2026, 3, 12, 9, 30, tzinfo=UTC),
    )
    other = make_household(
        session, sched_settings, first_name="Jo", email_address="jo@example.com", phone=None
    )
    visit = book(
        session, sched_settings, other, org.officer_north, datetime(2026, 3, 12, 11, 0, tzinfo=UTC)
    )
    cancel_appointment(session, SYSTEM, visit.id, reason="They are away")
    now = at(2026, 3, 11, 10, 0)
    # Only the staff reminder for the first visit: the household agreed to no channel.
    assert reminders.run("visit_reminders", session, sched_settings, now) == {
        "household": 0,
        "staff": 1,
    }


def test_two_applicants_with_email_both_get_the_reminder(session, org, sched_settings):
    household = make_household(
        session, sched_settings, second_applicant=("Robin", "Patel", "robin@example.com")
    )
    book(
        session,
        sched_settings,
        household,
        org.officer_north,
        datetime(2026, 3, 12, 9, 30, tzinfo=UTC),
    )
    now = at(2026, 3, 11, 10, 0)
    reminders.run("visit_reminders", session, sched_settings, now)
    recipients = sorted(msg.recipient for msg in outbox(session, template="visit_reminder"))
    assert recipients == ["robin@example.com", "sam.patel@example.com"]


def test_telegram_is_used_when_preferred_and_agreed(session, org, settings):
    telegram_settings = settings.model_copy(update={"telegram_bot_token": "1:abc"})
    household = make_household(
        session,
        telegram_settings,
        consents=(m.ConsentScope.EMAIL, m.ConsentScope.TELEGRAM),
        telegram_chat=5551,
        preferred=m.Channel.TELEGRAM,
    )
    book(
        session,
        telegram_settings,
        household,
        org.officer_north,
        datetime(2026, 3, 12, 9, 30, tzinfo=UTC),
    )
    now = at(2026, 3, 11, 10, 0)
    reminders.run("visit_reminders", session, telegram_settings, now)
    [message] = outbox(session, template="visit_reminder")
    assert (message.channel, message.recipient) == (m.Channel.TELEGRAM, "5551")


# -- new enquiries ---------------------------------------------------------------------------


def test_enquiry_before_a_bank_holiday_is_chased_on_tuesday(session, org, sched_settings):
    # Friday 1 May 2026, 15:00 BST; Monday 4 May is the early May bank holiday.
    at(2026, 5, 1, 14, 0)
    household = make_household(session, sched_settings)
    [callback] = tasks(session, household_id=household.id)

    for moment in [(2026, 5, 4, 20, 0), (2026, 5, 5, 13, 59)]:
        now = at(*moment)
        summary = reminders.run("enquiry_chasers", session, sched_settings, now)
        assert summary == {"overdue": 0, "alerts": 0, "messages": 0, "second_attempts": 0}

    now = at(2026, 5, 5, 14, 0)  # Tuesday 15:00 BST: one working day of office time later
    summary = reminders.run("enquiry_chasers", session, sched_settings, now)
    assert summary == {"overdue": 1, "alerts": 1, "messages": 1, "second_attempts": 0}
    # The call-back task made with the enquiry is raised, not duplicated.
    [task] = tasks(session, household_id=household.id)
    assert task.id == callback.id and task.priority == m.TaskPriority.URGENT
    [alert] = outbox(session, template="enquiry_response_overdue_staff")
    assert alert.recipient == org.officer_north.email
    [sorry] = outbox(session, template="enquiry_sorry_for_the_wait")
    assert sorry.recipient == "sam.patel@example.com"
    assert reminders.run("enquiry_chasers", session, sched_settings, now)["alerts"] == 0

    # Two working days (Tuesday and Wednesday): the second attempt on Wednesday 15:00 BST.
    now = at(2026, 5, 6, 13, 59)
    assert reminders.run("enquiry_chasers", session, sched_settings, now)["second_attempts"] == 0
    now = at(2026, 5, 6, 14, 0)
    assert reminders.run("enquiry_chasers", session, sched_settings, now)["second_attempts"] == 1
    assert reminders.run("enquiry_chasers", session, sched_settings, now)["second_attempts"] == 0
    kinds = sorted(t.kind for t in tasks(session, household_id=household.id))
    assert kinds == [m.TaskKind.RESPOND_TO_ENQUIRY, m.TaskKind.SECOND_ATTEMPT]


def test_weekend_enquiry_is_due_at_the_end_of_monday(session, org, sched_settings):
    at(2026, 3, 7, 11, 0)  # Saturday
    make_household(session, sched_settings, consents=())
    now = at(2026, 3, 9, 16, 59)
    assert reminders.run("enquiry_chasers", session, sched_settings, now)["overdue"] == 0
    now = at(2026, 3, 9, 17, 0)
    summary = reminders.run("enquiry_chasers", session, sched_settings, now)
    # No consent to contact: staff are alerted, the enquirer gets nothing from us.
    assert summary == {"overdue": 1, "alerts": 1, "messages": 0, "second_attempts": 0}


def test_a_contacted_enquiry_is_not_chased(session, org, sched_settings):
    household = make_household(session, sched_settings)
    log_activity(
        session,
        org.actor(session, org.officer_north),
        household.id,
        m.ActivityKind.CALL,
        summary="Spoke about fostering",
        call_outcome=m.CallOutcome.SPOKE,
    )
    now = at(2026, 3, 20, 12, 0)
    summary = reminders.run("enquiry_chasers", session, sched_settings, now)
    assert summary == {"overdue": 0, "alerts": 0, "messages": 0, "second_attempts": 0}


def test_unassigned_enquiry_alerts_the_area_team_or_the_managers(session, org, sched_settings):
    # An unknown postcode: no area and no officer, so the hub's triage team (every recruitment
    # officer) hears about it; with no officers working, the managers do.
    make_household(session, sched_settings, postcode="SW1A 1AA")
    now = at(2026, 3, 11, 10, 0)
    reminders.run("enquiry_chasers", session, sched_settings, now)
    alerts = outbox(session, template="enquiry_response_overdue_staff")
    assert sorted(a.recipient for a in alerts) == sorted(
        [org.officer_north.email, org.officer_south.email]
    )
    for officer in (org.officer_north, org.officer_south):
        officer.active = False
        session.add(officer)
    session.commit()
    make_household(
        session,
        sched_settings,
        first_name="Lee",
        email_address="lee@example.com",
        phone=None,
        postcode="SW1A 2AA",
    )
    now = at(2026, 3, 12, 10, 0)
    reminders.run("enquiry_chasers", session, sched_settings, now)
    alerts = outbox(session, template="enquiry_response_overdue_staff")
    assert alerts[-1].recipient == org.manager.email


# -- stalled cases ---------------------------------------------------------------------------


def test_stalled_case_gets_a_task_and_a_nudge_once(session, org, sched_settings):
    household = make_household(session, sched_settings)
    move_stage(session, SYSTEM, household.id, m.Stage.APPLICATION)
    applied = clock.now()
    # Application's target is 14 days.
    now = at(*(applied + timedelta(days=14)).timetuple()[:5])
    assert reminders.run("stalled_cases", session, sched_settings, now) == {"tasks": 0, "nudges": 0}
    now = clock.advance(timedelta(minutes=1))
    assert reminders.run("stalled_cases", session, sched_settings, now) == {"tasks": 1, "nudges": 1}
    assert reminders.run("stalled_cases", session, sched_settings, now) == {"tasks": 0, "nudges": 0}
    [task] = tasks(session, kind=m.TaskKind.STALLED_CASE)
    assert task.owner_id == org.officer_north.id
    [nudge] = outbox(session, template="stalled_case_nudge")
    assert nudge.payload["stage_label"] == "Application"

    # Our own nudge does not count as activity; a note by staff does, and restarts the clock.
    clock.advance(timedelta(days=1))
    log_activity(
        session, org.actor(session, org.officer_north), household.id, "note", summary="Emailed"
    )
    now = clock.advance(timedelta(days=14))
    assert reminders.run("stalled_cases", session, sched_settings, now)["tasks"] == 0
    now = clock.advance(timedelta(minutes=1))
    assert reminders.run("stalled_cases", session, sched_settings, now)["tasks"] == 1


def test_stalled_assessment_is_a_task_for_staff_only(session, org, sched_settings):
    household = make_household(session, sched_settings)
    move_stage(session, SYSTEM, household.id, m.Stage.STAGE_TWO)
    now = clock.advance(timedelta(days=121))
    assert reminders.run("stalled_cases", session, sched_settings, now) == {"tasks": 1, "nudges": 0}


# -- the 8-month panel timescale -------------------------------------------------------------


def test_panel_timescale_warning_then_overdue(session, org, sched_settings):
    at(2025, 7, 1, 9, 0)
    household = make_household(session, sched_settings)
    move_stage(session, SYSTEM, household.id, m.Stage.APPLICATION)
    move_stage(session, SYSTEM, household.id, m.Stage.STAGE_TWO)
    now = at(2026, 1, 31, 9, 0)
    assert reminders.run("panel_timescales", session, sched_settings, now)["warnings"] == 0
    now = at(2026, 2, 1, 9, 0)  # 7 months after applying
    summary = reminders.run("panel_timescales", session, sched_settings, now)
    assert summary == {"warnings": 1, "overdue": 0, "alerts": 1}
    assert reminders.run("panel_timescales", session, sched_settings, now) == {
        "warnings": 0,
        "overdue": 0,
        "alerts": 0,
    }
    [alert] = outbox(session, template="panel_timescale_alert")
    assert alert.recipient == org.manager.email
    assert alert.payload["deadline_date"] == "1 March 2026"
    now = at(2026, 3, 1, 9, 0)
    assert reminders.run("panel_timescales", session, sched_settings, now)["overdue"] == 1
    [warning, overdue] = tasks(session, kind=m.TaskKind.PANEL_DEADLINE)
    assert overdue.priority == m.TaskPriority.URGENT and warning.owner_id == org.manager.id


def test_approved_households_are_past_the_panel_timescale(session, org, sched_settings):
    at(2025, 1, 1, 9, 0)
    household = make_household(session, sched_settings)
    move_stage(session, SYSTEM, household.id, m.Stage.APPLICATION)
    move_stage(session, SYSTEM, household.id, m.Stage.APPROVED)
    now = at(2026, 3, 1, 9, 0)
    assert reminders.run("panel_timescales", session, sched_settings, now)["warnings"] == 0


# -- retention check-ins ---------------------------------------------------------------------


def test_check_ins_monthly_in_the_first_year_then_every_six_weeks(session, org, sched_settings):
    approved = at(2026, 1, 5, 10, 0)
    carer = make_carer(
        session, sched_settings, supervisor_id=org.supervisor_north.id, approved_at=approved
    )
    # Approved on 5 January; monthly (30 days) in the first year.
    now = at(2026, 2, 3, 10, 0)
    assert reminders.run("retention_check_ins", session, sched_settings, now)["periodic"] == 0
    now = at(2026, 2, 4, 10, 0)
    assert reminders.run("retention_check_ins", session, sched_settings, now)["periodic"] == 1
    assert reminders.run("retention_check_ins", session, sched_settings, now)["periodic"] == 0
    [check_in] = session.exec(select(m.CheckIn)).all()
    assert check_in.carer_id == carer.id and check_in.channel == m.Channel.EMAIL
    [message] = outbox(session, template="check_in")
    assert check_in.outbox_message_id == message.id
    assert message.payload["reason"] == "first_year"
    now = at(2026, 3, 6, 10, 0)
    assert reminders.run("retention_check_ins", session, sched_settings, now)["periodic"] == 1

    # After the first year, every 42 days from the last one.
    session.exec(select(m.CheckIn)).all()
    now = at(2027, 1, 10, 10, 0)
    assert reminders.run("retention_check_ins", session, sched_settings, now)["periodic"] == 1
    now = at(2027, 2, 20, 10, 0)
    assert reminders.run("retention_check_ins", session, sched_settings, now)["periodic"] == 0
    now = at(2027, 2, 21, 10, 0)
    assert reminders.run("retention_check_ins", session, sched_settings, now)["periodic"] == 1
    reasons = [msg.payload["reason"] for msg in outbox(session, template="check_in")]
    assert reasons[-1] == "regular"


def test_a_check_in_a_few_days_after_a_placement_ends(session, org, sched_settings):
    approved = at(2025, 1, 6, 10, 0)
    carer = make_carer(
        session, sched_settings, supervisor_id=org.supervisor_north.id, approved_at=approved
    )
    now = at(2026, 3, 2, 10, 0)
    # Bring the regular check-ins up to date first.
    reminders.run("retention_check_ins", session, sched_settings, now)
    session.add(
        m.Placement(
            carer_id=carer.id,
            child_reference="C-1",
            fostering_type=m.FosteringType.SHORT_TERM,
            started_on=date(2025, 6, 1),
            ended_on=date(2026, 3, 5),
        )
    )
    session.commit()
    now = at(2026, 3, 7, 10, 0)
    assert (
        reminders.run("retention_check_ins", session, sched_settings, now)["placement_ended"] == 0
    )
    now = at(2026, 3, 8, 10, 0)  # three days after
    summary = reminders.run("retention_check_ins", session, sched_settings, now)
    assert summary["placement_ended"] == 1 and summary["periodic"] == 0
    assert (
        reminders.run("retention_check_ins", session, sched_settings, now)["placement_ended"] == 0
    )
    reasons = [msg.payload["reason"] for msg in outbox(session, template="check_in")]
    assert reasons[-1] == "placement_ended"


def test_no_check_in_for_a_carer_on_a_break(session, org, sched_settings):
    approved = at(2025, 1, 6, 10, 0)
    carer = make_carer(
        session, sched_settings, supervisor_id=org.supervisor_north.id, approved_at=approved
    )
    carer.status = m.CarerStatus.ON_BREAK
    session.add(carer)
    session.commit()
    now = at(2026, 3, 2, 10, 0)
    assert reminders.run("retention_check_ins", session, sched_settings, now)["periodic"] == 0


# -- annual review, TSD, supervision ---------------------------------------------------------


def test_annual_review_at_60_and_30_days(session, org, sched_settings):
    approved = at(2025, 6, 2, 10, 0)
    carer = make_carer(
        session, sched_settings, supervisor_id=org.supervisor_north.id, approved_at=approved
    )
    assert carer.annual_review_due == date(2026, 6, 2)
    now = at(2026, 4, 2, 8, 0)  # 61 days before
    assert reminders.run("carer_reminders", session, sched_settings, now)["annual_review"] == 0
    now = at(2026, 4, 3, 8, 0)  # 60 days before
    assert reminders.run("carer_reminders", session, sched_settings, now)["annual_review"] == 1
    assert reminders.run("carer_reminders", session, sched_settings, now)["annual_review"] == 0
    now = at(2026, 5, 3, 8, 0)  # 30 days before
    assert reminders.run("carer_reminders", session, sched_settings, now)["annual_review"] == 1
    reviews = tasks(session, kind=m.TaskKind.ANNUAL_REVIEW)
    assert [t.owner_id for t in reviews] == [org.supervisor_north.id] * 2
    alerts = outbox(session, template="annual_review_due_staff")
    assert [a.payload["days_left"] for a in alerts] == [60, 30]
    assert alerts[0].payload["first_review"] is True


def test_a_late_start_sends_only_the_nearest_annual_review_reminder(session, org, sched_settings):
    approved = at(2025, 6, 2, 10, 0)
    make_carer(session, sched_settings, supervisor_id=org.supervisor_north.id, approved_at=approved)
    now = at(2026, 5, 13, 8, 0)  # 20 days before, never scanned
    assert reminders.run("carer_reminders", session, sched_settings, now)["annual_review"] == 1
    [alert] = outbox(session, template="annual_review_due_staff")
    assert alert.payload["days_left"] == 20


def test_tsd_deadline_reminds_staff_and_the_carer(session, org, sched_settings):
    approved = at(2025, 6, 2, 10, 0)
    carer = make_carer(
        session,
        sched_settings,
        supervisor_id=org.supervisor_north.id,
        approved_at=approved,
        email_address="carer@example.com",
        phone=None,
    )
    assert carer.tsd_due == date(2026, 6, 2)
    now = at(2026, 4, 2, 8, 0)
    assert reminders.run("carer_reminders", session, sched_settings, now)["tsd"] == 0
    now = at(2026, 4, 3, 8, 0)  # 60 days before
    summary = reminders.run("carer_reminders", session, sched_settings, now)
    assert summary["tsd"] == 1 and summary["tsd_reminders"] == 1
    [to_carer] = outbox(session, template="tsd_reminder")
    assert to_carer.recipient == "carer@example.com" and to_carer.carer_id == carer.id
    carer = session.get(m.Carer, carer.id)
    carer.tsd_completed_on = date(2026, 4, 10)
    session.add(carer)
    session.commit()
    now = at(2026, 5, 1, 8, 0)
    assert reminders.run("carer_reminders", session, sched_settings, now)["tsd"] == 0


def test_supervision_overdue_unless_a_visit_is_booked(session, org, sched_settings):
    approved = at(2026, 1, 5, 10, 0)
    carer = make_carer(
        session, sched_settings, supervisor_id=org.supervisor_north.id, approved_at=approved
    )
    # Approved on 5 January (a date: from midnight); 42 days later is 16 February.
    now = at(2026, 2, 15, 23, 59)
    assert reminders.run("carer_reminders", session, sched_settings, now)["supervision"] == 0
    now = at(2026, 2, 16, 0, 1)
    assert reminders.run("carer_reminders", session, sched_settings, now)["supervision"] == 1
    assert reminders.run("carer_reminders", session, sched_settings, now)["supervision"] == 0
    [alert] = outbox(session, template="supervision_overdue_staff")
    assert alert.recipient == org.supervisor_north.email

    # A visit happened; six weeks later it is overdue again, unless the next one is booked.
    carer = session.get(m.Carer, carer.id)
    carer.last_supervision_at = datetime(2026, 2, 20, 10, 0, tzinfo=UTC)
    session.add(carer)
    session.add(
        m.Appointment(
            kind=m.AppointmentKind.SUPERVISION_VISIT,
            staff_id=org.supervisor_north.id,
            carer_id=carer.id,
            starts_at=datetime(2026, 4, 20, 10, 0, tzinfo=UTC),
            ends_at=datetime(2026, 4, 20, 11, 30, tzinfo=UTC),
            booked_by_label="test",
        )
    )
    session.commit()
    now = at(2026, 4, 10, 10, 0)
    assert reminders.run("carer_reminders", session, sched_settings, now)["supervision"] == 0
