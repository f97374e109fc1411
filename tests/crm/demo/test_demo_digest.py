"""The same seed and day give the very same rows as the demo's code did before its SQLite bulk
path was made faster (issue 16): a digest of every row it writes, taken from that code (commit
b2a3e9b) and kept here. A deliberate change to what the demo generates changes the digests:
print the new ones with `python -m tests.crm.demo.test_demo_digest` and say why in the commit.

Two digests: the rows as the application reads them back (the same on SQLite and PostgreSQL),
and on SQLite the values exactly as stored (the text of every time and date), so that a
faster conversion that reads back equal but is stored differently is caught too.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
import tempfile
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import SQLModel

import crm.models  # noqa: F401  (every table on the metadata)
from crm.db import make_engine
from crm.demo import generate
from crm.migrate import upgrade
from crm.testing.fixtures import make_test_settings

HOUSEHOLDS = 500  # more than one chunk's worth of some tables, small enough for a test
SEED = 11
AS_OF = date(2026, 3, 10)

# Taken from b2a3e9b's demo code (before the faster bulk path).
ROWS_DIGEST = "9ef1ec69e1a40bb979c75a714b57cec9fc364ce31978ac4d7a583c562809004a"
STORED_DIGEST = "90187a6640bd6b7ccadaea53f448e297a3c919f354fdb72323b480700f134f9f"


# Filled by the migrations, not by the demo.
REFERENCE_TABLES = {"source", "reason"}


def rows_digest(engine: sa.Engine) -> str:
    """sha256 over every demo table's rows as read back, in primary-key order."""
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in REFERENCE_TABLES:
                continue
            digest.update(f"\n{table.name}\n".encode())
            order = list(table.primary_key.columns)
            for row in conn.execute(sa.select(table).order_by(*order)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def stored_digest(path: Path) -> str:
    """sha256 over every demo table's rows as SQLite stores them, in primary-key order."""
    digest = hashlib.sha256()
    connection = sqlite3.connect(path)
    try:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in REFERENCE_TABLES:
                continue
            digest.update(f"\n{table.name}\n".encode())
            order = ", ".join(f'"{c.name}"' for c in table.primary_key.columns)
            for row in connection.execute(f'SELECT * FROM "{table.name}" ORDER BY {order}'):
                digest.update(repr(row).encode())
    finally:
        connection.close()
    return digest.hexdigest()


def test_the_same_rows_as_before_on_both_backends(database_url, engine, settings):
    generate(engine, settings, households=HOUSEHOLDS, seed=SEED, as_of=AS_OF)
    assert rows_digest(engine) == ROWS_DIGEST


def test_sqlite_stores_the_same_text_as_before(sqlite_url):
    engine = make_engine(sqlite_url)
    try:
        generate(
            engine, make_test_settings(sqlite_url), households=HOUSEHOLDS, seed=SEED, as_of=AS_OF
        )
    finally:
        engine.dispose()
    assert stored_digest(Path(sa.make_url(sqlite_url).database)) == STORED_DIGEST


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "demo.db"
        upgrade(f"sqlite:///{path}")
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        generate(engine, make_test_settings(url), households=HOUSEHOLDS, seed=SEED, as_of=AS_OF)
        print(f'ROWS_DIGEST = "{rows_digest(engine)}"')
        engine.dispose()
        print(f'STORED_DIGEST = "{stored_digest(path)}"')
    sys.exit(0)
