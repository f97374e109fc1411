"""Hostile input: markup in every free-text field is shown escaped; SQL-looking text is kept
and shown literally; search cannot be turned into SQL."""

from markupsafe import escape
from sqlmodel import select

import crm.models as m
from crm.services.actors import Actor
from crm.services.pipeline import move_stage

SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'
SQL = "Robert'); DROP TABLE household;--"


def assert_escaped(page: str, text: str = SCRIPT) -> None:
    assert text not in page
    assert str(escape(text)) in page


def test_public_form_fields_are_escaped(client, client_for, org, session):
    data = {
        "first_name": SCRIPT,
        "last_name": SQL,
        "email": "x@example.com",
        "phone": "",
        "postcode": "LE1 6ZG",
        "more": SCRIPT,
        "source_key": "web_search",
        "consent": "y",
    }
    # Re-rendered with an error: the typed text comes back escaped.
    page = client.post("/enquire", {**data, "consent": ""}).get_data(as_text=True)
    assert 'value="&lt;script&gt;' in page and "<script>alert" not in page
    assert client.post("/enquire", data).status_code == 302
    household = session.exec(select(m.Household)).one()
    applicant = household.applicants[0]
    assert applicant.first_name == SCRIPT  # kept as typed (spaces tidied by the service)
    assert applicant.last_name == SQL
    staff_page = client_for(org.manager).get(f"/households/{household.id}").get_data(as_text=True)
    assert_escaped(staff_page)
    assert str(escape(SQL)) in staff_page
    for url in ["/households", "/pipeline", "/home"]:
        listing = client_for(org.manager).get(url).get_data(as_text=True)
        assert "<script>alert" not in listing, url


def test_staff_free_text_fields_are_escaped(client_for, org, make_household, session, settings):
    household = make_household()
    url = f"/households/{household.id}"
    c = client_for(org.manager)
    c.post(f"{url}/note", {"summary": SCRIPT, "body": SCRIPT}, token_from=url)
    c.post(
        f"{url}/call",
        {"summary": SCRIPT, "body": SCRIPT, "call_outcome": "no_answer"},
        token_from=url,
    )
    c.post(
        f"{url}/task",
        {"title": SCRIPT, "detail": SCRIPT, "priority": "normal", "due_on": ["20", "3", "2026"]},
        token_from=url,
    )
    c.post(
        f"{url}/move",
        {"to_stage": "on_hold", "reason_on_hold": "work", "reason_text": SCRIPT},
        token_from=url,
    )
    c.post(
        f"{url}/details",
        {
            "first_name": "Sam",
            "last_name": "Patel",
            "email": "person1@example.com",
            "address_line_1": SCRIPT,
            "address_line_2": SCRIPT,
            "town": SCRIPT,
        },
        token_from=url,
    )
    c.post(f"{url}/consent", {"scope": "post", "granted": "yes", "wording": SCRIPT}, token_from=url)
    page = c.get(url).get_data(as_text=True)
    assert "<script>alert" not in page and "onerror=alert(1)>" not in page
    assert page.count(str(escape(SCRIPT))) >= 9
    # A failed save re-renders the typed text escaped as well.
    again = c.post(f"{url}/call", {"summary": SCRIPT, "call_outcome": ""}, token_from=url)
    assert "<script>alert" not in again.get_data(as_text=True)


