"""HTTP throughput of the pipeline board under `fostercrm serve` with 1, 2 and 4 workers.

What is measured: requests a second and the latency (p50, p95) of GET /pipeline, signed in as
the demo manager (every area: the widest board), over real HTTP on the loopback, against the
production server (`fostercrm serve`: gunicorn's threaded workers, each with its own
connection pool), started afresh for each worker count. The load is bounded: `--clients`
threads, each on its own keep-alive connection, send `--requests` requests in all, one after
another (a closed loop, so the server is never asked for more than it can answer). Before each
measured run the server gets `--warmup` requests per client, so every worker has loaded its
templates and filled its caches.

The clients run in this process and take CPU from the same 2 cores as the server: the figures
are the whole machine's, load generator included; a trivial route (/readyz) is measured the same
way in the same run as the floor.

The demo database is the one bench/web.py builds and keeps (var/bench/web-<N>.db for SQLite,
its schema for PostgreSQL).

Usage:
    python bench/throughput.py                                   # SQLite, 100,000 households
    python bench/throughput.py --households 20000 --workers 1,2,4 --clients 8 --requests 400
    python bench/throughput.py --backend postgresql
        (needs FOSTERCRM_BENCH_POSTGRES_URL or FOSTERCRM_TEST_POSTGRES_URL)
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from html import unescape
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from web import MANAGER, database_url, percentile, prepare  # noqa: E402

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`fostercrm serve` in a child process, on a free loopback port."""

    def __init__(self, url: str, workers: int, threads: int) -> None:
        self.port = free_port()
        env = {key: value for key, value in os.environ.items() if not key.startswith("FOSTERCRM_")}
        env.update(
            FOSTERCRM_DATABASE_URL=url,
            FOSTERCRM_SECRET_KEY="bench-secret-key-0123456789abcdef",
            # The demo manager has no authenticator app: a script cannot give a one-time code.
            FOSTERCRM_SIGN_IN_MFA_REQUIRED_ROLES="[]",
            PYTHONPATH=str(ROOT),
        )
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "crm.cli",
                "serve",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--threads",
                str(threads),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"fostercrm serve exited with {self.process.returncode}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/readyz")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                pass
            # Polling a port that is not open yet: there is no event to wait on.
            time.sleep(0.2)
        raise SystemExit("fostercrm serve did not become ready in time")

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def sign_in(port: int) -> str:
    """The session cookie of the demo manager, signed in through the sign-in form."""
    from crm.demo.organisation import DEMO_PASSWORD

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/sign-in")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = _cookie(response)
    token = CSRF.search(page)
    if token is None:
        raise SystemExit("no CSRF token on the sign-in page")
    form = {"email": MANAGER, "password": DEMO_PASSWORD, "csrf_token": unescape(token[1])}
    body = urlencode(form)
    connection.request(
        "POST",
        "/sign-in",
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
    )
    response = connection.getresponse()
    response.read()
    if response.status != 302:
        raise SystemExit(f"could not sign in as {MANAGER} (HTTP {response.status})")
    return _cookie(response) or cookie


def _cookie(response: http.client.HTTPResponse) -> str:
    for name, value in response.getheaders():
        if name.lower() == "set-cookie":
            return value.split(";", 1)[0]
    return ""


def load(port: int, path: str, cookie: str, clients: int, requests: int) -> dict:
    """`requests` GETs of `path` from `clients` keep-alive connections; rate and latency."""
    latencies: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()
    each = [requests // clients + (1 if i < requests % clients else 0) for i in range(clients)]
    start_together = threading.Barrier(clients + 1)

    def client(count: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        bad = 0
        start_together.wait()
        for _ in range(count):
            started = time.perf_counter()
            connection.request("GET", path, headers={"Cookie": cookie})
            response = connection.getresponse()
            response.read()
            mine.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                bad += 1
        connection.close()
        with lock:
            latencies.extend(mine)
            errors.append(bad)

    threads = [threading.Thread(target=client, args=(n,)) for n in each]
    for thread in threads:
        thread.start()
    start_together.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "rate": len(latencies) / elapsed,
        "p50": statistics.median(latencies),
        "p95": percentile(latencies, 0.95),
        "errors": sum(errors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma separated")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--clients", type=int, default=8, help="simultaneous connections")
    parser.add_argument("--requests", type=int, default=400, help="requests per measured run")
    parser.add_argument("--warmup", type=int, default=3, help="requests per client first")
    args = parser.parse_args()

    url = database_url(args.backend, args.households)
    prepare(url, args.households)
    load_before = os.getloadavg()[0]
    print(
        f"\nGET /pipeline, {args.households:,} households, {args.backend}, {args.clients} "
        f"clients, {args.requests} requests a run, {args.threads} threads a worker",
        flush=True,
    )
    print(
        f"  {'workers':>7}  {'route':<10} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7}",
        flush=True,
    )
    for workers in [int(n) for n in args.workers.split(",")]:
        server = Server(url, workers, args.threads)
        try:
            cookie = sign_in(server.port)
            for path, requests in (("/readyz", args.requests), ("/pipeline", args.requests)):
                load(server.port, path, cookie, args.clients, args.warmup * args.clients)
                figures = load(server.port, path, cookie, args.clients, requests)
                print(
                    f"  {workers:>7}  {path:<10} {figures['rate']:>8.1f} {figures['p50']:>8.1f}"
                    f" {figures['p95']:>8.1f} {figures['errors']:>7}",
                    flush=True,
                )
        finally:
            server.stop()
    print(
        f"  load average (1 min): {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
        f" ({os.cpu_count()} cores)",
        flush=True,
    )


if __name__ == "__main__":
    main()
