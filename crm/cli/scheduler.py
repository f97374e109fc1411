"""`fostercrm scheduler`: run the scheduler in the foreground, or look at and run its jobs."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

import click
from sqlmodel import Session, select

from crm.cli.common import cli_settings, friendly_errors, safe_url


def _engine():  # noqa: ANN202
    from crm.db import make_engine

    settings = cli_settings()
    return settings, make_engine(settings.database.url)


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Every run of every job (the dispatcher runs every few seconds) is too much to read.
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if verbose else logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _stop_with_parent() -> None:
    """Under `fostercrm up` (crm.cli.background): our standard input is a pipe from `up`, so
    its end means `up` has gone, however it went; then stop as on SIGTERM (cleanly, the lease
    given up)."""

    def wait_for_the_end() -> None:
        while sys.stdin.buffer.read(4096):
            pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=wait_for_the_end, name="fostercrm-parent-watch", daemon=True).start()


@click.group(invoke_without_command=True)
@click.option("--holder", default=None, help="A name for this instance (default: host:pid).")
@click.option(
    "--lease-seconds",
    type=click.FloatRange(1, 3600),
    default=60,
    show_default=True,
    help="How long the lease lasts unless renewed; a standby takes over after this.",
)
@click.option(
    "--dispatch-every",
    type=click.FloatRange(0.1, 3600),
    default=None,
    help="Seconds between outbox dispatches (default 15).",
)
@click.option(
    "--claim-seconds",
    type=click.IntRange(1, 3600),
    default=120,
    show_default=True,
    help="How long a message claimed by a dispatcher that died stays untouched.",
)
@click.option("-v", "--verbose", is_flag=True)
@click.option(
    "--with-parent",
    is_flag=True,
    hidden=True,
    help="Started by `fostercrm up`: stop when standard input closes (up has gone).",
)
@click.pass_context
@friendly_errors
def scheduler(
    ctx: click.Context,
    holder: str | None,
    lease_seconds: float,
    dispatch_every: float | None,
    claim_seconds: int,
    verbose: bool,
    with_parent: bool,
) -> None:
    """Run the scheduler in the foreground (Ctrl+C to stop). Only one instance is active at a
    time: start a second one anywhere and it stands by, taking over if the first one dies."""
    if ctx.invoked_subcommand is not None:
        return
    from crm.scheduler.runner import SchedulerRunner

    _logging(verbose)
    settings, engine = _engine()
    runner = SchedulerRunner(
        settings,
        engine,
        holder=holder,
        lease_seconds=lease_seconds,
        dispatch_every=dispatch_every,
        claim_seconds=claim_seconds,
    )
    if with_parent:
        _stop_with_parent()
        click.echo(f"Scheduler {runner.holder} started by fostercrm up (process {os.getpid()})")
    else:
        click.echo(
            f"Scheduler {runner.holder} on {safe_url(settings.database.url)} (Ctrl+C to stop)"
        )
    try:
        runner.run_forever()
    finally:
        engine.dispose()


@scheduler.command("jobs")
@friendly_errors
def list_jobs() -> None:
    """List the jobs, when each last ran, and any error."""
    from crm.models import SchedulerJob, SchedulerLease
    from crm.scheduler.jobs import JOBS

    settings, engine = _engine()
    try:
        with Session(engine) as session:
            states = {s.job_id: s for s in session.exec(select(SchedulerJob)).all()}
            lease = session.get(SchedulerLease, "scheduler")
        tz = settings.tz
        if lease is not None:
            click.echo(
                f"Lease: {lease.holder}, until {lease.expires_at.astimezone(tz):%Y-%m-%d %H:%M:%S}"
            )
        for spec in JOBS:
            state = states.get(spec.id)
            last = (
                state.last_success_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
                if state and state.last_success_at
                else "never"
            )
            line = f"{spec.id:<22} last success {last:<16} {spec.title}"
            if (
                state
                and state.last_error
                and (state.last_success_at is None or state.last_error_at > state.last_success_at)
            ):
                line += f"\n{'':<22} LAST RUN FAILED: {state.last_error.splitlines()[-1]}"
            click.echo(line)
    finally:
        engine.dispose()


@scheduler.command("run")
@click.argument("job_id")
@friendly_errors
def run_job(job_id: str) -> None:
    """Run one job now (whether or not a scheduler is running: every job is safe to repeat)."""
    from crm.scheduler.jobs import job
    from crm.scheduler.runner import SchedulerRunner

    try:
        spec = job(job_id)
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from None
    _logging(False)
    settings, engine = _engine()
    runner = SchedulerRunner(settings, engine, jobs=[spec])
    try:
        result = runner.run_job(spec.id)
    finally:
        runner.dispatcher.close()
        engine.dispose()
    if "error" in result:
        raise click.ClickException(f"{spec.id} failed: {result['error']}")
    click.echo(f"{spec.id}: {result}")


@scheduler.command("dispatch")
@click.option("--worker", default=None, help="A name for this dispatcher (default: host:pid).")
@click.option("--claim-seconds", type=click.IntRange(1, 3600), default=120, show_default=True)
@click.option("--batch-size", type=click.IntRange(1, 1000), default=25, show_default=True)
@friendly_errors
def dispatch(worker: str | None, claim_seconds: int, batch_size: int) -> None:
    """Send every message that is due now, then stop."""
    from crm.messaging.dispatcher import Dispatcher

    _logging(False)
    settings, engine = _engine()
    dispatcher = Dispatcher(
        settings, engine, worker=worker, claim_seconds=claim_seconds, batch_size=batch_size
    )
    try:
        result = dispatcher.run_until_idle()
    finally:
        dispatcher.close()
        engine.dispose()
    click.echo(", ".join(f"{k} {v}" for k, v in result.as_dict().items()))


@scheduler.command("failed")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@friendly_errors
def failed(limit: int) -> None:
    """List messages that could not be sent."""
    from crm.services.outbox import failed_messages

    settings, engine = _engine()
    try:
        with Session(engine) as session:
            messages = failed_messages(session, limit=limit)
        if not messages:
            click.echo("No failed messages.")
        for message in messages:
            click.echo(
                f"#{message.id} {message.channel} to {message.recipient} ({message.template}), "
                f"{message.attempts} attempt(s): {message.error}"
            )
    finally:
        engine.dispose()
