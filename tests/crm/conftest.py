"""Fixtures the scheduler's, the reminders' and the messaging tests share: a real SMTP capture
server, a local server speaking the Telegram Bot API, and settings pointing at them."""

import pytest

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