def test_carer_and_admin_text_is_escaped(client_for, org, make_household, session):
    household = make_household()
    move_stage(session, Actor.system("test"), household.id, m.Stage.APPROVED)
    carer = session.exec(select(m.Carer)).one()
    admin = client_for(org.admin)
    admin.post(
        f"/carers/{carer.id}/at-risk", {"at_risk": "yes", "reason": SCRIPT}, token_from="/home"
    )
    page = admin.get(f"/carers/{carer.id}").get_data(as_text=True)
    i = page.find("<script>alert")
    assert i == -1, page[i - 300 : i + 50]
    assert str(escape(SCRIPT)) in page
    assert "<script>alert" not in admin.get("/home").get_data(as_text=True)
    admin.post("/admin/areas", {"name": SCRIPT, "districts": "DE1"}, token_from="/admin")
    admin.post(
        "/admin/sources", {"new": "1", "key": "xss_test", "label": SCRIPT}, token_from="/admin"
    )
    admin.post("/admin/campaigns", {"name": SCRIPT}, token_from="/admin")
    admin.post(
        "/admin/reasons", {"kind": "withdrawn", "code": "xss", "label": SCRIPT}, token_from="/admin"
    )
    admin.post(
        f"/visits/availability/{org.officer_north.id}",
        {"action": "exception", "on_date": "2026-03-12", "available": "no", "note": SCRIPT},
        token_from="/admin",
    )
    for url in [
        "/admin/areas",
        "/admin/sources",
        "/admin/campaigns",
        "/admin/reasons",
        f"/visits/availability/{org.officer_north.id}",
        "/enquire",
        "/pipeline",
    ]:
        page = admin.get(url).get_data(as_text=True)
        assert "<script>alert" not in page, url
        assert "&lt;script&gt;" in page, url


def test_sql_looking_search_is_just_text(client_for, org, make_household, session):
    make_household(first="Bobby", last=SQL)
    c = client_for(org.manager)
    for q in ["' OR 1=1 --", "%", "_", "\\", "'; DROP TABLE household; --", SQL]:
        response = c.get("/households", query_string={"q": q})
        assert response.status_code == 200, q
    assert "0 households found" in c.get("/households?q=%25").get_data(as_text=True)
    assert "0 households found" in c.get("/households?q=_").get_data(as_text=True)
    found = c.get("/households", query_string={"q": "Bobby Robert'); DROP"}).get_data(as_text=True)
    assert "1 household found" in found
    assert session.exec(select(m.Household)).one().applicants[0].last_name == SQL


def test_no_template_relies_on_inline_style_or_script():
    """The CSP allows only files from our own origin: an inline <style> or <script> in any
    package's template would be silently blocked in real browsers."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    # The weekly report as an email or a saved file: mail clients need its CSS inline, and it
    # is never served under the CSP (the web view renders the body into a normal page). The
    # subject access document is opened from a zip on the person's computer, never served.
    documents = {
        "funnel/templates/funnel/_document.html",
        "crm/web/templates/data_protection/subject_access_document.html",
    }
    inline = re.compile(r"<style\b|<script\b(?![^>]*\bsrc\b)", re.IGNORECASE)
    offenders = [
        str(path.relative_to(root))
        for folder in ("crm", "bot", "funnel")
        for path in (root / folder).rglob("templates/**/*.html")
        if str(path.relative_to(root)) not in documents
        and inline.search(re.sub(r"{#.*?#}", "", path.read_text(encoding="utf-8"), flags=re.S))
    ]
    assert offenders == []


def test_behind_a_proxy_each_visitor_is_seen_by_their_own_address(database_url):
    """With trusted_proxies set, X-Forwarded-For (one hop deep) names the visitor, so per-IP
    limits do not lump every visitor together; without it the header is ignored."""
    from flask import request

    from crm.testing.fixtures import make_test_settings
    from crm.web import create_app

    def seen_address(proxies: int, forwarded_for: str) -> str:
        settings = make_test_settings(database_url)
        settings = settings.model_copy(
            update={"service": settings.service.model_copy(update={"trusted_proxies": proxies})}
        )
        app = create_app(settings, secret_key="proxy-test-secret-0123456789")
        app.add_url_rule("/whoami", "whoami", lambda: request.remote_addr)
        response = app.test_client().get(
            "/whoami",
            headers={"X-Forwarded-For": forwarded_for},
            environ_base={"REMOTE_ADDR": "10.0.0.5"},
        )
        return response.get_data(as_text=True)

    assert seen_address(1, "203.0.113.7") == "203.0.113.7"
    assert seen_address(1, "198.51.100.1, 203.0.113.8") == "203.0.113.8"  # not spoofable
    assert seen_address(0, "203.0.113.7") == "10.0.0.5"
