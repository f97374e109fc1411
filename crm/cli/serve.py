"""`fostercrm up`: the database, the web app and the background parts from one command: the
web (and the Telegram bot, when set) in this process, the scheduler with the outbox's
dispatcher in a child process it starts and stops (crm.cli.background)."""

from __future__ import annotations

import gc
import os
import secrets
import signal
from pathlib import Path

import click
import sqlalchemy as sa
from sqlmodel import Session, select

from crm.cli.common import cli_settings, friendly_errors, safe_url, upgrade_database
from crm.cli.demo import DEMO_HOUSEHOLDS
from crm.settings import Settings

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def public_address_warning(settings: Settings, host: str, port: int) -> str | None:
    """A warning when links we send (check-ins, unsubscribe, the privacy notice in the consent
    wording) would point somewhere other than where this server is reached: the address it
    serves on differs from service.public_base_url. Behind a proxy only a loopback address is
    surely wrong; without one the port (and a loopback host) must match."""
    from urllib.parse import urlsplit

    public = settings.service.public_base_url
    url = urlsplit(public)
    public_host = (url.hostname or "").lower()
    public_port = url.port or (443 if url.scheme == "https" else 80)
    served_host = host.strip("[]").lower()
    if settings.service.trusted_proxies:
        wrong = public_host in _LOOPBACK
    elif public_host in _LOOPBACK:
        wrong = served_host not in _LOOPBACK or public_port != port
    else:
        wrong = public_port != port or served_host in _LOOPBACK
    if not wrong:
        return None
    return (
        f"links in messages and consent wording point at {public} (service.public_base_url), "
        f"but Fostercrm serves on {host}:{port}; set FOSTERCRM_SERVICE_PUBLIC_BASE_URL to the "
        "address people use"
    )


