"""`fostercrm up`'s background process: the scheduler, and the outbox's dispatcher it runs,
in a child process of their own (`fostercrm scheduler --with-parent`), so that a backlog of
messages (thousands due, retried against a mail server that does not answer) takes another
process's CPU and GIL, never the web's.

`up` starts it after the database is upgraded and stops it after the web server has stopped:
SIGTERM, then its clean stop (the jobs finish, the lease is given up at once), and a kill only
if that takes longer than STOP_SECONDS. If `up` itself dies without stopping it (SIGKILL, a
crash), the child sees its standard input close and stops itself. If the child dies on its
own, `up` starts another after RESTART_SECONDS; the lease (crm.scheduler.lease) still makes
sure only one scheduler is ever active, whatever else runs against the same database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Mapping

import click

# Seconds the scheduler is given to stop cleanly (a dispatch under way finishes its batch).
STOP_SECONDS = 30.0
# Seconds before a scheduler that died on its own is started again (not in a tight loop).
RESTART_SECONDS = 5.0


def scheduler_command() -> list[str]:
    return [sys.executable, "-m", "crm.cli", "scheduler", "--with-parent"]


class SchedulerProcess:
    """The scheduler as a child process: start(), stop(); started again if it dies."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = dict(environ)
        self.process: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def _spawn(self) -> None:
        self.process = subprocess.Popen(
            scheduler_command(),
            env=self.environ,
            # Its standard input is a pipe only we hold: when we go, however we go, it closes
            # and the child stops (crm.cli.scheduler --with-parent).
            stdin=subprocess.PIPE,
            # Its own session: Ctrl+C in the terminal reaches `up` alone, which stops the web
            # first and then the scheduler, in that order.
            start_new_session=True,
        )

    def start(self) -> SchedulerProcess:
        with self._lock:
            self._spawn()
        self._watcher = threading.Thread(
            target=self._watch, name="fostercrm-scheduler-watch", daemon=True
        )
        self._watcher.start()
        return self

    def _watch(self) -> None:
        while not self._stopping.is_set():
            process = self.process
            code = process.wait()
            if self._stopping.is_set():
                return
            click.echo(
                f"The scheduler process stopped (exit status {code}); starting it again in "
                f"{RESTART_SECONDS:g} s",
                err=True,
            )
            if self._stopping.wait(RESTART_SECONDS):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                if process.stdin is not None:
                    process.stdin.close()
                self._spawn()

    def stop(self, timeout: float = STOP_SECONDS) -> int | None:
        """Stop the child cleanly (SIGTERM), killing it after `timeout`; its exit status."""
        self._stopping.set()
        with self._lock:
            process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdin is not None:
            process.stdin.close()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        return process.returncode


def start_scheduler(secret_key: str) -> SchedulerProcess:
    """The scheduler process for `up`, with the same settings (the environment) and the same
    secret key as the web (the one `up --demo` made up included): links in messages are
    signed with it."""
    environ = dict(os.environ)
    environ["FOSTERCRM_SECRET_KEY"] = secret_key
    # Its lines appear in `up`'s output as they are written, not when a buffer fills.
    environ["PYTHONUNBUFFERED"] = "1"
    return SchedulerProcess(environ).start()
