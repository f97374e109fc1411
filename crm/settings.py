"""Settings: `config/settings.toml` defaults, overridden by FOSTERCRM_* environment variables.

Built on pydantic-settings: `Settings` is a `BaseSettings` whose sources are, highest first, the
overrides passed in by tests and the CLI, the environment (`EnvironmentOverrides`) and the file
(`SettingsFile`). The environment source is our own rather than pydantic-settings' EnvSettingsSource
because section names themselves contain underscores (FOSTERCRM_QUIET_HOURS_START is section
`quiet_hours`, key `start`): names are matched against the model's sections and keys, so every
known variable is spelt out by the model and any other FOSTERCRM_* name is refused as a typo.

A message channel's own settings are its table `[channels.<key>]` (crm.messaging.channels), read
here as it is and checked by the channel module's own model, so a new channel adds no code here:
FOSTERCRM_CHANNELS_<KEY>_<NAME> overrides a key the file's table has (any other such name is
refused like every unknown FOSTERCRM_* name), and a key that is a secret (its name ends in
_token, _secret, _password or _api_key) stays empty in the file and comes from that variable.

Secrets never live in the file: the secret key, the SMTP password and the Telegram token come
only from the environment. A bad or missing setting raises `SettingsError` with one line that
names the setting, so start-up can stop with a message a person can act on.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import time
from pathlib import Path
from typing import Any, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from crm.sealing import SealingKeyError, SecretBox, box_from

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = Path(os.environ.get("FOSTERCRM_CONFIG_DIR", PROJECT_ROOT / "config"))
ENV_PREFIX = "FOSTERCRM_"
# The secrets (and the Telegram API's address), by field: read from these environment variables
# only, never from the file.
ENVIRONMENT_ONLY = {
    "secret_key": "FOSTERCRM_SECRET_KEY",
    "smtp_password": "FOSTERCRM_SMTP_PASSWORD",
    "telegram_bot_token": "TELEGRAM_BOT_TOKEN",
    "telegram_api_base_url": "TELEGRAM_API_BASE_URL",
    "notify_api_key": "FOSTERCRM_NOTIFY_API_KEY",
    "single_sign_on_client_secret": "FOSTERCRM_SINGLE_SIGN_ON_CLIENT_SECRET",
    # May hold a password, so never in the file: the web's rate limits (and /readyz) use it.
    "redis_url": "FOSTERCRM_REDIS_URL",
    # The bearer token the Prometheus scraper sends to /metrics.
    "metrics_token": "FOSTERCRM_METRICS_TOKEN",
    # Fernet keys sealing the one-time code apps' secrets (crm.sealing); derived from the
    # secret key when unset.
    "mfa_key": "FOSTERCRM_MFA_KEY",
}
# Environment variables with our prefix that are neither settings of the file nor secrets.
OTHER_VARIABLES = {"FOSTERCRM_CONFIG_DIR"}
IGNORED_PREFIXES = ("FOSTERCRM_TEST_",)
TELEGRAM_DEFAULT_BASE_URL = "https://api.telegram.org/bot"
# Where the web's rate limits count (crm.web.ratelimit): the `limits` library's storage schemes.
RATE_LIMIT_STORAGES = ("memory://", "redis://", "rediss://", "redis+unix://")
# A GOV.UK Notify API key: `{key name}-{service id}-{secret}`, the last two UUIDs.
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
NOTIFY_KEY_SHAPE = re.compile(rf"^[A-Za-z0-9_-]+-{_UUID}-{_UUID}$")
ROLE_NAME_SHAPE = re.compile(r"^[a-z][a-z_]{1,39}$")
# [channels.<key>]: a channel's key (as crm.models.Channel stores it) and the names in its table.
CHANNEL_KEY_SHAPE = re.compile(r"^[a-z][a-z0-9_]{0,15}$")
CHANNEL_NAME_SHAPE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
CHANNEL_SECRET_SUFFIXES = ("_token", "_secret", "_password", "_api_key")
ChannelValue = bool | int | float | str | list[str]


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
        # A relative SQLite path means the project's folder, wherever the command was started.
        if value.startswith("sqlite:///") and not value.startswith("sqlite:////"):
            relative = value.removeprefix("sqlite:///")
            if relative and relative != ":memory:":
                return f"sqlite:///{PROJECT_ROOT / relative}"
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


class PanelSettings(_Section):
    """The fostering panel and the agency decision: papers go out `papers_due_working_days`
    before the meeting; the decision is due `decision_within_working_days` after it; an
    application is at risk of missing the 8-month timescale (reminders.panel_deadline_months)
    when fewer than `at_risk_days` are left and the panel has not recommended yet."""

    papers_due_working_days: int = Field(ge=1, le=30)
    decision_within_working_days: int = Field(ge=1, le=30)
    at_risk_days: int = Field(ge=1, le=240)


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


class RateLimitSettings(_Section):
    """Where the web's rate limits count: `memory://` in each process, or a shared Redis
    (`redis://host:6379/0`) so that several workers count together."""

    storage: str

    @field_validator("storage")
    @classmethod
    def _known_storage(cls, value: str) -> str:
        if not value.startswith(RATE_LIMIT_STORAGES):
            raise ValueError(f"must start with {' or '.join(RATE_LIMIT_STORAGES)}, got {value!r}")
        return value


class SignInSettings(_Section):
    """How staff sign in. `mfa_required_roles` are role names (strings, so a role another
    release adds can be named before it exists: crm.services.second_factor checks them against
    the roles there are at start-up and warns about any it does not know)."""

    password: bool
    mfa_required_roles: list[str]
    mfa_for_everyone: bool

    @field_validator("mfa_required_roles")
    @classmethod
    def _role_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not ROLE_NAME_SHAPE.match(name):
                raise ValueError(f"expected role names like manager, got {name!r}")
        return value


class SingleSignOnSettings(_Section):
    """The council's OpenID Connect identity provider; off while `discovery_url` is empty."""

    discovery_url: str
    client_id: str
    provider_name: str

    @field_validator("discovery_url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ValueError("must be an https:// address (http:// only on this machine)")
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.discovery_url)


