"""Bulk inserts: ids handed out here, rows buffered per table and written in foreign-key
order (COPY on PostgreSQL)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import UTCDateTime

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
        # The text SQLite stores for each time written so far (crm.demo.rows._column).
        self.texts: dict[datetime, str] = {}

    def add(self, table: str, **values: Any) -> dict[str, Any]:
        row = self.templates[table] | values
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
                    _executemany(connection, table, rows, self.texts)
                self.counts[table.name] += len(rows)
                rows.clear()


@contextmanager
def sqlite_load(connection: sa.Connection, tables: Sequence[sa.Table]) -> Iterator[bool]:
    """SQLite's bulk load around the inserts into `tables`; yields whether the load is one
    transaction (then the caller does not commit in between).

    Into empty tables (a fresh database, the usual case) the load is one transaction that
    drops the tables' secondary indexes, inserts, builds the indexes again (one sort each
    instead of a B-tree insertion per row) and checks the foreign keys once at the end
    (`PRAGMA foreign_key_check`, instead of a look-up per row): a violation, an error or a
    load stopped half way (even killed) leaves the database, indexes and all, as it was.
    Beside existing rows the indexes and the checks stay as they are and the caller commits
    per chunk. For the load only, on this connection (which goes back to the pool, so all is
    put back afterwards): no sync to disk at commits and a page cache of about 256 MB.
    Nothing of this on PostgreSQL (COPY).
    """
    if connection.dialect.name != "sqlite":
        yield False
        return
    if connection.in_transaction():
        connection.commit()
    settings = {
        name: int(connection.exec_driver_sql(f"PRAGMA {name}").scalar())
        for name in ("synchronous", "cache_size", "foreign_keys")
    }
    empty = all(
        connection.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() is None
        for table in tables
    )
    connection.exec_driver_sql("PRAGMA synchronous=OFF")
    connection.exec_driver_sql("PRAGMA cache_size=-262144")
    indexes: list[tuple[str, str]] = []
    try:
        if empty:
            # Outside a transaction, or SQLite ignores it.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            names = [table.name for table in tables]
            indexes = [
                (name, sql)
                for name, sql in connection.exec_driver_sql(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
                    f" AND tbl_name IN ({', '.join('?' for _ in names)}) ORDER BY name",
                    tuple(names),
                )
            ]
            # Python's sqlite3 opens a transaction only before INSERT, UPDATE or DELETE: open
            # it now, so the DROPs belong to the load's transaction.
            connection.exec_driver_sql("BEGIN")
            for name, _ in indexes:
                connection.exec_driver_sql(f'DROP INDEX "{name}"')
        yield empty
        for _, sql in indexes:
            connection.exec_driver_sql(sql)
        if empty and settings["foreign_keys"]:
            for table in tables:
                broken = connection.exec_driver_sql(
                    f'PRAGMA foreign_key_check("{table.name}")'
                ).first()
                if broken is not None:
                    raise RuntimeError(
                        f"Demo data broke a foreign key: {table.name} row {broken[1]} "
                        f"refers to a missing {broken[2]} row"
                    )
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        for name, value in settings.items():
            connection.exec_driver_sql(f"PRAGMA {name}={value}")
        connection.commit()


# SQLAlchemy's SQLite DateTime storage format (the default), positionally.
_DATETIME_FORMAT = "%04d-%02d-%02d %02d:%02d:%02d.%06d"


def _executemany(
    connection: sa.Connection,
    table: sa.Table,
    rows: list[dict[str, Any]],
    texts: dict[datetime, str],
) -> None:
    """SQLite's bulk path: one prepared INSERT through the DBAPI cursor, rows as tuples, each
    value converted to the text its column type's bind processor would store (`_column`),
    without SQLAlchemy's per-row executemany bookkeeping."""
    if not connection.in_transaction():
        connection.begin()
    dialect = connection.dialect
    columns = list(table.c)
    names = ", ".join(f'"{column.name}"' for column in columns)
    marks = ", ".join("?" for _ in columns)
    # Column by column (one list comprehension each), then the columns zipped into row
    # tuples in one C call. The buffered dicts are left as they are.
    values = list(zip(*(_column(column, rows, dialect, texts) for column in columns), strict=True))
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.executemany(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', values)
    finally:
        cursor.close()


def _column(
    column: sa.Column, rows: list[dict[str, Any]], dialect: sa.Dialect, texts: dict[datetime, str]
) -> list[Any]:
    """One column's values as SQLite stores them: what the column type's bind processor
    returns, with the commonest cases done inline (a Python call per value is most of the
    cost): aware UTC datetimes (every time the generator makes; `texts` keeps the text of
    each), dates and booleans, in SQLAlchemy's SQLite formats. Anything else goes through
    the processor, and so does the whole column if a sample value comes out differently (a
    changed storage format)."""
    key = column.key
    processor = column.type._cached_bind_processor(dialect)
    originals = [row[key] for row in rows]
    if processor is None:
        return originals
    kind = column.type
    if isinstance(kind, UTCDateTime):
        # Times repeat (office minutes, a row's times often the same): each one's text is
        # made once per load and looked up after.
        get = texts.get

        def text(value: datetime) -> str:
            if value.__class__ is datetime and value.tzinfo is UTC:
                made = texts[value] = _DATETIME_FORMAT % (
                    value.year,
                    value.month,
                    value.day,
                    value.hour,
                    value.minute,
                    value.second,
                    value.microsecond,
                )
                return made
            return processor(value)

        converted = [None if value is None else get(value) or text(value) for value in originals]
    elif isinstance(kind, sa.Date) and not isinstance(kind, sa.DateTime):
        converted = [
            None
            if value is None
            else value.isoformat()
            if value.__class__ is date
            else processor(value)
            for value in originals
        ]
    elif isinstance(kind, sa.Boolean):
        converted = [
            1 if value is True else 0 if value is False else processor(value) for value in originals
        ]
    else:
        return [processor(value) for value in originals]
    sample = next((i for i, value in enumerate(originals) if value is not None), None)
    if sample is not None and converted[sample] != processor(originals[sample]):
        return [processor(value) for value in originals]
    return converted


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
