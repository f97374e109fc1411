from datetime import time

import pytest

from crm.settings import PROJECT_ROOT, TELEGRAM_DEFAULT_BASE_URL, SettingsError, load_settings


def test_defaults_come_from_the_file():
    settings = load_settings(environ={})
    assert settings.service.timezone == "Europe/London"
    assert settings.database.url == f"sqlite:///{PROJECT_ROOT / 'var' / 'fostercrm.db'}"
    assert settings.response.target_working_days == 1
    assert settings.quiet_hours.start == time(21, 0)
    assert settings.stage_target_days.enquiry == 5
    assert settings.telegram_api_base_url == TELEGRAM_DEFAULT_BASE_URL
    assert settings.secret_key is None


def test_environment_overrides_any_setting():
    settings = load_settings(
        environ={
            "FOSTERCRM_DATABASE_URL": "postgresql://db.example/fostering",
            "FOSTERCRM_RESPONSE_TARGET_WORKING_DAYS": "2",
            "FOSTERCRM_QUIET_HOURS_START": "20:30",
            "FOSTERCRM_REPORT_RECIPIENTS": "a@example.org, b@example.org",
            "FOSTERCRM_SMTP_USE_TLS": "yes",
            "FOSTERCRM_REMINDERS_ANNUAL_REVIEW_WARN_DAYS": "[90, 30]",
        }
    )
    assert settings.database.url == "postgresql://db.example/fostering"
    assert settings.response.target_working_days == 2
    assert settings.quiet_hours.start == time(20, 30)
    assert settings.report.recipients == ["a@example.org", "b@example.org"]
    assert settings.smtp.use_tls is True
    assert settings.reminders.annual_review_warn_days == [90, 30]


def test_secrets_come_only_from_the_environment():
    settings = load_settings(
        environ={
            "FOSTERCRM_SECRET_KEY": "s" * 40,
            "FOSTERCRM_SMTP_PASSWORD": "hunter2",
            "TELEGRAM_BOT_TOKEN": "123:abc",
            "TELEGRAM_API_BASE_URL": "http://127.0.0.1:8081/bot",
        }
    )
    assert settings.require_secret_key() == "s" * 40
    assert settings.smtp_password == "hunter2"
    assert settings.telegram_bot_token == "123:abc"
    assert settings.telegram_api_base_url == "http://127.0.0.1:8081/bot"


def test_a_secret_in_the_file_is_refused(tmp_path):
    text = (PROJECT_ROOT / "config" / "settings.toml").read_text()
    path = tmp_path / "settings.toml"
    path.write_text(text.replace("[smtp]\n", "[smtp]\npassword = 'oops'\n"))
    with pytest.raises(SettingsError, match=r"^setting smtp\.password: "):
        load_settings(environ={}, path=path)


def test_a_secret_at_the_top_of_the_file_is_refused(tmp_path):
    text = (PROJECT_ROOT / "config" / "settings.toml").read_text()
    path = tmp_path / "settings.toml"
    path.write_text("secret_key = 'in the file by mistake'\n" + text)
    with pytest.raises(
        SettingsError,
        match=r"^setting secret_key: read only from FOSTERCRM_SECRET_KEY in the environment",
    ):
        load_settings(environ={"FOSTERCRM_SECRET_KEY": "s" * 40}, path=path)


def test_overrides_win_over_the_environment_and_a_relative_sqlite_path_is_the_projects():
    settings = load_settings(
        environ={"FOSTERCRM_DATABASE_URL": "postgresql://db.example/fostering"},
        database={"url": "sqlite:///var/other.db"},
    )
    assert settings.database.url == f"sqlite:///{PROJECT_ROOT / 'var' / 'other.db'}"
    assert load_settings(environ={}, database={"url": "sqlite://"}).database.url == "sqlite://"


