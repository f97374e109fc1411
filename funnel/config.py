"""The report's editable wording and windows (config/funnel.toml), with safe defaults."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from crm.models.base import STAGE_LABELS, Stage
from crm.settings import CONFIG_DIR, SettingsError


class ReportConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = "Fostering recruitment and retention: weekly report"
    cohort_weeks: int = Field(52, ge=4, le=260)
    trend_weeks: int = Field(12, ge=4, le=104)
    retention_months: int = Field(12, ge=3, le=60)
    low_check_in_score: int = Field(2, ge=1, le=4)
    max_rows: int = Field(25, ge=5, le=1000)
    # Conversion to approval and time to approval come from the enquiries of a "mature"
    # cohort, old enough for most to have been approved or to have left (assessment takes 6
    # to 8 months); younger cohorts are "too early to tell".
    # Response per area and per officer follows the enquiries of this many weeks.
    response_weeks: int = Field(4, ge=1, le=52)
    mature_from_months: int = Field(9, ge=1, le=60)
    mature_to_months: int = Field(21, ge=2, le=120)

    @model_validator(mode="after")
    def _window(self) -> ReportConfig:
        if self.mature_to_months <= self.mature_from_months:
            raise ValueError("mature_to_months must be more than mature_from_months")
        return self


class Targets(BaseModel):
    """The service's own targets the verdicts compare with (None: no target set)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enquiries_per_week: float | None = Field(None, ge=0)
    first_attempt_share: float = Field(0.9, ge=0, le=1)
    visit_offer_share: float = Field(0.8, ge=0, le=1)
    enquiry_to_approval: float | None = Field(None, ge=0, le=1)
    retention_12_months: float | None = Field(None, ge=0, le=1)


class Benchmark(BaseModel):
    """A national figure to read ours against, with where it comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: float
    what: str
    source: str
    year: str

    def cite(self, shown: str) -> str:
        return f"{self.source} {self.year}: {shown}"


class FunnelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    report: ReportConfig = ReportConfig()
    targets: Targets = Targets()
    stage_labels: dict[str, str] = {}
    # From config/benchmarks.toml (keys as there); empty when the file is missing.
    benchmarks: dict[str, Benchmark] = {}

    def stage_label(self, stage: str) -> str:
        if stage in self.stage_labels:
            return self.stage_labels[stage]
        try:
            return STAGE_LABELS[Stage(stage)]
        except ValueError:
            return stage.replace("_", " ").capitalize()


def _read_toml(path: Path) -> dict | None:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc})") from None


def load_funnel_config(
    path: Path | None = None, benchmarks_path: Path | None = None
) -> FunnelConfig:
    """Read config/funnel.toml and config/benchmarks.toml; a missing file means the defaults
    (and no benchmarks). A bad value raises SettingsError with one line naming it."""
    path = path or CONFIG_DIR / "funnel.toml"
    benchmarks_path = benchmarks_path or (path.parent / "benchmarks.toml")
    data = _read_toml(path) or {}
    benchmarks = _read_toml(benchmarks_path)
    if benchmarks is not None:
        data = {**data, "benchmarks": benchmarks}
    unknown = set(data.get("stage_labels", {})) - {s.value for s in Stage}
    if unknown:
        raise SettingsError(f"{path}: [stage_labels] has unknown stage {sorted(unknown)[0]!r}")
    try:
        return FunnelConfig.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        in_file = benchmarks_path if error["loc"][:1] == ("benchmarks",) else path
        raise SettingsError(f"{in_file}: {where}: {error['msg']}") from None


def load_check_kinds(path: Path | None = None) -> dict[str, tuple[str, int]]:
    """The stage one checks of config/checks.toml (the file crm.services.checks keeps), as the
    report names and times them: key -> (label, target working days before a chase). A missing
    file means no labels (keys are shown) and no targets."""
    path = path or CONFIG_DIR / "checks.toml"
    data = _read_toml(path) or {}
    default = int(data.get("defaults", {}).get("target_working_days", 20))
    return {
        str(entry["key"]): (
            str(entry.get("label", entry["key"])),
            int(entry.get("target_working_days", default)),
        )
        for entry in data.get("check", [])
        if "key" in entry
    }
