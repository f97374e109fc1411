"""The Flask app factory. Nothing global: settings and the engine are passed in or built here,
so tests make an app per database. Never start the scheduler here (see crm.scheduler)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlmodel import Session

from crm.db import make_engine
from crm.settings import Settings, load_settings

# Blueprints from other packages, registered when the package providing them is present.
OPTIONAL_BLUEPRINTS: list[str] = ["crm.checkins.views:bp", "bot.webchat:bp"]


@dataclass
class WebState:
    settings: Settings
    engine: sa.Engine


def create_app(
    settings: Settings | None = None,
    *,
    engine: sa.Engine | None = None,
    secret_key: str | None = None,
) -> Flask:
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret_key or settings.require_secret_key(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.service.public_base_url.startswith("https://"),
        MAX_CONTENT_LENGTH=5 * 1024 * 1024,
    )
    app.extensions["fostercrm"] = WebState(
        settings=settings, engine=engine or make_engine(settings.database.url)
    )
    app.teardown_appcontext(_close_db_session)

    from crm.web import home

    app.register_blueprint(home.bp)
    from crm.cli import _load

    for path in OPTIONAL_BLUEPRINTS:
        blueprint = _load(path)
        if blueprint is not None:
            app.register_blueprint(blueprint)
    return app


def state() -> WebState:
    return current_app.extensions["fostercrm"]


def db() -> Session:
    """The request's database session, closed when the request ends."""
    if "db_session" not in g:
        g.db_session = Session(state().engine, expire_on_commit=False)
    return g.db_session


def _close_db_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
