"""Bulk inserts: ids handed out here, rows buffered per table as tuples (by per-table adders;
for SQLite already holding SQLite's values) and written in foreign-key order (COPY on
PostgreSQL, multi-row INSERTs on SQLite)."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from itertools import chain, count
from keyword import iskeyword
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
        self._next: dict[str, Callable[[], int]] = {}
        for table in tables:
            current = connection.execute(sa.select(sa.func.max(table.c.id))).scalar()
            self._next[table.name] = count((current or 0) + 1).__next__
            # `ids.<table>()` is `take(table)` without the look-up (for the inner loops).
            if hasattr(self, table.name):
                raise ValueError(f"Ids: a table named {table.name!r} would hide an attribute")
            setattr(self, table.name, self._next[table.name])

    def take(self, table: str) -> int:
        return self._next[table]()

    def counter(self, table: str) -> Callable[[], int]:
        """`take(table)` as a function of no arguments (for the inner loops)."""
        return self._next[table]


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
    """Buffered rows per table, flushed to the database in foreign-key order.

    Each table has an adder, `rows.<table>(column=value, ...)`, taking the columns by keyword
    (a column left out is None, or the table's default above) and buffering the row as a tuple
    in the table's column order: no dict per row, and the bulk paths take the tuples as they
    are. `add(table, **values)` does the same by the table's name."""

    def __init__(self, dialect: sa.Dialect | None = None) -> None:
        """With a SQLite `dialect`, the adders store each value as SQLite will (the bind
        processors' values, `_sqlite_expressions`) and the rows go to SQLite as they are;
        then the rows are for SQLite only. Otherwise values are converted when flushed."""
        self.tables: list[sa.Table] = []
        self.buffer: dict[str, list[tuple]] = {}
        self._adders: dict[str, Callable[..., tuple]] = {}
        self.counts: Counter[str] = Counter()
        # The text SQLite stores for each time written so far, and each table's converter
        # to SQLite's values (crm.demo.rows._sqlite_values).
        self.texts: dict[datetime, str] = {}
        self.converters: dict[tuple[str, sa.Dialect], Any] = {}
        self.stored_for = dialect if dialect is not None and dialect.name == "sqlite" else None
        for model, defaults in _ROW_TABLES:
            table = model.__table__
            self.tables.append(table)
            buffer = self.buffer[table.name] = []
            adder = self._adders[table.name] = _adder(
                table, defaults, buffer.append, self.stored_for, self.texts
            )
            setattr(self, table.name, adder)

    def add(self, table: str, **values: Any) -> tuple:
        return self._adders[table](**values)

    def flush(self, connection: sa.Connection) -> None:
        dialect = connection.dialect
        if self.stored_for is not None and dialect.name != "sqlite":
            raise ValueError("These rows were made for SQLite: make Rows() for this database")
        postgres = dialect.name == "postgresql"
        for table in self.tables:
            rows = self.buffer[table.name]
            if rows:
                if postgres:
                    _copy(connection, table, rows)
                elif self.stored_for is None:
                    values = _sqlite_values(table, rows, dialect, self.texts, self.converters)
                    _executemany(connection, table, values)
                else:
                    _executemany(connection, table, rows)
                self.counts[table.name] += len(rows)
                rows.clear()

    # The adders, made in __init__ (listed for readers and type checkers).
    household: Callable[..., tuple]
    applicant: Callable[..., tuple]
    household_member: Callable[..., tuple]
    household_pet: Callable[..., tuple]
    household_check: Callable[..., tuple]
    course_attendance: Callable[..., tuple]
    form_f_section: Callable[..., tuple]
    consent: Callable[..., tuple]
    stage_event: Callable[..., tuple]
    carer: Callable[..., tuple]
    placement: Callable[..., tuple]
    supervision_visit: Callable[..., tuple]
    annual_review: Callable[..., tuple]
    training_record: Callable[..., tuple]
    telegram_chat_link: Callable[..., tuple]
    task: Callable[..., tuple]
    outbox_message: Callable[..., tuple]
    check_in: Callable[..., tuple]
    activity: Callable[..., tuple]
    appointment: Callable[..., tuple]


def _adder(
    table: sa.Table,
    defaults: dict[str, Any],
    append: Callable[[tuple], None],
    sqlite: sa.Dialect | None = None,
    texts: dict[datetime, str] | None = None,
) -> Callable[..., tuple]:
    """A function taking `table`'s columns as keyword-only arguments (defaults None, or
    `defaults`), that appends them as one tuple in column order and returns it; with a
    `sqlite` dialect, each value as SQLite stores it (`_sqlite_expressions`). Written out
    as source and compiled once, as namedtuple does: keyword arguments bind straight to
    parameters, so a row costs one call and one tuple (a misspelt column is a TypeError)."""
    keys = list(table.c.keys())
    for key in keys:
        if not key.isidentifier() or iskeyword(key) or key.startswith("_"):
            raise ValueError(f"{table.name}.{key}: not usable as a parameter name")
    unknown = set(defaults) - set(keys)
    if unknown:
        raise ValueError(f"{table.name}: defaults for no column: {sorted(unknown)}")
    parameters = ", ".join(
        f"{key}=_defaults[{key!r}]" if key in defaults else f"{key}=None" for key in keys
    )
    namespace: dict[str, Any] = {"_defaults": dict(defaults), "_append": append}
    values = keys
    if sqlite is not None:
        processors = [column.type._cached_bind_processor(sqlite) for column in table.c]
        values, _ = _sqlite_expressions(
            table, processors, {} if texts is None else texts, keys, namespace, checked=True
        )
    source = (
        f"def {table.name}(*, {parameters}):\n"
        f"    row = ({', '.join(f'({value})' for value in values)},)\n"
        "    _append(row)\n"
        "    return row\n"
    )
    exec(compile(source, f"<crm.demo.rows: {table.name}>", "exec"), namespace)
    return namespace[table.name]


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
    put back afterwards): no sync to disk at commits and a page cache of up to 1 GB (so
    the load's pages need not spill to the write-ahead log before the commit).
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
    connection.exec_driver_sql("PRAGMA cache_size=-1048576")
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


def _executemany(connection: sa.Connection, table: sa.Table, values: list[tuple]) -> None:
    """SQLite's bulk path: prepared INSERTs through the DBAPI cursor, of row tuples with each
    value as its column type's bind processor would store it (`_sqlite_values`), without
    SQLAlchemy's per-row executemany bookkeeping."""
    if not connection.in_transaction():
        connection.begin()
    names = ", ".join(f'"{column.name}"' for column in table.c)
    marks = f"({', '.join('?' for _ in table.c)})"
    # Many rows a statement (a third less time in SQLite than one a statement), each group's
    # values flattened into one tuple; what is left over one row a statement.
    driver = connection.connection.driver_connection
    variables = min(_VARIABLES_PER_STATEMENT, driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    per_statement = max(1, min(_ROWS_PER_STATEMENT, variables // len(table.c)))
    grouped = len(values) - len(values) % per_statement
    insert = f'INSERT INTO "{table.name}" ({names}) VALUES '
    cursor = driver.cursor()
    try:
        if grouped:
            flat = chain.from_iterable
            cursor.executemany(
                insert + ", ".join([marks] * per_statement),
                [
                    tuple(flat(group))
                    for group in zip(*[iter(values[:grouped])] * per_statement, strict=True)
                ],
            )
        if grouped < len(values):
            cursor.executemany(insert + marks, values[grouped:])
    finally:
        cursor.close()


# Rows in one INSERT on SQLite, and at most this many values (or SQLite's own limit, 32,766
# since 3.32, 999 before).
_ROWS_PER_STATEMENT = 128
_VARIABLES_PER_STATEMENT = 4096


def _sqlite_values(
    table: sa.Table,
    rows: list[tuple],
    dialect: sa.Dialect,
    texts: dict[datetime, str],
    converters: dict[tuple[str, sa.Dialect], Any],
) -> list[tuple]:
    """The rows as SQLite stores them: what each column type's bind processor returns, with
    the commonest cases done inline (a Python call per value is most of the cost): aware UTC
    datetimes (every time the generator makes; `texts` keeps the text of each), dates and
    booleans, in SQLAlchemy's SQLite formats; anything else through its processor. One list
    comprehension over the rows, written for the table (`_sqlite_converter`). If a sample
    value of an inline column comes out differently from its processor (a changed storage
    format), every value goes through the processors instead."""
    processors = [column.type._cached_bind_processor(dialect) for column in table.c]
    if all(processor is None for processor in processors):
        return rows
    made = converters.get((table.name, dialect))
    if made is None:
        made = converters[(table.name, dialect)] = _sqlite_converter(table, processors, texts)
    converter, inline = made
    values = converter(rows)
    for index in inline:
        sample = next((i for i, row in enumerate(rows) if row[index] is not None), None)
        if sample is not None and values[sample][index] != processors[index](rows[sample][index]):
            return [
                tuple(v if p is None else p(v) for p, v in zip(processors, row, strict=True))
                for row in rows
            ]
    return values


def _sqlite_converter(
    table: sa.Table, processors: list[Any], texts: dict[datetime, str]
) -> tuple[Callable[[list[tuple]], list[tuple]], list[int]]:
    """A function turning `table`'s row tuples into SQLite's values (see `_sqlite_values`),
    written out as one list comprehension and compiled; and the columns it converts inline."""
    namespace: dict[str, Any] = {}
    names = [f"c{index}" for index in range(len(processors))]
    expressions, inline = _sqlite_expressions(table, processors, texts, names, namespace)
    source = (
        "def convert(rows):\n"
        f"    return [({', '.join(f'({e})' for e in expressions)},)"
        f" for {', '.join(names)} in rows]\n"
    )
    exec(compile(source, f"<crm.demo.rows: {table.name} for SQLite>", "exec"), namespace)
    return namespace["convert"], inline


# Values to check the inline conversions with (crm.demo.rows._sqlite_expressions).
_SAMPLES = {
    "datetime": datetime(2026, 3, 9, 10, 5, 7, 123, tzinfo=UTC),
    "date": date(2026, 3, 9),
    "boolean": (True, False),
}


def _sqlite_expressions(
    table: sa.Table,
    processors: list[Any],
    texts: dict[datetime, str],
    names: list[str],
    namespace: dict[str, Any],
    checked: bool = False,
) -> tuple[list[str], list[int]]:
    """For each column of `table`, a Python expression of the variable in `names` giving the
    value SQLite stores (what the column's bind processor returns): the name itself where
    there is no processor, the commonest cases inline (aware UTC datetimes, their text kept
    in `texts`; dates; booleans, in SQLAlchemy's SQLite formats), else the processor. Puts
    what they use in `namespace`. Returns the expressions and the columns done inline. With
    `checked`, an inline one is kept only if it gives its processor's answer on a sample
    value (otherwise the processor is used: a changed storage format)."""
    namespace.update({"_get": texts.get, "_date": date})
    expressions = []
    inline = []
    for index, (column, processor) in enumerate(zip(table.c, processors, strict=True)):
        name = names[index]
        if processor is None:
            expressions.append(name)
            continue
        namespace[f"_p{index}"] = processor
        kind = column.type
        if isinstance(kind, UTCDateTime):
            namespace[f"_t{index}"] = _datetime_text(texts, processor)
            expression = f"None if {name} is None else _get({name}) or _t{index}({name})"
            samples: tuple = (_SAMPLES["datetime"],)
        elif isinstance(kind, sa.Date) and not isinstance(kind, sa.DateTime):
            expression = (
                f"None if {name} is None else {name}.isoformat() "
                f"if {name}.__class__ is _date else _p{index}({name})"
            )
            samples = (_SAMPLES["date"],)
        elif isinstance(kind, sa.Boolean):
            expression = f"1 if {name} is True else 0 if {name} is False else _p{index}({name})"
            samples = _SAMPLES["boolean"]
        else:
            expressions.append(f"_p{index}({name})")
            continue
        if checked:
            inline_value = eval(f"lambda {name}: {expression}", namespace)  # noqa: S307
            if any(inline_value(sample) != processor(sample) for sample in samples):
                expressions.append(f"_p{index}({name})")
                continue
        expressions.append(expression)
        inline.append(index)
    return expressions, inline


def _datetime_text(texts: dict[datetime, str], processor: Callable) -> Callable[[datetime], str]:
    """The text of a time not in `texts` yet (kept there for the next time), in SQLAlchemy's
    SQLite format when it is an aware UTC datetime, else the processor's."""

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

    return text


def _copy(connection: sa.Connection, table: sa.Table, rows: list[tuple]) -> None:
    """PostgreSQL's bulk path: COPY through psycopg, in the connection's transaction (several
    times faster than executemany, which sends one statement per row)."""
    if not connection.in_transaction():
        connection.begin()  # so that connection.commit() commits what COPY wrote
    columns = list(table.c)
    json_columns = {i for i, c in enumerate(columns) if isinstance(c.type, sa.JSON)}
    names = ", ".join(f'"{c.name}"' for c in columns)
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        write = copy.write_row
        if json_columns:
            for row in rows:
                write(
                    [
                        json.dumps(value) if i in json_columns and value is not None else value
                        for i, value in enumerate(row)
                    ]
                )
        else:
            for row in rows:
                write(row)
