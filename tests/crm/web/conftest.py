"""Fixtures for the web CRM tests: an app on the test database, and clients signed in."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

import crm.models as m
from crm.services.actors import Actor
from crm.services.enquiries import ApplicantDetails, EnquiryInput, create_enquiry
from crm.testing.fixtures import TEST_PASSWORD
from crm.web import create_app

SECRET = "test-secret-key-0123456789abcdef"
_TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


@pytest.fixture
def app(settings, engine, org) -> Flask:
    app = create_app(settings, engine=engine, secret_key=SECRET)
    app.config["TESTING"] = True
    return app


class Client:
    """A test client that knows how to fetch a CSRF token and post forms like a browser."""

    def __init__(self, client: FlaskClient) -> None:
        self.http = client

    def get(self, url: str, **kwargs):
        return self.http.get(url, **kwargs)

    def token(self, url: str = "/enquire") -> str:
        page = self.http.get(url)
        match = _TOKEN.search(page.get_data(as_text=True))
        assert match, f"no CSRF token on {url}"
        return match.group(1)

    def post(self, url: str, data: dict | None = None, *, token_from: str | None = None, **kw):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token(token_from or "/enquire"))
        return self.http.post(url, data=data, **kw)

    def sign_in(self, user: m.StaffUser, password: str = TEST_PASSWORD):
        return self.post(
            "/sign-in", {"email": user.email, "password": password}, token_from="/sign-in"
        )


@pytest.fixture
def client(app) -> Client:
    return Client(app.test_client())


@pytest.fixture
def client_for(app) -> Callable[[m.StaffUser], Client]:
    def make(user: m.StaffUser) -> Client:
        c = Client(app.test_client())
        response = c.sign_in(user)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return c

    return make


@pytest.fixture
def make_household(session, settings):
    """A household made through the one enquiry service."""
    counter = iter(range(1, 10_000))

    def make(postcode: str = "LE1 6ZG", first: str = "Sam", last: str = "Patel", **kw):
        n = next(counter)
        data = EnquiryInput(
            applicant=ApplicantDetails(
                first,
                last,
                email=kw.pop("email", f"person{n}@example.com"),
                phone=kw.pop("phone", None),
            ),
            enquiry_channel=m.EnquiryChannel.STAFF,
            postcode=postcode,
            source_key=kw.pop("source_key", "social_media"),
            consents={m.ConsentScope.STORE_DETAILS: "Agreed on the phone"},
            **kw,
        )
        return create_enquiry(session, Actor.system("test"), data, settings).household

    return make
