"""Benchmark: the outbox dispatcher's rate to GOV.UK Notify and to SMTP, each beside a raw loop
of the same client in the same run.

    python bench/dispatch.py [--messages 1000] [--backend sqlite|postgresql] [--batch-size 50]

Starts the local Notify API server (crm.testing.notify_api) and the local SMTP server
(crm.testing.smtp), each in a process of its own, as a real provider would be (not sharing our
interpreter's lock), then for each provider:

1. the raw loop: the client the channel uses (notifications-python-client's
   `send_email_notification`; smtplib's `send_message` on one open connection), sending the
   same number of messages of about the same size, with no database at all;
2. the dispatcher (crm.messaging.dispatcher.Dispatcher.run_until_idle) sending as many staff
   emails from the outbox: each one claimed, checked, rendered from its templates, sent,
   recorded with an activity on the timeline.

For SMTP it then runs both again with the raw loop sending the dispatcher's shape of email (the
same text plus the HTML part its template renders), as the server's share of the work grows
with the message.

It prints messages per second for both, their ratio (dispatcher / raw, the figure to compare
between runs: both share the machine's load) and what the outbox adds to each message (the
difference of the two per-message times). The database is a fresh SQLite file in a temporary
folder, or a fresh schema of FOSTERCRM_TEST_POSTGRES_URL.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import smtplib
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from sqlmodel import Session  # noqa: E402

import crm.models as m  # noqa: E402
from crm import clock  # noqa: E402
from crm.db import make_engine, normalise_url  # noqa: E402
from crm.messaging.dispatcher import Dispatcher  # noqa: E402
from crm.migrate import upgrade  # noqa: E402
from crm.settings import Settings, load_settings  # noqa: E402

POSTGRES_ENV = "FOSTERCRM_TEST_POSTGRES_URL"
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # a Tuesday morning, outside quiet hours
CHUNK = 5000
SUBJECT = "Check-in alert: Carer 1 (FC-B0000001)"
# About the size of the rendered check-in alert (text part).
BODY = ("Dear Morgan,\n\nA check-in from Carer 1 scored 2 out of 5. " * 8).strip()


def fresh_database(backend: str, folder: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{folder / 'bench.db'}"
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        sys.exit(f"set {POSTGRES_ENV} for --backend postgresql")
    schema = f"bench_dispatch_{os.getpid()}"
    engine = sa.create_engine(normalise_url(base))
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    separator = "&" if "?" in base else "?"
    return f"{normalise_url(base)}{separator}options=-csearch_path%3D{schema}"


def drop_schema() -> None:
    engine = sa.create_engine(normalise_url(os.environ[POSTGRES_ENV]))
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "bench_dispatch_{os.getpid()}" CASCADE'))
    engine.dispose()


# -- the providers, each in its own process --------------------------------------------------


def notify_process(ready, stop, done) -> None:  # noqa: ANN001
    from crm.testing.notify_api import FakeNotifyServer

    with FakeNotifyServer() as notify:
        email = notify.add_template("email", "((body))", subject="((subject))")
        ready.put((notify.base_url, notify.api_key, email.id))
        stop.wait()
        done.put(len(notify.notifications("email")))


def smtp_process(ready, stop, done) -> None:  # noqa: ANN001
    from crm.testing.smtp import SmtpCapture

    with SmtpCapture() as smtp:
        ready.put((smtp.host, smtp.port))
        stop.wait()
        done.put(len(smtp.messages()))


class Provider:
    def __init__(self, target) -> None:  # noqa: ANN001
        self.ready, self.done = multiprocessing.Queue(), multiprocessing.Queue()
        self.stop = multiprocessing.Event()
        self.process = multiprocessing.Process(
            target=target, args=(self.ready, self.stop, self.done)
        )
        self.process.start()
        self.details = self.ready.get(timeout=60)

    def received(self) -> int:
        self.stop.set()
        count = self.done.get(timeout=60)
        self.process.join(30)
        return count


# -- the raw loops ------------------------------------------------------------------------


def raw_notify(base_url: str, api_key: str, template_id: str, n: int) -> float:
    from notifications_python_client import NotificationsAPIClient

    client = NotificationsAPIClient(api_key, base_url=base_url, timeout=30)
    started = time.perf_counter()
    for i in range(n):
        client.send_email_notification(
            "manager@example.org",
            template_id,
            personalisation={"subject": SUBJECT, "body": BODY},
            reference=f"raw-{i}",
        )
    return time.perf_counter() - started


def raw_smtp(host: str, port: int, n: int, html: str | None = None) -> float:
    """smtplib's send_message on one connection; `html` adds an HTML alternative (the shape of
    the dispatcher's emails, whose HTML part the server also has to take in)."""
    started = time.perf_counter()
    with smtplib.SMTP(host, port, timeout=30) as smtp:
        for i in range(n):
            email = EmailMessage()
            email["From"] = "noreply@example.org"
            email["To"] = "manager@example.org"
            email["Subject"] = SUBJECT
            email["Message-ID"] = f"<raw-{i}-{uuid.uuid4().hex}@example.org>"
            email.set_content(BODY)
            if html is not None:
                email.add_alternative(html, subtype="html")
            smtp.send_message(email)
    return time.perf_counter() - started


