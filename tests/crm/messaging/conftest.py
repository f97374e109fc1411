"""The SMTP capture server and settings pointing at it, as the scheduler tests have them
(tests/crm/scheduler/conftest.py): the dispatcher's tests send real email to it."""

import pytest

from crm.testing.smtp import SmtpCapture
from tests.crm.scheduler.helpers import scheduler_settings


@pytest.fixture
def smtp():
    with SmtpCapture() as server:
        yield server


@pytest.fixture
def sched_settings(settings, smtp):
    """Settings with a secret key (signed links) and SMTP pointing at the capture server."""
    return scheduler_settings(settings, smtp_port=smtp.port)
