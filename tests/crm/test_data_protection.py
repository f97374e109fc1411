"""Subject access and erasure miss nothing.

One household goes the whole way: an enquiry in the web chat, a booked initial visit, an
assessment session at home, approval, then carer support (a supervising social worker, a
supervision visit at the home address, tasks on the carer, a check-in answered with a
comment, reminders and alerts in the outbox, a Telegram link and a Telegram chat). The export
must hold every kind of record of theirs, by household and by carer; after erasure not one of
their values may be left in any table (both databases) or, on SQLite, in the database file or
its write-ahead log.
"""

from __future__ import annotations

import csv
import enum
import io
import json
import re
import sqlite3
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select

import crm.models as m
from bot.assistant import Assistant
from bot.knowledge import KnowledgeCache, load_knowledge
from bot.matching import Matcher
from crm import clock
from crm.scheduler import housekeeping
from crm.services import assessment as assessment_service
from crm.services import carers as carer_service
from crm.services import checks as checks_service
from crm.services import documents as documents_service
from crm.services import members as members_service
from crm.services import mockingbird, reminders
from crm.services.actors import Actor
from crm.services.appointments import book_appointment, cancel_appointment
from crm.services.checkins import answer_check_in, start_check_in
from crm.services.data_protection import (
    anonymise_household,
    apply_retention,
    subject_access_zip,
)
from crm.services.errors import NotAllowed
from crm.services.households import DetailsChange, update_details
from crm.services.pipeline import move_stage
from crm.services.tasks import close_task, create_task
from crm.services.timeline import log_activity
from crm.testing.fixtures import new_household
from tests.bot.bot_helpers import Chat

FIRST, LAST = "Zebedee", "Quixworth"
EMAIL = "zebedee.quixworth@example.com"
PHONE_TYPED, PHONE_E164 = "07700 900461", "+447700900461"
SECOND_FIRST, SECOND_LAST = "Ottoline", "Pemberthy"
SECOND_EMAIL = "ottoline.pemberthy@example.org"
SECOND_PHONE_TYPED = "07700 900872"
ADDRESS_1, ADDRESS_2, TOWN = "27 Wrenfield Close", "Upper Quenby Lane", "Thurmaston Vale"
POSTCODE = "LE2 7QX"
HOME = f"{ADDRESS_1}, {ADDRESS_2}, {TOWN}, {POSTCODE}"
TELEGRAM_CHAT = "5550123987"
CHILD_REFERENCE = "CHILD-88213"

# Every form a value could be stored in: compared with spaces and hyphens taken out and in
# lower case, so "07700 900461", "07700900461" and "+447700900461" all match "7700900461".
NEEDLES = [
    FIRST, LAST, EMAIL, "7700900461",
    SECOND_FIRST, SECOND_LAST, SECOND_EMAIL, "7700900872",
    ADDRESS_1, ADDRESS_2, TOWN, POSTCODE,
    TELEGRAM_CHAT,
]  # fmt: skip


def _squash(text: str) -> str:
    return re.sub(r"[\s\-]+", "", text).lower()


SQUASHED = [_squash(n) for n in NEEDLES]


def values_left(engine: sa.Engine) -> list[str]:
    """Every table, every column, every row: where any of the person's values is still held."""
    hits = []
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for row in connection.execute(sa.select(table)).mappings():
                for column, value in row.items():
                    if value is None:
                        continue
                    if isinstance(value, dict | list):
                        value = json.dumps(value, ensure_ascii=False)
                    text = _squash(str(value))
                    hits.extend(
                        f"{table.name}.{column}: {NEEDLES[i]}"
                        for i, needle in enumerate(SQUASHED)
                        if needle in text
                    )
    return hits


def values_in_files(database_url: str) -> list[str]:
    """The same values in the raw bytes of the SQLite file and its write-ahead log."""
    path = Path(sa.make_url(database_url).database)
    hits = []
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-journal")):
        if not file.exists():
            continue
        raw = re.sub(rb"[\s\-]+", b"", file.read_bytes()).lower()
        hits.extend(
            f"{file.name}: {NEEDLES[i]}"
            for i, needle in enumerate(SQUASHED)
            if needle.encode() in raw
        )
    return hits


@pytest.fixture(scope="module")
def knowledge():
    base = load_knowledge()
    return base, Matcher(base.entries(), base.language)


@pytest.fixture
def assistant(settings, knowledge) -> Assistant:
    return Assistant(settings, KnowledgeCache(*knowledge))


@dataclass
class Journey:
    household: m.Household
    carer: m.Carer


