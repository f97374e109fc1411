"""`fostercrm serve`'s gunicorn settings and its checks before starting (the real server with
several workers: tests/integration/test_web_workers.py)."""

from __future__ import annotations

import os

from click.testing import CliRunner
from gunicorn.config import Config

from crm.cli import main
from crm.cli.production import default_workers, gunicorn_options, metrics_folder
from crm.testing.fixtures import make_test_settings

SECRET = "production-test-secret-0123456789"


def options(**kw) -> dict:  # noqa: ANN003
    values = {"bind": "127.0.0.1:8000", "workers": 4, "threads": 4, "timeout": 60}
    return gunicorn_options(make_test_settings(), keep_alive=5, **{**values, **kw})


def test_gunicorn_takes_every_setting_we_give_it():
    config = Config()
    for key, value in options().items():
        config.set(key, value)
    assert config.workers == 4 and config.threads == 4 and config.timeout == 60
    assert config.worker_class_str == "gthread"
    # Forwarding headers: trusted by nobody in gunicorn; the app trusts the configured proxies.
    assert config.forwarded_allow_ips == []
    # No access log: its lines would carry whole addresses with their queries.
    assert config.accesslog is None
    assert config.max_requests > 0 and config.graceful_timeout > 0


def test_at_least_two_workers_by_default():
    assert default_workers() >= 2


def serve(env: dict, *args: str):  # noqa: ANN201
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FOSTERCRM_")}
    return CliRunner().invoke(main, ["serve", *args], env={**clean, **env})


def test_serve_needs_the_secret_key(sqlite_url):
    result = serve({"FOSTERCRM_DATABASE_URL": sqlite_url, "FOSTERCRM_SECRET_KEY": ""})
    assert result.exit_code == 1
    assert "FOSTERCRM_SECRET_KEY" in result.output


def test_serve_never_migrates_it_asks_for_db_upgrade(tmp_path):
    url = f"sqlite:///{tmp_path}/new.db"
    result = serve({"FOSTERCRM_DATABASE_URL": url, "FOSTERCRM_SECRET_KEY": SECRET})
    assert result.exit_code == 1
    assert "run `fostercrm db upgrade` first" in result.output


def test_serve_warns_when_workers_would_count_limits_alone(tmp_path):
    url = f"sqlite:///{tmp_path}/new.db"
    result = serve(
        {"FOSTERCRM_DATABASE_URL": url, "FOSTERCRM_SECRET_KEY": SECRET}, "--workers", "3"
    )
    assert "3 workers count the rate limits each on their own" in result.output


def test_a_given_metrics_folder_loses_only_old_figures(tmp_path, monkeypatch):
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "histogram_123.db").write_bytes(b"old")
    (folder / "keep.txt").write_text("someone's")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    assert metrics_folder() == (folder, False)
    assert sorted(p.name for p in folder.iterdir()) == ["keep.txt"]