MESSAGE_PROVIDERS = ("smtp", "notify")


class MessagingSettings(_Section):
    """Which provider carries email: our SMTP server (the embedded default) or GOV.UK Notify.
    Text messages go by Notify whenever its key is set."""

    email_by: str

    @field_validator("email_by")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        if value not in MESSAGE_PROVIDERS:
            raise ValueError(f"must be one of {', '.join(MESSAGE_PROVIDERS)}, got {value!r}")
        return value


class DocumentSettings(_Section):
    """Files that belong to a household (application forms, references, reports): kept in a
    folder outside the database, with limits on their type and size."""

    folder: str
    max_megabytes: float = Field(gt=0)
    allowed_types: list[str]

    @field_validator("folder")
    @classmethod
    def _project_relative(cls, value: str) -> str:
        # A relative folder means the project's folder, as a relative SQLite path does.
        path = Path(value)
        return str(path if path.is_absolute() else PROJECT_ROOT / path)

    @field_validator("allowed_types")
    @classmethod
    def _extensions(cls, value: list[str]) -> list[str]:
        cleaned = [v.strip().lower().lstrip(".") for v in value if v.strip()]
        if not cleaned:
            raise ValueError("name at least one file type, like pdf")
        return cleaned


class NotifySettings(_Section):
    """GOV.UK Notify: its address, and the ids of two templates in the Notify service that pass
    our own rendered words through (email: subject `((subject))`, body `((body))`; text
    message: `((body))`), so our templates in config/templates/ stay the one place for words."""

    base_url: str
    email_template_id: str
    sms_template_id: str

    @field_validator("email_template_id", "sms_template_id")
    @classmethod
    def _template_id(cls, value: str) -> str:
        if value and not re.fullmatch(_UUID, value):
            raise ValueError(f"expected a Notify template id (a UUID), got {value!r}")
        return value


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


