"""Demo data: deterministic, consistent by the services' own rules, shaped like England's
fostering funnel, and a database the normal services keep working on."""

from __future__ import annotations

import os
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlmodel import Session, SQLModel, func, select

import crm.models as m
from crm.cli import main
from crm.db import make_engine
from crm.demo import DemoSummary, generate
from crm.demo.organisation import DEMO_LOGINS, DEMO_PASSWORD
from crm.migrate import upgrade
from crm.services import reminders
from crm.services.actors import Actor
from crm.services.appointments import book_appointment, free_slots, slots_for_area
from crm.services.enquiries import (
    ApplicantDetails,
    EnquiryInput,
    area_for_postcode,
    create_enquiry,
    response_due,
)
from crm.services.errors import InvalidInput, SlotTaken
from crm.services.outbox import reachable_recipients
from crm.services.pipeline import classify_move, move_stage, new_carer_record
from crm.services.staff import verify_password
from crm.services.timeline import log_activity
from crm.services.validation import normalise_email, normalise_phone, normalise_postcode
from crm.settings import Settings
from crm.testing.fixtures import (
    DEFAULT_NOW,
    drop_postgres_schema,
    make_organisation,
    make_test_settings,
    postgres_url,
)

AS_OF = date(2026, 3, 10)  # the day of DEFAULT_NOW: histories run up to its start
CUTOFF = datetime(2026, 3, 10, 0, 0, tzinfo=UTC)  # midnight in London (GMT in March)
FUNNEL = [s.value for s in m.FUNNEL_STAGES]
DRAMA_PHONE = re.compile(r"^\+44(7700900|1632960)\d{3}$")


