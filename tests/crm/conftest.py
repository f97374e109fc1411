"""Fixtures the scheduler's, the reminders', the booking and the messaging tests share: a real
SMTP capture server, local servers speaking the Telegram Bot API and GOV.UK Notify's API, and
settings pointing at them."""

import pytest

from crm.testing.notify_api import FakeNotifyServer
from crm.testing.smtp import SmtpCapture
from crm.testing.telegram_api import FakeTelegramServer
from tests.crm.scheduler.helpers import scheduler_settings


@pytest.fixture
def smtp():
    with SmtpCapture() as server:
        yield server


@pytest.fixture
def sched_settings(settings, smtp):
    """Settings with a secret key (signed links) and SMTP pointing at the capture server."""
    return scheduler_settings(settings, smtp_port=smtp.port)


@pytest.fixture
def telegram():
    with FakeTelegramServer() as server:
        yield server


@pytest.fixture
def tg_settings(settings, smtp, telegram):
    return scheduler_settings(
        settings,
        smtp_port=smtp.port,
        telegram_base_url=telegram.base_url,
        telegram_token=telegram.token,
    )


@pytest.fixture
def notify():
    with FakeNotifyServer() as server:
        yield server


@pytest.fixture
def notify_settings(sched_settings, notify):
    email = notify.add_template("email", "((body))", subject="((subject))")
    text = notify.add_template("sms", "((body))")
    return sched_settings.model_copy(
        update={
            "notify_api_key": notify.api_key,
            "notify": sched_settings.notify.model_copy(
                update={
                    "base_url": notify.base_url,
                    "email_template_id": email.id,
                    "sms_template_id": text.id,
                }
            ),
        }
    )
