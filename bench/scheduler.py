"""Benchmark: the scheduler's scans over 100,000 households and 20,000 carers, and the
dispatcher sending 10,000 outbox messages to a local SMTP server.

    python bench/scheduler.py [--households 100000] [--carers 20000] [--messages 10000]
                              [--backend sqlite|postgresql] [--keep]

Creates a fresh database (a SQLite file in a temporary folder, or a fresh schema of
FOSTERCRM_TEST_POSTGRES_URL), migrates it, bulk-inserts households at every stage (enquiries
over the last two years, a share of them overdue or stalled), approved carers with a range of
approval dates, placements and visits, then with the clock fixed at a weekday morning:

1. runs each scan once (what is due: tasks and outbox messages written) and again (nothing
   new: the unique keys), printing seconds and rows examined per second;
2. enqueues `--messages` staff emails and runs the dispatcher against aiosmtpd on an
   ephemeral port, printing messages per second (each one: claim, renew, render, SMTP, record).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from sqlmodel import Session, SQLModel, select  # noqa: E402

import crm.models as m  # noqa: E402
from crm import clock  # noqa: E402
from crm.db import make_engine, normalise_url  # noqa: E402
from crm.messaging.dispatcher import Dispatcher  # noqa: E402
from crm.migrate import upgrade  # noqa: E402
from crm.services import reminders  # noqa: E402
from crm.services.reference import ensure_reference_data  # noqa: E402
from crm.settings import load_settings  # noqa: E402

POSTGRES_ENV = "FOSTERCRM_TEST_POSTGRES_URL"
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # a Tuesday morning
CHUNK = 5000
TARGET_DAYS = {
    m.Stage.ENQUIRY: 5,
    m.Stage.INITIAL_VISIT: 14,
    m.Stage.APPLICATION: 14,
    m.Stage.STAGE_ONE: 60,
    m.Stage.STAGE_TWO: 120,
    m.Stage.PANEL: 14,
    m.Stage.ON_HOLD: 90,
    m.Stage.WITHDRAWN: 200,
}
OPEN_STAGES = [
    (m.Stage.ENQUIRY, 0.45),
    (m.Stage.INITIAL_VISIT, 0.15),
    (m.Stage.APPLICATION, 0.08),
    (m.Stage.STAGE_ONE, 0.08),
    (m.Stage.STAGE_TWO, 0.08),
    (m.Stage.PANEL, 0.02),
    (m.Stage.ON_HOLD, 0.04),
    (m.Stage.WITHDRAWN, 0.10),
]


def fresh_database(backend: str, folder: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{folder / 'bench.db'}"
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        sys.exit(f"set {POSTGRES_ENV} for --backend postgresql")
    schema = f"bench_scheduler_{os.getpid()}"
    engine = sa.create_engine(normalise_url(base))
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    separator = "&" if "?" in base else "?"
    return f"{normalise_url(base)}{separator}options=-csearch_path%3D{schema}"


def insert(session: Session, model, rows: list[dict]) -> None:
    for start in range(0, len(rows), CHUNK):
        session.execute(sa.insert(model), rows[start : start + CHUNK])
    session.commit()


def organisation(session: Session) -> dict:
    ensure_reference_data(session)
    hub = m.Hub(name="Bench hub")
    session.add(hub)
    session.flush()
    areas = [m.Area(hub_id=hub.id, name=f"Area {n}") for n in range(5)]
    session.add_all(areas)
    session.flush()
    staff: dict[str, list[int]] = {}
    for role, count in [
        (m.Role.MANAGER, 5),
        (m.Role.RECRUITMENT_OFFICER, 25),
        (m.Role.ASSESSING_SOCIAL_WORKER, 25),
        (m.Role.SUPERVISING_SOCIAL_WORKER, 60),
    ]:
        for n in range(count):
            user = m.StaffUser(
                email=f"{role.value}.{n}@bench.example",
                name=f"{role.label} {n}",
                role=role,
                password_hash="x",
            )
            session.add(user)
            session.flush()
            session.add(m.StaffArea(staff_id=user.id, area_id=areas[n % len(areas)].id))
            staff.setdefault(role.value, []).append(user.id)
    session.commit()
    return {"areas": [a.id for a in areas], "staff": staff}


def populate(session: Session, households: int, carers: int, rng: random.Random) -> dict:
    org = organisation(session)
    officers = org["staff"][m.Role.RECRUITMENT_OFFICER.value]
    supervisors = org["staff"][m.Role.SUPERVISING_SOCIAL_WORKER.value]
    household_rows, applicant_rows, consent_rows, event_rows = [], [], [], []
    stages, weights = zip(*OPEN_STAGES, strict=True)
    total = households + carers
    for n in range(1, total + 1):
        approved = n > households
        enquired = NOW - timedelta(minutes=rng.randint(60, 2 * 365 * 24 * 60))
        if approved:
            enquired = NOW - timedelta(days=rng.randint(400, 3000))
        stage = m.Stage.APPROVED if approved else rng.choices(stages, weights)[0]
        # Most open cases moved within their stage's target; about one in eight has stalled.
        target = TARGET_DAYS.get(stage, 30)
        entered = NOW - timedelta(days=min(rng.expovariate(1 / (target / 2)), 900))
        entered = max(entered, enquired)
        area = org["areas"][n % len(org["areas"])]
        household_rows.append(
            {
                "id": n,
                "reference": f"FC-B{n:07d}",
                "area_id": area,
                "postcode": "LE1 1AA",
                "enquiry_channel": m.EnquiryChannel.WEB_FORM.value,
                "assigned_officer_id": officers[n % len(officers)],
                "stage": stage.value,
                "stage_entered_at": entered,
                "held_from_stage": m.Stage.STAGE_ONE.value if stage == m.Stage.ON_HOLD else None,
                "enquired_at": enquired,
                "first_contact_at": None if rng.random() < 0.3 else enquired,
                "is_kinship": False,
                "created_at": enquired,
                "updated_at": entered,
            }
        )
        applicant_rows.append(
            {
                "household_id": n,
                "position": 1,
                "first_name": f"First{n}",
                "last_name": f"Last{n}",
                "email": f"person{n}@bench.example",
                "created_at": enquired,
            }
        )
        for scope in (m.ConsentScope.STORE_DETAILS, m.ConsentScope.EMAIL):
            consent_rows.append(
                {
                    "household_id": n,
                    "scope": scope.value,
                    "granted": True,
                    "wording": "Bench consent",
                    "via": "web_form",
                    "recorded_at": enquired,
                }
            )
        event_rows.append(
            {
                "household_id": n,
                "from_stage": None,
                "to_stage": m.Stage.ENQUIRY.value,
                "occurred_at": enquired,
                "actor_label": "bench",
                "recorded_at": enquired,
            }
        )
        if stage not in (m.Stage.ENQUIRY, m.Stage.INITIAL_VISIT, m.Stage.WITHDRAWN):
            applied = max(enquired, entered - timedelta(days=rng.randint(0, 150)))
            event_rows.append(
                {
                    "household_id": n,
                    "from_stage": m.Stage.ENQUIRY.value,
                    "to_stage": m.Stage.APPLICATION.value,
                    "occurred_at": applied,
                    "actor_label": "bench",
                    "recorded_at": applied,
                }
            )
    insert(session, m.Household, household_rows)
    insert(session, m.Applicant, applicant_rows)
    insert(session, m.Consent, consent_rows)
    insert(session, m.StageEvent, event_rows)

    carer_rows, placement_rows, check_in_rows = [], [], []
    for index, household_id in enumerate(range(households + 1, total + 1), start=1):
        approved_on = (NOW - timedelta(days=rng.randint(20, 2500))).date()
        carer_rows.append(
            {
                "id": index,
                "household_id": household_id,
                "approved_on": approved_on,
                "places": rng.randint(1, 3),
                "age_min": 0,
                "age_max": 17,
                "fostering_types": [],
                "specialisms": [],
                "is_family_and_friends": False,
                "supervising_social_worker_id": supervisors[index % len(supervisors)],
                "annual_review_due": date(NOW.year, approved_on.month, min(approved_on.day, 28))
                + timedelta(days=365 * (approved_on.month < NOW.month)),
                "tsd_due": approved_on + timedelta(days=365),
                "tsd_completed_on": approved_on + timedelta(days=300)
                if rng.random() < 0.8
                else None,
                "last_supervision_at": NOW - timedelta(days=rng.randint(1, 48)),
                "status": m.CarerStatus.ACTIVE.value,
                "status_changed_at": NOW - timedelta(days=30),
                "at_risk": False,
                "created_at": NOW - timedelta(days=30),
            }
        )
        if rng.random() < 0.6:
            ended = (
                (NOW - timedelta(days=rng.randint(1, 60))).date() if rng.random() < 0.1 else None
            )
            placement_rows.append(
                {
                    "carer_id": index,
                    "child_reference": f"C-{index}",
                    "fostering_type": m.FosteringType.SHORT_TERM.value,
                    "started_on": approved_on,
                    "ended_on": ended,
                    "created_at": NOW - timedelta(days=30),
                }
            )
        sent = NOW - timedelta(days=rng.randint(1, 60))
        check_in_rows.append(
            {
                "carer_id": index,
                "channel": m.Channel.EMAIL.value,
                "sent_at": sent,
                "answered_at": sent + timedelta(hours=3) if rng.random() < 0.6 else None,
                "wants_call": False,
                "unique_key": f"bench-checkin:{index}",
            }
        )
    insert(session, m.Carer, carer_rows)
    insert(session, m.Placement, placement_rows)
    insert(session, m.CheckIn, check_in_rows)

    appointment_rows = []
    for n in range(1, min(households, 2000) + 1):
        starts = NOW + timedelta(hours=rng.randint(2, 40))
        appointment_rows.append(
            {
                "kind": m.AppointmentKind.INITIAL_VISIT.value,
                "status": m.AppointmentStatus.BOOKED.value,
                "staff_id": officers[n % len(officers)],
                "household_id": n,
                "starts_at": starts.replace(minute=0, second=0, microsecond=0)
                + timedelta(microseconds=n),
                "ends_at": starts + timedelta(hours=2),
                "booked_by_label": "bench",
                "created_at": NOW - timedelta(days=3),
            }
        )
    insert(session, m.Appointment, appointment_rows)
    if session.get_bind().dialect.name == "postgresql":
        for table in SQLModel.metadata.sorted_tables:
            if "id" in table.c and table.name != "scheduler_job":
                session.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"COALESCE((SELECT MAX(id) FROM {table.name}), 1))"
                    )
                )
        session.execute(sa.text("ANALYZE"))
        session.commit()
    return org


class CountingHandler:
    def __init__(self, counter) -> None:  # noqa: ANN001 - a multiprocessing.Value
        self.counter = counter

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802
        with self.counter.get_lock():
            self.counter.value += 1
        return "250 OK"


class EphemeralController(Controller):
    def _trigger_server(self):  # noqa: ANN202
        self.port = self.server.sockets[0].getsockname()[1]
        return super()._trigger_server()


def smtp_server(counter, port, stop) -> None:  # noqa: ANN001
    """aiosmtpd in its own process, as a mail server would be (not sharing our GIL)."""
    controller = EphemeralController(CountingHandler(counter), hostname="127.0.0.1", port=0)
    controller.start()
    port.value = controller.port
    stop.wait()
    controller.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--carers", type=int, default=20_000)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="Keep the SQLite file afterwards.")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="fostercrm-bench-"))
    url = fresh_database(args.backend, folder)
    settings = load_settings(environ={}, database={"url": url}).model_copy(
        update={"secret_key": "bench-secret-key-0123456789abcdef"}
    )

    started = time.perf_counter()
    upgrade(url)
    engine = make_engine(url)
    clock.set_now(NOW)
    with Session(engine) as session:
        populate(session, args.households, args.carers, rng)
    print(
        f"{args.backend}: {args.households:,} households and {args.carers:,} carers loaded in "
        f"{time.perf_counter() - started:.1f} s"
    )

    print(f"\nScans at {NOW:%a %d %b %Y %H:%M} UTC (first run writes what is due; second: none)")
    examined = {
        "visit_reminders": min(args.households, 2000),
        "enquiry_chasers": args.households + args.carers,
        "initial_visit_offers": args.households + args.carers,
        "stalled_cases": args.households + args.carers,
        "panel_timescales": args.households + args.carers,
        "retention_check_ins": args.carers,
        "carer_reminders": args.carers,
    }
    print(f"{'scan':<22}{'run':>5}{'seconds':>10}{'rows/s':>12}  written")
    for name, rows in examined.items():
        for run in (1, 2):
            with Session(engine, expire_on_commit=False) as session:
                tasks_before = session.exec(select(sa.func.count(m.Task.id))).one()
                messages_before = session.exec(select(sa.func.count(m.OutboxMessage.id))).one()
                t0 = time.perf_counter()
                summary = reminders.run(name, session, settings, NOW)
                seconds = time.perf_counter() - t0
                tasks = session.exec(select(sa.func.count(m.Task.id))).one() - tasks_before
                messages = (
                    session.exec(select(sa.func.count(m.OutboxMessage.id))).one() - messages_before
                )
            print(
                f"{name:<22}{run:>5}{seconds:>10.2f}{rows / seconds:>12,.0f}  "
                f"{tasks} tasks, {messages} messages {summary}"
            )

    # Dispatch: staff messages, so quiet hours and consent do not hold any back.
    with Session(engine) as session:
        session.execute(sa.delete(m.Activity).where(m.Activity.outbox_message_id.is_not(None)))
        session.execute(sa.update(m.CheckIn).values(outbox_message_id=None))
        session.execute(sa.delete(m.OutboxMessage))
        session.commit()
        manager = session.exec(
            select(m.StaffUser).where(m.StaffUser.role == m.Role.MANAGER)
        ).first()
        rows = [
            {
                "channel": m.Channel.EMAIL.value,
                "recipient": manager.email,
                "template": "check_in_alert_staff",
                "payload": {
                    "staff_name": manager.name,
                    "carer_name": f"Carer {n}",
                    "household_reference": f"FC-B{n:07d}",
                    "reason": "Check-in: 2 out of 5",
                    "comment": "",
                },
                "due_at": NOW,
                "unique_key": f"bench:dispatch:{n}",
                "status": m.OutboxStatus.PENDING.value,
                "attempts": 0,
                "staff_id": manager.id,
                "created_at": NOW,
            }
            for n in range(args.messages)
        ]
        insert(session, m.OutboxMessage, rows)

    counter, port = multiprocessing.Value("i", 0), multiprocessing.Value("i", 0)
    stop = multiprocessing.Event()
    server = multiprocessing.Process(target=smtp_server, args=(counter, port, stop))
    server.start()
    try:
        deadline = time.monotonic() + 30
        while port.value == 0 and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for the server process to report its port
        smtp_settings = settings.model_copy(
            update={"smtp": settings.smtp.model_copy(update={"port": port.value})}
        )
        dispatcher = Dispatcher(smtp_settings, engine, worker="bench", batch_size=50)
        t0 = time.perf_counter()
        result = dispatcher.run_until_idle()
        seconds = time.perf_counter() - t0
        dispatcher.close()
    finally:
        stop.set()
        server.join(10)
    received = counter.value
    print(
        f"\nDispatch: {result.sent:,} sent ({received:,} received by aiosmtpd), "
        f"{result.failed} failed, in {seconds:.1f} s = {result.sent / seconds:,.0f} messages/s"
    )
    engine.dispose()
    if args.backend == "postgresql" and not args.keep:
        schema = f"bench_scheduler_{os.getpid()}"
        cleanup = sa.create_engine(normalise_url(os.environ[POSTGRES_ENV]))
        with cleanup.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        cleanup.dispose()
    elif args.backend == "sqlite" and not args.keep:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    elif args.keep:
        print(f"Kept {url}")


if __name__ == "__main__":
    main()