def dump(engine: sa.Engine) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order."""
    result = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            order = list(table.primary_key.columns)
            result[table.name] = [tuple(r) for r in conn.execute(sa.select(table).order_by(*order))]
    return result


def assert_same_rows(left: dict, right: dict) -> None:
    assert left.keys() == right.keys()
    for name in left:
        assert len(left[name]) == len(right[name]), name
        for a, b in zip(left[name], right[name], strict=True):
            assert a == b, f"{name}: {a} != {b}"


def fresh_sqlite(tmp_path: Path, name: str) -> str:
    url = f"sqlite:///{tmp_path / name}"
    upgrade(url)
    return url


def count(session: Session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


# -- one demo database per backend, shared by the read-only checks ------------------------


@dataclass
class Demo:
    url: str
    engine: sa.Engine
    settings: Settings
    summary: DemoSummary


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    schema = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    else:
        schema = f"fostercrm_demo_{os.getpid()}"
        url = postgres_url(schema)
    upgrade(url)
    engine = make_engine(url)
    settings = make_test_settings(url)
    summary = generate(engine, settings, households=1500, seed=7, as_of=AS_OF)
    yield Demo(url, engine, settings, summary)
    engine.dispose()
    if schema:
        drop_postgres_schema(schema)


@pytest.fixture
def demo_session(demo: Demo):
    with Session(demo.engine) as session:
        yield session


# -- determinism --------------------------------------------------------------------------


def test_same_seed_and_day_give_identical_rows(database_url, engine, settings, tmp_path):
    """On SQLite twice, and on PostgreSQL against SQLite: the very same rows."""
    generate(engine, settings, households=300, seed=3, as_of=AS_OF)
    other_url = fresh_sqlite(tmp_path, "other.db")
    other = make_engine(other_url)
    generate(other, make_test_settings(other_url), households=300, seed=3, as_of=AS_OF)
    try:
        first, second = dump(engine), dump(other)
        assert len(first["household"]) == 300
        assert len(first["stage_event"]) > 300
        assert_same_rows(first, second)
    finally:
        other.dispose()


def test_a_different_seed_or_day_gives_different_data(tmp_path):
    dumps = []
    for name, seed, as_of in (
        ("a.db", 3, AS_OF),
        ("b.db", 4, AS_OF),
        ("c.db", 3, date(2025, 6, 2)),
    ):
        url = fresh_sqlite(tmp_path, name)
        engine = make_engine(url)
        generate(engine, make_test_settings(url), households=200, seed=seed, as_of=as_of)
        dumps.append(dump(engine))
        engine.dispose()
    base, other_seed, other_day = dumps
    for other in (other_seed, other_day):
        assert other["household"] != base["household"]
        assert other["stage_event"] != base["stage_event"]
    # Same number of households, but their histories end on a different day.
    latest = max(row[-1] for row in other_day["stage_event"])  # recorded_at
    assert latest < datetime(2025, 6, 2, tzinfo=UTC)


def test_default_day_is_today_in_london_whatever_the_time(tmp_path, frozen_clock):
    """Without `as_of` the histories run up to today (in London): a run just after midnight
    and one in the evening of the same day give the same rows."""
    dumps = []
    # 23:30 UTC on 31 May is already 1 June in London (BST); 19:00 UTC is the evening.
    for name, now in (
        ("early.db", datetime(2025, 5, 31, 23, 30, tzinfo=UTC)),
        ("late.db", datetime(2025, 6, 1, 19, 0, tzinfo=UTC)),
    ):
        frozen_clock.set_now(now)
        url = fresh_sqlite(tmp_path, name)
        engine = make_engine(url)
        summary = generate(engine, make_test_settings(url), households=120, seed=1, progress=True)
        assert summary.as_of == date(2025, 6, 1)
        dumps.append(dump(engine))
        engine.dispose()
    assert_same_rows(*dumps)


# -- consistency, checked on both backends ------------------------------------------------


def test_stage_events_form_the_chain_move_stage_would_write(demo: Demo, demo_session: Session):
    session = demo_session
    households = {h.id: h for h in session.exec(select(m.Household)).all()}
    events = defaultdict(list)
    for event in session.exec(
        select(m.StageEvent).order_by(m.StageEvent.household_id, m.StageEvent.occurred_at)
    ):
        events[event.household_id].append(event)
    reasons = defaultdict(set)
    for reason in session.exec(select(m.Reason)).all():
        reasons[reason.kind].add(reason.code)
    assert set(events) == set(households)

    # Replay each history through the pipeline's own rules on a stand-in household.
    replay = m.Household(reference="replay", enquiry_channel="staff", enquired_at=CUTOFF)
    for household_id, history in events.items():
        household = households[household_id]
        first = history[0]
        assert (first.from_stage, first.to_stage) == (None, m.Stage.ENQUIRY)
        assert first.occurred_at == household.enquired_at
        replay.stage, replay.held_from_stage = m.Stage.ENQUIRY, None
        for previous, event in zip(history, history[1:], strict=False):
            assert event.from_stage == previous.to_stage
            assert event.occurred_at > previous.occurred_at
            move = classify_move(session, replay, m.Stage(event.to_stage), approving=True)
            assert not move.needs_reopen
            if event.to_stage in ("withdrawn", "not_progressed", "deregistered", "on_hold"):
                assert event.reason_code in reasons[event.to_stage], event
            else:
                assert event.reason_code is None
            # What move_stage does with a pause.
            if event.to_stage == m.Stage.ON_HOLD:
                replay.held_from_stage = replay.stage
            elif replay.stage == m.Stage.ON_HOLD and event.to_stage not in m.CLOSED_STAGES:
                replay.held_from_stage = None
            replay.stage = m.Stage(event.to_stage)
        last = history[-1]
        assert all(e.occurred_at < CUTOFF and e.recorded_at == e.occurred_at for e in history)
        assert household.stage == last.to_stage
        assert household.stage_entered_at == last.occurred_at
        assert household.held_from_stage == replay.held_from_stage
        for event in history:
            assert event.actor_label
            if event.actor_id is not None:
                assert event.actor_label == f"staff:{event.actor_id}"


def test_nothing_has_happened_after_the_day_it_runs_up_to(demo: Demo):
    past_columns = {
        "household": [
            "enquired_at",
            "first_contact_at",
            "stage_entered_at",
            "created_at",
            "updated_at",
        ],
        "applicant": ["created_at"],
        "consent": ["recorded_at"],
        "activity": ["occurred_at", "created_at"],
        "task": ["created_at", "done_at"],
        "carer": ["status_changed_at", "last_supervision_at", "created_at"],
        "check_in": ["sent_at", "answered_at"],
        "outbox_message": ["sent_at", "due_at", "created_at"],
        "appointment": ["created_at", "cancelled_at"],
        "telegram_chat_link": ["linked_at"],
    }
    with demo.engine.connect() as conn:
        for table, columns in past_columns.items():
            t = SQLModel.metadata.tables[table]
            for column in columns:
                latest = conn.execute(sa.select(sa.func.max(t.c[column]))).scalar()
                assert latest is not None, (table, column)
                latest = latest if latest.tzinfo else latest.replace(tzinfo=UTC)
                assert latest < CUTOFF, (table, column, latest)
        a = m.Appointment.__table__
        finished = conn.execute(
            sa.select(sa.func.max(a.c.starts_at)).where(a.c.status != "booked")
        ).scalar()
        assert finished.replace(tzinfo=UTC) < CUTOFF
        booked = conn.execute(
            sa.select(sa.func.min(a.c.starts_at)).where(a.c.status == "booked")
        ).scalar()
        assert booked.replace(tzinfo=UTC) >= CUTOFF + timedelta(days=1)
        p = m.Placement.__table__
        assert conn.execute(sa.select(sa.func.max(p.c.started_on))).scalar() < AS_OF
        assert conn.execute(sa.select(sa.func.max(p.c.ended_on))).scalar() < AS_OF
        h = m.Household.__table__
        bad = conn.execute(
            sa.select(sa.func.count()).where(h.c.first_contact_at < h.c.enquired_at)
        ).scalar()
        assert bad == 0


def test_every_approved_household_has_a_carer_record_by_the_pipeline_rule(
    demo: Demo, demo_session: Session
):
    session = demo_session
    approvals = {
        e.household_id: e.occurred_at
        for e in session.exec(select(m.StageEvent).where(m.StageEvent.to_stage == "approved"))
    }
    carers = {c.household_id: c for c in session.exec(select(m.Carer)).all()}
    assert approvals and set(carers) == set(approvals)
    reasons = set(session.exec(select(m.Reason.code).where(m.Reason.kind == "deregistered")).all())
    statuses = Counter()
    for household_id, carer in carers.items():
        household = session.get(m.Household, household_id)
        rule = new_carer_record(household, carer.approved_on)
        assert carer.approved_on == approvals[household_id].date()
        assert carer.tsd_due == rule.tsd_due
        assert carer.is_family_and_friends == household.is_kinship
        # The first review is a year after approval; later ones a year after the last.
        assert carer.annual_review_due.month == rule.annual_review_due.month
        assert carer.annual_review_due >= rule.annual_review_due
        assert 1 <= carer.places <= 3 and carer.age_min <= carer.age_max
        assert carer.fostering_types
        assert set(carer.fostering_types) <= {t.value for t in m.FosteringType}
        assert set(carer.specialisms) <= {s.value for s in m.Specialism}
        supervisor = session.get(m.StaffUser, carer.supervising_social_worker_id)
        assert supervisor.role == m.Role.SUPERVISING_SOCIAL_WORKER
        statuses[carer.status] += 1
        if carer.status == m.CarerStatus.DEREGISTERED:
            assert household.stage == m.Stage.DEREGISTERED
            assert carer.deregistration_reason_code in reasons
            assert carer.deregistered_on == household.stage_entered_at.date()
            assert carer.deregistered_on > carer.approved_on
        else:
            assert household.stage == m.Stage.APPROVED
            assert carer.deregistration_reason_code is None
        placements = session.exec(select(m.Placement).where(m.Placement.carer_id == carer.id))
        for placement in placements:
            assert placement.ended_on is None or placement.ended_on >= placement.started_on
            if carer.status != m.CarerStatus.ACTIVE:
                assert placement.ended_on is not None  # a break or leaving ends placements
    assert statuses[m.CarerStatus.ACTIVE] > 0


def test_no_slot_is_double_booked_and_each_booking_is_a_free_slot(
    demo: Demo, demo_session: Session
):
    session = demo_session
    booked = session.exec(select(m.Appointment).where(m.Appointment.status == "booked")).all()
    kinds = Counter(a.kind for a in booked)
    assert kinds[m.AppointmentKind.INITIAL_VISIT] > 0
    assert len({(a.staff_id, a.starts_at) for a in booked}) == len(booked)
    # No member of staff is in two places at once, in the past or the future.
    by_staff = defaultdict(list)
    for a in session.exec(select(m.Appointment)).all():
        by_staff[a.staff_id].append((a.starts_at, a.ends_at))
    for spans in by_staff.values():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert start >= end
    # Each booking sits on a slot free_slots offers once that booking is set aside.
    for appointment in booked[:60]:
        day = appointment.starts_at.astimezone(demo.settings.tz).date()
        appointment.status = m.AppointmentStatus.CANCELLED
        session.flush()
        offered = free_slots(session, demo.settings, [appointment.staff_id], day, day)
        session.rollback()
        assert (appointment.starts_at, appointment.ends_at) in {
            (s.starts_at, s.ends_at) for s in offered
        }
        household = appointment.household_id and session.get(m.Household, appointment.household_id)
        if appointment.kind == m.AppointmentKind.INITIAL_VISIT:
            assert household.stage == m.Stage.ENQUIRY and household.first_contact_at is not None


def test_references_are_valid(demo: Demo, demo_session: Session):
    if demo.engine.dialect.name == "sqlite":
        with demo.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    session = demo_session
    approved_at = {
        e.household_id: e.occurred_at
        for e in session.exec(select(m.StageEvent).where(m.StageEvent.to_stage == "approved"))
    }
    referred = session.exec(
        select(m.Household).where(m.Household.referrer_household_id.is_not(None))
    ).all()
    assert referred
    for household in referred:
        assert approved_at[household.referrer_household_id] < household.enquired_at
    references = session.exec(select(m.Household.reference)).all()
    assert len(set(references)) == len(references)
    assert all(re.fullmatch(r"FC-[A-Z2-9]{4}-[A-Z2-9]{4}", r) for r in references)


def test_people_places_and_consent_look_real_and_are_made_up(demo: Demo, demo_session: Session):
    session = demo_session
    areas = session.exec(select(m.Area)).all()
    assert len(areas) == 3
    for household in session.exec(select(m.Household)).all():
        assert normalise_postcode(household.postcode) == household.postcode
        assert area_for_postcode(session, household.postcode) == household.area_id
    triage = session.exec(select(m.Household.id).where(m.Household.area_id.is_(None))).all()
    assert 0 < len(triage) < 150  # a few in the hub's triage queue
    emails, phones = [], []
    for applicant in session.exec(select(m.Applicant)).all():
        if applicant.email:
            assert applicant.email.endswith(("@example.com", "@example.org"))
            assert normalise_email(applicant.email) == applicant.email
            emails.append(applicant.email)
        if applicant.phone:
            assert DRAMA_PHONE.match(applicant.phone)
            assert normalise_phone(applicant.phone) == applicant.phone
            phones.append(applicant.phone)
    assert len(set(emails)) == len(emails)
    store = session.exec(
        select(m.Consent.household_id).where(m.Consent.scope == "store_details")
    ).all()
    assert sorted(store) == sorted(session.exec(select(m.Household.id)).all())
    assert all(c.wording.strip() for c in session.exec(select(m.Consent)).all())
    campaigns = session.exec(select(m.Campaign)).all()
    assert campaigns and all(c.cost_pence > 0 and c.source_key for c in campaigns)
    assert session.exec(select(m.Household).where(m.Household.campaign_id.is_not(None))).first()


def test_demo_logins_sign_in_and_every_role_is_staffed(demo: Demo, demo_session: Session):
    session = demo_session
    assert len(DEMO_PASSWORD) >= 12
    for email, _ in DEMO_LOGINS:
        assert normalise_email(email) == email and email.endswith("@example.org")
        staff = session.exec(select(m.StaffUser).where(m.StaffUser.email == email)).one()
        assert verify_password(staff.password_hash, DEMO_PASSWORD)
        assert not verify_password(staff.password_hash, DEMO_PASSWORD + "x")
    roles = {role for _, role in DEMO_LOGINS}
    assert sum("Recruitment officer" in role for role in roles) == 3
    staff = session.exec(select(m.StaffUser)).all()
    assert {s.role for s in staff} == set(m.Role)
    assert len({s.password_hash for s in staff}) == 1  # hashed once
    for area in session.exec(select(m.Area)).all():
        in_area = session.exec(
            select(m.StaffUser.role)
            .join(m.StaffArea, m.StaffArea.staff_id == m.StaffUser.id)
            .where(m.StaffArea.area_id == area.id)
        ).all()
        assert Counter(in_area)[m.Role.RECRUITMENT_OFFICER] >= 3
        assert m.Role.SUPERVISING_SOCIAL_WORKER in in_area
        assert slots_for_area(session, demo.settings, area.id)  # free slots in the coming weeks
    assert session.exec(select(m.AvailabilityException)).first() is not None


def test_open_work_is_there_for_today(demo: Demo, demo_session: Session):
    session = demo_session
    waiting = session.exec(select(m.Household).where(m.Household.first_contact_at.is_(None))).all()
    open_tasks = {
        t.household_id: t
        for t in session.exec(
            select(m.Task).where(m.Task.kind == "respond_to_enquiry", m.Task.done_at.is_(None))
        )
    }
    still_open = [h for h in waiting if h.stage == m.Stage.ENQUIRY]
    assert still_open and {h.id for h in still_open} == set(open_tasks)
    for household in still_open:
        task = open_tasks[household.id]
        assert task.due_at == response_due(demo.settings, household.enquired_at)
        assert task.owner_id == household.assigned_officer_id
        assert household.enquired_at > CUTOFF - timedelta(days=30)
    done = session.exec(
        select(m.Task).where(m.Task.kind == "respond_to_enquiry", m.Task.done_at.is_not(None))
    ).all()
    assert done and all(t.done_at >= t.created_at for t in done)
    completed = session.exec(
        select(m.Appointment).where(m.Appointment.status == "completed")
    ).first()
    assert completed is not None
    activities = Counter(a.kind for a in session.exec(select(m.Activity)).all())
    assert activities[m.ActivityKind.CALL] and activities[m.ActivityKind.NOTE]


def test_carers_are_reachable_where_their_check_ins_went(demo: Demo, demo_session: Session):
    """Check-ins were written as crm.services.checkins writes them, to the channel and
    addresses outbox.reachable_recipients picks, so the scheduler carries on from here."""
    session = demo_session
    settings = demo.settings.model_copy(update={"telegram_bot_token": "123:demo"})
    carers = session.exec(select(m.Carer).where(m.Carer.status == "active")).all()
    channels = Counter()
    for carer in carers:
        latest = session.exec(
            select(m.CheckIn)
            .where(m.CheckIn.carer_id == carer.id)
            .order_by(m.CheckIn.sent_at.desc())
        ).first()
        if latest is None:  # approved too recently for a first check-in
            assert carer.approved_on > AS_OF - timedelta(days=31)
            continue
        assert re.fullmatch(rf"checkin:{carer.id}:\d{{4}}-\d{{2}}-\d{{2}}", latest.unique_key)
        sent = session.exec(
            select(m.OutboxMessage).where(
                m.OutboxMessage.template == "check_in",
                m.OutboxMessage.payload["check_in_id"].as_integer() == latest.id,
            )
        ).all()
        assert sent and sent[0].id == latest.outbox_message_id
        recipients = reachable_recipients(session, settings, carer.household_id, carer.id)
        assert {(r.channel, r.address) for r in recipients} == {
            (s.channel, s.recipient) for s in sent
        }
        channels[latest.channel] += 1
        if latest.follow_up_task_id is not None:
            task = session.get(m.Task, latest.follow_up_task_id)
            assert task.unique_key == f"check_in:{latest.id}:follow_up"
            assert task.owner_id == carer.supervising_social_worker_id
    assert channels["email"] > channels["telegram"] > 0


# -- the shape of the funnel --------------------------------------------------------------


def test_histories_follow_the_national_shape(tmp_path):
    url = fresh_sqlite(tmp_path, "shape.db")
    engine = make_engine(url)
    summary = generate(engine, make_test_settings(url), households=4000, seed=11, as_of=AS_OF)
    assert "4,000 households" in summary.describe()
    with Session(engine) as session:
        households = {h.id: h for h in session.exec(select(m.Household)).all()}
        events = session.exec(select(m.StageEvent).order_by(m.StageEvent.occurred_at)).all()
        carers = session.exec(select(m.Carer)).all()
        check_ins = session.exec(select(m.CheckIn)).all()
        placements = session.exec(select(m.Placement)).all()
    engine.dispose()

    furthest: dict[int, int] = defaultdict(int)
    approved_at = {}
    reasons = defaultdict(Counter)
    for event in events:
        if event.to_stage in FUNNEL:
            furthest[event.household_id] = max(
                furthest[event.household_id], FUNNEL.index(event.to_stage)
            )
        if event.to_stage == "approved":
            approved_at[event.household_id] = event.occurred_at
        if event.reason_code:
            reasons[event.to_stage][event.reason_code] += 1

    # Enquiries spread over three years, more recent ones still in progress.
    enquired = sorted(h.enquired_at for h in households.values())
    assert (enquired[-1] - enquired[0]).days > 1000
    recent = [h for h in households.values() if h.enquired_at > CUTOFF - timedelta(days=60)]
    assert sum(h.stage not in m.CLOSED_STAGES for h in recent) / len(recent) > 0.3

    # A cohort whose outcomes are known (enquired 20+ months ago).
    cohort = [h.id for h in households.values() if h.enquired_at < CUTOFF - timedelta(days=600)]
    assert len(cohort) > 1200

    def reached(stage: str) -> float:
        return sum(furthest[i] >= FUNNEL.index(stage) for i in cohort) / len(cohort)

    assert 0.27 <= reached("initial_visit") <= 0.35
    assert 0.10 <= reached("application") <= 0.145
    assert 0.04 <= reached("approved") <= 0.07
    assert 0.35 <= reached("approved") / reached("application") <= 0.6
    days = [(approved_at[i] - households[i].enquired_at).days for i in cohort if i in approved_at]
    assert 230 <= statistics.median(days) <= 310
    assert min(days) >= 45 and max(days) <= 640
    assert sum(60 <= d <= 520 for d in days) / len(days) > 0.95

    assert sum(h.first_contact_at is not None for h in households.values()) / 4000 > 0.93
    assert 0.01 < sum(h.is_kinship for h in households.values()) / 4000 < 0.05
    sources = Counter(h.source_key for h in households.values())
    assert len(sources) >= 10 and sources.most_common(1)[0][1] / 4000 < 0.4
    assert len(reasons["withdrawn"]) >= 7 and len(reasons["not_progressed"]) >= 5
    assert reasons["on_hold"] and reasons["deregistered"]
    resumed = [e for e in events if e.from_stage == "on_hold" and e.to_stage in FUNNEL]
    assert resumed

    statuses = Counter(c.status for c in carers)
    assert statuses["active"] > statuses["deregistered"] > 0
    assert statuses["on_break"] > 0
    assert any(c.at_risk and c.at_risk_reason for c in carers)
    assert any(p.ended_on for p in placements) and any(p.ended_on is None for p in placements)
    answered = [c for c in check_ins if c.answered_at]
    assert 0.4 < len(answered) / len(check_ins) < 0.9
    assert {c.score for c in answered} == {1, 2, 3, 4, 5}


# -- the command, bad input, existing data ------------------------------------------------


@pytest.fixture
def empty_database(backend, tmp_path):
    """An empty database (the CLI migrates it), on each backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'cli.db'}"
        return
    schema = f"fostercrm_democli_{os.getpid()}"
    yield postgres_url(schema)
    drop_postgres_schema(schema)


