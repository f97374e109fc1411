"""Engines and sessions. Nothing global: the app, the CLI and tests each make their own engine."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
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
    # Pages read through the operating system's page cache (memory-mapped, shared by every
    # connection and process) and a bigger private cache than SQLite's 2 MB: the carers list
    # and search at 100,000 households took 0.83-0.85 of the CPU time (bench notes, README).
    cursor.execute("PRAGMA mmap_size=1073741824")
    cursor.execute("PRAGMA cache_size=-16384")
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


def has_statistics(connection: sa.Connection) -> bool:
    """Whether the query planner has statistics for the household table (the lists' table).

    Without them SQLite guesses and sorts whole tables; PostgreSQL's autovacuum analyses only
    after enough changes, so a database just loaded in bulk can go unanalysed for a while.
    """
    if connection.dialect.name == "sqlite":
        found = connection.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
        ).first()
        if found is None:
            return False
        return (
            connection.exec_driver_sql(
                "SELECT 1 FROM sqlite_stat1 WHERE tbl = 'household' LIMIT 1"
            ).first()
            is not None
        )
    row = connection.exec_driver_sql(
        "SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL "
        "FROM pg_stat_user_tables WHERE relname = 'household' AND schemaname = current_schema()"
    ).first()
    return bool(row and row[0])


def analyse(engine: sa.Engine, tables: Iterable[str]) -> None:
    """ANALYZE the tables a bulk write has just filled (an import), on either database, so
    that the lists' plans follow the new rows without waiting for autovacuum."""
    with engine.connect() as connection:
        for table in tables:
            connection.exec_driver_sql(f'ANALYZE "{table}"')
        connection.commit()


def refresh_statistics(engine: sa.Engine, *, only_if_missing: bool = False) -> bool:
    """ANALYZE the database (on PostgreSQL VACUUM (ANALYZE)), so lists and search get index
    plans; True when it ran.

    `only_if_missing` is start-up's check (crm.migrate.upgrade): analyse a database that has
    never been analysed, and otherwise leave SQLite a `PRAGMA optimize`, which is cheap and
    re-analyses only what it judges stale.
    """
    with engine.connect() as connection:
        if only_if_missing and has_statistics(connection):
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("PRAGMA optimize")
            connection.commit()
            return False
        if connection.dialect.name == "sqlite":
            # Every row counted, not a sample: with `analysis_limit` SQLite guessed about a
            # thousand households per area whatever the size, and so walked every visible
            # household to find the few carers (tests/crm/test_plans.py). The whole database
            # of 100,000 households is analysed in about 0.9 s.
            connection.exec_driver_sql("PRAGMA analysis_limit=0")
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
            return True
        # Only this schema's tables: a bare VACUUM would walk every schema in the database.
        tables = list(
            connection.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            ).scalars()
        )
        connection.commit()
    # VACUUM as well as ANALYZE, after rows arrive in bulk: it marks the pages all-visible, so
    # counts and the carers list read narrow indexes alone (index-only scans) instead of the
    # household table, and it merges the trigram indexes' pending entries, which a search
    # would otherwise read one by one (a name search at 48 ms instead of 0.05 on 20,000
    # households). VACUUM cannot run inside a transaction.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in tables:
            connection.exec_driver_sql(f'VACUUM (ANALYZE) "{table}"')
    return True
