"""`fostercrm scheduler ...` commands, configured by environment variables as an operator would."""

import os

import pytest
from click.testing import CliRunner

import crm.models as m
from crm.cli import main
from tests.crm.scheduler.helpers import SECRET, enqueue_staff_alerts, outbox


@pytest.fixture
def run(database_url, smtp, monkeypatch):
    for name in list(os.environ):
        if name.startswith("FOSTERCRM_") and not name.startswith("FOSTERCRM_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FOSTERCRM_DATABASE_URL", database_url)
    monkeypatch.setenv("FOSTERCRM_SMTP_PORT", str(smtp.port))
    monkeypatch.setenv("FOSTERCRM_SECRET_KEY", SECRET)

    def invoke(*args: str):
        return CliRunner().invoke(main, ["scheduler", *args], catch_exceptions=False)

    return invoke


def test_jobs_run_and_list(run, org):
    result = run("jobs")
    assert result.exit_code == 0
    assert "weekly_funnel_report" in result.output and "never" in result.output
    result = run("run", "weekly_funnel_report")
    assert result.exit_code == 0, result.output
    assert "weekly_funnel_report: {'week_ending': 20260308, 'messages': 1}" in result.output
    result = run("jobs")
    assert "weekly_funnel_report   last success 2026-03-10 10:00" in result.output


def test_an_unknown_job_is_a_clear_error(run, org):
    result = run("run", "weekly_report")
    assert result.exit_code == 1
    assert "no job 'weekly_report'; the jobs are: dispatch_outbox" in result.output


def test_dispatch_and_failed(run, org, engine, session, smtp):
    enqueue_staff_alerts(engine, org, 3)
    result = run("dispatch")
    assert result.exit_code == 0
    assert result.output.startswith("claimed 3, sent 3")
    assert len(smtp.messages()) == 3
    assert run("failed").output.strip() == "No failed messages."
    message = outbox(session)[0]
    message.status = m.OutboxStatus.FAILED
    message.error = "mail server said 550"
    session.add(message)
    session.commit()
    assert "550" in run("failed").output