def rendered_html(settings: Settings, manager: m.StaffUser) -> str:
    """The HTML part of the staff email the dispatcher sends here."""
    from crm.messaging.render import Renderer

    message = m.OutboxMessage(
        id=1,
        channel=m.Channel.EMAIL,
        recipient=manager.email,
        template="check_in_alert_staff",
        payload=payload(manager, 1),
        due_at=NOW,
        unique_key="bench:html",
        staff_id=manager.id,
    )
    return Renderer(settings).render(message).content.get_body(("html",)).get_content()


# -- the dispatcher -----------------------------------------------------------------------


def payload(manager: m.StaffUser, i: int) -> dict:
    return {
        "staff_name": manager.name,
        "carer_name": f"Carer {i}",
        "household_reference": f"FC-B{i:07d}",
        "reason": "Check-in: 2 out of 5",
        "comment": "",
    }


def queue_staff_emails(engine: sa.Engine, manager: m.StaffUser, n: int, run: str) -> None:
    rows = [
        {
            "channel": m.Channel.EMAIL.value,
            "recipient": manager.email,
            "template": "check_in_alert_staff",
            "payload": payload(manager, i),
            "due_at": NOW,
            "unique_key": f"bench:{run}:{i}",
            "status": m.OutboxStatus.PENDING.value,
            "attempts": 0,
            "staff_id": manager.id,
            "created_at": NOW,
        }
        for i in range(n)
    ]
    with Session(engine) as session:
        for start in range(0, len(rows), CHUNK):
            session.execute(sa.insert(m.OutboxMessage), rows[start : start + CHUNK])
        session.commit()


def dispatch(settings: Settings, engine: sa.Engine, batch_size: int) -> tuple[float, int, int]:
    dispatcher = Dispatcher(settings, engine, worker="bench", batch_size=batch_size)
    started = time.perf_counter()
    try:
        result = dispatcher.run_until_idle()
    finally:
        dispatcher.close()
    return time.perf_counter() - started, result.sent, result.failed


CPU: list[float] = []  # this process's CPU seconds of the last timed part (see timed)


def timed(run):  # noqa: ANN001, ANN201
    """Run `run`, noting this process's CPU time: on a loaded machine the wall-clock rates
    swing with the load, the CPU each message costs us much less."""
    cpu = time.process_time()
    result = run()
    CPU.append(time.process_time() - cpu)
    return result


