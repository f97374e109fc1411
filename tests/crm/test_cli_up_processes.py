"""`fostercrm up` runs the scheduler (with the outbox's dispatcher) in a process of its own: a
real `up`, a real child, a real SQLite database. The child holds the lease, stops when `up`
stops (giving the lease up), stops by itself when `up` is killed, and is started again when
it dies on its own."""

from __future__ import annotations

import os
import queue
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from crm.db import make_engine
from crm.models import SchedulerLease
from crm.testing.fixtures import POSTGRES_ENV

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

WAIT = 90.0  # seconds for anything to appear: `up` builds the assistant's classifiers first


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Up:
    """`fostercrm up` as a process, its output read line by line as it comes."""

    def __init__(self, tmp_path) -> None:  # noqa: ANN001
        self.port = free_port()
        self.url = f"sqlite:///{tmp_path / 'up.db'}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("FOSTERCRM_")}
        env.pop(POSTGRES_ENV, None)
        env["FOSTERCRM_DATABASE_URL"] = self.url
        env["FOSTERCRM_SECRET_KEY"] = "up-test-secret-key-0123456789"
        env["PYTHONUNBUFFERED"] = "1"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "crm.cli", "up", "--port", str(self.port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, pattern: str) -> re.Match:
        deadline = time.monotonic() + WAIT
        while True:
            for line in self.seen:
                if found := re.search(pattern, line):
                    self.seen.remove(line)
                    return found
            left = deadline - time.monotonic()
            line = self.lines.get(timeout=max(left, 0.01)) if left > 0 else None
            if line is None:
                raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(self.seen)}")
            self.seen.append(line)

    def output(self) -> str:
        while (line := self.lines.get(timeout=WAIT)) is not None:
            self.seen.append(line)
        return "".join(self.seen)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


@pytest.fixture
def up(tmp_path):
    running = Up(tmp_path)
    yield running
    running.stop()


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        # pid (command) state ppid ...: the command may hold spaces, so split after its ")".
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for_exit(pid: int, timeout: float = 60) -> bool:
    """Whether `pid` ends within `timeout` (a pidfd becomes readable when it does)."""
    try:
        descriptor = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([descriptor], [], [], timeout)
        return bool(readable)
    finally:
        os.close(descriptor)


def lease(url: str) -> tuple[str, object] | None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            table = SchedulerLease.__table__
            row = conn.execute(
                sa.select(table.c.holder, table.c.expires_at).where(table.c.name == "scheduler")
            ).first()
            return None if row is None else (row[0], row[1])
    finally:
        engine.dispose()


def started(up: Up) -> tuple[int, str]:
    """The scheduler child's pid and lease holder, once it is active."""
    announced = int(up.wait_for(r"Scheduler and dispatcher: process (\d+)").group(1))
    child = up.wait_for(r"Scheduler (\S+) started by fostercrm up \(process (\d+)\)")
    holder, pid = child.group(1), int(child.group(2))
    assert pid == announced
    up.wait_for(rf"scheduler {re.escape(holder)} is active")
    return pid, holder


def test_up_runs_the_scheduler_in_its_own_process_and_stops_it(up):
    pid, holder = started(up)
    up.wait_for(r"Fostercrm is running at")
    assert pid != up.process.pid
    assert parent_of(pid) == up.process.pid
    with urllib.request.urlopen(f"http://127.0.0.1:{up.port}/healthz", timeout=30) as response:
        assert response.status == 200
    held_by, expires_at = lease(up.url)
    assert held_by == holder and expires_at > datetime.now(UTC)

    up.process.send_signal(signal.SIGTERM)  # as a service manager stops it
    assert up.process.wait(timeout=60) == 0
    assert not alive(pid), "the scheduler must stop with up"
    held_by, expires_at = lease(up.url)
    assert held_by == holder and expires_at < datetime.now(UTC), "the lease is given up at once"
    assert "starting it again" not in up.output()


def test_the_scheduler_stops_by_itself_when_up_is_killed(up):
    pid, holder = started(up)
    up.process.kill()  # no clean stop: up cannot tell the child anything
    up.process.wait(timeout=30)
    assert wait_for_exit(pid), "the scheduler outlived up"
    held_by, expires_at = lease(up.url)
    assert held_by == holder and expires_at < datetime.now(UTC), "it still stopped cleanly"


def test_a_scheduler_that_dies_is_started_again(up):
    first, _ = started(up)
    os.kill(first, signal.SIGKILL)
    up.wait_for(r"The scheduler process stopped \(exit status -9\); starting it again")
    child = up.wait_for(r"Scheduler (\S+) started by fostercrm up \(process (\d+)\)")
    second = int(child.group(2))
    assert second != first and parent_of(second) == up.process.pid
    # The first one's lease has not expired (it was killed), so the new one stands by for up
    # to a minute; it is enough here that it runs and is up's.
    up.process.send_signal(signal.SIGTERM)
    assert up.process.wait(timeout=60) == 0
    assert not alive(second)