def test_the_demo_data_command_loads_once(empty_database):
    env = {"FOSTERCRM_DATABASE_URL": empty_database}
    args = ["demo-data", "--households", "200", "--seed", "3"]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    assert "Demo data: 200 households (seed 3, histories up to 2026-03-10)" in result.output
    engine = make_engine(empty_database)
    with Session(engine) as session:
        assert count(session, m.Household) == 200
        events = count(session, m.StageEvent)
    again = CliRunner().invoke(main, args, env=env)
    assert again.exit_code == 1
    assert "Demo data is already loaded" in again.output
    with Session(engine) as session:
        assert count(session, m.Household) == 200 and count(session, m.StageEvent) == events
    engine.dispose()


def test_bad_sizes_are_refused(sqlite_url):
    engine = make_engine(sqlite_url)
    settings = make_test_settings(sqlite_url)
    for bad in (0, -5):
        with pytest.raises(InvalidInput, match="at least one household"):
            generate(engine, settings, households=bad, seed=1, as_of=AS_OF)
    with Session(engine) as session:
        assert count(session, m.Hub) == 0
    engine.dispose()


def test_loads_beside_existing_rows_with_ids_after_theirs(database_url, engine, session, settings):
    org = make_organisation(session)  # Northshire owns LE1-LE3 already
    generate(engine, settings, households=150, seed=5, as_of=AS_OF)
    session.expire_all()
    assert count(session, m.Hub) == 2 and count(session, m.Area) == 5
    assert session.get(m.Area, org.north.id).name == "Northshire"
    districts = session.exec(
        select(m.AreaPostcodeDistrict.district).where(
            m.AreaPostcodeDistrict.area_id == org.north.id
        )
    ).all()
    assert sorted(districts) == ["LE1", "LE2", "LE3"]
    demo_ids = session.exec(select(m.StaffUser.id).where(m.StaffUser.email == "admin@example.org"))
    assert demo_ids.one() > org.supervisor_north.id
    for household in session.exec(select(m.Household)).all():
        assert household.postcode.split()[0] not in districts