def line(name: str, n: int, seconds: float) -> str:
    cpu = 1000 * CPU[-1] / max(n, 1) if CPU else float("nan")
    return (
        f"  {name:<34}{n:>7,}{seconds:>9.2f} s{n / seconds:>10,.0f} /s{1000 * seconds / n:>9.2f} ms"
        f"{cpu:>9.2f} ms CPU"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--batch-size", type=int, default=50)
    args = parser.parse_args()
    n = args.messages

    # The providers first: their processes fork before any database connection exists.
    notify, smtp = Provider(notify_process), Provider(smtp_process)
    folder = Path(tempfile.mkdtemp(prefix="fostercrm-bench-dispatch-"))
    url = fresh_database(args.backend, folder)
    try:
        upgrade(url)
        engine = make_engine(url)
        clock.set_now(NOW)
        from crm.testing.fixtures import make_organisation

        with Session(engine, expire_on_commit=False) as session:
            manager = make_organisation(session).manager
        base = load_settings(environ={}, database={"url": url}).model_copy(
            update={"secret_key": "bench-secret-key-0123456789abcdef"}
        )
        notify_url, notify_key, template_id = notify.details
        by_notify = base.model_copy(
            update={
                "notify_api_key": notify_key,
                "notify": base.notify.model_copy(
                    update={
                        "base_url": notify_url,
                        "email_template_id": template_id,
                        # Never used here (emails only), but the settings need one with a key.
                        "sms_template_id": template_id,
                    }
                ),
                "messaging": base.messaging.model_copy(update={"email_by": "notify"}),
            }
        )
        smtp_host, smtp_port = smtp.details
        by_smtp = base.model_copy(
            update={"smtp": base.smtp.model_copy(update={"host": smtp_host, "port": smtp_port})}
        )

        print(f"{n:,} emails each way, {args.backend}, dispatcher batches of {args.batch_size}")
        print(f"  {'':<34}{'sent':>7}{'time':>11}{'rate':>13}{'each':>12}{'our CPU':>16}")
        results = {}
        for name, settings, raw in (
            (
                "GOV.UK Notify",
                by_notify,
                partial(raw_notify, notify_url, notify_key, template_id, n),
            ),
            ("SMTP", by_smtp, partial(raw_smtp, smtp_host, smtp_port, n)),
        ):
            raw_seconds = timed(raw)
            print(line(f"{name}: raw client loop", n, raw_seconds))
            queue_staff_emails(engine, manager, n, name)
            seconds, sent, failed = timed(partial(dispatch, settings, engine, args.batch_size))
            print(line(f"{name}: outbox dispatcher", sent, seconds) + f"  ({failed} failed)")
            overhead = 1000 * (seconds / max(sent, 1) - raw_seconds / n)
            ratio = (sent / seconds) / (n / raw_seconds)
            print(
                f"  {'':<34}the outbox adds {overhead:.2f} ms a message; "
                f"dispatcher / raw = {ratio:.2f} (CPU a message: {CPU[-1] / CPU[-2]:.2f}x raw's)"
            )
            results[name] = sent
        # The same again for SMTP against a raw loop sending the dispatcher's shape of email.
        html = rendered_html(by_smtp, manager)
        raw_seconds = timed(partial(raw_smtp, smtp_host, smtp_port, n, html))
        print(line("SMTP: raw loop, text + HTML", n, raw_seconds))
        queue_staff_emails(engine, manager, n, "SMTP again")
        seconds, sent, failed = timed(partial(dispatch, by_smtp, engine, args.batch_size))
        print(line("SMTP: outbox dispatcher", sent, seconds) + f"  ({failed} failed)")
        ratio = (sent / seconds) / (n / raw_seconds)
        print(
            f"  {'':<34}dispatcher / raw (text + HTML) = {ratio:.2f}"
            f" (CPU a message: {CPU[-1] / CPU[-2]:.2f}x raw's)"
        )
        results["SMTP"] += sent + n
        received = {"GOV.UK Notify": notify.received(), "SMTP": smtp.received()}
        for name, count in received.items():
            print(f"  {name} received {count:,} (raw {n:,} + the rest {results[name]:,})")
        engine.dispose()
    finally:
        for provider in (notify, smtp):
            provider.stop.set()
            provider.process.join(10)
        if args.backend == "postgresql":
            drop_schema()
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