def the_whole_way(session: Session, settings, org, assistant: Assistant) -> Journey:
    manager = org.actor(session, org.manager)
    # The enquiry, in the web chat, with an initial visit booked there.
    web = Chat(assistant, session, m.ChatChannel.WEBCHAT, "web-journey")
    outcome = web.give_details(name=f"{FIRST} {LAST}", contact=EMAIL, postcode=POSTCODE)
    assert "enquiry_created" in outcome.actions
    assert "visit_booked" in web.press(outcome.buttons[0].label).actions
    web.answer_optional()
    web.say(f"My partner {SECOND_FIRST} and I live at {ADDRESS_1}, {TOWN}")
    web.say("I'm worried about my neighbour's child, I think they are being hurt")
    household = session.exec(select(m.Household)).one()
    # Staff complete the record: the phone numbers, the second applicant, the address.
    update_details(
        session, manager, household.id,
        DetailsChange(
            applicants=[
                m_applicant(FIRST, LAST, EMAIL, PHONE_TYPED, date(1979, 4, 23)),
                m_applicant(SECOND_FIRST, SECOND_LAST, SECOND_EMAIL, SECOND_PHONE_TYPED, None),
            ],
            address_line_1=ADDRESS_1, address_line_2=ADDRESS_2, town=TOWN, postcode=POSTCODE,
            preferred_channel="email",
        ),
    )  # fmt: skip
    log_activity(
        session, manager, household.id, "call",
        summary=f"Spoke to {FIRST}", body=f"{FIRST} {LAST} asked us to ring {PHONE_TYPED}",
        call_outcome="spoke",
    )  # fmt: skip
    soon = clock.now() + timedelta(days=1)
    session_at_home = book_appointment(
        session, manager, settings, staff_id=org.assessor_north.id, kind="assessment_session",
        starts_at=soon.replace(hour=13, minute=0), household_id=household.id,
        location=HOME, notes=f"Meet {SECOND_FIRST} too", check_availability=False,
    )  # fmt: skip
    cancel_appointment(session, manager, session_at_home.id, reason=f"{FIRST} {LAST} is unwell")
    for stage in ("initial_visit", "application", "stage_one"):
        move_stage(session, manager, household.id, stage)
    the_assessment(session, settings, org, manager, household)
    for stage in ("stage_two", "panel"):
        move_stage(session, manager, household.id, stage)
    # The panel met them today and recommended approval, with words that name them.
    from crm.services import panel

    meeting = panel.create_meeting(
        session, manager, settings, meets_on=clock.local_date(clock.now()), chair="Pat Chair",
        capacity=3,
    )  # fmt: skip
    listing = panel.list_household(session, manager, settings, meeting.id, household.id)
    panel.record_recommendation(
        session, manager, settings, listing.id, recommendation="approve",
        terms=panel.TermsInput(
            places="1", age_min="0", age_max="10", fostering_types=["short_term"]
        ),
        notes=f"{FIRST} and {SECOND_FIRST} spoke warmly about {ADDRESS_1}",
    )  # fmt: skip
    move_stage(
        session, Actor.system("test"), household.id, "approved",
        reason_text=f"Panel met {FIRST} and {SECOND_FIRST} at {ADDRESS_1}",
    )  # fmt: skip
    carer = session.exec(select(m.Carer).where(m.Carer.household_id == household.id)).one()

    # Carer support: everything below is kept by carer id, not household id.
    carer_service.assign_supervisor(session, manager, carer.id, org.supervisor_north.id)
    visit_at = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)
    book_appointment(
        session, manager, settings, staff_id=org.supervisor_north.id, kind="supervision_visit",
        starts_at=visit_at, carer_id=carer.id, location=HOME,
        notes=f"Ask {FIRST} about respite; park on {ADDRESS_2}", check_availability=False,
    )  # fmt: skip
    create_task(
        session, manager, kind="general", title=f"Send {FIRST} {LAST} the respite leaflet",
        detail=f"Post it to {HOME}", carer_id=carer.id, due_at=clock.now() + timedelta(days=3),
    )  # fmt: skip
    # What staff wrote when they closed a task is about the person too.
    called = create_task(
        session, manager, kind="general", title="Call about respite",
        carer_id=carer.id, due_at=clock.now() + timedelta(days=1),
    )  # fmt: skip
    close_task(session, manager, called.id, outcome=f"Spoke to {FIRST} {LAST} at {HOME}")
    session.add(
        m.Placement(
            carer_id=carer.id,
            child_reference=CHILD_REFERENCE,
            fostering_type=m.FosteringType.SHORT_TERM,
            started_on=date(2026, 3, 10),
        )
    )
    session.add(m.TelegramChatLink(chat_id=TELEGRAM_CHAT, carer_id=carer.id))
    session.add(
        m.SupervisionVisit(
            carer_id=carer.id, visited_on=date(2026, 3, 10), kind="unannounced",
            notes=f"{FIRST} coping well at {ADDRESS_1}", carer_raised=f"Call {SECOND_FIRST}",
        )
    )  # fmt: skip
    session.add(
        m.AnnualReview(
            carer_id=carer.id, reviewed_on=date(2026, 3, 10), outcome="approval_continues",
            goes_to_panel=True, notes=f"{FIRST} and {SECOND_FIRST} asked for respite",
        )
    )  # fmt: skip
    session.add(
        m.TrainingRecord(
            carer_id=carer.id, course="Safer caring", completed_on=date(2026, 3, 10), hours=3
        )
    )
    # A short break taken and ended, and a notice given and withdrawn, each in their words.
    session.add(
        m.CarerBreak(
            carer_id=carer.id, started_on=date(2026, 3, 10), ended_on=date(2026, 3, 10),
            expected_end_on=date(2026, 3, 10), reason=f"{SECOND_FIRST} in hospital",
        )
    )  # fmt: skip
    session.add(
        m.CarerLeaving(
            carer_id=carer.id, notice_given_on=date(2026, 3, 10),
            approval_ends_on=date(2026, 4, 7), reason_code="other",
            reason_text=f"Moving to {ADDRESS_2}", exit_conversation_on=date(2026, 3, 10),
            exit_conversation_notes=f"{FIRST} felt alone at {ADDRESS_1}",
            exit_would_have_kept=f"A call back to {PHONE_TYPED}", withdrawn_on=date(2026, 3, 10),
            withdrawn_reason=f"{SECOND_FIRST} is staying",
        )
    )  # fmt: skip
    session.commit()
    # A satellite of another carer's Mockingbird constellation, with a sleepover noted.
    hub_household = new_household(session, settings, first_name="Hana", last_name="Hub",
                                  email="hana.hub@example.com")  # fmt: skip
    move_stage(session, Actor.system("test"), hub_household.id, m.Stage.APPROVED)
    hub = session.exec(select(m.Carer).where(m.Carer.household_id == hub_household.id)).one()
    today = clock.now().date()
    constellation = mockingbird.start_constellation(
        session, manager, name="Northshire Wren", hub_carer_id=hub.id, started_on=today,
        today=today,
    )  # fmt: skip
    mockingbird.add_satellite(session, manager, constellation.id, carer_id=carer.id,
                              joined_on=today, today=today)  # fmt: skip
    mockingbird.record_activity(
        session, manager, constellation.id, kind="sleepover", occurred_on=today,
        carer_id=carer.id, nights=1, notes=f"{FIRST}'s sleepover went well", today=today,
    )  # fmt: skip
    check_in = start_check_in(
        session, settings, carer, unique_key="checkin:journey:1", reason="regular"
    )
    session.commit()
    answer_check_in(
        session, check_in.id, score=2, wants_call=True, settings=settings,
        comment=f"It's {FIRST}, please ring me on {PHONE_TYPED} or {SECOND_FIRST} on "
        f"{SECOND_PHONE_TYPED}",
    )  # fmt: skip
    # Staff add to the flag the check-in raised.
    carer_service.set_at_risk(
        session, manager, carer.id, at_risk=True, reason=f"{FIRST} sounded tired on the phone"
    )
    # A chat on Telegram that was never tied to the household: found by the linked chat id.
    telegram = Chat(assistant, session, m.ChatChannel.TELEGRAM, TELEGRAM_CHAT)
    telegram.say(f"Hello, {FIRST} {LAST} here. How much is the fostering allowance?")
    # The day before the supervision visit: reminders to the carer and to the social worker
    # (the staff one carries the address and phone).
    clock.set_now(datetime(2026, 3, 11, 10, 30, tzinfo=UTC))
    sent = reminders.run("visit_reminders", session, settings, clock.now())
    assert sent["household"] >= 1 and sent["staff"] == 1
    session.expire_all()
    return Journey(session.get(m.Household, household.id), session.get(m.Carer, carer.id))


