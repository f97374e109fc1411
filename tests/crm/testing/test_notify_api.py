"""The local GOV.UK Notify server (crm.testing.notify_api) driven by the official
notifications-python-client, unchanged: the shared test infrastructure for the Notify channel."""

import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import OctKey
from notifications_python_client import NotificationsAPIClient
from notifications_python_client.authentication import create_jwt_token
from notifications_python_client.errors import HTTP503Error, HTTPError

from crm.testing.notify_api import FakeNotifyServer

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
def notify():
    with FakeNotifyServer() as server:
        yield server


@pytest.fixture
def client(notify):
    return NotificationsAPIClient(notify.api_key, base_url=notify.base_url)


@pytest.fixture
def templates(notify):
    email = notify.add_template(
        "email",
        "Dear ((first name)),\n\nThank you for your enquiry about fostering.",
        subject="Your enquiry, ((first name))",
    )
    sms = notify.add_template("sms", "Your initial visit is on ((date)) at ((time)).")
    return email, sms


def refusal(excinfo) -> tuple[int, list]:
    return excinfo.value.status_code, excinfo.value.message


class Receiver:
    """A service's callback endpoint: records every POST, answers `status`."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.posts: list[dict] = []
        self._lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args):
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver._lock:
                    receiver.posts.append(
                        {
                            "path": self.path,
                            "authorization": self.headers.get("Authorization"),
                            "content_type": self.headers.get("Content-Type"),
                            "json": json.loads(body),
                        }
                    )
                    receiver._lock.notify_all()
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_exc):
        self.httpd.shutdown()
        self.httpd.server_close()


# -- sending and reading back -----------------------------------------------------------------


def test_the_api_key_has_notifys_shape_and_the_client_reads_it(notify, client):
    key_name, service_id, secret = re.fullmatch(rf"(.+)-({UUID})-({UUID})", notify.api_key).groups()
    assert key_name == "fostercrm_test" and service_id == notify.service_id
    assert (client.service_id, client.api_key) == (service_id, secret)


def test_send_an_email_and_a_text_message(notify, client, templates):
    email_template, sms_template = templates
    email = client.send_email_notification(
        "Sam.Jones@Example.com",
        email_template.id,
        personalisation={"First_Name": "Sam"},  # Notify ignores case, spaces and underscores
        reference="outbox-1",
    )
    sms = client.send_sms_notification(
        "07700 900123",
        sms_template.id,
        personalisation={"date": "Tuesday 3 March", "time": "10am"},
        reference="outbox-2",
    )

    assert re.fullmatch(UUID, email["id"]) and email["reference"] == "outbox-1"
    assert email["content"] == {
        "from_email": "fostercrm.test@notifications.service.gov.uk",
        "body": "Dear Sam,\n\nThank you for your enquiry about fostering.",
        "subject": "Your enquiry, Sam",
        "one_click_unsubscribe_url": None,
    }
    assert email["template"]["id"] == email_template.id and email["template"]["version"] == 1
    assert email["uri"] == f"{notify.base_url}/v2/notifications/{email['id']}"
    assert sms["content"] == {
        "from_number": "GOVUK",
        "body": "Your initial visit is on Tuesday 3 March at 10am.",
    }

    [sent_email] = notify.sent_emails()
    assert (sent_email.id, sent_email.to, sent_email.normalised_to) == (
        email["id"],
        "Sam.Jones@Example.com",
        "sam.jones@example.com",
    )
    assert sent_email.subject == "Your enquiry, Sam" and sent_email.status == "created"
    [sent_sms] = notify.sent_sms(to="+44 7700 900123")
    assert sent_sms.normalised_to == "447700900123" and sent_sms.reference == "outbox-2"
    assert notify.sent_sms(to="07700900999") == []
    assert notify.sent_emails(reference="outbox-1") == [sent_email]
    assert [r.endpoint for r in notify.requests()] == ["send_email", "send_sms"]
    assert [r.status for r in notify.requests()] == [201, 201]
    assert notify.requests()[0].json["email_address"] == "Sam.Jones@Example.com"


def test_statuses_are_read_back_by_id_and_by_filter(notify, client, templates):
    email_template, sms_template = templates
    first = client.send_email_notification("a@example.com", email_template.id, {"first name": "A"})
    second = client.send_sms_notification(
        "07700900001", sms_template.id, {"date": "1 May", "time": "9am"}, reference="visit-9"
    )
    third = client.send_email_notification("c@example.com", email_template.id, {"first name": "C"})

    assert client.get_notification_by_id(first["id"])["status"] == "created"
    notify.set_status(first["id"], "sending")
    notify.set_status(first["id"], "delivered")
    notify.set_status(second["id"], "permanent-failure")

    read = client.get_notification_by_id(first["id"])
    assert read["status"] == "delivered" and read["email_address"] == "a@example.com"
    assert read["body"].startswith("Dear A,") and read["subject"] == "Your enquiry, A"
    assert read["completed_at"] is not None and read["sent_at"] is not None
    assert notify.notification(first["id"]).statuses == ["created", "sending", "delivered"]

    def ids(**filters):
        return [n["id"] for n in client.get_all_notifications(**filters)["notifications"]]

    assert ids() == [third["id"], second["id"], first["id"]]  # newest first, as Notify
    assert ids(status="delivered") == [first["id"]]
    assert ids(status="failed") == [second["id"]]  # "failed" means every failure status
    assert ids(status="created") == [third["id"]]
    assert ids(template_type="sms") == [second["id"]]
    assert ids(reference="visit-9") == [second["id"]]
    assert ids(older_than=second["id"]) == [first["id"]]
    assert ids(older_than=str(uuid.uuid4())) == []  # an unknown id finds nothing, as in Notify

    with pytest.raises(HTTPError) as missing:
        client.get_notification_by_id(str(uuid.uuid4()))
    assert refusal(missing) == (404, [{"error": "NoResultFound", "message": "No result found"}])
    with pytest.raises(HTTPError) as not_a_uuid:
        client.get_notification_by_id("not-a-uuid")
    assert refusal(not_a_uuid) == (
        400,
        [{"error": "ValidationError", "message": "notification_id is not a valid UUID"}],
    )
    with pytest.raises(HTTPError) as bad_filter:
        client.get_all_notifications(status="elephant")
    assert bad_filter.value.status_code == 400
    assert bad_filter.value.message[0]["message"].startswith("status elephant is not one of [")


def test_the_iterator_follows_notifys_pages():
    with FakeNotifyServer(page_size=2) as notify:
        template = notify.add_template("sms", "Hello")
        client = NotificationsAPIClient(notify.api_key, base_url=notify.base_url)
        sent = [client.send_sms_notification("07700900001", template.id)["id"] for _ in range(5)]
        page = client.get_all_notifications()
        assert len(page["notifications"]) == 2 and "older_than=" in page["links"]["next"]
        assert [n["id"] for n in client.get_all_notifications_iterator()] == sent[::-1]
        # 3 full or partial pages and the empty one that ends the iteration
        assert len(notify.requests("get_notifications")) == 1 + 4


def test_outcomes_per_recipient_and_settle(notify, client, templates):
    _email_template, sms_template = templates
    personalisation = {"date": "1 May", "time": "9am"}
    notify.set_outcome("+447700900666", "permanent-failure")
    failing = client.send_sms_notification("07700 900666", sms_template.id, personalisation)
    pending = client.send_sms_notification("07700900001", sms_template.id, personalisation)

    assert client.get_notification_by_id(failing["id"])["status"] == "permanent-failure"
    assert notify.notification(failing["id"]).statuses == [
        "created",
        "sending",
        "permanent-failure",
    ]
    assert client.get_notification_by_id(pending["id"])["status"] == "created"

    settled = notify.settle()
    assert [n.id for n in settled] == [pending["id"]]
    assert client.get_notification_by_id(pending["id"])["status"] == "delivered"
    assert notify.settle() == []  # nothing left in progress

    with pytest.raises(ValueError, match="not a status of email"):
        notify.set_status(
            client.send_email_notification("a@example.com", templates[0].id, {"first name": "A"})[
                "id"
            ],
            "sent",  # "sent" (internationally) exists for text messages only
        )
    with pytest.raises(KeyError):
        notify.set_status(str(uuid.uuid4()), "delivered")


def test_delivery_receipts_are_posted_with_the_bearer_token(notify, client, templates):
    email_template, sms_template = templates
    with Receiver() as receiver:
        notify.set_delivery_callback(receiver.url("/notify/status"), "callback-token-123")
        email = client.send_email_notification(
            "a@example.com", email_template.id, {"first name": "A"}, reference="outbox-7"
        )
        notify.set_status(email["id"], "sending")  # not final: no receipt
        assert notify.callbacks() == []
        notify.set_status(email["id"], "delivered")  # sent before set_status returns

        [post] = receiver.posts
        assert post["path"] == "/notify/status"
        assert post["authorization"] == "Bearer callback-token-123"
        assert post["content_type"] == "application/json"
        receipt = post["json"]
        assert receipt["id"] == email["id"] and receipt["reference"] == "outbox-7"
        assert receipt["status"] == "delivered" and receipt["to"] == "a@example.com"
        assert receipt["notification_type"] == "email"
        assert receipt["template_id"] == email_template.id and receipt["template_version"] == 1
        assert set(receipt) == {
            "id",
            "reference",
            "to",
            "status",
            "created_at",
            "completed_at",
            "sent_at",
            "notification_type",
            "template_id",
            "template_version",
        }
        [attempt] = notify.callbacks("delivery-status")
        assert attempt.status == 200 and attempt.error is None

        # An outcome set in advance: the receipt follows the 201 answer, from another thread.
        notify.set_outcome("07700900777", "temporary-failure")
        sms = client.send_sms_notification(
            "07700900777", sms_template.id, {"date": "1 May", "time": "9am"}
        )
        assert notify.wait_for(lambda: len(notify.callbacks()) == 2, timeout=5)
        assert receiver.posts[1]["json"]["id"] == sms["id"]
        assert receiver.posts[1]["json"]["status"] == "temporary-failure"
        assert receiver.posts[1]["json"]["to"] == "07700900777"

        receiver.status = 500  # the service's endpoint failing is recorded
        notify.set_status(sms["id"], "delivered")
        assert notify.callbacks()[-1].status == 500

    notify.set_delivery_callback("http://127.0.0.1:9/unreachable", "callback-token-123")
    notify.set_status(email["id"], "technical-failure")
    last = notify.callbacks()[-1]
    assert last.status is None and last.error
    with pytest.raises(ValueError, match="at least 10"):
        notify.set_delivery_callback("http://127.0.0.1:9/", "short")


# -- Notify's errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (
            429,
            "RateLimitError",
            "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds",
        ),
        (400, "BadRequestError", "Can’t send to this recipient using a team-only API key"),
        (403, "AuthError", "Invalid token: API key not found"),
        (500, "Exception", "Internal server error"),
    ],
)
def test_scripted_failures_raise_the_clients_http_error(
    notify, client, templates, status, error, message
):
    notify.fail("send_email", status=status)
    with pytest.raises(HTTPError) as failed:
        client.send_email_notification("a@example.com", templates[0].id, {"first name": "A"})
    assert refusal(failed) == (status, [{"error": error, "message": message}])
    assert notify.sent_emails() == []  # refused: nothing was sent
    # next call only
    client.send_email_notification("a@example.com", templates[0].id, {"first name": "A"})
    assert [r.status for r in notify.requests()] == [status, 201]
    assert notify.requests()[0].errors == ({"error": error, "message": message},)


def test_daily_limit_for_n_calls_then_success(notify, client, templates):
    _email, sms_template = templates
    personalisation = {"date": "1 May", "time": "9am"}
    notify.fail("send_sms", status=429, error="TooManyRequestsError", times=2)
    for _ in range(2):
        with pytest.raises(HTTPError) as limited:
            client.send_sms_notification("07700900001", sms_template.id, personalisation)
        assert refusal(limited) == (
            429,
            [
                {
                    "error": "TooManyRequestsError",
                    "message": "Exceeded send limits (sms: 250000) for today",
                }
            ],
        )
    client.send_sms_notification("07700900001", sms_template.id, personalisation)
    assert len(notify.sent_sms()) == 1


def test_failures_for_ever_per_recipient_and_on_every_endpoint(notify, client, templates):
    email_template, _sms = templates
    notify.fail("send_email", recipient="Blocked@Example.com", status=400, times=None)
    for _ in range(3):
        with pytest.raises(HTTPError) as refused:
            client.send_email_notification(
                "blocked@example.com", email_template.id, {"first name": "B"}
            )
        assert refused.value.status_code == 400
    client.send_email_notification("other@example.com", email_template.id, {"first name": "O"})
    assert [n.to for n in notify.sent_emails()] == ["other@example.com"]

    notify.fail("*", status=500, times=None)
    with pytest.raises(HTTPError) as down:
        client.get_received_texts()
    assert down.value.status_code == 500
    with pytest.raises(HTTPError):
        client.get_all_notifications()
    notify.clear_failures()
    assert client.get_all_notifications()["notifications"]
    with pytest.raises(ValueError, match="endpoint must be"):
        notify.fail("send_fax")


def test_a_dropped_connection_and_an_answer_lost_after_accepting(notify, client, templates):
    email_template, _sms = templates
    notify.fail("send_email", drop_connection=True)
    with pytest.raises(HTTP503Error):  # the client's own error for "no answer"
        client.send_email_notification("a@example.com", email_template.id, {"first name": "A"})
    assert notify.sent_emails() == []

    notify.fail("send_email", accept_first=True)
    with pytest.raises(HTTP503Error):
        client.send_email_notification(
            "a@example.com", email_template.id, {"first name": "A"}, reference="outbox-42"
        )
    # Notify did send it: a careful retry looks it up by reference before sending again.
    [accepted] = notify.sent_emails(reference="outbox-42")
    found = client.get_all_notifications(reference="outbox-42")["notifications"]
    assert [n["id"] for n in found] == [accepted.id]
    assert [r.status for r in notify.requests("send_email")] == [0, 0]


def test_notifys_validation_errors(client, templates, notify):
    email_template, sms_template = templates

    def refused(send, *args, **kwargs):
        with pytest.raises(HTTPError) as excinfo:
            send(*args, **kwargs)
        return refusal(excinfo)

    sms = client.send_sms_notification
    email = client.send_email_notification
    when = {"date": "1 May", "time": "9am"}
    assert refused(sms, "07700900001", str(uuid.uuid4()), when) == (
        400,
        [{"error": "BadRequestError", "message": "Template not found"}],
    )
    assert refused(sms, "07700900001", sms_template.id, {"date": "1 May"}) == (
        400,
        [{"error": "BadRequestError", "message": "Missing personalisation: time"}],
    )
    assert refused(email, "a@example.com", email_template.id) == (
        400,
        [{"error": "BadRequestError", "message": "Missing personalisation: first name"}],
    )
    assert refused(sms, "07700900001", email_template.id, {"first name": "A"}) == (
        400,
        [
            {
                "error": "BadRequestError",
                "message": "email template is not suitable for sms notification",
            }
        ],
    )
    for number, message in [
        ("077009001234567", "phone_number Too many digits"),
        ("0770090", "phone_number Not enough digits"),
        ("07700 9OO123", "phone_number Must not contain letters or symbols"),
    ]:
        assert refused(sms, number, sms_template.id, when) == (
            400,
            [{"error": "ValidationError", "message": message}],
        ), number
    assert refused(sms, "+1 202 555 0123", sms_template.id, when) == (
        400,
        [{"error": "BadRequestError", "message": "Cannot send to international mobile numbers"}],
    )
    assert refused(sms, "020 7946 0000", sms_template.id, when) == (
        400,
        [{"error": "InvalidPhoneError", "message": "Not a UK mobile number"}],
    )
    assert refused(email, "not an email", email_template.id, {"first name": "A"}) == (
        400,
        [{"error": "ValidationError", "message": "email_address Not a valid email address"}],
    )
    assert refused(email, "a@example.com", "123", {"first name": "A"}) == (
        400,
        [{"error": "ValidationError", "message": "template_id is not a valid UUID"}],
    )
    unknown = str(uuid.uuid4())
    assert refused(
        email, "a@example.com", email_template.id, {"first name": "A"}, email_reply_to_id=unknown
    ) == (
        400,
        [
            {
                "error": "BadRequestError",
                "message": f"email_reply_to_id {unknown} does not exist in database for "
                f"service id {notify.service_id}",
            }
        ],
    )
    notify.archive_template(sms_template.id)
    assert refused(sms, "07700900001", sms_template.id, when) == (
        400,
        [{"error": "BadRequestError", "message": "Template has been deleted"}],
    )
    assert refused(client.send_letter_notification, email_template.id, {"address_line_1": "A"})[
        1
    ] == [{"error": "BadRequestError", "message": "Service is not allowed to send letters"}]
    assert notify.notifications() == []


def test_schema_errors_that_the_client_cannot_make(notify, templates):
    """Unexpected or missing properties and bad JSON, sent with a plain HTTP client."""
    token = create_jwt_token(notify.api_key[-36:], notify.service_id)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    url = f"{notify.base_url}/v2/notifications/sms"
    answer = requests.post(
        url, json={"template_id": templates[1].id, "colour": "red"}, headers=headers, timeout=5
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "status_code": 400,
        "errors": [
            {"error": "ValidationError", "message": "phone_number is a required property"},
            {
                "error": "ValidationError",
                "message": "Additional properties are not allowed (colour was unexpected)",
            },
        ],
    }
    answer = requests.post(url, data="{not json", headers=headers, timeout=5)
    assert answer.json()["errors"] == [
        {"error": "BadRequestError", "message": "Invalid JSON supplied in POST data"}
    ]
    answer = requests.get(f"{notify.base_url}/v2/nowhere", headers=headers, timeout=5)
    assert answer.status_code == 404


def test_international_numbers_and_trial_mode_are_service_settings():
    with FakeNotifyServer(
        international_sms=True, trial_mode=True, guest_list=["07700900001", "team@council.gov.uk"]
    ) as notify:
        template = notify.add_template("sms", "Hello")
        client = NotificationsAPIClient(notify.api_key, base_url=notify.base_url)
        with pytest.raises(HTTPError) as trial:
            client.send_sms_notification("07700900002", template.id)
        assert trial.value.message[0]["message"].startswith(
            "Can’t send to this recipient when service is in trial mode"
        )
        client.send_sms_notification("+44 7700 900001", template.id)  # on the guest list
        notify.trial_mode = False
        client.send_sms_notification("+1 202 555 0123", template.id)
        assert [n.normalised_to for n in notify.sent_sms()] == ["447700900001", "12025550123"]


# -- authentication -----------------------------------------------------------------------


def test_a_bad_api_key_is_refused(notify, templates):
    def refused_with(api_key: str) -> tuple[int, list]:
        other = NotificationsAPIClient(api_key, base_url=notify.base_url)
        with pytest.raises(HTTPError) as excinfo:
            other.get_all_notifications()
        return refusal(excinfo)

    wrong_secret = f"fostercrm_test-{notify.service_id}-{uuid.uuid4()}"
    assert refused_with(wrong_secret) == (
        403,
        [{"error": "AuthError", "message": "Invalid token: API key not found"}],
    )
    wrong_service = f"fostercrm_test-{uuid.uuid4()}-{notify.api_key[-36:]}"
    assert refused_with(wrong_service) == (
        403,
        [{"error": "AuthError", "message": "Invalid token: service not found"}],
    )
    assert [r.status for r in notify.requests()] == [403, 403]
    assert notify.requests()[0].key_name is None


def test_more_keys_revoked_keys_and_the_30_second_clock(notify, templates):
    second = notify.add_api_key("reporting")
    NotificationsAPIClient(second, base_url=notify.base_url).get_all_notifications()
    assert notify.requests()[-1].key_name == "reporting"

    notify.revoke_api_key("reporting")
    with pytest.raises(HTTPError) as revoked:
        NotificationsAPIClient(second, base_url=notify.base_url).get_all_notifications()
    assert refusal(revoked) == (
        403,
        [{"error": "AuthError", "message": "Invalid token: API key revoked"}],
    )

    url = f"{notify.base_url}/v2/notifications"
    secret = OctKey.import_key(notify.api_key[-36:])
    stale = jwt.encode(
        {"alg": "HS256", "typ": "JWT"},
        {"iss": notify.service_id, "iat": int(time.time()) - 90},
        secret,
    )
    answer = requests.get(url, headers={"Authorization": f"Bearer {stale}"}, timeout=5)
    assert (answer.status_code, answer.json()) == (
        403,
        {
            "status_code": 403,
            "errors": [
                {
                    "error": "AuthError",
                    "message": "Error: Your system clock must be accurate to within 30 seconds",
                }
            ],
        },
    )
    assert requests.get(url, timeout=5).status_code == 401
    basic = requests.get(url, headers={"Authorization": "Basic abc"}, timeout=5)
    assert basic.json()["errors"][0]["message"] == (
        "Unauthorized: authentication bearer scheme must be used"
    )
    garbage = requests.get(url, headers={"Authorization": "Bearer not.a.jwt"}, timeout=5)
    assert garbage.status_code == 403


# -- received text messages -------------------------------------------------------------------


def test_an_inbound_stop_is_listed_and_posted_to_the_callback(notify, client):
    with Receiver() as receiver:
        notify.set_received_text_callback(receiver.url("/notify/inbound"), "inbound-token-99")
        first = notify.inject_received_text("07700 900123", "STOP")
        second = notify.inject_received_text("+447700900456", "Yes please")

        [stop, _yes] = receiver.posts
        assert stop["authorization"] == "Bearer inbound-token-99"
        assert stop["json"]["message"] == "STOP"
        assert stop["json"]["source_number"] == "447700900123"
        assert stop["json"]["destination_number"] == "07700900000"
        assert set(stop["json"]) == {
            "id",
            "source_number",
            "destination_number",
            "message",
            "date_received",
        }

    listed = client.get_received_texts()["received_text_messages"]
    assert [t["id"] for t in listed] == [second.id, first.id]  # newest first
    assert listed[1]["content"] == "STOP" and listed[1]["user_number"] == "447700900123"
    assert listed[1]["service_id"] == notify.service_id
    assert [t["content"] for t in client.get_received_texts_iterator()] == ["Yes please", "STOP"]
    older = client.get_received_texts(older_than=second.id)["received_text_messages"]
    assert [t["content"] for t in older] == ["STOP"]


# -- templates --------------------------------------------------------------------------------


def test_templates_versions_and_previews(notify, client, templates):
    email_template, sms_template = templates
    notify.update_template(sms_template.id, body="Visit: ((date)), ((time)).")
    fetched = client.get_template(email_template.id)
    assert fetched["type"] == "email" and fetched["subject"] == "Your enquiry, ((first name))"
    assert fetched["personalisation"] == {"first name": {"required": True}}
    assert client.get_template(sms_template.id)["version"] == 2
    assert client.get_template_version(sms_template.id, 1)["body"].startswith("Your initial")
    assert [t["id"] for t in client.get_all_templates("sms")["templates"]] == [sms_template.id]
    assert len(client.get_all_templates()["templates"]) == 2
    preview = client.post_template_preview(sms_template.id, {"date": "1 May", "time": "9am"})
    assert preview["body"] == "Visit: 1 May, 9am." and preview["version"] == 2
    with pytest.raises(HTTPError) as missing:
        client.post_template_preview(sms_template.id, {"date": "1 May"})
    assert missing.value.message == [
        {"error": "BadRequestError", "message": "Missing personalisation: time"}
    ]
    sent = client.send_sms_notification("07700900001", sms_template.id, {"date": "2", "time": "3"})
    assert sent["template"]["version"] == 2


def test_conditional_text_and_lists(notify, client):
    template = notify.add_template(
        "email",
        "Bring:((documents))\n((car??Parking is at the back.))",
        subject="Your visit",
    )
    client.send_email_notification(
        "a@example.com", template.id, {"documents": ["passport", "payslip"], "car": "yes"}
    )
    client.send_email_notification(
        "b@example.com", template.id, {"documents": ["passport"], "car": "no"}
    )
    first, second = notify.sent_emails()
    assert first.body == "Bring:\n\n* passport\n* payslip\nParking is at the back."
    assert second.body == "Bring:\n\n* passport\n"


# -- recording, waiting, copies ------------------------------------------------------------


def test_wait_for_wakes_on_a_request_from_another_thread(notify, client, templates):
    email_template, _sms = templates

    def send():
        client.send_email_notification("a@example.com", email_template.id, {"first name": "A"})

    sender = threading.Thread(target=send)
    sender.start()
    [accepted] = notify.wait_for_notifications(1, type="email", timeout=5)
    sender.join()
    assert accepted.to == "a@example.com"
    assert notify.wait_for(lambda: len(notify.sent_sms()) == 1, timeout=0.05) is False
    with pytest.raises(TimeoutError, match="expected 2 Notify notification"):
        notify.wait_for_notifications(2, timeout=0.05)


def test_accessors_return_copies_and_parallel_sends_are_all_recorded(notify, templates):
    email_template, _sms = templates

    def send(n: int) -> None:
        own = NotificationsAPIClient(notify.api_key, base_url=notify.base_url)  # not thread-safe
        own.send_email_notification(
            f"person{n}@example.com", email_template.id, {"first name": f"P{n}"}, reference=str(n)
        )

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = notify.sent_emails()
    assert sorted(int(n.reference) for n in sent) == list(range(8))
    assert len({n.id for n in sent}) == 8

    sent[0].personalisation["first name"] = "changed by the test"
    assert notify.notification(sent[0].id).personalisation["first name"] != "changed by the test"
    notify.requests().clear()
    assert len(notify.requests()) == 8
    notify.reset()
    assert notify.notifications() == [] and notify.requests() == []
