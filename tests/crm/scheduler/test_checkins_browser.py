"""The check-in email's one-click link in headless Chromium: the page answers by itself (a
link scanner, which runs no script, answers nothing; see test_checkins.py)."""

import threading

import pytest
from werkzeug.serving import make_server

import crm.models as m
from crm.web import create_app
from tests.crm.scheduler.helpers import SECRET
from tests.crm.scheduler.test_checkins import carer_with_check_in, email_links


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_one_click_answers_in_a_real_browser(session, engine, org, sched_settings, smtp, chromium):
    _carer, check_in = carer_with_check_in(
        session, engine, org, sched_settings, email_address="cara@example.com", phone=None
    )
    link = email_links(smtp, "cara@example.com")["4"]
    app = create_app(sched_settings, engine=engine, secret_key=SECRET)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"http://127.0.0.1:{server.server_port}{link}")
        page.get_by_text("You told us: 4 out of 5").wait_for()
    finally:
        context.close()
        server.shutdown()
        thread.join(10)
    session.expire_all()
    assert session.get(m.CheckIn, check_in.id).score == 4