def demo_mfa_key(settings: Settings) -> str:
    """Demo only, when neither FOSTERCRM_MFA_KEY nor FOSTERCRM_SECRET_KEY is set: the key that
    seals the demo admins' one-time code apps, kept in a file beside the SQLite database (or
    under var/), readable by its owner only, so an app set up today still works after a
    restart, when the made-up secret key is another."""
    from cryptography.fernet import Fernet

    from crm.settings import PROJECT_ROOT

    url = sa.make_url(settings.database.url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        path = Path(url.database)
        path = path.with_name(f"{path.name}.mfa-key")
    else:
        path = PROJECT_ROOT / "var" / "demo.mfa-key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as file:
        file.write(Fernet.generate_key().decode())
    return path.read_text().strip()


def _stop_on_sigterm(_signum, _frame) -> None:  # noqa: ANN001
    raise KeyboardInterrupt


# Connections the web server holds open at once. Waitress's default (100) is about what one
# busy office's browsers keep open idle between clicks, and past it waitress stops accepting
# anyone until an idle connection times out. A connection costs a file descriptor and a few
# kilobytes, never a thread (8 threads do the work), so 1,000 is cheap.
SERVER_CONNECTION_LIMIT = 1000
# Seconds a connection with no request under way stays open (waitress: 120). Browsers reuse a
# connection within seconds or not at all, so 30 s keeps nearly all the reuse while someone
# opening idle connections holds each slot for a quarter of the time; checked every 10 s.
SERVER_IDLE_SECONDS = 30
SERVER_IDLE_CHECK_SECONDS = 10
# Descriptors kept for everything else: database connections, the Telegram bot's connection
# pool, logs, templates being read.
_OTHER_FILES = 200


def _connection_limit() -> int:
    """SERVER_CONNECTION_LIMIT, raising the process's open-file limit to fit where the system
    allows (service managers often start programs with a soft limit of 1,024); otherwise as
    many as fit, so a full server waits for a free slot instead of failing to accept."""
    try:
        import resource
    except ImportError:  # Windows: no such limit
        return SERVER_CONNECTION_LIMIT
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = SERVER_CONNECTION_LIMIT + _OTHER_FILES
    if soft != resource.RLIM_INFINITY and soft < wanted:
        soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft == resource.RLIM_INFINITY:
        return SERVER_CONNECTION_LIMIT
    return max(16, min(SERVER_CONNECTION_LIMIT, soft - _OTHER_FILES))


def make_server(app, settings: Settings, host: str, port: int):  # noqa: ANN001, ANN201
    """The web server `fostercrm up` runs: waitress, bound to host and port (0 for any free
    port), not yet serving (call .run())."""
    import waitress

    options: dict = {}
    if settings.service.trusted_proxies:
        # Waitress removes X-Forwarded-* headers unless told otherwise; the app applies them
        # itself (ProxyFix in crm.web, as deep as service.trusted_proxies says, the same
        # under any WSGI server), so waitress passes them on untouched rather than applying
        # them a second time.
        options["clear_untrusted_proxy_headers"] = False
    return waitress.create_server(
        app,
        host=host,
        port=port,
        threads=8,
        connection_limit=_connection_limit(),
        channel_timeout=SERVER_IDLE_SECONDS,
        cleanup_interval=SERVER_IDLE_CHECK_SECONDS,
        # poll(), not select(): select() cannot watch a descriptor numbered above 1,023.
        asyncore_use_poll=True,
        **options,
    )


@click.command("up")
@click.option("--demo", is_flag=True, help="Load demo data into an empty database first.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--households",
    type=click.IntRange(1, 2_000_000),
    default=DEMO_HOUSEHOLDS,
    show_default=True,
    help="With --demo: how many demo households.",
)
@friendly_errors
def up(demo: bool, host: str, port: int, households: int) -> None:
    """Run Fostercrm: database, web app, and the scheduler in a process of its own."""
    from crm.db import make_engine
    from crm.models import Hub
    from crm.web import create_app

    settings = cli_settings()
    secret_key = settings.secret_key
    if not secret_key:
        if not demo:
            raise click.ClickException(
                "FOSTERCRM_SECRET_KEY: not set (a long random string is needed)"
            )
        # Demo only: a throwaway key, so sign-ins last until the process stops.
        secret_key = secrets.token_urlsafe(32)
        click.echo(
            "Demo mode: using a temporary secret key (set FOSTERCRM_SECRET_KEY to keep "
            "sign-ins across restarts)."
        )
        if not settings.mfa_key:
            settings = settings.model_copy(update={"mfa_key": demo_mfa_key(settings)})
    click.echo(f"Database: {safe_url(settings.database.url)}")
    if warning := public_address_warning(settings, host, port):
        click.echo(f"Warning: {warning}", err=True)
    upgrade_database(settings, secret_key=secret_key)
    engine = make_engine(settings.database.url)
    if demo:
        with Session(engine) as session:
            empty = session.exec(select(Hub.id)).first() is None
        if empty:
            from crm.demo import generate

            click.echo(f"Loading demo data ({households} households)...")
            click.echo(
                generate(engine, settings, households=households, seed=1, progress=True).describe()
            )
        from crm.demo.organisation import DEMO_LOGINS, DEMO_PASSWORD

        click.echo(f"Demo sign-ins (password for all: {DEMO_PASSWORD}):")
        width = max(len(role) for _, role in DEMO_LOGINS)
        for email, role in DEMO_LOGINS:
            click.echo(f"  {role:<{width}}  {email}")

    # Background parts sign links in messages (check-ins, unsubscribe) with the same key.
    settings = settings.model_copy(update={"secret_key": secret_key})
    from bot.telegram import start_for_up as start_bot
    from crm.cli.background import start_scheduler

    # A service manager's SIGTERM stops us like Ctrl+C, so background parts shut down cleanly
    # (the scheduler gives up its lease at once instead of letting it expire).
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    # The scheduler and the outbox's dispatcher in a process of their own (crm.cli.background),
    # so that a backlog of messages never slows a page; stopped after the web, below.
    scheduler = start_scheduler(secret_key)
    click.echo(f"Scheduler and dispatcher: process {scheduler.pid}")
    stoppers = [scheduler.stop]
    server = None
    try:
        # The Telegram bot (when TELEGRAM_BOT_TOKEN is set) polls in a thread of this process.
        if (stop_bot := start_bot(settings, engine)) is not None:
            stoppers.append(stop_bot)
        app = create_app(settings, engine=engine, secret_key=secret_key)
        # The assistant's classifiers take a few seconds to build: before the first person
        # writes.
        from crm.web.chat import assistant

        with app.app_context():
            assistant().warm_up()
        # Everything imported so far lives for the whole process: freezing it keeps Python's
        # full garbage collections from walking it during requests (board p95 ~210 ms -> ~80 ms
        # at 100,000 households; see bench/web.py --gc-freeze).
        gc.freeze()
        # Bind before saying we are running, so the message is true when it appears.
        server = make_server(app, settings, host, port)
        click.echo(f"Fostercrm is running at http://{host}:{port}/ (Ctrl+C to stop)")
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.close()
        for stop in reversed(stoppers):
            stop()
        engine.dispose()