# -- the services still work on demo data -------------------------------------------------


def test_the_services_work_on_a_demo_database(database_url, engine, session, settings):
    generate(engine, settings, households=300, seed=2, as_of=AS_OF)
    officer = session.exec(
        select(m.StaffUser).where(m.StaffUser.email == "officer.harrowdale@example.org")
    ).one()
    actor = Actor.for_staff(session, officer)
    harrowdale = session.exec(select(m.Area).where(m.Area.name == "Harrowdale")).one()

    # A new enquiry routes by postcode to a demo area (new ids after the demo's).
    result = create_enquiry(
        session,
        Actor.system("public web form"),
        EnquiryInput(
            applicant=ApplicantDetails("Robin", "Newcomer", email="robin.new@example.net"),
            enquiry_channel=m.EnquiryChannel.WEB_FORM,
            postcode="LE4 9QX",
            source_key="web_search",
            consents={m.ConsentScope.STORE_DETAILS: "I agree."},
        ),
        settings,
    )
    household = result.household
    assert result.created and household.area_id == harrowdale.id
    assert household.id == count(session, m.Household)
    assert household.assigned_officer_id is not None

    # Book its initial visit in one of the free slots the area has.
    slots = slots_for_area(session, settings, harrowdale.id)
    assert slots
    slot = slots[0]
    visit = book_appointment(
        session,
        Actor.system("test"),
        settings,
        staff_id=slot.staff_id,
        kind=m.AppointmentKind.INITIAL_VISIT,
        starts_at=slot.starts_at,
        household_id=household.id,
    )
    assert visit.id == count(session, m.Appointment)
    # A slot the demo already booked is taken (for a household with no visit yet).
    other = create_enquiry(
        session,
        Actor.system("public web form"),
        EnquiryInput(
            applicant=ApplicantDetails("Sky", "Second", email="sky.second@example.net"),
            enquiry_channel=m.EnquiryChannel.WEB_FORM,
            postcode="LE4 9QY",
            consents={m.ConsentScope.STORE_DETAILS: "I agree."},
        ),
        settings,
    ).household
    taken = session.exec(
        select(m.Appointment).where(
            m.Appointment.status == "booked", m.Appointment.starts_at > DEFAULT_NOW
        )
    ).first()
    with pytest.raises(SlotTaken):
        book_appointment(
            session,
            Actor.system("test"),
            settings,
            staff_id=taken.staff_id,
            kind=taken.kind,
            starts_at=taken.starts_at,
            household_id=other.id,
            check_availability=False,
        )

    # Move demo households on: a visit done, an assessment withdrawn.
    waiting = session.exec(
        select(m.Household).where(
            m.Household.stage == "enquiry",
            m.Household.area_id == harrowdale.id,
            m.Household.first_contact_at.is_not(None),
        )
    ).first()
    event = move_stage(session, actor, waiting.id, "initial_visit")
    assert event.from_stage == m.Stage.ENQUIRY
    in_assessment = session.exec(
        select(m.Household).where(m.Household.stage.in_(["stage_one", "stage_two"]))
    ).first()
    manager = session.exec(select(m.StaffUser).where(m.StaffUser.email == "manager@example.org"))
    move_stage(
        session,
        Actor.for_staff(session, manager.one()),
        in_assessment.id,
        "withdrawn",
        reason_code="timing",
        reason_text="Asked to stop for now",
    )
    note = log_activity(session, actor, waiting.id, "note", summary="Visit went well")
    assert note.id == count(session, m.Activity)

    # The scheduler's check-in scan carries on from the demo's check-ins without clashing.
    before = count(session, m.CheckIn)
    summary = reminders.run("retention_check_ins", session, settings, DEFAULT_NOW)
    assert count(session, m.CheckIn) == before + summary["periodic"] + summary["placement_ended"]
    again = reminders.run("retention_check_ins", session, settings, DEFAULT_NOW)
    assert again["periodic"] == again["placement_ended"] == 0
