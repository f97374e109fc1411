"""Test helpers for the scheduler: settings pointing at the SMTP capture server
(crm.testing.smtp), and households/carers made the real way (create_enquiry, move_stage)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, select

import crm.models as m
from crm import clock
from crm.services import outbox as outbox_service
from crm.services.actors import Actor
from crm.services.enquiries import ApplicantDetails, EnquiryInput, create_enquiry
from crm.services.pipeline import move_stage
from crm.settings import Settings

SECRET = "test-secret-key-for-signing-links-0123456789"
CONSENT_WORDS = {
    m.ConsentScope.STORE_DETAILS: "You may keep my details to help me foster.",
    m.ConsentScope.EMAIL: "You may email me about fostering.",
    m.ConsentScope.TELEGRAM: "You may message me on Telegram.",
    m.ConsentScope.SMS: "You may text me about fostering.",
}


def scheduler_settings(
    settings: Settings,
    *,
    smtp_port: int | None = None,
    telegram_base_url: str | None = None,
    telegram_token: str | None = None,
) -> Settings:
    update: dict = {"secret_key": SECRET}
    if smtp_port is not None:
        update["smtp"] = settings.smtp.model_copy(update={"host": "127.0.0.1", "port": smtp_port})
    if telegram_base_url is not None:
        update["telegram_api_base_url"] = telegram_base_url
        update["telegram_bot_token"] = telegram_token
    return settings.model_copy(update=update)


def make_household(
    session: Session,
    settings: Settings,
    *,
    first_name: str = "Sam",
    last_name: str = "Patel",
    email_address: str | None = "sam.patel@example.com",
    phone: str | None = "07700 900982",
    postcode: str = "LE1 6ZG",
    consents: tuple[m.ConsentScope, ...] = (m.ConsentScope.EMAIL,),
    telegram_chat: int | None = None,
    preferred: m.Channel | None = None,
    second_applicant: tuple[str, str, str] | None = None,
) -> m.Household:
    scopes = {m.ConsentScope.STORE_DETAILS, *consents}
    data = EnquiryInput(
        applicant=ApplicantDetails(first_name, last_name, email=email_address, phone=phone),
        second_applicant=(
            ApplicantDetails(second_applicant[0], second_applicant[1], email=second_applicant[2])
            if second_applicant
            else None
        ),
        enquiry_channel=m.EnquiryChannel.WEB_FORM,
        postcode=postcode,
        preferred_channel=preferred,
        consents={scope: CONSENT_WORDS[scope] for scope in scopes},
    )
    household = create_enquiry(session, Actor.system("test"), data, settings).household
    if telegram_chat is not None:
        session.add(m.TelegramChatLink(chat_id=str(telegram_chat), household_id=household.id))
        session.commit()
    return household


def make_carer(
    session: Session,
    settings: Settings,
    *,
    supervisor_id: int | None,
    approved_at: datetime | None = None,
    **household_options,
) -> m.Carer:
    """A household approved through the pipeline service (which opens the carer record)."""
    household = make_household(session, settings, **household_options)
    move_stage(
        session, Actor.system("test"), household.id, m.Stage.APPROVED, occurred_at=approved_at
    )
    carer = session.exec(select(m.Carer).where(m.Carer.household_id == household.id)).one()
    carer.supervising_social_worker_id = supervisor_id
    session.add(carer)
    session.commit()
    if household_options.get("telegram_chat") is not None:
        link = session.exec(
            select(m.TelegramChatLink).where(
                m.TelegramChatLink.chat_id == str(household_options["telegram_chat"])
            )
        ).one()
        link.carer_id = carer.id
        session.add(link)
        session.commit()
    return carer


def outbox(session: Session, **filters) -> list[m.OutboxMessage]:
    query = select(m.OutboxMessage).order_by(m.OutboxMessage.id)
    for name, value in filters.items():
        query = query.where(getattr(m.OutboxMessage, name) == value)
    session.expire_all()
    return list(session.exec(query).all())


def tasks(session: Session, **filters) -> list[m.Task]:
    query = select(m.Task).order_by(m.Task.id)
    for name, value in filters.items():
        query = query.where(getattr(m.Task, name) == value)
    session.expire_all()
    return list(session.exec(query).all())


def failing_scan(session: Session, settings: Settings, now: datetime) -> dict:
    """A scan that breaks, for tests of how failures are recorded."""
    raise RuntimeError("the database said no")


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.05) -> bool:
    """Poll a condition with a deadline (for other threads and processes); never a bare sleep."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def scheduler_process(
    database_url: str,
    smtp_port: int,
    holder: str,
    log_dir: Path,
    *,
    lease_seconds: float = 2,
    claim_seconds: int = 3,
    dispatch_every: float = 0.2,
) -> subprocess.Popen:
    """`fostercrm scheduler` in a real subprocess, configured the way an operator would: by
    FOSTERCRM_* environment variables."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FOSTERCRM_", "TELEGRAM_")) or k.startswith("FOSTERCRM_TEST_")
    }
    env.update(
        FOSTERCRM_DATABASE_URL=database_url,
        FOSTERCRM_SMTP_HOST="127.0.0.1",
        FOSTERCRM_SMTP_PORT=str(smtp_port),
        FOSTERCRM_SECRET_KEY=SECRET,
        PYTHONUNBUFFERED="1",
    )
    log = open(log_dir / f"scheduler-{holder}.log", "ab")  # noqa: SIM115 - the child keeps it
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crm.cli",
            "scheduler",
            "--holder",
            holder,
            "--lease-seconds",
            str(lease_seconds),
            "--claim-seconds",
            str(claim_seconds),
            "--dispatch-every",
            str(dispatch_every),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[3],
    )


def kill(process: subprocess.Popen) -> None:
    """SIGKILL: no clean-up, no lease release; what a crash or an OOM kill looks like."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(10)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            kill(process)


def enqueue_staff_alerts(engine, org, count: int, start: int = 0) -> None:
    """`count` staff messages due now (staff messages ignore quiet hours: tests at any hour)."""
    with Session(engine) as session:
        for n in range(start, start + count):
            outbox_service.enqueue_message(
                session,
                channel=m.Channel.EMAIL,
                recipient=org.supervisor_north.email,
                template="check_in_alert_staff",
                payload={
                    "staff_name": "Sup",
                    "carer_name": f"Carer {n}",
                    "household_reference": f"FC-{n:04d}",
                    "reason": "Check-in: 2 out of 5",
                    "comment": "",
                },
                due_at=clock.now(),
                unique_key=f"staff-alert-test:{n}",
                staff_id=org.supervisor_north.id,
            )
        session.commit()
