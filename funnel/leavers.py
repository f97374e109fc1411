"""Carers who left: by reason, by time since approval and by age group, pure pandas over the
carers frame of funnel.load (no database, no markup).

- A **leaver** of a period is a carer whose approval ended in it (``deregistered_on`` in the
  period, UK dates, both ends included).
- A carer **under notice** has given written notice (crm.services.leaving) recorded by the
  moment the data is as at, and is not deregistered by then: their approval ends 28 days after
  the notice (``approval_ends_on``). They are counted apart, whatever the period.
- **Reason**: the one recorded with the deregistration (for those under notice, the one given
  with the notice), labelled from the deregistration list; "Not recorded" where there is none.
  For "other" the count of leavers whose own words were recorded is given, never the words
  (the report's "What Other means" table has those).
- **Time since approval**: from approval to the day the approval ended (or ends, for those
  under notice), in years of 365.25 days, lower bound included: under 1 year, 1 to 2, 2 to 5,
  5 to 10, 10 or more (the same bands as the annual figures' length of service).
- **Age group**: the first applicant's age in whole years on that same day, from their date of
  birth: under 30, 30 to 39, 40 to 49, 50 to 59, 60 or over, and "Not recorded" without one.

The data is already limited to the areas the reader may see (funnel.load's ``area_ids``, from
crm.services.access in the caller): every figure here counts the carers of those areas only,
and names none.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from funnel.frames import FunnelData
from funnel.periods import Period

DEREGISTERED, UNDER_NOTICE = "deregistered", "under_notice"
OTHER = "other"
NOT_RECORDED = "not_recorded"
NO_AREA = "Not yet in an area"
DAYS_A_YEAR = 365.25

# (lowest, highest (excluded) or None, label): years since approval, lower bound included.
SERVICE_BANDS: list[tuple[float, float | None, str]] = [
    (0, 1, "Less than 1 year"),
    (1, 2, "1 to 2 years"),
    (2, 5, "2 to 5 years"),
    (5, 10, "5 to 10 years"),
    (10, None, "10 years or more"),
]
# (lowest, highest (excluded) or None, label): whole years of age.
AGE_BANDS: list[tuple[float, float | None, str]] = [
    (-np.inf, 30, "Under 30"),
    (30, 40, "30 to 39"),
    (40, 50, "40 to 49"),
    (50, 60, "50 to 59"),
    (60, None, "60 or over"),
]
AGE_NOT_RECORDED = "Age not recorded"

COUNT_COLUMNS = [DEREGISTERED, UNDER_NOTICE]


def band_of(values: pd.Series, bands: list[tuple[float, float | None, str]]) -> pd.Series:
    """The label of the band each value falls in (lower bound included); NaN stays missing."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    out = np.full(len(numbers), None, dtype=object)
    for low, high, label in bands:
        inside = numbers >= low if high is None else (numbers >= low) & (numbers < high)
        out[inside] = label
    return pd.Series(out, index=values.index, dtype=object)


def band_counts(values: pd.Series, bands: list[tuple[float, float | None, str]]) -> pd.Series:
    """How many values fall in each band, every band listed (zero where none)."""
    labels = [label for *_, label in bands]
    return band_of(values, bands).value_counts().reindex(labels, fill_value=0).astype(np.int64)


def _whole_years(born: pd.Series, on: pd.Series) -> pd.Series:
    """Age in whole years on `on` (a birthday counts on the day itself); NaN where unknown."""
    years = on.dt.year - born.dt.year
    before_birthday = (on.dt.month < born.dt.month) | (
        (on.dt.month == born.dt.month) & (on.dt.day < born.dt.day)
    )
    return (years - before_birthday.astype(float)).astype(float)


def leavers(data: FunnelData, period: Period) -> pd.DataFrame:
    """One row per carer deregistered in `period` or under notice as at the data's moment
    (index carer_id): area, status (deregistered or under_notice), left_on (the day the
    approval ended or ends), reason_code, has_words (the carer's own words recorded),
    years_approved, service_band, age, age_band."""
    c = data.carers
    gone = period.contains_dates(c["deregistered_on"]).to_numpy(dtype=bool)
    deregistered = c["deregistered_on"].notna().to_numpy() | (
        c["status"].astype(object) == DEREGISTERED
    ).to_numpy(dtype=bool)
    noticed = c["notice_given_on"].notna().to_numpy() & ~deregistered
    rows = c[gone | noticed]
    is_gone = gone[gone | noticed]
    left_on = rows["deregistered_on"].where(is_gone, rows["approval_ends_on"])
    code = rows["deregistration_reason_code"].astype(object)
    code = code.where(is_gone & code.notna(), rows["notice_reason_code"].astype(object))
    words = rows["deregistration_reason_text"].where(
        is_gone & rows["deregistration_reason_code"].notna(), rows["notice_reason_text"]
    )
    years = (left_on - rows["approved_on"]).dt.days / DAYS_A_YEAR
    age = _whole_years(rows["first_applicant_born_on"], left_on)
    area = rows["area"].astype(object)
    out = pd.DataFrame(
        {
            "area": area.where(area.notna(), NO_AREA),
            "status": np.where(is_gone, DEREGISTERED, UNDER_NOTICE),
            "left_on": left_on,
            "reason_code": code.where(code.notna(), NOT_RECORDED),
            "has_words": words.astype(object).fillna("").astype(str).str.strip().ne(""),
            "years_approved": years,
            "service_band": band_of(years, SERVICE_BANDS),
            "age": age,
            "age_band": band_of(age, AGE_BANDS).fillna(AGE_NOT_RECORDED),
        },
        index=rows.index,
    )
    return out


