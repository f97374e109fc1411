"""`fostercrm serve` for real: gunicorn with 4 workers sharing the rate limits in Redis.

The public enquiry limit (10 an hour from one visitor) holds across the workers: the eleventh
enquiry is refused whichever worker answers. Which worker answers is the kernel's choice, so
each request carries its own X-Request-Id and the server's JSON log says which worker (pid)
answered it; the refusals go on until several different workers have refused.
Also: the scheduler is not started by the web, and one scrape of /metrics adds up the workers.
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from sqlmodel import Session, select

import crm.models as m
from crm.settings import PROJECT_ROOT
from crm.web.public import ENQUIRIES_PER_IP_PER_HOUR

WORKERS = 4
SECRET = "multi-worker-test-secret-0123456789"
METRICS_TOKEN = "multi-worker-metrics-token-0123"
_TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
STARTUP_SECONDS = 180
pytestmark = pytest.mark.parametrize(
    # PostgreSQL, as in production: the workers share it as they share Redis.
    "backend",
    [pytest.param("postgresql", marks=pytest.mark.postgres)],
    indirect=True,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    lines: list[dict] = field(default_factory=list)
    said: list[str] = field(default_factory=list)

    def read(self) -> None:
        for raw in self.process.stderr:
            self.said.append(raw)
            if raw.startswith("{"):
                self.lines.append(json.loads(raw))

    def worker_for(self, request_id: str) -> int:
        """The pid of the worker whose log line has this request id."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if line.get("request_id") == request_id and line.get("message") == "request":
                    return line["pid"]
            # The line is on its way through the pipe: wait for the reader, not a set time.
            time.sleep(0.01)
        raise AssertionError(f"no log line for request {request_id}")


@pytest.fixture
def server(database_url, org, redis_url) -> Iterator[Server]:
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(PROJECT_ROOT),
        "FOSTERCRM_DATABASE_URL": database_url,
        "FOSTERCRM_SECRET_KEY": SECRET,
        "FOSTERCRM_REDIS_URL": redis_url,
        "FOSTERCRM_METRICS_TOKEN": METRICS_TOKEN,
        # The test is the proxy: it says who the visitor is in X-Forwarded-For.
        "FOSTERCRM_SERVICE_TRUSTED_PROXIES": "1",
        "FOSTERCRM_SERVICE_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crm.cli",
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(WORKERS),
            "--threads",
            "2",
            "--no-warm-up",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    running = Server(f"http://127.0.0.1:{port}", process)
    reader = threading.Thread(target=running.read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        booted: set[int] = set()
        while len(booted) < WORKERS:
            assert process.poll() is None, "".join(running.said)
            assert time.monotonic() < deadline, "".join(running.said)
            booted = {
                line["pid"]
                for line in list(running.lines)
                if line.get("message", "").startswith("Booting worker")
            }
            time.sleep(0.05)
        httpx.get(f"{running.url}/healthz", timeout=60).raise_for_status()
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(10)


def enquire(server: Server, visitor: str, n: int) -> tuple[int, int]:
    """One enquiry from `visitor` on a fresh connection (any worker may take it): the answer's
    status and the pid of the worker that answered."""
    headers = {"X-Forwarded-For": visitor}
    with httpx.Client(base_url=server.url, timeout=60, headers=headers) as http:
        page = http.get("/enquire")
        token = _TOKEN.search(page.text).group(1)
        request_id = f"test-{uuid.uuid4().hex}"
        answer = http.post(
            "/enquire",
            data={
                "first_name": "Priya",
                "last_name": "Shah",
                "email": f"visitor-{n}-{uuid.uuid4().hex[:8]}@example.com",
                "postcode": "LE1 6ZG",
                "source_key": "social_media",
                "consent": "y",
                "website": "",
                "csrf_token": token,
            },
            headers={"X-Request-Id": request_id},
        )
    return answer.status_code, server.worker_for(request_id)


def test_the_enquiry_limit_holds_whichever_worker_answers(server, engine, redis_url):
    # A visitor address of this run only (RFC 2544's benchmarking range), so other runs on the
    # same Redis never count with this one.
    visitor = f"198.18.{random.randrange(256)}.{random.randrange(1, 255)}"
    try:
        taken = [enquire(server, visitor, n) for n in range(ENQUIRIES_PER_IP_PER_HOUR)]
        assert [status for status, _ in taken] == [302] * ENQUIRIES_PER_IP_PER_HOUR
        refused_by: set[int] = set()
        attempts = 0
        # Counting in each worker's memory, a worker that had taken few of the ten would take
        # the eleventh: go on until at least three different workers have refused.
        while len(refused_by) < 3 and attempts < 60:
            status, pid = enquire(server, visitor, 100 + attempts)
            assert status == 429, f"attempt {attempts + 1} past the limit taken by worker {pid}"
            refused_by.add(pid)
            attempts += 1
        assert len(refused_by) >= 3, f"only workers {refused_by} answered in {attempts} tries"
        workers = {pid for _, pid in taken} | refused_by
        assert len(workers) >= 3

        # Ten households, no more: nothing refused was kept.
        with Session(engine) as session:
            assert len(session.exec(select(m.Household.id)).all()) == ENQUIRIES_PER_IP_PER_HOUR
            # The web started no scheduler: nobody took the lease.
            assert session.exec(select(m.SchedulerLease)).all() == []

        # One scrape, whichever worker answers it, adds up what every worker timed.
        scrape = httpx.get(
            f"{server.url}/metrics",
            headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
            timeout=60,
        )
        assert scrape.status_code == 200
        counted = {
            status: float(value)
            for status, value in re.findall(
                r'^fostercrm_http_request_duration_seconds_count\{method="POST",'
                r'route="/enquire",status="(\d+)"\} (\S+)$',
                scrape.text,
                re.MULTILINE,
            )
        }
        assert counted == {"302": ENQUIRIES_PER_IP_PER_HOUR, "429": attempts}
    finally:
        import redis

        connection = redis.Redis.from_url(redis_url)
        for key in connection.scan_iter(f"*{visitor}*"):
            connection.delete(key)