def the_assessment(session: Session, settings, org, manager, household) -> None:
    """Stage one's members, pets and every required check, a session written up and Skills
    to Foster: the assessment's records, each holding some of their values."""
    first, second = members_service.add_applicants_as_members(session, manager, household.id)
    members_service.add_member(
        session, manager, household.id,
        members_service.MemberInput(
            "birth_child", "Ada", LAST, date(2012, 6, 1), notes=f"Goes to school near {TOWN}"
        ),
    )  # fmt: skip
    members_service.add_pet(
        session, manager, household.id, members_service.PetInput("Dog", f"{LAST} Rex")
    )
    done = {"requested_on": date(2026, 2, 2), "received_on": date(2026, 3, 2), "outcome": "clear"}
    for who in (first, second):
        for key in ("dbs_enhanced", "la_current", "medical_gp", "medical_adviser", "right_to_live"):
            checks_service.add_check(
                session, manager, household.id,
                checks_service.CheckInput(key, who.id, notes=f"Rang {PHONE_TYPED}", **done),
            )  # fmt: skip
    for key, label in (
        ("personal_reference", f"{SECOND_FIRST}'s sister"),
        ("personal_reference", f"Neighbour at {ADDRESS_2}"),
        ("home_safety", None),
        ("pet_assessment", None),
    ):
        checks_service.add_check(
            session, manager, household.id,
            checks_service.CheckInput(key, label=label, notes=f"Visited {HOME}", **done),
        )  # fmt: skip
    assessment_service.add_course(
        session, manager, household.id, member_id=first.id,
        attended_from=date(2026, 3, 2), attended_to=date(2026, 3, 3),
    )  # fmt: skip
    visit = book_appointment(
        session, manager, settings, staff_id=org.assessor_north.id, kind="assessment_session",
        starts_at=clock.now() + timedelta(minutes=30), household_id=household.id, location=HOME,
        check_availability=False,
    )  # fmt: skip
    clock.advance(timedelta(hours=2))
    assessment_service.record_session_notes(
        session, manager, visit.id, outcome="held",
        notes=f"{SECOND_FIRST} showed us round {ADDRESS_1}; call {SECOND_PHONE_TYPED}",
    )  # fmt: skip
    assert checks_service.missing_required(session, household) == []
    documents_service.upload(
        session, manager, settings, household.id, kind="application_form",
        filename=f"{FIRST} {LAST} application.pdf", content=b"%PDF-1.7 " + FIRST.encode(),
    )  # fmt: skip


def m_applicant(first, last, email, phone, dob):  # noqa: ANN001, ANN201
    from crm.services.households import ApplicantChange

    return ApplicantChange(first, last, email=email, phone=phone, date_of_birth=dob)


# -- erasure ---------------------------------------------------------------------------------


def test_erasure_leaves_no_personal_value_in_any_table(
    session, engine, settings, org, assistant, backend, database_url
):
    journey = the_whole_way(session, settings, org, assistant)
    hid, cid = journey.household.id, journey.carer.id
    before = values_left(engine)
    # The search finds what it looks for: every value is held, in the tables that hold it.
    assert {h.split(": ")[1] for h in before} == set(NEEDLES)
    tables = {h.split(".")[0] for h in before}
    assert tables >= {
        "applicant", "household", "activity", "appointment", "task", "stage_event", "carer",
        "check_in", "outbox_message", "chat_message", "chat_conversation", "telegram_chat_link",
        "household_member", "household_pet", "household_check", "assessment_session_note",
    }  # fmt: skip
    if backend == "sqlite":
        assert values_in_files(database_url)

    folder = Path(settings.documents.folder)
    assert len(list(folder.iterdir())) == 1
    anonymise_household(
        session, org.actor(session, org.manager), hid, reason="Asked by email on 9 March",
        settings=settings,
    )  # fmt: skip

    assert values_left(engine) == []
    assert list(folder.iterdir()) == []
    if backend == "sqlite":
        assert values_in_files(database_url) == []
        wal = Path(f"{sa.make_url(database_url).database}-wal")
        assert not wal.exists() or wal.stat().st_size == 0
    # What statistics need stays.
    session.expire_all()
    household = session.get(m.Household, hid)
    assert household.anonymised_at is not None and household.postcode == "LE2"
    assert household.stage == m.Stage.APPROVED
    events = session.exec(
        select(m.StageEvent.to_stage).where(m.StageEvent.household_id == hid)
    ).all()
    assert events[0] == "enquiry" and events[-1] == "approved" and len(events) == 7
    assert session.get(m.Carer, cid).approved_on == date(2026, 3, 10)
    [placement] = session.exec(select(m.Placement)).all()
    assert (placement.fostering_type, placement.started_on) == ("short_term", date(2026, 3, 10))
    assert placement.child_reference != CHILD_REFERENCE
    [visit] = session.exec(select(m.SupervisionVisit)).all()
    assert (visit.visited_on, visit.kind, visit.notes, visit.carer_raised) == (
        date(2026, 3, 10), "unannounced", None, None,
    )  # fmt: skip
    [review] = session.exec(select(m.AnnualReview)).all()
    assert (review.outcome, review.notes) == ("approval_continues", None)
    [notice] = session.exec(select(m.CarerLeaving)).all()
    assert (notice.notice_given_on, notice.reason_code, notice.withdrawn_on) == (
        date(2026, 3, 10), "other", date(2026, 3, 10),
    )  # fmt: skip
    assert [b.reason for b in session.exec(select(m.CarerBreak))] == ["[erased]"]
    [check_in] = session.exec(select(m.CheckIn)).all()
    assert (check_in.score, check_in.comment) == (2, None)
    assert session.exec(select(m.ChatMessage)).all() == []
    assert session.exec(select(m.TelegramChatLink)).all() == []
    pending = session.exec(
        select(m.OutboxMessage).where(
            m.OutboxMessage.status.in_([m.OutboxStatus.PENDING, m.OutboxStatus.SENDING])
        )
    ).all()
    # Only the managers' safeguarding alerts and the notice to the member of staff whose diary
    # lost a visit still go, and they name no one (the erasure test above searched them).
    assert {p.template for p in pending} <= {"safeguarding_alert_staff", "visit_cancelled_staff"}
    erase = session.exec(
        select(m.AuditEvent).where(m.AuditEvent.action == m.AuditAction.ERASE)
    ).one()
    assert erase.detail == {"basis": "request"}