# load_settings hands the environment and the file to the sources through this: the sources of
# a BaseSettings are chosen by a class method, which takes no per-call arguments.
_SOURCES: ContextVar[tuple[Mapping[str, str], Path] | None] = ContextVar("_SOURCES", default=None)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    database: DatabaseSettings
    service: ServiceSettings
    response: ResponseSettings
    reminders: ReminderSettings
    quiet_hours: QuietHours
    stage_target_days: StageTargetDays
    panel: PanelSettings
    retention: RetentionSettings
    smtp: SmtpSettings
    report: ReportSettings
    rate_limits: RateLimitSettings
    allowances: AllowanceSettings
    sign_in: SignInSettings
    single_sign_on: SingleSignOnSettings
    messaging: MessagingSettings
    notify: NotifySettings
    documents: DocumentSettings
    # Each message channel's own table, [channels.<key>], checked by the channel's module.
    channels: dict[str, dict[str, ChannelValue]] = Field(default_factory=dict)
    # Secrets: from the environment only (ENVIRONMENT_ONLY).
    secret_key: str | None = None
    smtp_password: str | None = None
    telegram_bot_token: str | None = None
    telegram_api_base_url: str = TELEGRAM_DEFAULT_BASE_URL
    notify_api_key: str | None = None
    single_sign_on_client_secret: str | None = None
    redis_url: str | None = None
    metrics_token: str | None = None
    mfa_key: str | None = None

    @field_validator("channels")
    @classmethod
    def _channel_tables(
        cls, value: dict[str, dict[str, ChannelValue]]
    ) -> dict[str, dict[str, ChannelValue]]:
        for key, table in value.items():
            if not CHANNEL_KEY_SHAPE.match(key):
                raise ValueError(f"channels.{key}: not a channel key like sms")
            for name in table:
                if not CHANNEL_NAME_SHAPE.match(name):
                    raise ValueError(f"channels.{key}.{name}: not a setting name like sender_id")
        return value

    @model_validator(mode="after")
    def _providers_ready(self) -> Settings:
        # Checked at start-up, so a wrong key stops the service with one line instead of
        # every message failing later.
        key = self.notify_api_key
        if key is not None and not NOTIFY_KEY_SHAPE.match(key.strip()):
            raise ValueError(
                "FOSTERCRM_NOTIFY_API_KEY: not a GOV.UK Notify API key (expected "
                "key name-service id-secret, the last two UUIDs, as Notify shows it)"
            )
        if self.messaging.email_by == "notify":
            if not key:
                raise ValueError(
                    "messaging.email_by is notify, but FOSTERCRM_NOTIFY_API_KEY is not set"
                )
            if not self.notify.email_template_id:
                raise ValueError(
                    "messaging.email_by is notify, but notify.email_template_id is empty"
                )
        if key and not self.notify.sms_template_id:
            raise ValueError("FOSTERCRM_NOTIFY_API_KEY is set, but notify.sms_template_id is empty")
        if self.redis_url is not None and not self.redis_url.startswith(RATE_LIMIT_STORAGES[1:]):
            raise ValueError(
                "FOSTERCRM_REDIS_URL: must start with redis://, rediss:// or redis+unix://"
            )
        if self.single_sign_on.enabled and not (
            self.single_sign_on.client_id and self.single_sign_on_client_secret
        ):
            raise ValueError(
                "single_sign_on.discovery_url is set: single_sign_on.client_id and "
                "FOSTERCRM_SINGLE_SIGN_ON_CLIENT_SECRET are needed too"
            )
        if not self.sign_in.password and not self.single_sign_on.enabled:
            raise ValueError("sign_in.password is off, but single sign-on is not set up")
        if self.mfa_key is not None:
            try:
                box_from(self.mfa_key, None)
            except SealingKeyError as exc:
                raise ValueError(str(exc)) from None
        return self

    def secret_box(self, secret_key: str | None = None) -> SecretBox:
        """What seals and opens the one-time code apps' secrets: FOSTERCRM_MFA_KEY, then the
        key derived from `secret_key` (the web app's, which `up --demo` may make up) or
        FOSTERCRM_SECRET_KEY. SettingsError when there is neither."""
        try:
            return box_from(self.mfa_key, secret_key or self.secret_key)
        except SealingKeyError as exc:
            raise SettingsError(str(exc)) from None

    @property
    def sms_enabled(self) -> bool:
        return bool(self.notify_api_key)

    @property
    def rate_limit_storage(self) -> str:
        """Where the web's rate limits count: FOSTERCRM_REDIS_URL when set, else the setting."""
        if self.redis_url and self.rate_limits.storage == "memory://":
            return self.redis_url
        return self.rate_limits.storage

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        environ, path = _SOURCES.get() or (os.environ, CONFIG_DIR / "settings.toml")
        # The file is read first, so a missing or broken file is the first thing said.
        file = SettingsFile(settings_cls, path)
        tables = file.toml_data.get("channels", {})
        return init_settings, EnvironmentOverrides(settings_cls, environ, tables), file

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.service.timezone)

    def require_secret_key(self) -> str:
        if not self.secret_key:
            raise SettingsError("FOSTERCRM_SECRET_KEY: not set (a long random string is needed)")
        if len(self.secret_key) < 16:
            raise SettingsError("FOSTERCRM_SECRET_KEY: too short (use at least 16 characters)")
        return self.secret_key


def _sections(settings_cls: type[BaseSettings]) -> Iterator[tuple[str, type[_Section]]]:
    for name, field in settings_cls.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, _Section):
            yield name, field.annotation


def env_name(section: str, key: str, *more: str) -> str:
    return f"{ENV_PREFIX}{'_'.join((section, key, *more))}".upper()


def is_channel_secret(name: str) -> bool:
    return name.endswith(CHANNEL_SECRET_SUFFIXES)