def _counts(frame: pd.DataFrame, key: str, order: list[str]) -> pd.DataFrame:
    """Deregistered and under notice per value of `key`, in `order` (every one listed)."""
    status = frame["status"].to_numpy()
    keys = frame[key].astype(object)
    index = pd.Index(order, name=key, dtype=object)
    return pd.DataFrame(
        {
            column: keys[status == column]
            .value_counts()
            .reindex(index, fill_value=0)
            .to_numpy(dtype=np.int64)
            for column in COUNT_COLUMNS
        },
        index=index,
    )


def by_reason(data: FunnelData, frame: pd.DataFrame) -> pd.DataFrame:
    """Per reason given (index reason_code): reason (its label from the deregistration list),
    deregistered, under_notice, and for "other" only: with_words, how many of them gave their
    own words (the words themselves are not shown). Most deregistered first, "other" and "not
    recorded" last."""
    codes = frame["reason_code"].astype(object)
    present = list(dict.fromkeys(codes.tolist()))
    table = _counts(frame, "reason_code", present)
    table.insert(0, "reason", [data.reason_label(DEREGISTERED, code) for code in table.index])
    words = frame.loc[frame["has_words"].to_numpy(dtype=bool) & (codes == OTHER).to_numpy()]
    table["with_words"] = pd.array(
        [int(len(words)) if code == OTHER else None for code in table.index], dtype="Int64"
    )
    last = pd.Series([code in (OTHER, NOT_RECORDED) for code in table.index], index=table.index)
    table = table.assign(_last=last, _total=table[DEREGISTERED] + table[UNDER_NOTICE])
    table = table.sort_values(
        ["_last", DEREGISTERED, "_total", "reason"], ascending=[True, False, False, True]
    )
    return table.drop(columns=["_last", "_total"])


def by_time_approved(frame: pd.DataFrame) -> pd.DataFrame:
    """Per band of years since approval (index service_band, every band)."""
    return _counts(frame, "service_band", [label for *_, label in SERVICE_BANDS])


def by_age(frame: pd.DataFrame) -> pd.DataFrame:
    """Per age group of the first applicant (index age_band, every group, "not recorded"
    last)."""
    return _counts(frame, "age_band", [*(label for *_, label in AGE_BANDS), AGE_NOT_RECORDED])


def by_area(data: FunnelData, frame: pd.DataFrame) -> pd.DataFrame:
    """Per area (index area): every area the data covers, then those not yet in one."""
    names = (
        sorted(data.areas["name"].astype(str).tolist())
        if data.area_names is None
        else list(data.area_names)
    )
    extra = [a for a in dict.fromkeys(frame["area"].astype(object)) if a not in names]
    return _counts(frame, "area", [*names, *sorted(extra, key=lambda a: (a == NO_AREA, a))])


def summary(data: FunnelData, period: Period) -> dict[str, Any]:
    """The leavers of `period` and those under notice now, as one JSON-ready object (the
    ``leavers`` key of `fostercrm report funnel --json`)."""
    frame = leavers(data, period)

    def counts(table: pd.DataFrame) -> dict[str, dict[str, int]]:
        return {
            str(key): {column: int(row[column]) for column in COUNT_COLUMNS}
            for key, row in table.iterrows()
        }

    reasons = by_reason(data, frame)
    return {
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        DEREGISTERED: int((frame["status"] == DEREGISTERED).sum()),
        UNDER_NOTICE: int((frame["status"] == UNDER_NOTICE).sum()),
        "by_reason": {
            str(code): {
                "label": str(row["reason"]),
                **{column: int(row[column]) for column in COUNT_COLUMNS},
                **({} if pd.isna(row["with_words"]) else {"with_words": int(row["with_words"])}),
            }
            for code, row in reasons.iterrows()
        },
        "by_time_since_approval": counts(by_time_approved(frame)),
        "by_age_group": counts(by_age(frame)),
        "by_area": counts(by_area(data, frame)),
    }