def test_retention_rule_leaves_nothing_in_the_sqlite_files(sqlite_url):
    """The nightly rule erases through the same function and truncates the log once."""
    from crm.db import make_engine
    from crm.services.enquiries import ApplicantDetails, EnquiryInput, create_enquiry
    from crm.testing.fixtures import make_organisation, make_test_settings

    settings = make_test_settings(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            make_organisation(session)
            system = Actor.system("test")
            household = create_enquiry(
                session, system,
                EnquiryInput(
                    applicant=ApplicantDetails(FIRST, LAST, email=EMAIL, phone=PHONE_TYPED),
                    enquiry_channel=m.EnquiryChannel.STAFF, postcode=POSTCODE,
                    address_line_1=ADDRESS_1, town=TOWN,
                    consents={m.ConsentScope.STORE_DETAILS: "Agreed on the phone"},
                ),
                settings,
            ).household  # fmt: skip
            move_stage(
                session, system, household.id, "withdrawn", reason_code="timing",
                reason_text=f"{FIRST} is moving from {ADDRESS_1}",
            )  # fmt: skip
            assert values_in_files(sqlite_url)
            months = settings.retention.anonymise_closed_after_months
            clock.advance(timedelta(days=31 * (months + 1)))
            assert apply_retention(session, Actor.system("retention rule"), settings) == 1
        assert values_left(engine) == []
        assert values_in_files(sqlite_url) == []
    finally:
        engine.dispose()


def test_sqlite_connections_zero_what_is_deleted(tmp_path):
    """Some SQLite builds leave a deleted row readable in the file's free space. Our
    connections turn secure_delete on, whatever the build's default."""
    from crm.db import _sqlite_pragmas

    secret = f"{FIRST} {LAST}"
    for ours in (False, True):
        path = tmp_path / f"ours-{ours}.db"
        raw = sqlite3.connect(path, isolation_level=None)
        raw.execute("PRAGMA secure_delete=OFF")  # as a build without SQLITE_SECURE_DELETE
        if ours:
            _sqlite_pragmas(raw, None)
        else:
            raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
        raw.executemany("INSERT INTO t (name) VALUES (?)", [(f"filler {i}",) for i in range(50)])
        raw.execute("INSERT INTO t (name) VALUES (?)", (secret,))
        raw.execute("DELETE FROM t WHERE name = ?", (secret,))
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        raw.close()
        assert (secret.encode() in path.read_bytes()) is not ours


# -- subject access --------------------------------------------------------------------------


def _codes() -> set[str]:
    """Every code the database holds that a person must never see as it is."""
    codes: set[str] = set()
    for value in vars(m).values():
        if isinstance(value, type) and issubclass(value, enum.StrEnum):
            codes.update(member.value for member in value)
    return codes


def _open(content: bytes) -> tuple[str, dict[str, list[list[str]]]]:
    archive = zipfile.ZipFile(io.BytesIO(content))
    assert archive.testzip() is None
    names = archive.namelist()
    [html_name] = [n for n in names if n.endswith(".html")]
    tables = {
        Path(n).stem: list(csv.reader(io.StringIO(archive.read(n).decode("utf-8-sig"))))
        for n in names
        if n.endswith(".csv")
    }
    return archive.read(html_name).decode("utf-8"), tables


def _column(table: list[list[str]], name: str) -> list[str]:
    index = table[0].index(name)
    return [row[index] for row in table[1:]]


def test_export_is_a_zip_with_every_kind_of_record_in_words(
    session, settings, org, assistant, backend
):
    journey = the_whole_way(session, settings, org, assistant)
    reference = journey.household.reference
    export = subject_access_zip(
        session, org.actor(session, org.manager), settings, journey.household.id,
        requested_by="both",
    )  # fmt: skip
    assert export.filename.endswith(".zip") and reference in export.filename
    html, tables = _open(export.content)
    assert set(tables) == {
        "your-details", "household", "what-you-agreed-to", "your-progress", "panel",
        "notes-and-contact", "visits", "tasks", "messages", "chats", "telegram",
        "foster-carer", "breaks-and-notice", "placements", "supervision-visits",
        "annual-reviews", "training", "check-ins", "mockingbird", "access-log",
        "household-members", "pets", "checks", "assessment-sessions", "preparation-training",
        "documents",
    }  # fmt: skip
    # Every kind of record is there and holds rows: by household and by carer.
    assert all(len(rows) > 1 for rows in tables.values()), {k: len(v) for k, v in tables.items()}
    details = tables["your-details"]
    assert _column(details, "First name") == [FIRST, SECOND_FIRST]
    assert _column(details, "Phone") == [PHONE_TYPED, SECOND_PHONE_TYPED]
    assert _column(details, "Date of birth") == ["23 April 1979", ""]
    household = dict(tables["household"][1:])
    assert household["Address line 1"] == ADDRESS_1 and household["Postcode"] == POSTCODE
    assert household["Your reference"] == reference
    assert household["How you first contacted us"] == "The chat on our website"
    assert household["How you heard about us"] == "Social media"
    assert household["Where you are in the process"] == "Approved"
    visits = tables["visits"]
    assert sorted(_column(visits, "Kind")) == [
        "Assessment session", "Assessment session", "Initial visit", "Supervision visit",
    ]  # fmt: skip
    supervision = visits[1 + _column(visits, "Kind").index("Supervision visit")]
    assert supervision[visits[0].index("Where")] == HOME
    assert supervision[visits[0].index("Date")] == "12 March 2026"
    assert supervision[visits[0].index("Starts")] == "10am"
    assert supervision[visits[0].index("With")] == org.supervisor_north.name
    assert "Cancelled" in _column(visits, "Status")
    assert f"{FIRST} {LAST} is unwell" in _column(visits, "Why it was cancelled")
    tasks = tables["tasks"]
    assert f"Send {FIRST} {LAST} the respite leaflet" in _column(tasks, "Title")
    assert "Follow up your check-in answer" in _column(tasks, "Kind")
    assert f"Spoke to {FIRST} {LAST} at {HOME}" in _column(tasks, "Outcome")
    # A safeguarding concern shows that it was recorded, not the staff's record of it (their
    # own words stay in the chat transcript).
    safeguarding = _column(tasks, "Kind").index("Safeguarding concern")
    assert tasks[1 + safeguarding][tasks[0].index("Details")].startswith("Withheld")
    assert "What they wrote" not in html and "Raised at" not in html
    messages = tables["messages"]
    kinds = _column(messages, "What it was")
    assert {
        "Visit confirmation",
        "Check-in: how things are going",
        "Visit reminder",
        "Reminder to our staff about your visit",
        "Alert to your supervising social worker about your check-in",
    } <= set(kinds)
    staff_reminder = messages[1 + kinds.index("Reminder to our staff about your visit")]
    assert staff_reminder[messages[0].index("Sent to")] == (
        f"Our staff: {org.supervisor_north.name}"
    )
    assert f"Address: {HOME}" in staff_reminder[messages[0].index("Details")]
    assert f"Phone: {PHONE_TYPED}" in staff_reminder[messages[0].index("Details")]
    chats = tables["chats"]
    assert set(_column(chats, "Chat")) == {"Web chat", "Telegram"}
    assert f"Hello, {FIRST} {LAST} here. How much is the fostering allowance?" in _column(
        chats, "Message"
    )
    assert _column(tables["telegram"], "Telegram chat number") == [TELEGRAM_CHAT]
    carer = dict(tables["foster-carer"][1:])
    assert carer["Approved on"] == "10 March 2026"
    assert carer["Supervising social worker"] == org.supervisor_north.name
    assert carer["Why we think so"] == f"{FIRST} sounded tired on the phone"
    assert tables["placements"][1] == ["Short-term", "10 March 2026", "Still living with you"]
    check_ins = tables["check-ins"]
    assert _column(check_ins, "Your score") == ["2 out of 5"]
    assert _column(check_ins, "You asked for a call") == ["Yes"]
    assert f"please ring me on {PHONE_TYPED}" in _column(check_ins, "Your comment")[0]
    progress = tables["your-progress"]
    assert _column(progress, "To")[-1] == "Approved"
    assert f"Panel met {FIRST}" in _column(progress, "Our note")[-1]
    assert "Keeping your details" in _column(tables["what-you-agreed-to"], "What it covers")
    assert org.manager.name in _column(tables["access-log"], "Who")

    # The document: readable, self-contained, with every section and the same data.
    assert html.startswith("<!DOCTYPE html>") and '<html lang="en-GB">' in html
    assert "<script" not in html and "src=" not in html and "<link" not in html
    assert all(href.startswith("#") for href in re.findall(r'href="([^"]*)"', html))
    for name in tables:
        assert f"{name}.csv" in html
    assert "About this copy" in html and "reference numbers of children" in html
    assert f"{FIRST} {LAST} and {SECOND_FIRST} {SECOND_LAST}" in html
    assert ADDRESS_1 in html and "Supervision visit" in html
    visits = tables["supervision-visits"]
    assert _column(visits, "What the visit found") == [f"{FIRST} coping well at {ADDRESS_1}"]
    assert _column(visits, "What you raised") == [f"Call {SECOND_FIRST}"]
    assert _column(visits, "Announced") == ["No"]
    assert _column(tables["annual-reviews"], "Notes") == [
        f"{FIRST} and {SECOND_FIRST} asked for respite"
    ]
    assert _column(tables["annual-reviews"], "Went to the fostering panel") == ["Yes"]
    assert _column(tables["training"], "Course") == ["Safer caring"]
    checks = tables["checks"]
    notes = dict(zip(_column(checks, "Which one"), _column(checks, "Notes"), strict=True))
    # A referee's words are theirs: the copy says the reference came back, not what it said.
    assert notes[f"Neighbour at {ADDRESS_2}"].startswith("Left out: what a referee tells us")
    assert notes[""] == f"Visited {HOME}"  # a home safety check is the household's own
    breaks = tables["breaks-and-notice"]
    assert _column(breaks, "Why") == [
        f"{SECOND_FIRST} in hospital",
        f"Other: Moving to {ADDRESS_2}",
    ]
    assert (
        _column(breaks, "Until")[1]
        == f"You withdrew it on 10 March 2026: {SECOND_FIRST} is staying"
    )
    assert (
        _column(breaks, "What you told us")[1]
        == f"10 March 2026: {FIRST} felt alone at {ADDRESS_1}"
    )
    assert _column(breaks, "What would have kept you")[1] == f"A call back to {PHONE_TYPED}"

    # No child's reference, internal id or code anywhere.
    everything = html + json.dumps(tables)
    assert CHILD_REFERENCE not in everything
    codes = _codes() | {r.code for r in session.exec(select(m.Reason))}
    codes |= {t for (t,) in session.exec(sa.select(m.OutboxMessage.template).distinct())}
    for name, rows in tables.items():
        header = rows[0]
        assert not any(re.search(r"\bid\b", column, re.I) for column in header), name
        for row in rows[1:]:
            for column, cell in zip(header, row, strict=True):
                assert cell not in codes, (name, column, cell)
                assert not re.search(r"\b[a-z]+_[a-z_]+\b", cell), (name, column, cell)
                assert not re.search(r"\d{4}-\d{2}-\d{2}", cell), (name, column, cell)
                assert not re.match(r"^(staff|assistant|checkin|check_in|visit):", cell)
                if column != "Telegram chat number":
                    assert not re.fullmatch(r"\d+", cell), (name, column, cell)
    # Audited as an export, with who asked and without values.
    event = session.exec(
        select(m.AuditEvent).where(m.AuditEvent.action == m.AuditAction.EXPORT)
    ).one()
    assert (event.entity, event.entity_id, event.detail) == (
        "household",
        journey.household.id,
        {"subject_access": True, "requested_by": "both"},
    )


@pytest.mark.parametrize(
    "role", ["officer_north", "officer_south", "assessor_north", "supervisor_north"]
)
def test_only_managers_and_admins_export_or_erase(session, settings, org, role):
    from crm.testing.fixtures import new_household

    household = new_household(session, settings)
    actor = org.actor(session, getattr(org, role))
    with pytest.raises(NotAllowed):
        subject_access_zip(session, actor, settings, household.id)
    with pytest.raises(NotAllowed):
        anonymise_household(session, actor, household.id, reason="Asked")
    assert (
        session.exec(
            select(m.AuditEvent).where(
                m.AuditEvent.action.in_([m.AuditAction.EXPORT, m.AuditAction.ERASE])
            )
        ).all()
        == []
    )
    # A manager only for the households of the areas they work in.
    south_manager = m.StaffUser(
        email="manager.south@test.example", name="Manager South", role=m.Role.MANAGER,
        password_hash="x",
    )  # fmt: skip
    session.add(south_manager)
    session.flush()
    session.add(m.StaffArea(staff_id=south_manager.id, area_id=org.south.id))
    session.commit()
    with pytest.raises(NotAllowed):
        subject_access_zip(session, org.actor(session, south_manager), settings, household.id)
    for allowed in (org.manager, org.admin):
        export = subject_access_zip(session, org.actor(session, allowed), settings, household.id)
        assert zipfile.ZipFile(io.BytesIO(export.content)).namelist()


# -- review findings ---------------------------------------------------------------------------


def _everything_in(content: bytes) -> str:
    html, tables = _open(content)
    return html + json.dumps(tables, ensure_ascii=False)


def _messages(session: Session, **where) -> list[tuple]:
    query = select(m.OutboxMessage).order_by(m.OutboxMessage.id)
    for name, value in where.items():
        query = query.where(getattr(m.OutboxMessage, name) == value)
    return [
        (o.id, o.recipient, o.payload, o.status, o.unique_key) for o in session.exec(query).all()
    ]


def test_a_member_of_staff_who_applies_gets_no_other_family_s_messages(session, settings, org):
    """Household B's visit reminder goes to the north officer's work email; the officer then
    applies to foster with that email (household A). A's copy holds nothing of B's, and
    erasing A leaves B's messages as they were."""
    from crm.testing.fixtures import new_household

    manager = org.actor(session, org.manager)
    b = new_household(
        session, settings, first_name="Bathsheba", last_name="Everdene",
        email="bathsheba.everdene@example.com", phone="07700 900123",
    )  # fmt: skip
    update_details(
        session, manager, b.id,
        DetailsChange(
            applicants=[m_applicant("Bathsheba", "Everdene", "bathsheba.everdene@example.com",
                                    "07700 900123", None)],
            address_line_1="14 Weatherbury Lane", town="Casterbridge", postcode="LE2 1AA",
        ),
    )  # fmt: skip
    book_appointment(
        session, manager, settings, staff_id=org.officer_north.id, kind="initial_visit",
        starts_at=datetime(2026, 3, 12, 13, 0, tzinfo=UTC), household_id=b.id,
        check_availability=False,
    )  # fmt: skip
    clock.set_now(datetime(2026, 3, 11, 10, 30, tzinfo=UTC))
    assert reminders.run("visit_reminders", session, settings, clock.now())["staff"] == 1
    to_officer = _messages(session, recipient=org.officer_north.email)
    assert to_officer and "Bathsheba" in json.dumps(to_officer)
    b_messages = _messages(session, household_id=b.id)

    a = new_household(
        session, settings, first_name="Olive", last_name="North", email=org.officer_north.email
    )
    content = subject_access_zip(session, manager, settings, a.id).content
    everything = _everything_in(content)
    assert "Olive" in everything
    for value in ("Bathsheba", "Everdene", "Weatherbury", "Casterbridge", "900123"):
        assert value not in everything, value

    anonymise_household(session, manager, a.id, reason="Asked in writing")
    session.expire_all()
    assert _messages(session, household_id=b.id) == b_messages
    assert _messages(session, recipient=org.officer_north.email) == to_officer


CHILD_WORDS = "The girl at number 12 has bruises on her arms and says her dad hits her"


@pytest.mark.parametrize("basis", ["request", "retention rule"])
def test_erasure_keeps_a_safeguarding_concern_open_without_the_person_s_details(
    session, engine, settings, org, basis
):
    from crm.services.enquiries import ApplicantDetails, EnquiryInput, create_enquiry
    from crm.services.safeguarding import raise_concern
    from crm.services.tasks import close_task

    system = Actor.system("test")
    household = create_enquiry(
        session, system,
        EnquiryInput(
            applicant=ApplicantDetails(FIRST, LAST, email=EMAIL, phone=PHONE_TYPED),
            enquiry_channel=m.EnquiryChannel.STAFF, postcode=POSTCODE,
            address_line_1=ADDRESS_1, town=TOWN,
            consents={m.ConsentScope.STORE_DETAILS: "Agreed on the phone"},
        ),
        settings,
    ).household  # fmt: skip
    concern = raise_concern(
        session, Actor.system("assistant:webchat"), settings,
        words=f"It's {FIRST} {LAST} from {ADDRESS_1}, ring me on {PHONE_TYPED} or {EMAIL}. "
        f"{CHILD_WORDS}.",
        where="web chat", household_id=household.id,
    )  # fmt: skip
    manager = org.actor(session, org.manager)
    if basis == "request":
        anonymise_household(session, manager, household.id, reason="Asked by email")
    else:
        move_stage(session, system, household.id, "withdrawn", reason_code="timing")
        months = settings.retention.anonymise_closed_after_months
        clock.advance(timedelta(days=31 * (months + 1)))
        assert apply_retention(session, Actor.system("retention rule"), settings) == 1

    session.expire_all()
    task = session.get(m.Task, concern.id)
    # Still the urgent concern it was, for the same team, open.
    assert (task.kind, task.priority, task.done_at) == ("safeguarding", "urgent", None)
    assert (task.household_id, task.area_id) == (household.id, org.north.id)
    assert task.title == concern.title
    assert CHILD_WORDS in task.detail and "[erased]" in task.detail
    assert ("at their request" if basis == "request" else "retention rule") in task.detail
    # Nothing of the person who raised it, anywhere.
    assert values_left(engine) == []
    # Someone can act on it.
    done = close_task(session, manager, task.id, outcome="Passed to the MASH")
    assert done.done_at is not None


def test_a_concern_raised_in_telegram_before_the_chat_was_linked_is_erased_with_them(
    session, engine, settings, org, assistant
):
    chat_id = "5550777123"
    telegram = Chat(assistant, session, m.ChatChannel.TELEGRAM, chat_id)
    assert (
        "safeguarding"
        in telegram.say(
            "I'm worried about my neighbour's child, I think they are being hurt"
        ).actions
    )
    task = session.exec(select(m.Task).where(m.Task.kind == m.TaskKind.SAFEGUARDING)).one()
    conversation = session.exec(
        select(m.ChatConversation).where(m.ChatConversation.external_id == chat_id)
    ).one()
    # The chat is a link on the task, not words in it or in the managers' alerts.
    assert task.household_id is None and task.conversation_id == conversation.id
    alerts = _messages(session, template="safeguarding_alert_staff")
    assert alerts
    assert chat_id not in json.dumps([task.title, task.detail, alerts])

    # Then they give their details in the same chat: the chat is linked to the new household.
    outcome = telegram.give_details(name=f"{FIRST} {LAST}", contact=EMAIL, postcode=POSTCODE)
    assert "enquiry_created" in outcome.actions
    household = session.exec(select(m.Household)).one()
    assert session.exec(select(m.TelegramChatLink.chat_id)).all() == [chat_id]
    content = subject_access_zip(
        session, org.actor(session, org.manager), settings, household.id
    ).content
    assert "Safeguarding concern" in _column(_open(content)[1]["tasks"], "Kind")

    anonymise_household(session, org.actor(session, org.manager), household.id, reason="Asked")
    assert [hit for hit in values_left(engine) if chat_id in hit or FIRST in hit] == []
    session.expire_all()
    kept = session.get(m.Task, task.id)
    assert kept.done_at is None and "neighbour's child" in kept.detail


def test_the_enquiry_from_a_chat_brings_its_earlier_concerns_to_the_household(
    session, settings, org
):
    """Linking happens in the assistant (bot/); the enquiry service it calls joins the
    chat's earlier concerns to the household it creates."""
    from crm.services.enquiries import ApplicantDetails, EnquiryInput, create_enquiry
    from crm.services.errors import InvalidInput
    from crm.services.safeguarding import raise_concern

    conversation = m.ChatConversation(channel=m.ChatChannel.WEBCHAT, external_id="w-early")
    session.add(conversation)
    session.commit()
    concern = raise_concern(
        session, Actor.system("assistant:webchat"), settings,
        words="A child next door is left alone all night", where="web chat",
        conversation_id=conversation.id,
    )  # fmt: skip
    assert concern.conversation_id == conversation.id and concern.household_id is None
    data = EnquiryInput(
        applicant=ApplicantDetails(FIRST, LAST, email=EMAIL),
        enquiry_channel=m.EnquiryChannel.WEBCHAT, postcode=POSTCODE,
        consents={m.ConsentScope.STORE_DETAILS: "You may keep my details"},
        conversation_id=conversation.id,
    )  # fmt: skip
    household = create_enquiry(session, Actor.system("assistant:webchat"), data, settings)
    session.expire_all()
    assert session.get(m.Task, concern.id).household_id == household.household.id
    # A chat that does not exist is refused, and nothing is created.
    with pytest.raises(InvalidInput) as refused:
        create_enquiry(
            session, Actor.system("assistant:webchat"),
            EnquiryInput(
                applicant=ApplicantDetails("Other", "Person", email="other@example.com"),
                enquiry_channel=m.EnquiryChannel.WEBCHAT,
                consents={m.ConsentScope.STORE_DETAILS: "You may keep my details"},
                conversation_id=conversation.id + 999,
            ),
            settings,
        )  # fmt: skip
    assert "conversation_id" in refused.value.errors
    assert len(session.exec(select(m.Household)).all()) == 1


def test_a_referring_family_is_never_named_and_its_erasure_reaches_the_families_it_referred(
    session, settings, org
):
    from crm.services.enquiries import ApplicantDetails, EnquiryInput, create_enquiry
    from crm.testing.fixtures import new_household

    manager = org.actor(session, org.manager)
    referrer = new_household(
        session, settings, first_name="Rosalind", last_name="Marchbanks",
        email="rosalind@example.com",
    )  # fmt: skip
    referred = create_enquiry(
        session, Actor.system("test"),
        EnquiryInput(
            applicant=ApplicantDetails(FIRST, LAST, email=EMAIL),
            enquiry_channel=m.EnquiryChannel.STAFF, postcode=POSTCODE,
            referrer_reference=referrer.reference, referrer_name="Rosalind Marchbanks",
            consents={m.ConsentScope.STORE_DETAILS: "Agreed on the phone"},
        ),
        settings,
    ).household  # fmt: skip
    content = subject_access_zip(session, manager, settings, referred.id).content
    household = dict(_open(content)[1]["household"][1:])
    assert household["Who referred you"] == "Another household on our records"
    assert "Rosalind" not in _everything_in(content)

    anonymise_household(session, manager, referrer.id, reason="Asked by email")
    session.expire_all()
    kept = session.get(m.Household, referred.id)
    assert kept.referrer_name is None and kept.referrer_household_id == referrer.id


def test_messages_found_only_by_their_address_are_cancelled(session, settings, org):
    from crm.services.outbox import enqueue_message
    from crm.testing.fixtures import new_household

    household = new_household(session, settings, email=EMAIL)
    session.add(m.TelegramChatLink(chat_id=TELEGRAM_CHAT, household_id=household.id))
    for channel, recipient in ((m.Channel.EMAIL, EMAIL), (m.Channel.TELEGRAM, TELEGRAM_CHAT)):
        enqueue_message(
            session, channel=channel, recipient=recipient, template="stalled_case_nudge",
            payload={"greeting_name": FIRST}, due_at=clock.now() + timedelta(days=1),
            unique_key=f"nudge:{recipient}",
        )  # fmt: skip
    session.commit()
    anonymise_household(
        session, org.actor(session, org.manager), household.id, reason="Asked by email"
    )
    session.expire_all()
    messages = session.exec(select(m.OutboxMessage)).all()
    assert len(messages) == 2
    for message in messages:
        assert (message.recipient, message.payload) == ("[erased]", {})
        assert message.status == m.OutboxStatus.CANCELLED


def _joint_household(session: Session, settings, org) -> m.Household:
    from crm.testing.fixtures import new_household

    manager = org.actor(session, org.manager)
    household = new_household(session, settings, first_name=FIRST, last_name=LAST, email=EMAIL)
    update_details(
        session, manager, household.id,
        DetailsChange(
            applicants=[
                m_applicant(FIRST, LAST, EMAIL, PHONE_TYPED, date(1979, 4, 23)),
                m_applicant(SECOND_FIRST, SECOND_LAST, SECOND_EMAIL, SECOND_PHONE_TYPED,
                            date(1982, 11, 5)),
            ],
            address_line_1=ADDRESS_1, town=TOWN, postcode=POSTCODE,
        ),
    )  # fmt: skip
    log_activity(
        session, manager, household.id, "note", summary="Contact details",
        body=f"{FIRST} on {PHONE_TYPED}; {SECOND_FIRST} on 07700900872 or {SECOND_EMAIL}",
    )  # fmt: skip
    return household


FIRST_OWN = [EMAIL, "7700900461", "23 April 1979"]
SECOND_OWN = [SECOND_EMAIL, "7700900872", "5 November 1982"]


@pytest.mark.parametrize(
    ("requested_by", "shown", "left_out"),
    [
        ("both", FIRST_OWN + SECOND_OWN, []),
        ("first", FIRST_OWN, SECOND_OWN),
        ("second", SECOND_OWN, FIRST_OWN),
    ],
)
def test_a_joint_household_s_copy_holds_the_other_applicant_s_details_only_if_both_asked(
    session, settings, org, requested_by, shown, left_out
):
    household = _joint_household(session, settings, org)
    content = subject_access_zip(
        session, org.actor(session, org.manager), settings, household.id,
        requested_by=requested_by,
    ).content  # fmt: skip
    html, tables = _open(content)
    squashed = _squash(html + json.dumps(tables, ensure_ascii=False))
    for value in shown:
        assert _squash(value) in squashed, value
    for value in left_out:
        assert _squash(value) not in squashed, value
    # Both are still named (they applied together); the document says what is left out.
    assert _column(tables["your-details"], "First name") == [FIRST, SECOND_FIRST]
    if left_out:
        other = f"{SECOND_FIRST} {SECOND_LAST}" if requested_by == "first" else f"{FIRST} {LAST}"
        assert f"You asked for this copy on your own. You applied with {other}" in " ".join(
            html.split()
        )
        assert "[left out]" in json.dumps(tables["notes-and-contact"])
        assert (
            _column(tables["your-details"], "Email").count(
                "Left out: they did not ask for this copy"
            )
            == 1
        )
    else:
        assert "You both asked for this copy" in html
    event = session.exec(
        select(m.AuditEvent).where(m.AuditEvent.action == m.AuditAction.EXPORT)
    ).one()
    assert event.detail == {"subject_access": True, "requested_by": requested_by}


def test_a_joint_household_s_copy_needs_to_know_who_asked(session, settings, org):
    from crm.services.errors import InvalidInput

    household = _joint_household(session, settings, org)
    for choice in (None, "", "partner"):
        with pytest.raises(InvalidInput) as refused:
            subject_access_zip(
                session, org.actor(session, org.manager), settings, household.id,
                requested_by=choice,
            )  # fmt: skip
        assert "requested_by" in refused.value.errors
    assert (
        session.exec(select(m.AuditEvent).where(m.AuditEvent.action == m.AuditAction.EXPORT)).all()
        == []
    )


def test_the_access_log_covers_visits_check_ins_and_every_record_of_theirs(session, settings, org):
    from crm.services.households import record_consent
    from crm.testing.fixtures import new_household

    manager = org.actor(session, org.manager)
    household = new_household(session, settings)
    record_consent(session, manager, household.id, scope="email", granted=True, wording="Email me")
    move_stage(session, Actor.system("test"), household.id, m.Stage.APPROVED)
    carer = session.exec(select(m.Carer).where(m.Carer.household_id == household.id)).one()
    book_appointment(
        session, manager, settings, staff_id=org.supervisor_north.id, kind="supervision_visit",
        starts_at=clock.now() + timedelta(days=2), carer_id=carer.id, location=HOME,
        check_availability=False,
    )  # fmt: skip
    check_in = start_check_in(
        session, settings, carer, unique_key="checkin:log:1", reason="regular"
    )
    session.commit()
    answer_check_in(session, check_in.id, score=4, wants_call=False, settings=settings)
    content = subject_access_zip(session, manager, settings, household.id).content
    log = _open(content)[1]["access-log"]
    records = set(_column(log, "Which record"))
    assert {"A visit or appointment with you", "A check-in we sent you"} <= records
    assert {e for (e,) in session.exec(sa.select(m.AuditEvent.entity).distinct())} >= {
        "appointment",
        "check_in",
    }


def test_a_missed_checkpoint_is_retried_by_the_nightly_retention_job(sqlite_url, caplog):
    """A reader keeps the SQLite log busy during an erasure: the erased values stay in the
    log until the scheduler's data_retention job truncates it, that night."""
    from crm.db import make_engine
    from crm.services.enquiries import ApplicantDetails, EnquiryInput, create_enquiry
    from crm.testing.fixtures import make_organisation, make_test_settings

    settings = make_test_settings(sqlite_url)
    engine = make_engine(sqlite_url)
    path = sa.make_url(sqlite_url).database
    reader = sqlite3.connect(path, isolation_level=None)
    try:
        with Session(engine, expire_on_commit=False) as session:
            org = make_organisation(session)
            household = create_enquiry(
                session, Actor.system("test"),
                EnquiryInput(
                    applicant=ApplicantDetails(FIRST, LAST, email=EMAIL, phone=PHONE_TYPED),
                    enquiry_channel=m.EnquiryChannel.STAFF, postcode=POSTCODE,
                    address_line_1=ADDRESS_1, town=TOWN,
                    consents={m.ConsentScope.STORE_DETAILS: "Agreed on the phone"},
                ),
                settings,
            ).household  # fmt: skip
            # A long report, reading from before the erasure.
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM applicant").fetchone()
            anonymise_household(
                session, org.actor(session, org.manager), household.id, reason="Asked"
            )
            assert "write-ahead log not truncated" in caplog.text
            assert values_left(engine) == []
            assert values_in_files(sqlite_url)  # still in the log and the file
            reader.execute("COMMIT")

            # That night: nobody is due for the retention rule, but the job truncates the log.
            result = housekeeping.data_retention(session, settings, clock.now())
        assert result == {"anonymised": 0}
        assert values_in_files(sqlite_url) == []
        assert Path(f"{path}-wal").stat().st_size == 0
    finally:
        reader.close()
        engine.dispose()


def test_existing_concerns_get_their_chat_as_a_link_when_the_database_is_upgraded(
    request, tmp_path, backend
):
    """Revision 0012: concerns recorded before it named the chat in their words."""
    import os

    from crm.db import make_engine
    from crm.migrate import upgrade
    from crm.testing.fixtures import drop_postgres_schema, postgres_url

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'upgrade.db'}"
    else:
        schema = f"fostercrm_dp_upgrade_{os.getpid()}"
        url = postgres_url(schema)
        request.addfinalizer(lambda: drop_postgres_schema(schema))

    upgrade(url, "0005_sessions")
    engine = make_engine(url)
    try:
        now = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
        with engine.begin() as db:
            db.execute(sa.text(
                "INSERT INTO chat_conversation (id, channel, external_id, state, data, "
                "started_at, last_message_at) VALUES "
                "(7, 'telegram', :chat, 'start', '{}', :now, :now), "
                "(8, 'webchat', 'w-8', 'start', '{}', :now, :now)"
            ), {"chat": TELEGRAM_CHAT, "now": now})  # fmt: skip
            for task_id, where in ((1, f"Telegram chat {TELEGRAM_CHAT}"),
                                   (2, "web chat (conversation 8)")):  # fmt: skip
                db.execute(sa.text(
                    "INSERT INTO task (id, kind, title, detail, priority, due_at, created_at) "
                    "VALUES (:id, 'safeguarding', :title, :detail, 'urgent', :now, :now)"
                ), {
                    "id": task_id, "now": now,
                    "title": f"Safeguarding concern raised in the {where}: act today",
                    "detail": f"Raised at 10 Mar 2026 10:00 in the {where}. The assistant "
                    "told them to call 999.\n\nWhat they wrote:\nA child is hurt",
                })  # fmt: skip
            db.execute(sa.text(
                "INSERT INTO outbox_message (channel, recipient, template, payload, due_at, "
                "unique_key, status, attempts, created_at) VALUES ('email', 'm@test.example', "
                "'safeguarding_alert_staff', :payload, :now, 'safeguarding:1:alert:1', "
                "'pending', 0, :now)"
            ), {"now": now, "payload": json.dumps({
                "task_id": 1, "where": f"Telegram chat {TELEGRAM_CHAT}",
                "task_title": f"Safeguarding concern raised in the Telegram chat {TELEGRAM_CHAT}"
                ": act today",
            })})  # fmt: skip
        upgrade(url, "0012_dp_fixes")
        with engine.connect() as db:
            tasks = db.execute(
                sa.text("SELECT id, title, detail, conversation_id FROM task ORDER BY id")
            ).all()
            [payload] = db.execute(sa.text("SELECT payload FROM outbox_message")).scalars()
        assert [(t.id, t.conversation_id) for t in tasks] == [(1, 7), (2, 8)]
        assert tasks[0].title == "Safeguarding concern raised in the Telegram chat: act today"
        assert tasks[1].title == "Safeguarding concern raised in the web chat: act today"
        assert "in the Telegram chat. The assistant" in tasks[0].detail
        assert "A child is hurt" in tasks[0].detail
        payload = json.loads(payload) if isinstance(payload, str) else payload
        assert TELEGRAM_CHAT not in json.dumps(payload) and payload["where"] == "Telegram chat"
    finally:
        engine.dispose()


def test_erasure_works_on_a_household_whose_applicants_the_session_has_loaded(
    session, settings, org
):
    from crm.services.enquiries import ApplicantDetails, EnquiryInput, create_enquiry

    household = create_enquiry(
        session, Actor.system("test"),
        EnquiryInput(
            applicant=ApplicantDetails(FIRST, LAST, email=EMAIL, phone=PHONE_TYPED),
            enquiry_channel=m.EnquiryChannel.STAFF, postcode=POSTCODE,
            consents={m.ConsentScope.STORE_DETAILS: "Agreed on the phone"},
        ),
        settings,
    ).household  # fmt: skip
    # A page that showed the household's names before the erasure, in the same session.
    assert [a.first_name for a in household.applicants] == [FIRST]
    anonymise_household(
        session, org.actor(session, org.manager), household.id, reason="Asked by phone"
    )
    assert household.anonymised_at is not None
    assert household.applicants == []
    assert (
        session.exec(select(m.Applicant).where(m.Applicant.household_id == household.id)).all()
        == []
    )
