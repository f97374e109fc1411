"""What the operators see: JSON logs with a request id and no personal data, the health
checks, and the metrics endpoint behind its token (crm.web.logs, health, metrics)."""

from __future__ import annotations

import json
import logging
import re
import socket
from datetime import timedelta

import pytest
import sqlalchemy as sa

import crm.models as m
from crm import clock
from crm.scheduler.lease import Lease
from crm.web import create_app
from crm.web.logs import JsonFormatter

from .conftest import SECRET, Client

METRICS_TOKEN = "metrics-token-0123456789abcdef"


def make_client(settings, engine, **updates) -> Client:  # noqa: ANN001
    app = create_app(settings.model_copy(update=updates), engine=engine, secret_key=SECRET)
    app.config["TESTING"] = True
    return Client(app.test_client())


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def log_lines(caplog):
    """Every line logged during the test, formatted as the production handler writes it."""
    caplog.set_level(logging.DEBUG)
    formatter = JsonFormatter()

    def lines() -> list[str]:
        return [formatter.format(record) for record in caplog.records]

    return lines


# -- request ids and logs -----------------------------------------------------------------


def test_a_request_gets_an_id_in_its_response_and_its_log_line(client, log_lines):
    response = client.get("/healthz")
    rid = response.headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid)
    request_lines = [json.loads(line) for line in log_lines() if '"request"' in line]
    assert request_lines[-1]["request_id"] == rid
    assert request_lines[-1]["route"] == "/healthz"
    assert request_lines[-1]["status"] == 200
    # Another request, another id.
    assert client.get("/healthz").headers["X-Request-Id"] != rid


def test_the_proxys_request_id_is_kept_and_a_strange_one_replaced(client):
    given = "lb-4f1c2a9e-0001"
    assert client.get("/healthz", headers={"X-Request-Id": given}).headers["X-Request-Id"] == given
    forged = "x" * 200 + '", "level": "error"'
    answered = client.get("/healthz", headers={"X-Request-Id": forged}).headers["X-Request-Id"]
    assert answered != forged and re.fullmatch(r"[0-9a-f]{32}", answered)


def test_an_enquiry_logs_none_of_what_the_person_typed(client, log_lines, session):
    response = client.post(
        "/enquire?ref=zanele.okonkwo%40example.com",
        {
            "first_name": "Zanele",
            "last_name": "Okonkwo-Baptiste",
            "email": "zanele.okonkwo@example.com",
            "phone": "07700 900461",
            "postcode": "LE1 6ZG",
            "source_key": "social_media",
            "consent": "y",
            "website": "",
        },
    )
    assert response.status_code == 302
    # The enquiry was taken, so the rules did see the details.
    assert session.exec(sa.select(m.Applicant).where(m.Applicant.first_name == "Zanele")).first()
    text = "\n".join(log_lines())
    assert '"route": "/enquire"' in text
    for personal in ("Zanele", "Okonkwo", "zanele", "example.com", "900461", "LE1", "127.0.0.1"):
        assert personal not in text


def test_an_exception_is_logged_by_its_class_and_place_not_its_message():
    try:
        raise ValueError("no such household: Zanele Okonkwo")
    except ValueError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed", None, None)
        import sys

        record.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert line["exception"] == "ValueError"
    assert any("test_an_exception_is_logged" in frame for frame in line["stack"])
    assert "Zanele" not in json.dumps(line)


# -- health -------------------------------------------------------------------------------


