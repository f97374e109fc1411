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
from crm.scheduler import scans
from crm.services import carers as carer_service
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
from crm.services.tasks import create_task
from crm.services.timeline import log_activity
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
    for stage in ("initial_visit", "application", "stage_one", "stage_two", "panel"):
        move_stage(session, manager, household.id, stage)
    move_stage(
        session, manager, household.id, "approved",
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
    session.add(
        m.Placement(
            carer_id=carer.id,
            child_reference=CHILD_REFERENCE,
            fostering_type=m.FosteringType.SHORT_TERM,
            started_on=date(2026, 3, 10),
        )
    )
    session.add(m.TelegramChatLink(chat_id=TELEGRAM_CHAT, carer_id=carer.id))
    session.commit()
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
    sent = scans.visit_reminders(session, settings, clock.now())
    assert sent["household"] >= 1 and sent["staff"] == 1
    session.expire_all()
    return Journey(session.get(m.Household, household.id), session.get(m.Carer, carer.id))


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
    }  # fmt: skip
    if backend == "sqlite":
        assert values_in_files(database_url)

    anonymise_household(
        session, org.actor(session, org.manager), hid, reason="Asked by email on 9 March"
    )

    assert values_left(engine) == []
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
        session, org.actor(session, org.manager), settings, journey.household.id
    )
    assert export.filename.endswith(".zip") and reference in export.filename
    html, tables = _open(export.content)
    assert set(tables) == {
        "your-details", "household", "what-you-agreed-to", "your-progress",
        "notes-and-contact", "visits", "tasks", "messages", "chats", "telegram",
        "foster-carer", "placements", "check-ins", "access-log",
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
        "Assessment session", "Initial visit", "Supervision visit",
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
    # Audited as an export, without values.
    event = session.exec(
        select(m.AuditEvent).where(m.AuditEvent.action == m.AuditAction.EXPORT)
    ).one()
    assert (event.entity, event.entity_id, event.detail) == (
        "household",
        journey.household.id,
        {"subject_access": True},
    )


@pytest.mark.parametrize("role", ["officer_north", "assessor_north", "supervisor_north"])
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