def test_rate_limits_count_in_memory_unless_a_shared_store_is_given():
    assert load_settings(environ={}).rate_limits.storage == "memory://"
    shared = load_settings(environ={"FOSTERCRM_RATE_LIMITS_STORAGE": "redis://cache:6379/0"})
    assert shared.rate_limits.storage == "redis://cache:6379/0"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"FOSTERCRM_DATABASE_URL": "mysql://x"},
            "setting database.url (from FOSTERCRM_DATABASE_URL): must start with",
        ),
        ({"FOSTERCRM_RESPONSE_TARGET_WORKING_DAYS": "soon"}, "response.target_working_days"),
        ({"FOSTERCRM_RESPONSE_TARGET_WORKING_DAYS": "0"}, "greater than or equal to 1"),
        ({"FOSTERCRM_SERVICE_TIMEZONE": "Mars/Olympus"}, "unknown timezone 'Mars/Olympus'"),
        ({"FOSTERCRM_QUIET_HOURS_END": "8am"}, "expected a time as HH:MM"),
        ({"FOSTERCRM_SMTP_PORT": "99999"}, "smtp.port"),
        ({"FOSTERCRM_SMTP_USE_TLS": "perhaps"}, "FOSTERCRM_SMTP_USE_TLS: expected true or false"),
        ({"FOSTERCRM_DATBASE_URL": "sqlite://"}, "FOSTERCRM_DATBASE_URL: not a known setting"),
        (
            {"FOSTERCRM_RATE_LIMITS_STORAGE": "memcached://cache:11211"},
            "setting rate_limits.storage (from FOSTERCRM_RATE_LIMITS_STORAGE): must start with",
        ),
        ({"FOSTERCRM_SECRET": "x"}, "FOSTERCRM_SECRET: not a known setting"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(environ, message):
    with pytest.raises(SettingsError) as caught:
        load_settings(environ=environ)
    text = str(caught.value)
    assert message in text
    assert "\n" not in text


def test_missing_setting_and_missing_file(tmp_path):
    text = (PROJECT_ROOT / "config" / "settings.toml").read_text()
    path = tmp_path / "settings.toml"
    path.write_text(text.replace('timezone = "Europe/London"\n', ""))
    with pytest.raises(SettingsError, match="setting service.timezone: missing from"):
        load_settings(environ={}, path=path)
    with pytest.raises(SettingsError, match="not found"):
        load_settings(environ={}, path=tmp_path / "nope.toml")


def test_secret_key_must_be_set_and_long():
    with pytest.raises(SettingsError, match="FOSTERCRM_SECRET_KEY: not set"):
        load_settings(environ={}).require_secret_key()
    with pytest.raises(SettingsError, match="too short"):
        load_settings(environ={"FOSTERCRM_SECRET_KEY": "short"}).require_secret_key()


def test_database_errors_do_not_carry_personal_data(tmp_path):
    """A failing statement's message is logged with tracebacks: it must not show the values."""
    import sqlalchemy as sa

    from crm.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (email TEXT UNIQUE)"))
        conn.execute(sa.text("INSERT INTO t VALUES (:e)"), {"e": "jo.private@example.com"})
    with pytest.raises(sa.exc.IntegrityError) as caught, engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO t VALUES (:e)"), {"e": "jo.private@example.com"})
    assert "jo.private@example.com" not in str(caught.value)
    engine.dispose()


def test_the_mfa_key_is_a_list_of_fernet_keys_or_derived_from_the_secret_key():
    from cryptography.fernet import Fernet

    with pytest.raises(SettingsError, match="FOSTERCRM_MFA_KEY: not a Fernet key") as caught:
        load_settings(environ={"FOSTERCRM_MFA_KEY": "not-a-key"})
    assert "\n" not in str(caught.value) and "not-a-key" not in str(caught.value)
    with pytest.raises(SettingsError, match="FOSTERCRM_MFA_KEY or FOSTERCRM_SECRET_KEY"):
        load_settings(environ={}).secret_box()
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_with_old = load_settings(environ={"FOSTERCRM_MFA_KEY": old}).secret_box().seal("S")
    rotated = load_settings(environ={"FOSTERCRM_MFA_KEY": f"{new}, {old}"}).secret_box()
    assert rotated.open(sealed_with_old) == "S"
    assert load_settings(environ={"FOSTERCRM_MFA_KEY": new}).secret_box().open(rotated.seal("T"))
    derived = load_settings(environ={"FOSTERCRM_SECRET_KEY": "s" * 32}).secret_box()
    assert derived.open(derived.seal("U")) == "U"
