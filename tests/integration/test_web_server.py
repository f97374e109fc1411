"""The web server `fostercrm up` runs (crm.cli.serve.make_server: waitress, for real, on a
free port).

Behind a proxy each visitor is limited on their own address (waitress would otherwise drop
X-Forwarded-For before the app saw it); many idle connections do not stop it answering."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from waitress import wasyncore

from crm.cli.serve import SERVER_CONNECTION_LIMIT, make_server
from crm.web import create_app
from crm.web.public import ENQUIRIES_PER_IP_PER_HOUR

SECRET = "web-server-test-secret-0123456789"
_TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
ENQUIRY = {
    "first_name": "Priya",
    "last_name": "Shah",
    "postcode": "LE1 6ZG",
    "source_key": "social_media",
    "consent": "y",
    "website": "",
}


def with_proxies(settings, hops: int):  # noqa: ANN001, ANN201
    return settings.model_copy(
        update={"service": settings.service.model_copy(update={"trusted_proxies": hops})}
    )


@contextmanager
def serving(settings, engine) -> Iterator[str]:  # noqa: ANN001
    """The real server in a thread; its base URL."""
    app = create_app(settings, engine=engine, secret_key=SECRET)
    server = make_server(app, settings, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        # Closed from the server's own loop thread (the trigger runs it there), so the loop
        # ends cleanly once nothing is left to watch.
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        thread.join(10)
        server.task_dispatcher.shutdown()
        assert not thread.is_alive()


class Visitor:
    """Someone filling in the enquiry form, seen by the server through a proxy that adds
    their address to X-Forwarded-For."""

    def __init__(self, base_url: str, address: str) -> None:
        self.address = address
        self.http = httpx.Client(base_url=base_url, timeout=20)
        self.sent = 0

    def enquire(self, forged: str | None = None) -> int:
        # A visitor may send their own X-Forwarded-For; the proxy appends what it saw.
        forwarded = f"{forged}, {self.address}" if forged else self.address
        headers = {"X-Forwarded-For": forwarded}
        page = self.http.get("/enquire", headers=headers)
        token = _TOKEN.search(page.text).group(1)
        self.sent += 1
        email = f"{self.address.replace('.', '-')}-{self.sent}@example.com"
        response = self.http.post(
            "/enquire",
            data={**ENQUIRY, "email": email, "csrf_token": token},
            headers=headers,
        )
        return response.status_code

    def close(self) -> None:
        self.http.close()


def fill_the_hourly_limit(visitor: Visitor) -> None:
    for n in range(ENQUIRIES_PER_IP_PER_HOUR):
        # Whatever the visitor writes in front, the proxy's entry is the one trusted.
        assert visitor.enquire(forged=f"198.51.100.{n}") == 302
    assert visitor.enquire(forged="198.51.100.200") == 429


def test_behind_a_proxy_each_visitor_has_their_own_limit(settings, engine, org):
    with serving(with_proxies(settings, 1), engine) as url:
        first, second = Visitor(url, "203.0.113.1"), Visitor(url, "203.0.113.2")
        try:
            fill_the_hourly_limit(first)
            assert second.enquire() == 302
        finally:
            first.close()
            second.close()


def test_without_the_proxy_setting_forwarded_addresses_are_ignored(settings, engine, org):
    with serving(with_proxies(settings, 0), engine) as url:
        first, second = Visitor(url, "203.0.113.1"), Visitor(url, "203.0.113.2")
        try:
            fill_the_hourly_limit(first)
            # Both come from 127.0.0.1 as far as the server can tell: one limit for both.
            assert second.enquire() == 429
        finally:
            first.close()
            second.close()


@pytest.mark.parametrize("hops", [0, 1])
def test_the_server_answers_while_many_idle_connections_are_open(settings, engine, org, hops):
    idle: list[socket.socket] = []
    with serving(with_proxies(settings, hops), engine) as url:
        port = int(url.rsplit(":", 1)[1])
        try:
            # More than waitress's default limit (100): connected, never saying anything.
            for _ in range(120):
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            assert len(idle) < SERVER_CONNECTION_LIMIT
            # Waitress's defaults leave this waiting until an idle connection times out
            # (120 s, checked every 30 s), far past this client's patience.
            response = httpx.get(f"{url}/healthz", timeout=10)
            assert response.status_code == 200
            assert response.json() == {"status": "ok"}
        finally:
            for connection in idle:
                connection.close()
