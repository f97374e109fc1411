"""Engines and sessions. Nothing global: the app, the CLI and tests each make their own engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session


def normalise_url(url: str) -> str:
    # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def make_engine(url: str, **kwargs) -> sa.Engine:
    # hide_parameters: a database error must never carry names, emails or phone numbers into
    # a log with its traceback.
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = sa.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30}, hide_parameters=True, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, hide_parameters=True, **kwargs)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001
    # Foreign keys are off by default in SQLite; WAL lets the web read while the scheduler
    # writes; the busy timeout makes a writer wait rather than fail at once. secure_delete
    # zeroes what a delete or an update leaves behind, so an erased person's details do not
    # stay readable in the file's free space (crm.services.data_protection).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


@contextmanager
def session_scope(engine: sa.Engine) -> Iterator[Session]:
    """A session for one unit of work outside a web request (CLI, scheduler, bot)."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


@contextmanager
def savepoint(session: Session) -> Iterator[Session]:
    """`session.begin_nested()` that stays inside the caller's transaction on SQLite too.

    Python's sqlite3 opens a transaction only before INSERT, UPDATE or DELETE, not before
    SAVEPOINT: a savepoint that is the transaction's first statement would start a transaction
    of its own, and releasing it would commit everything so far, so a later failure could no
    longer roll it back. Opening the transaction first keeps "all or nothing" true.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        raw = connection.connection.dbapi_connection
        if raw is not None and not raw.in_transaction:
            connection.exec_driver_sql("BEGIN")
    with session.begin_nested():
        yield session


@contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """Commit everything in the block, or nothing: bad input never half-lands."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
