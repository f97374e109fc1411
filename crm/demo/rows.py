"""Bulk inserts: ids handed out here, rows buffered per table and written in foreign-key
order (COPY on PostgreSQL)."""

from __future__ import annotations

import json
import operator
from collections import Counter
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel

from crm.models import (
    Activity,
    AnnualReview,
    Applicant,
    Appointment,
    Carer,
    CheckIn,
    Consent,
    CourseAttendance,
    FormFSection,
    Household,
    HouseholdCheck,
    HouseholdMember,
    HouseholdPet,
    OutboxMessage,
    Placement,
    StageEvent,
    SupervisionVisit,
    Task,
    TelegramChatLink,
    TrainingRecord,
)


class Ids:
    """Primary keys handed out here, after whatever the database already holds."""

    def __init__(self, connection: sa.Connection, tables: Sequence[sa.Table]) -> None:
        self.tables = list(tables)
        self._next: dict[str, int] = {}
        for table in tables:
            current = connection.execute(sa.select(sa.func.max(table.c.id))).scalar()
            self._next[table.name] = (current or 0) + 1

    def take(self, table: str) -> int:
        value = self._next[table]
        self._next[table] = value + 1
        return value


# Tables in foreign-key order, and the defaults each row starts from (Core inserts skip the
# models' Python defaults, so every column is given explicitly).
_ROW_TABLES: list[tuple[type[SQLModel], dict[str, Any]]] = [
    (Household, {"is_kinship": False}),
    (Applicant, {}),
    (HouseholdMember, {}),
    (HouseholdPet, {}),
    (HouseholdCheck, {}),
    (CourseAttendance, {}),
    (FormFSection, {}),
    (Consent, {"granted": True}),
    (StageEvent, {}),
    (Carer, {"at_risk": False}),
    (Placement, {"emergency": False}),
    (SupervisionVisit, {}),
    (AnnualReview, {"terms_changed": False, "goes_to_panel": False}),
    (TrainingRecord, {}),
    (TelegramChatLink, {}),
    (Task, {"priority": "normal"}),
    (OutboxMessage, {"attempts": 0}),
    (CheckIn, {"wants_call": False}),
    (Activity, {}),
    (Appointment, {}),
]


class Rows:
    """Buffered rows per table, flushed to the database in foreign-key order."""

    def __init__(self) -> None:
        self.templates: dict[str, dict[str, Any]] = {}
        self.tables: list[sa.Table] = []
        for model, defaults in _ROW_TABLES:
            table = model.__table__
            template = dict.fromkeys(table.c.keys())
            template.update(defaults)
            self.templates[table.name] = template
            self.tables.append(table)
        self.buffer: dict[str, list[dict[str, Any]]] = {t.name: [] for t in self.tables}
        self.counts: Counter[str] = Counter()

    def add(self, table: str, **values: Any) -> dict[str, Any]:
        row = self.templates[table].copy()
        row.update(values)
        self.buffer[table].append(row)
        return row

    def flush(self, connection: sa.Connection) -> None:
        postgres = connection.dialect.name == "postgresql"
        for table in self.tables:
            rows = self.buffer[table.name]
            if rows:
                if postgres:
                    _copy(connection, table, rows)
                else:
                    _executemany(connection, table, rows)
                self.counts[table.name] += len(rows)
                rows.clear()


def _executemany(connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """SQLite's bulk path: one prepared INSERT through the DBAPI cursor, rows as tuples, each
    value converted by its column type's own bind processor (the same text SQLAlchemy would
    store), without SQLAlchemy's per-row executemany bookkeeping."""
    if not connection.in_transaction():
        connection.begin()
    dialect = connection.dialect
    columns = list(table.c)
    processors = [column.type._cached_bind_processor(dialect) for column in columns]
    keys = [column.key for column in columns]
    names = ", ".join(f'"{column.name}"' for column in columns)
    marks = ", ".join("?" for _ in columns)
    # Convert column by column (the rows are this table's buffer, cleared after the write),
    # then read each row out as a tuple in one C call.
    for key, processor in zip(keys, processors, strict=True):
        if processor is not None:
            for row in rows:
                row[key] = processor(row[key])
    getter = operator.itemgetter(*keys)
    values = [getter(row) for row in rows] if len(keys) > 1 else [(row[keys[0]],) for row in rows]
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.executemany(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', values)
    finally:
        cursor.close()


def _copy(connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL's bulk path: COPY through psycopg, in the connection's transaction (several
    times faster than executemany, which sends one statement per row)."""
    if not connection.in_transaction():
        connection.begin()  # so that connection.commit() commits what COPY wrote
    columns = list(table.c.keys())
    json_columns = {c.key for c in table.c if isinstance(c.type, sa.JSON)}
    names = ", ".join(f'"{c}"' for c in columns)
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        if json_columns:
            for row in rows:
                copy.write_row(
                    [
                        json.dumps(row[c]) if c in json_columns and row[c] is not None else row[c]
                        for c in columns
                    ]
                )
        else:
            for row in rows:
                copy.write_row([row[c] for c in columns])