def test_alive_and_ready(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json == {"status": "ok", "checks": {"database": "ok"}}


def test_not_ready_without_the_database(settings, tmp_path):
    # A database file in a folder that does not exist: every connection fails.
    engine = sa.create_engine(f"sqlite:///{tmp_path}/missing/fostercrm.db")
    c = make_client(settings, engine)
    assert c.get("/healthz").status_code == 200
    ready = c.get("/readyz")
    assert ready.status_code == 503
    assert ready.json == {"status": "unavailable", "checks": {"database": "not reachable"}}


def test_ready_checks_redis_when_one_is_set(settings, engine, org, redis_url):
    up = make_client(settings, engine, redis_url=redis_url).get("/readyz")
    assert up.status_code == 200 and up.json["checks"] == {"database": "ok", "redis": "ok"}
    down = make_client(settings, engine, redis_url=f"redis://127.0.0.1:{unused_port()}/0")
    answer = down.get("/readyz")
    assert answer.status_code == 503
    assert answer.json["checks"] == {"database": "ok", "redis": "not reachable"}
    assert "127.0.0.1" not in answer.get_data(as_text=True)


# -- metrics ------------------------------------------------------------------------------


def test_metrics_are_off_without_a_token(client):
    assert client.get("/metrics").status_code == 404


@pytest.mark.parametrize(
    "authorization", [None, "Bearer ", "Bearer wrong-token", f"Basic {METRICS_TOKEN}"]
)
def test_metrics_are_refused_without_the_token(settings, engine, org, authorization):
    c = make_client(settings, engine, metrics_token=METRICS_TOKEN)
    headers = {"Authorization": authorization} if authorization else {}
    response = c.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert "fostercrm_" not in response.get_data(as_text=True)


def scrape(c: Client) -> str:
    response = c.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def metric(text: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name) + (re.escape("{" + labels + "}") if labels else "") + r" (\S+)"
    found = re.search(rf"^{pattern}$", text, re.MULTILINE)
    assert found, f"{name}{{{labels}}} not in the scrape"
    return float(found.group(1))


def test_request_times_are_counted_per_route_template_not_per_address(
    settings, engine, org, make_household
):
    c = make_client(settings, engine, metrics_token=METRICS_TOKEN)
    first, second = make_household(), make_household()
    c.sign_in(org.manager)
    for household in (first, second):
        assert c.get(f"/households/{household.id}").status_code == 200
    text = scrape(c)
    route = [line for line in text.splitlines() if "/households/<" in line and "_count" in line]
    assert route, "the household page's route is not in the scrape"
    assert f"/households/{first.id}" not in text and f"/households/{second.id}" not in text


def test_the_outbox_and_the_scheduler_lease_are_in_the_metrics(settings, engine, org, session):
    now = clock.now()

    def message(key: str, status: m.OutboxStatus, due_minutes_ago: int, attempts: int = 0):
        return m.OutboxMessage(
            channel=m.Channel.EMAIL,
            recipient="someone@example.com",
            template="t",
            due_at=now - timedelta(minutes=due_minutes_ago),
            unique_key=key,
            status=status,
            attempts=attempts,
        )

    session.add_all(
        [
            message("a", m.OutboxStatus.PENDING, 30, attempts=2),
            message("b", m.OutboxStatus.PENDING, 5),
            message("c", m.OutboxStatus.PENDING, -60),  # due in an hour: queued, not late
            message("d", m.OutboxStatus.FAILED, 90, attempts=5),
            message("e", m.OutboxStatus.SENT, 120),
        ]
    )
    session.commit()
    c = make_client(settings, engine, metrics_token=METRICS_TOKEN)
    text = scrape(c)
    assert metric(text, "fostercrm_outbox_queued_messages", 'channel="email"') == 3
    assert metric(text, "fostercrm_outbox_queued_messages", 'channel="sms"') == 0
    assert metric(text, "fostercrm_outbox_oldest_due_age_seconds") == 30 * 60
    assert metric(text, "fostercrm_outbox_retrying_messages") == 1
    assert metric(text, "fostercrm_outbox_failed_messages", 'channel="email"') == 1
    assert metric(text, "fostercrm_scheduler_running") == 0
    assert "someone@example.com" not in text

    assert Lease(engine, "sched-host:4242", seconds=60).acquire()
    text = scrape(c)
    assert metric(text, "fostercrm_scheduler_running") == 1
    assert metric(text, "fostercrm_lease_held", 'holder="sched-host:4242",lease="scheduler"') == 1
    assert metric(text, "fostercrm_lease_expires_in_seconds", 'lease="scheduler"') == 60
    # The holder died: once its lease has run out nobody holds it.
    clock.advance(timedelta(seconds=61))
    assert metric(scrape(c), "fostercrm_scheduler_running") == 0


def test_a_form_refused_for_its_csrf_token_is_logged_with_its_id(client, log_lines):
    response = client.http.post("/enquire", data={"first_name": "Zanele"})
    assert response.status_code == 400
    rid = response.headers["X-Request-Id"]
    [line] = [json.loads(x) for x in log_lines() if rid in x and '"request"' in x]
    assert (line["route"], line["status"], line["method"]) == ("/enquire", 400, "POST")
    assert line["duration_ms"] > 0
