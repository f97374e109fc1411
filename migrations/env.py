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
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
