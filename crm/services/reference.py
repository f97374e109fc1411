"""The lists a service keeps (sources, reasons): seeded from config/lists.toml when empty."""

from __future__ import annotations

import tomllib
from pathlib import Path

from sqlmodel import Session, select

from crm.db import transaction
from crm.models import Reason, ReasonKind, Source
from crm.settings import CONFIG_DIR


def load_lists(path: Path | None = None) -> dict:
    return tomllib.loads((path or CONFIG_DIR / "lists.toml").read_text(encoding="utf-8"))


def ensure_reference_data(session: Session, path: Path | None = None) -> int:
    """Insert the configured lists where the database has none yet. Returns rows added."""
    lists = load_lists(path)
    added = 0
    with transaction(session):
        if session.exec(select(Source.key)).first() is None:
            for key, label in lists["sources"].items():
                session.add(Source(key=key, label=label))
                added += 1
        for kind, reasons in lists["reasons"].items():
            kind = ReasonKind(kind)
            if session.exec(select(Reason.id).where(Reason.kind == kind)).first() is None:
                for code, label in reasons.items():
                    session.add(Reason(kind=kind, code=code, label=label))
                    added += 1
    return added
