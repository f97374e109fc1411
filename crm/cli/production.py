"""`fostercrm serve`: the web app alone under gunicorn, with several workers, for production.

Only the web: the scheduler (`fostercrm scheduler`) and the Telegram poller (`fostercrm bot`)
run as one process each, elsewhere, because neither APScheduler's jobs nor the bot's
conversations can be shared by several processes; nothing here starts them. The database must
already be at the newest schema (`fostercrm db upgrade`, run once per release before the
workers start), so that several workers never migrate at once.

Everything a request needs beyond the database is shared by the workers or held by the browser:
sessions are rows (crm.services.sessions) behind a signed cookie, the CSRF token and the single
sign-on's state are in that cookie (signed with FOSTERCRM_SECRET_KEY, the same for every worker),
failed sign-ins are counted in the database, the rate limits in Redis (FOSTERCRM_REDIS_URL).
What a worker keeps in memory is built from files and the same in every worker: the
assistant's classifiers, the templates, the bank holidays.
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
from pathlib import Path

import click

from crm.cli.common import cli_settings, friendly_errors, safe_url
from crm.settings import Settings

DEFAULT_BIND = "127.0.0.1:8000"
# Threads per worker: requests mostly wait on the database, so a few threads keep a worker busy
# while one waits; more would only queue on the database's connection pool (5 + 10 overflow).
DEFAULT_THREADS = 4
# A request still running after this long has its worker restarted (a hung database call must
# not hold a worker for ever). The slowest pages (the weekly report, a subject access export at
# a large hub) take seconds; a minute leaves room.
DEFAULT_TIMEOUT = 60
# Seconds a worker is given to finish its requests when told to stop (a restart or an upgrade).
GRACEFUL_TIMEOUT = 30
# Seconds an idle connection is kept for its next request. Behind a load balancer, set its idle
# timeout shorter than this, or it may send a request down a connection gunicorn just closed.
DEFAULT_KEEP_ALIVE = 5
# Each worker is replaced after about this many requests (jittered so they do not all restart
# at once): whatever a long-running process accumulates is given back.
MAX_REQUESTS = 2000
MAX_REQUESTS_JITTER = 200


def default_workers() -> int:
    """Two per core: while one waits on the database, another runs."""
    return max(2, 2 * (os.cpu_count() or 1))


def logging_config() -> dict:
    """gunicorn's own lines (workers starting, stopping, timing out) as JSON like ours."""
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "json",
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "crm.web.logs.JsonFormatter"}},
        "handlers": {"stderr": handler},
        "root": {"level": "INFO", "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
            # The request lines are ours (crm.web.logs): gunicorn's access log would write every
            # address in full, with its query (a search for a surname, a check-in link's token).
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
            "werkzeug": {"level": "WARNING"},
            "httpx": {"level": "WARNING"},
        },
    }


def gunicorn_options(
    settings: Settings,
    *,
    bind: str,
    workers: int,
    threads: int,
    timeout: int,
    keep_alive: int,
) -> dict:
    """The gunicorn settings `serve` runs with (hooks apart)."""
    return {
        "bind": [bind],
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": timeout,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "keepalive": keep_alive,
        "max_requests": MAX_REQUESTS,
        "max_requests_jitter": MAX_REQUESTS_JITTER,
        # The app, the assistant's classifiers and the templates are loaded once, before the
        # workers fork, and shared by them (crm.web.create_app opens no connection itself).
        "preload_app": True,
        # gunicorn itself trusts no forwarding header (its default trusts X-Forwarded-Proto
        # from 127.0.0.1): the app applies X-Forwarded-For, -Proto and -Host itself, only as
        # deep as service.trusted_proxies says (ProxyFix in crm.web, the same under waitress),
        # so that nobody but the configured proxies can choose the address a limit counts.
        "forwarded_allow_ips": "",
        "proxy_allow_ips": "",
        "accesslog": None,
        "errorlog": "-",
        "logconfig_dict": logging_config(),
        "proc_name": f"fostercrm: {settings.service.name}",
        # gunicorn's control socket (gunicornc) is not needed to run us, and two servers on one
        # machine would fight over its one default path.
        "control_socket_disable": True,
        # Request lines and headers past these sizes are refused (gunicorn's defaults, said).
        "limit_request_line": 4094,
        "limit_request_fields": 100,
    }


