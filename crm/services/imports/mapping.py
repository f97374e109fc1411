"""How a team's tracker maps onto the CRM: which column is which, what each of their list
values means here, how their dates are written, which sheet and header row. Read from a TOML
mapping file (the CLI), built by the wizard, and saved per layout so the next upload of the same
shape needs no questions.

A mapping file, every part optional:

    sheet = "2024"            # or "all"; a file with one tracker sheet needs none
    header_row = 3            # the spreadsheet's row number; found by itself otherwise

    [columns]                 # the file's heading = the CRM's column, or "ignore"
    "IV date" = "initial_visit_date"
    "Notes" = "ignore"

    [values.source]           # the file's value = an existing source, "new" or "other"
    "Facebook" = "social_media"
    "Google" = "Web search"
    "Radio Leicester" = "new"
    "Friend of Sam" = "other"

    [values.reason]           # withdrawn and not-progressed reasons alike
    "Financial reasons" = "finances"

    [dates]                   # day-first (the UK's, the default) or month-first
    "Date of enquiry" = "day-first"

Value lists: source, campaign, area, withdrawn_reason, not_progressed_reason, and reason (both).
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from crm.services.imports.dates import DAY_FIRST, MONTH_FIRST
from crm.services.imports.fields import ALL_COLUMNS
from crm.settings import CONFIG_DIR

IGNORE = "ignore"
NEW = "new"
OTHER = "other"
VALUE_LISTS = ("source", "campaign", "area", "withdrawn_reason", "not_progressed_reason", "reason")


class MappingError(Exception):
    """The mapping itself is wrong (a column that does not exist, a value list we do not have)."""


def normalise(text: Any) -> str:
    """A heading or a value as compared: case, spaces and punctuation do not count."""
    return re.sub(r"[\W_]+", "", str(text or "").casefold())


@dataclass(frozen=True)
class KnownNames:
    # normalised heading -> the CRM's column
    columns: dict[str, str]
    stage_words: tuple[str, ...]


@cache
def known_names(path: Path | None = None) -> KnownNames:
    data = tomllib.loads((path or CONFIG_DIR / "imports.toml").read_text(encoding="utf-8"))
    columns: dict[str, str] = {}
    for column, names in data["columns"].items():
        columns[normalise(column)] = column
        for name in names:
            columns.setdefault(normalise(name), column)
    words = tuple(w.casefold() for w in data.get("unmapped", {}).get("stage_words", []))
    return KnownNames(columns, words)


@dataclass
class ImportMapping:
    # normalised heading -> the CRM's column or IGNORE
    columns: dict[str, str] = field(default_factory=dict)
    # value list -> normalised value -> existing entry, NEW or OTHER
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    # normalised heading (or the CRM's column) -> DAY_FIRST / MONTH_FIRST
    dates: dict[str, str] = field(default_factory=dict)
    sheet: str | None = None
    header_row: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportMapping:
        known = set(ALL_COLUMNS)
        columns = {}
        for heading, target in (data.get("columns") or {}).items():
            target = str(target).strip()
            if target.casefold() == IGNORE:
                target = IGNORE
            elif target not in known:
                raise MappingError(
                    f"the mapping puts {heading!r} into {target!r}, which is not a column the "
                    f'importer knows (use one of {", ".join(ALL_COLUMNS)}, or "ignore")'
                )
            columns[normalise(heading)] = target
        values: dict[str, dict[str, str]] = {}
        for kind, choices in (data.get("values") or {}).items():
            if kind not in VALUE_LISTS:
                raise MappingError(
                    f"the mapping has values for {kind!r}; value lists are {', '.join(VALUE_LISTS)}"
                )
            if not isinstance(choices, dict):
                raise MappingError(f"[values.{kind}] must be a table of value = choice")
            values[kind] = {normalise(k): str(v).strip() for k, v in choices.items()}
        dates = {}
        for heading, order in (data.get("dates") or {}).items():
            if order not in (DAY_FIRST, MONTH_FIRST):
                raise MappingError(
                    f"the date order for {heading!r} must be {DAY_FIRST!r} or {MONTH_FIRST!r}"
                )
            dates[normalise(heading)] = order
        header_row = data.get("header_row")
        if header_row is not None and (not isinstance(header_row, int) or header_row < 1):
            raise MappingError("header_row must be the spreadsheet's row number (1 or more)")
        sheet = data.get("sheet")
        return cls(columns, values, dates, str(sheet) if sheet is not None else None, header_row)

    @classmethod
    def from_toml(cls, path: Path) -> ImportMapping:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError) as exc:
            raise MappingError(f"the mapping file {path.name} cannot be read ({exc})") from None
        except tomllib.TOMLDecodeError as exc:
            raise MappingError(f"the mapping file {path.name} is not valid TOML ({exc})") from None
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.sheet is not None:
            data["sheet"] = self.sheet
        if self.header_row is not None:
            data["header_row"] = self.header_row
        data["columns"] = dict(self.columns)
        data["values"] = {k: dict(v) for k, v in self.values.items() if v}
        data["dates"] = dict(self.dates)
        return data

    def value_choice(self, kind: str, value: str) -> str | None:
        key = normalise(value)
        choice = self.values.get(kind, {}).get(key)
        if choice is None and kind.endswith("_reason"):
            choice = self.values.get("reason", {}).get(key)
        return choice


def layout_key(headings: list[str]) -> str:
    """The same layout (the same headings in the same order) gets the same key, so a saved
    mapping is offered again next time."""
    names = [normalise(h) for h in headings if normalise(h)]
    return hashlib.sha256(json.dumps(names).encode()).hexdigest()[:40]
