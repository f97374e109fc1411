"""Running the scheduler: the lease, APScheduler, catch-up at start-up, and job records.

`SchedulerRunner` keeps trying to hold the database lease. While it holds it, an APScheduler
BackgroundScheduler (Europe/London, coalescing, no misfire limit: a late job still runs, once)
runs the declared jobs; if it loses the lease (it hung past expiry and another instance took
over) it stops its scheduler at once and goes back to waiting. Every job run checks the lease
first, so two schedulers never scan at the same time even for a moment, and the outbox claim
makes sure no message is sent twice even if they did.

`fostercrm scheduler` runs one in the foreground; `fostercrm up` calls `start_for_up`, which
runs one in a background thread of that process. The web app factory never starts one.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import threading
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from crm import clock
from crm.messaging.dispatcher import Dispatcher
from crm.models import SchedulerJob, SchedulerJobRun
from crm.scheduler.jobs import DISPATCH, JOBS, JobSpec, make_trigger, reconcile
from crm.scheduler.lease import Lease
from crm.settings import Settings

log = logging.getLogger("crm.scheduler")


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def missed_fire_time(
    spec: JobSpec, state: SchedulerJob | None, now: datetime, timezone: Any
) -> datetime | None:
    """The latest time the job should have fired since its last successful run (or since a
    scheduler first knew it), if that is in the past: what a late start must catch up."""
    if state is None:
        return None
    watermark = state.last_success_at or state.first_seen_at
    if watermark is None:
        return None
    trigger = make_trigger(spec, timezone)
    step = timedelta(microseconds=1)
    fire = trigger.get_next_fire_time(None, watermark + step)
    missed = None
    while fire is not None and fire <= now:
        missed = fire
        fire = trigger.get_next_fire_time(fire, fire + step)
    return missed


class SchedulerRunner:
    def __init__(
        self,
        settings: Settings,
        engine: sa.Engine,
        *,
        holder: str | None = None,
        lease_seconds: float = 60,
        dispatch_every: float | None = None,
        claim_seconds: int = 120,
        jobs: Iterable[JobSpec] = JOBS,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.holder = holder or default_holder()
        self.lease = Lease(engine, self.holder, seconds=lease_seconds)
        self.lease_seconds = lease_seconds
        self.dispatch_every = dispatch_every
        self.jobs = {spec.id: spec for spec in jobs}
        self.dispatcher = Dispatcher(
            settings, engine, worker=self.holder, claim_seconds=claim_seconds
        )
        self._scheduler = None
        self._catch_up: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.active = threading.Event()  # set while this instance holds the lease and runs

    # -- one job --------------------------------------------------------------------------

    def run_job(self, job_id: str, *, catch_up: bool = False) -> dict[str, Any]:
        """Run one job now and record it. Returns its summary; an error is recorded on the job
        (last_error, failures) and returned as {"error": ...}, never raised."""
        spec = self.jobs[job_id]
        started = clock.now()
        run_id = self._record_start(spec, started, catch_up)
        try:
            if spec.target == DISPATCH:
                result: dict[str, Any] = self.dispatcher.run_until_idle(max_batches=200).as_dict()
            else:
                with Session(self.engine, expire_on_commit=False) as session:
                    result = dict(spec.scan()(session, self.settings, clock.now()) or {})
        except Exception as exc:  # noqa: BLE001 - recorded and logged, the scheduler goes on
            log.exception("job %s failed", job_id)
            self._record_end(spec, run_id, started, ok=False, error=_describe(exc))
            return {"error": str(exc)}
        self._record_end(spec, run_id, started, ok=True, summary=result)
        if any(result.get(k) for k in ("sent", "failed")) or spec.target != DISPATCH:
            log.info("job %s%s: %s", job_id, " (catch-up)" if catch_up else "", result)
        return result

    def _record_start(self, spec: JobSpec, started: datetime, catch_up: bool) -> int | None:
        with Session(self.engine, expire_on_commit=False) as session:
            state = session.get(SchedulerJob, spec.id) or SchedulerJob(
                job_id=spec.id, first_seen_at=started
            )
            state.last_started_at = started
            state.last_holder = self.holder
            state.runs += 1
            session.add(state)
            run = None
            if spec.keep_history:
                run = SchedulerJobRun(
                    job_id=spec.id, holder=self.holder, started_at=started, catch_up=catch_up
                )
                session.add(run)
            session.commit()
            return run.id if run is not None else None

    def _record_end(
        self,
        spec: JobSpec,
        run_id: int | None,
        started: datetime,
        *,
        ok: bool,
        summary: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        finished = clock.now()
        with Session(self.engine, expire_on_commit=False) as session:
            state = session.get(SchedulerJob, spec.id)
            state.last_finished_at = finished
            if ok:
                state.last_success_at = started
                state.last_summary = _jsonable(summary or {})
            else:
                state.last_error = (error or "")[:2000]
                state.last_error_at = finished
                state.failures += 1
            session.add(state)
            if run_id is not None:
                run = session.get(SchedulerJobRun, run_id)
                run.finished_at = finished
                run.ok = ok
                run.summary = _jsonable(summary or {})
                run.error = (error or None) and error[:2000]
                session.add(run)
            session.commit()

    def ensure_job_states(self) -> dict[str, SchedulerJob]:
        """A state row for every declared job (crm.scheduler.jobs.reconcile)."""
        with Session(self.engine, expire_on_commit=False) as session:
            return reconcile(session, self.jobs.values(), clock.now())

    def jobs_to_catch_up(self, now: datetime | None = None) -> dict[str, datetime]:
        """{job id: the fire time it missed} for the jobs a late start must run."""
        now = now or clock.now()
        states = self.ensure_job_states()
        missed = {}
        for spec in self.jobs.values():
            if spec.run_at_start:
                continue
            when = missed_fire_time(spec, states.get(spec.id), now, self.settings.tz)
            if when is not None:
                missed[spec.id] = when
        return missed

    # -- APScheduler ------------------------------------------------------------------------

    def _entry(self, job_id: str) -> None:
        """What APScheduler calls: run the job only while we hold the lease."""
        if not self.lease.held():
            log.warning("job %s skipped: this scheduler no longer holds the lease", job_id)
            return
        catch_up = False
        with self._lock:
            if job_id in self._catch_up:
                self._catch_up.discard(job_id)
                catch_up = True
        self.run_job(job_id, catch_up=catch_up)

    def _activate(self) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        tz = self.settings.tz
        missed = self.jobs_to_catch_up()
        scheduler = BackgroundScheduler(
            timezone=tz,
            executors={"default": ThreadPoolExecutor(1), "dispatch": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
        )
        now_local = datetime.now(tz)
        for spec in self.jobs.values():
            if spec.target == DISPATCH and self.dispatch_every:
                spec = JobSpec(
                    spec.id,
                    spec.title,
                    spec.target,
                    {"trigger": "interval", "seconds": self.dispatch_every},
                    spec.run_at_start,
                    spec.keep_history,
                    spec.executor,
                )
            extra: dict[str, Any] = {}
            if spec.run_at_start or spec.id in missed:
                extra["next_run_time"] = now_local
            if spec.id in missed:
                with self._lock:
                    self._catch_up.add(spec.id)
                log.info("job %s missed its run at %s: running it now", spec.id, missed[spec.id])
            scheduler.add_job(
                self._entry,
                trigger=make_trigger(spec, tz),
                args=[spec.id],
                id=spec.id,
                name=spec.title,
                replace_existing=True,
                executor=spec.executor,
                **extra,
            )
        scheduler.start()
        self._scheduler = scheduler
        self.active.set()
        log.info("scheduler %s is active with %d jobs", self.holder, len(self.jobs))

    def _deactivate(self, wait: bool = False) -> None:
        scheduler, self._scheduler = self._scheduler, None
        self.active.clear()
        if scheduler is not None:
            scheduler.shutdown(wait=wait)

    def check_lease(self) -> bool:
        """One round of the lease loop: take or renew the lease, start the jobs when it has
        just become ours, stop them when it was lost. True while this instance is active.

        The loop runs it every third of the lease; a test runs it itself, with crm.clock
        moved by hand, so the lease changes hands exactly when the test says."""
        try:
            have = self.lease.acquire()
        except Exception:  # noqa: BLE001 - the database may be away for a moment
            log.exception("could not reach the database to renew the scheduler lease")
            have = False
        if have and self._scheduler is None:
            try:
                self._activate()
            except Exception:  # noqa: BLE001
                log.exception("the scheduler could not start its jobs")
                self._deactivate()
        elif not have and self._scheduler is not None:
            log.warning("scheduler %s lost the lease: standing by", self.holder)
            self._deactivate()
        elif not have:
            log.debug("scheduler %s is standing by", self.holder)
        return self.active.is_set()

    def _lease_loop(self) -> None:
        interval = max(self.lease_seconds / 3, 0.2)
        while not self._stop.is_set():
            self.check_lease()
            self._stop.wait(interval)

    def start(self) -> SchedulerRunner:
        self._thread = threading.Thread(
            target=self._lease_loop, name="fostercrm-scheduler", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self._deactivate(wait=True)
        try:
            self.lease.release()
        except Exception:  # noqa: BLE001 - stopping anyway
            log.exception("could not release the scheduler lease")
        self.dispatcher.close()

    def run_forever(self) -> None:
        """Run in the foreground until SIGINT or SIGTERM."""

        def _stop(_signum: int, _frame: object) -> None:
            self._stop.set()

        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
        self.start()
        try:
            while not self._stop.wait(1):
                pass
        finally:
            self.stop()


def _describe(exc: BaseException) -> str:
    lines = traceback.format_exception_only(type(exc), exc)
    return "".join(lines).strip()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