def metrics_folder() -> tuple[Path, bool]:
    """The folder for prometheus's multiprocess files, and whether we made it (then it goes
    when we stop). It is set in the environment before the app (and so prometheus_client) is
    imported: the workers inherit it, and each scrape adds up every worker's figures
    (crm.web.metrics)."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not given:
        folder = Path(tempfile.mkdtemp(prefix="fostercrm-metrics-"))
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
        return folder, True
    folder = Path(given)
    folder.mkdir(parents=True, exist_ok=True)
    # Figures left by the workers of an earlier run would be added to this run's; only
    # prometheus's own files go, whatever else someone keeps there.
    for old in folder.glob("*.db"):
        old.unlink()
    return folder, False


def _check_schema(settings: Settings) -> None:
    import sqlalchemy as sa

    from crm.cli.common import cli_engine
    from crm.migrate import heads

    wanted = set(heads(settings.database.url))
    with cli_engine(settings) as engine:
        try:
            with engine.connect() as connection:
                rows = connection.execute(sa.text("SELECT version_num FROM alembic_version"))
                found = {row[0] for row in rows}
        except (sa.exc.OperationalError, sa.exc.ProgrammingError):
            # No alembic_version table: a database never upgraded.
            found = set()
    if found != wanted:
        raise click.ClickException(
            f"the database at {safe_url(settings.database.url)} is not at the newest schema: "
            "run `fostercrm db upgrade` first (once, before starting the web workers)"
        )


@click.command("serve")
@click.option("--bind", default=DEFAULT_BIND, show_default=True, help="HOST:PORT to listen on.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes (default: two per core).",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=DEFAULT_THREADS,
    show_default=True,
    help="Threads per worker.",
)
@click.option(
    "--timeout",
    type=click.IntRange(5, 3600),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds before a stuck worker is restarted.",
)
@click.option(
    "--keep-alive",
    type=click.IntRange(1, 300),
    default=DEFAULT_KEEP_ALIVE,
    show_default=True,
    help="Seconds an idle connection stays open.",
)
@click.option(
    "--warm-up/--no-warm-up",
    default=True,
    show_default=True,
    help="Build the assistant's classifiers before serving, rather than at the first chat.",
)
@friendly_errors
def serve(
    bind: str, workers: int | None, threads: int, timeout: int, keep_alive: int, warm_up: bool
) -> None:
    """Serve the web app with several gunicorn workers (production). The scheduler and the
    Telegram bot are not started: run `fostercrm scheduler` and `fostercrm bot` once each."""
    settings = cli_settings()
    settings.require_secret_key()
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit():
        raise click.ClickException(f"--bind: expected HOST:PORT, got {bind!r}")
    workers = workers or default_workers()
    if workers > 1 and settings.rate_limit_storage.startswith("memory://"):
        click.echo(
            f"Warning: {workers} workers count the rate limits each on their own (up to "
            f"{workers} times each limit); set FOSTERCRM_REDIS_URL to share them",
            err=True,
        )
    from crm.cli.serve import public_address_warning

    if warning := public_address_warning(settings, host, int(port)):
        click.echo(f"Warning: {warning}", err=True)
    _check_schema(settings)
    folder, made = metrics_folder()

    from gunicorn.app.base import BaseApplication

    from crm.db import make_engine
    from crm.web import create_app
    from crm.web.chat import assistant
    from crm.web.logs import configure_logging

    configure_logging()
    engine = make_engine(settings.database.url)
    app = create_app(settings, engine=engine)
    if warm_up:
        with app.app_context():
            assistant().warm_up()
    # Connections must never cross a fork: none is open yet, and each worker starts afresh.
    engine.dispose()
    # What is loaded now lives for the whole run: kept out of full garbage collections, and
    # shared by the workers' memory until one writes to it (see `fostercrm up`).
    gc.freeze()

    def post_fork(_server, _worker) -> None:  # noqa: ANN001
        engine.dispose(close=False)

    def child_exit(_server, worker) -> None:  # noqa: ANN001
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

    def when_ready(_server) -> None:  # noqa: ANN001
        click.echo(
            f"Fostercrm is serving at http://{bind}/ with {workers} workers of {threads} "
            f"threads on {safe_url(settings.database.url)} (the scheduler and the bot run "
            "separately)",
            err=True,
        )

    options = gunicorn_options(
        settings,
        bind=bind,
        workers=workers,
        threads=threads,
        timeout=timeout,
        keep_alive=keep_alive,
    )
    options.update(post_fork=post_fork, child_exit=child_exit, when_ready=when_ready)

    class FostercrmServer(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):  # noqa: ANN202
            return app

    try:
        FostercrmServer().run()
    finally:
        if made:
            shutil.rmtree(folder, ignore_errors=True)
