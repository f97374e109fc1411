"""Helpers for the session and sign-in tests: clients at given addresses, copied cookies."""

from __future__ import annotations

import re

from flask import Flask

import crm.models as m
from crm.testing.fixtures import TEST_PASSWORD

COOKIE = "fostercrm_session"
_TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
_TOKEN_VALUES = [
    re.compile(r'(name="csrf_token"(?: type="hidden")? value=")[^"]+"'),
    re.compile(r'("X-CSRFToken": ")[^"]+"'),
]


class Client:
    """Like the conftest's client: fetches a CSRF token and posts forms like a browser."""

    def __init__(self, http) -> None:  # noqa: ANN001
        self.http = http

    def get(self, url: str, **kwargs):
        return self.http.get(url, **kwargs)

    def token(self, url: str) -> str:
        match = _TOKEN.search(self.http.get(url).get_data(as_text=True))
        assert match, f"no CSRF token on {url}"
        return match.group(1)

    def post(self, url: str, data: dict | None = None, *, token_from: str = "/home"):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token(token_from))
        return self.http.post(url, data=data)


def client_at(app: Flask, address: str) -> Client:
    """A browser whose requests come from `address`."""
    c = Client(app.test_client())
    c.http.environ_base["REMOTE_ADDR"] = address
    return c


def sign_in(c: Client, email: str, password: str = TEST_PASSWORD):
    return c.post("/sign-in", {"email": email, "password": password}, token_from="/sign-in")


def signed_in(response) -> bool:
    return response.status_code == 302 and response.headers["Location"] == "/home"


def cookie_of(c: Client) -> str:
    found = c.http.get_cookie(COOKIE)
    assert found is not None, "no session cookie"
    return found.value


def with_cookie(app: Flask, value: str, address: str = "192.0.2.99") -> Client:
    """Another browser (another address) holding a copy of someone's cookie."""
    c = client_at(app, address)
    c.http.set_cookie(COOKIE, value)
    return c


def reaches_home(c: Client) -> bool:
    response = c.get("/home")
    if response.status_code == 200:
        return True
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")
    return False


def comparable(response, email: str) -> tuple:
    """What a person (or a script) sees of a response, with the email typed and the per-page
    CSRF token taken out, so that two responses can be compared whole."""
    page = response.get_data(as_text=True)
    for pattern in _TOKEN_VALUES:
        page = pattern.sub(r'\1TOKEN"', page)
    page = page.replace(email, "EMAIL")
    # The request id is new on every request, whoever asks: it tells nothing about accounts.
    varying = {"Set-Cookie", "Content-Length", "X-Request-Id"}
    headers = {k: v for k, v in response.headers.items() if k not in varying}
    return response.status_code, headers, page


def staff(session, user_id: int) -> m.StaffUser:
    session.expire_all()
    return session.get(m.StaffUser, user_id)
