"""The Flask app factory. Nothing global: settings and the engine are passed in or built here,
so tests make an app per database. Never start the scheduler here (see crm.scheduler).

Every page's blueprint is imported and registered in `_register_blueprints`. Templates extend
"base.html" (signed-in staff) or "public_base.html" (the public), and use
`crm.web.auth.login_required` / `roles_required` / `current_actor`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask, Request, current_app, g, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from govuk_frontend_wtf.main import WTFormsHelpers
from jinja2 import BytecodeCache, ChoiceLoader, FileSystemLoader, PackageLoader, PrefixLoader
from jinja2.bccache import Bucket
from sqlmodel import Session
from werkzeug.datastructures import ImmutableMultiDict, iter_multi_items
from werkzeug.middleware.proxy_fix import ProxyFix

from crm.db import make_engine
from crm.sealing import SecretBox
from crm.settings import Settings, load_settings
from crm.text import clean_json, clean_value

# No inline script or style anywhere: every script and stylesheet is a file we serve.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

csrf = CSRFProtect()


class CleanMultiDict(ImmutableMultiDict):
    """Query parameters and form fields (names and values), cleaned as they are parsed."""

    def __init__(self, mapping=None) -> None:  # noqa: ANN001
        if mapping is not None:
            mapping = [(clean_value(k), clean_value(v)) for k, v in iter_multi_items(mapping)]
        super().__init__(mapping)


class CleanRequest(Request):
    """Every request's text from outside is cleaned here, once, before any route, form or
    service sees it (crm.text): `args`, `form` and `values` are built from CleanMultiDict, and
    a JSON body is cleaned as it is read. Uploaded files are left as they are."""

    parameter_storage_class = CleanMultiDict

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True):  # noqa: ANN201
        return clean_json(super().get_json(force=force, silent=silent, cache=cache))


class CompiledTemplates(BytecodeCache):
    """Compiled templates kept for the life of the process, shared by every app it creates.

    Each app has its own Jinja environment, and compiling the base layout and the GOV.UK
    macros costs well over 100 ms the first time a page renders in it. A worker creates one
    app, but the tests create hundreds: sharing the compiled code makes a new app's first
    page as quick as its second. Jinja checks each entry against the template's source, so
    an edited template is compiled again. Only `create_app` uses it, so every environment
    sharing it has the same options.
    """

    def __init__(self) -> None:
        self._compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._compiled.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._compiled[bucket.key] = bucket.bytecode_to_string()

    def clear(self) -> None:
        self._compiled.clear()


COMPILED_TEMPLATES = CompiledTemplates()


@dataclass
class WebState:
    settings: Settings
    engine: sa.Engine
    # Seals and opens the one-time code apps' secrets (crm.sealing).
    secret_box: SecretBox


def create_app(
    settings: Settings | None = None,
    *,
    engine: sa.Engine | None = None,
    secret_key: str | None = None,
) -> Flask:
    settings = settings or load_settings()
    app = Flask(__name__, static_url_path="/assets")
    app.request_class = CleanRequest
    if settings.service.trusted_proxies:
        # Behind a load balancer every request comes from the proxy: trust its forwarding
        # headers (only as deep as configured) so limits and logs see the visitor.
        hops = settings.service.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.config.update(
        SECRET_KEY=secret_key or settings.require_secret_key(),
        SESSION_COOKIE_NAME="fostercrm_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.service.public_base_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=10),
        MAX_CONTENT_LENGTH=5 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=10 * 3600,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    app.extensions["fostercrm"] = WebState(
        settings=settings,
        engine=engine or make_engine(settings.database.url),
        secret_box=settings.secret_box(app.config["SECRET_KEY"]),
    )
    app.teardown_appcontext(_close_db_session)
    app.jinja_loader = ChoiceLoader(
        [
            FileSystemLoader(str(app.root_path) + "/templates"),
            PrefixLoader(
                {
                    "govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja"),
                    "govuk_frontend_wtf": PackageLoader("govuk_frontend_wtf"),
                }
            ),
        ]
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.bytecode_cache = COMPILED_TEMPLATES
    from crm.web import logs, metrics

    # Before CSRF's check, so that a refused form has its request id and its line too; the
    # metrics' after_request runs before the log's (last registered runs first), both timing
    # from the same start.
    logs.init_app(app)
    metrics.init_app(app)
    csrf.init_app(app)
    WTFormsHelpers(app)

    from crm.web import filters

    filters.register(app)
    app.after_request(_security_headers)
    _register_error_pages(app)

    _register_blueprints(app)
    _warn_about_settings(app, settings)
    return app


def _warn_about_settings(app: Flask, settings: Settings) -> None:
    from crm.services import second_factor

    # A role named before it exists (decision_maker, in the release that adds it) is kept:
    # it starts to count as soon as the role does. A misspelling would count never, so say so.
    for name in second_factor.unknown_role_names(settings):
        app.logger.warning(
            "sign_in.mfa_required_roles names %r, which is not a role (yet): nobody matches it",
            name,
        )


def _register_blueprints(app: Flask) -> None:
    # Imported here: the blueprints' modules import db() and state() from this one.
    from crm.web import (
        admin,
        assessment,
        auth,
        board,
        carers,
        caseloads,
        chat,
        checkins,
        data_protection,
        health,
        home,
        households,
        imports,
        kinship,
        leaving,
        matching,
        metrics,
        mockingbird,
        panel,
        placements,
        public,
        reports,
        second_factor,
        single_sign_on,
        tasks,
        visits,
    )

    for module in (
        auth,
        home,
        public,
        board,
        households,
        kinship,
        imports,
        assessment,
        visits,
        carers,
        leaving,
        mockingbird,
        panel,
        placements,
        matching,
        caseloads,
        admin,
        data_protection,
        checkins,
        chat,
        reports,
        second_factor,
        single_sign_on,
        health,
        metrics,
        tasks,
    ):
        app.register_blueprint(module.bp)


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


def _security_headers(response):  # noqa: ANN001, ANN202
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.url.startswith("https://"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    # Pages with families' data must not linger in shared browsers' caches.
    if not request.path.startswith("/assets/"):
        headers.setdefault("Cache-Control", "no-store")
    return response


def _register_error_pages(app: Flask) -> None:
    from crm.services.errors import NotAllowed, NotFound

    @app.errorhandler(403)
    @app.errorhandler(NotAllowed)
    def forbidden(_exc):  # noqa: ANN001, ANN202
        return render_template("errors/403.html"), 403

    @app.errorhandler(404)
    @app.errorhandler(NotFound)
    def not_found(_exc):  # noqa: ANN001, ANN202
        return render_template("errors/404.html"), 404

    @app.errorhandler(CSRFError)
    def csrf_error(exc):  # noqa: ANN001, ANN202
        return render_template("errors/400.html", reason=exc.description), 400

    @app.errorhandler(410)
    def gone(_exc):  # noqa: ANN001, ANN202
        return render_template("errors/410.html"), 410

    @app.errorhandler(429)
    def too_many(_exc):  # noqa: ANN001, ANN202
        return render_template("errors/429.html"), 429

    @app.errorhandler(500)
    def server_error(_exc):  # noqa: ANN001, ANN202
        # A reference people can quote to support, without showing them the error.
        return render_template("errors/500.html", ref=secrets.token_hex(4)), 500
