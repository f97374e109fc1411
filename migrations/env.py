"""Alembic environment: autogenerate against SQLModel.metadata, batch mode on SQLite."""

from alembic import context
from sqlmodel import SQLModel

import crm.models  # noqa: F401  (registers every table)
from crm.db import make_engine

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    url = config.attributes.get("database_url")
    if url:
        return url
    from crm.settings import load_settings

    return load_settings().database.url


def run_migrations_offline() -> None:
    url = _url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:  # noqa: ANN001
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds a table (copy, drop, rename); with foreign keys on, dropping a
        # table other rows point at fails, so a database holding data could never upgrade.
        # The pragma only takes effect outside a transaction; the check below proves the
        # rebuilt tables still hold together before foreign keys come back on.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        # SQLAlchemy began a transaction for the pragma: end it, or Alembic would run inside
        # it and never commit.
        connection.commit()
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=sqlite,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    if sqlite:
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()
        if broken:
            tables = sorted({row[0] for row in broken})
            raise RuntimeError(f"migration left rows pointing at missing rows in: {tables}")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
