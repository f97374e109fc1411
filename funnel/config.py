"""The report's editable wording and windows (config/funnel.toml), with safe defaults."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

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


class FunnelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    report: ReportConfig = ReportConfig()
    stage_labels: dict[str, str] = {}

    def stage_label(self, stage: str) -> str:
        if stage in self.stage_labels:
            return self.stage_labels[stage]
        try:
            return STAGE_LABELS[Stage(stage)]
        except ValueError:
            return stage.replace("_", " ").capitalize()


def load_funnel_config(path: Path | None = None) -> FunnelConfig:
    """Read config/funnel.toml; a missing file means the defaults. A bad value raises
    SettingsError with one line naming it."""
    path = path or CONFIG_DIR / "funnel.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return FunnelConfig()
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc})") from None
    unknown = set(data.get("stage_labels", {})) - {s.value for s in Stage}
    if unknown:
        raise SettingsError(f"{path}: [stage_labels] has unknown stage {sorted(unknown)[0]!r}")
    try:
        return FunnelConfig.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise SettingsError(f"{path}: {where}: {error['msg']}") from None
