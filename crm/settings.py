"""Settings: `config/settings.toml` defaults, overridden by FOSTERCRM_* environment variables.

Secrets never live in the file: the secret key, the SMTP password and the Telegram token come
only from the environment. A bad or missing setting raises `SettingsError` with one line that
names the setting, so start-up can stop with a message a person can act on.
"""

from __future__ import annotations

import json
import os
import tomllib
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = Path(os.environ.get("FOSTERCRM_CONFIG_DIR", PROJECT_ROOT / "config"))
ENV_PREFIX = "FOSTERCRM_"
# Environment variables with our prefix that are not settings of the file.
SECRET_VARIABLES = {"FOSTERCRM_SECRET_KEY", "FOSTERCRM_SMTP_PASSWORD", "FOSTERCRM_CONFIG_DIR"}
IGNORED_PREFIXES = ("FOSTERCRM_TEST_",)
TELEGRAM_DEFAULT_BASE_URL = "https://api.telegram.org/bot"


class SettingsError(Exception):
    """A setting is missing or wrong; the message is one line naming it."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _parse_time(value: Any) -> time:
    if isinstance(value, time):
        return value
    try:
        hours, minutes = str(value).split(":")
        return time(int(hours), int(minutes))
    except (ValueError, TypeError):
        raise ValueError(f"expected a time as HH:MM, got {value!r}") from None


class DatabaseSettings(_Section):
    url: str

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value


class ServiceSettings(_Section):
    name: str
    timezone: str
    public_base_url: str
    childrens_services_phone: str
    trusted_proxies: int = Field(ge=0, le=5)
    office_hours_start: time
    office_hours_end: time

    _times = field_validator("office_hours_start", "office_hours_end", mode="before")(
        classmethod(lambda cls, v: _parse_time(v))
    )

    @field_validator("timezone")
    @classmethod
    def _real_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value


class ResponseSettings(_Section):
    target_working_days: int = Field(ge=1, le=20)
    second_attempt_after_working_days: int = Field(ge=1, le=30)
    offer_initial_visit_within_working_days: int = Field(ge=1, le=30)


class ReminderSettings(_Section):
    visit_day_before_at: time
    visit_morning_of_at: time
    checkin_every_days: int = Field(ge=7, le=365)
    checkin_first_year_every_days: int = Field(ge=7, le=365)
    checkin_after_placement_end_days: int = Field(ge=0, le=60)
    annual_review_warn_days: list[int]
    tsd_warn_days: int = Field(ge=1, le=365)
    supervision_overdue_days: int = Field(ge=7, le=365)
    panel_warning_months: int = Field(ge=1, le=12)
    panel_deadline_months: int = Field(ge=1, le=12)

    _times = field_validator("visit_day_before_at", "visit_morning_of_at", mode="before")(
        classmethod(lambda cls, v: _parse_time(v))
    )


class QuietHours(_Section):
    start: time
    end: time

    _times = field_validator("start", "end", mode="before")(
        classmethod(lambda cls, v: _parse_time(v))
    )


class StageTargetDays(_Section):
    enquiry: int = Field(ge=1)
    initial_visit: int = Field(ge=1)
    application: int = Field(ge=1)
    stage_one: int = Field(ge=1)
    stage_two: int = Field(ge=1)
    panel: int = Field(ge=1)
    on_hold: int = Field(ge=1)


class RetentionSettings(_Section):
    anonymise_closed_after_months: int = Field(ge=1, le=240)


class SmtpSettings(_Section):
    host: str
    port: int = Field(ge=1, le=65535)
    username: str
    from_address: str
    use_tls: bool


class ReportSettings(_Section):
    recipients: list[str]


ALLOWANCE_BANDS = {
    "london": "London",
    "south_east": "the South East",
    "rest_of_england": "England outside London and the South East",
}


class AllowanceSettings(_Section):
    """The allowance the service pays per child per week, by age. The DfE sets a national
    minimum for each region band, uplifted every April; services may pay more, never less.
    `band` is the region the service is in and `year` the financial year of the figures, so
    the assistant can say which figures it quotes."""

    band: str
    year: str
    weekly_0_to_2: int = Field(ge=0)
    weekly_3_to_4: int = Field(ge=0)
    weekly_5_to_10: int = Field(ge=0)
    weekly_11_to_15: int = Field(ge=0)
    weekly_16_to_17: int = Field(ge=0)

    @field_validator("band")
    @classmethod
    def _known_band(cls, value: str) -> str:
        if value not in ALLOWANCE_BANDS:
            raise ValueError(f"must be one of {', '.join(ALLOWANCE_BANDS)}, got {value!r}")
        return value

    @field_validator("year")
    @classmethod
    def _financial_year(cls, value: str) -> str:
        first, _, second = value.partition("-")
        if not (len(first) == 4 and first.isdigit() and second == f"{(int(first) + 1) % 100:02d}"):
            raise ValueError(f"expected a financial year like 2025-26, got {value!r}")
        return value

    @property
    def band_name(self) -> str:
        return ALLOWANCE_BANDS[self.band]


class Settings(_Section):
    database: DatabaseSettings
    service: ServiceSettings
    response: ResponseSettings
    reminders: ReminderSettings
    quiet_hours: QuietHours
    stage_target_days: StageTargetDays
    retention: RetentionSettings
    smtp: SmtpSettings
    report: ReportSettings
    allowances: AllowanceSettings
    # Secrets: from the environment only (see load_settings).
    secret_key: str | None = None
    smtp_password: str | None = None
    telegram_bot_token: str | None = None
    telegram_api_base_url: str = TELEGRAM_DEFAULT_BASE_URL

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.service.timezone)

    def require_secret_key(self) -> str:
        if not self.secret_key:
            raise SettingsError("FOSTERCRM_SECRET_KEY: not set (a long random string is needed)")
        if len(self.secret_key) < 16:
            raise SettingsError("FOSTERCRM_SECRET_KEY: too short (use at least 16 characters)")
        return self.secret_key


def _env_name(section: str, key: str) -> str:
    return f"{ENV_PREFIX}{section}_{key}".upper()


def _coerce_env(raw: str, default: Any) -> Any:
    """Environment values are strings; lists and numbers take the shape of the default."""
    if isinstance(default, list):
        raw = raw.strip()
        if raw.startswith("["):
            return json.loads(raw)
        return [item.strip() for item in raw.split(",") if item.strip()]
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"expected true or false, got {raw!r}")
    return raw


def _describe(error: dict[str, Any], env_names: dict[tuple[str, ...], str]) -> str:
    loc = tuple(str(part) for part in error["loc"])
    name = ".".join(loc)
    source = env_names.get(loc)
    where = f" (from {source})" if source else ""
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        message = "missing from config/settings.toml"
    return f"setting {name}{where}: {message}"


def load_settings(
    environ: dict[str, str] | None = None, path: Path | None = None, **overrides: Any
) -> Settings:
    """Read the defaults file, apply environment overrides, validate.

    `overrides` are dotted-free section dicts used by tests and the CLI, e.g.
    ``load_settings(database={"url": "sqlite://"})``.
    """
    environ = dict(os.environ if environ is None else environ)
    path = path or CONFIG_DIR / "settings.toml"
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"settings file {path}: not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"settings file {path}: not valid TOML ({exc})") from None

    env_names: dict[tuple[str, ...], str] = {}
    known: set[str] = set()
    for section, values in data.items():
        if not isinstance(values, dict):
            continue
        for key, default in values.items():
            name = _env_name(section, key)
            known.add(name)
            if name in environ:
                env_names[(section, key)] = name
                try:
                    values[key] = _coerce_env(environ[name], default)
                except (ValueError, json.JSONDecodeError) as exc:
                    raise SettingsError(f"{name}: {exc}") from None

    for name in environ:
        if (
            name.startswith(ENV_PREFIX)
            and name not in known
            and name not in SECRET_VARIABLES
            and not name.startswith(IGNORED_PREFIXES)
        ):
            raise SettingsError(f"{name}: not a known setting (check the spelling)")

    for section, values in overrides.items():
        data.setdefault(section, {}).update(values)

    url = data.get("database", {}).get("url", "")
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        relative = url.removeprefix("sqlite:///")
        if relative and relative != ":memory:":
            data["database"]["url"] = f"sqlite:///{PROJECT_ROOT / relative}"

    data["secret_key"] = environ.get("FOSTERCRM_SECRET_KEY") or None
    data["smtp_password"] = environ.get("FOSTERCRM_SMTP_PASSWORD") or None
    data["telegram_bot_token"] = environ.get("TELEGRAM_BOT_TOKEN") or None
    data["telegram_api_base_url"] = (
        environ.get("TELEGRAM_API_BASE_URL") or TELEGRAM_DEFAULT_BASE_URL
    )
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(_describe(exc.errors()[0], env_names)) from None