class SettingsFile(TomlConfigSettingsSource):
    """config/settings.toml: every section and key; a secret written in it is refused."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        if not path.is_file():
            raise SettingsError(f"settings file {path}: not found")
        super().__init__(settings_cls, toml_file=path)

    def _read_file(self, file_path: Path) -> dict[str, Any]:
        try:
            data = tomllib.loads(file_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"settings file {file_path}: not valid TOML ({exc})") from None
        for field, variable in ENVIRONMENT_ONLY.items():
            if field in data:
                raise SettingsError(
                    f"setting {field}: read only from {variable} in the environment, never the file"
                )
        channels = data.get("channels", {})
        tables = channels.values() if isinstance(channels, dict) else None
        if tables is None or not all(isinstance(t, dict) for t in tables):
            raise SettingsError("setting channels: expected tables like [channels.sms]")
        for key, table in channels.items():
            for name, value in table.items():
                if is_channel_secret(name) and value not in ("", None):
                    raise SettingsError(
                        f"setting channels.{key}.{name}: a secret, read only from "
                        f"{env_name('channels', key, name)} in the environment, never the file "
                        "(leave it empty there)"
                    )
        return data


class EnvironmentOverrides(PydanticBaseSettingsSource):
    """FOSTERCRM_<SECTION>_<KEY> for every key of every section, FOSTERCRM_CHANNELS_<KEY>_<NAME>
    for every name of every channel table the file has, and the secrets."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        environ: Mapping[str, str],
        channel_tables: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__(settings_cls)
        self.environ = environ
        self.channel_tables = channel_tables or {}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        # Unused: __call__ builds the whole mapping at once.
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        known = set(OTHER_VARIABLES) | set(ENVIRONMENT_ONLY.values())
        for section, model in _sections(self.settings_cls):
            for key, field in model.model_fields.items():
                name = env_name(section, key)
                known.add(name)
                if name in self.environ:
                    try:
                        value = _coerce_env(self.environ[name], field)
                    except (ValueError, json.JSONDecodeError) as exc:
                        raise SettingsError(f"{name}: {exc}") from None
                    data.setdefault(section, {})[key] = value
        for key, table in self.channel_tables.items():
            for name, example in table.items():
                variable = env_name("channels", key, name)
                known.add(variable)
                if variable in self.environ:
                    try:
                        value = _coerce_like(self.environ[variable], example)
                    except (ValueError, json.JSONDecodeError) as exc:
                        raise SettingsError(f"{variable}: {exc}") from None
                    data.setdefault("channels", {}).setdefault(key, {})[name] = value
        unknown = [
            name
            for name in self.environ
            if name.startswith(ENV_PREFIX)
            and name not in known
            and not name.startswith(IGNORED_PREFIXES)
        ]
        if unknown:
            raise SettingsError(f"{unknown[0]}: not a known setting (check the spelling)")
        for field, variable in ENVIRONMENT_ONLY.items():
            if self.environ.get(variable):
                data[field] = self.environ[variable]
        return data


def _coerce_env(raw: str, field: FieldInfo) -> Any:
    """Environment values are strings; lists and true/false take the shape of the field."""
    if get_origin(field.annotation) is list:
        return _as_list(raw)
    if field.annotation is bool:
        return _as_bool(raw)
    return raw


def _coerce_like(raw: str, example: Any) -> Any:
    """A channel table's value from the environment, shaped like the file's value for it (the
    channel's own model then checks it, as it checks the file's)."""
    if isinstance(example, list):
        return _as_list(raw)
    if isinstance(example, bool):
        return _as_bool(raw)
    return raw


def _as_list(raw: str) -> list[Any]:
    raw = raw.strip()
    if raw.startswith("["):
        return json.loads(raw)
    return [item.strip() for item in raw.split(",") if item.strip()]


def _as_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def describe_error(
    error: Mapping[str, Any], environ: Mapping[str, str] | None = None, prefix: tuple[str, ...] = ()
) -> str:
    """One line naming the setting a pydantic error is about (and the variable it came from,
    when `environ` is given); `prefix` places a model's error in the file (a channel's table:
    ("channels", "sms"))."""
    environ = environ or {}
    loc = prefix + tuple(str(part) for part in error["loc"])
    name = ".".join(loc)
    source = env_name(*loc[:3] if loc[:1] == ("channels",) else loc[:2]) if len(loc) >= 2 else None
    where = f" (from {source})" if source in environ else ""
    message = error["msg"].removeprefix("Value error, ")
    if not loc:
        return message
    if error["type"] == "missing":
        message = "missing from config/settings.toml"
    return f"setting {name}{where}: {message}"


def load_settings(
    environ: Mapping[str, str] | None = None, path: Path | None = None, **overrides: Any
) -> Settings:
    """Read the defaults file, apply environment overrides, validate.

    `overrides` are dotted-free section dicts used by tests and the CLI, e.g.
    ``load_settings(database={"url": "sqlite://"})``; they win over the environment.
    """
    environ = dict(os.environ if environ is None else environ)
    token = _SOURCES.set((environ, path or CONFIG_DIR / "settings.toml"))
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(describe_error(exc.errors()[0], environ)) from None
    finally:
        _SOURCES.reset(token)
