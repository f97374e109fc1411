"""The `fostercrm` command: a Click group that knows the Flask app.

Bad input or a bad setting ends a command with one readable line and a non-zero exit.
Later parts of the product add their commands through `COMMAND_MODULES` (each exports
`COMMANDS`) and their background parts of `fostercrm up` through `UP_COMPONENTS`.
"""

from __future__ import annotations

import functools
import gc
import importlib
import secrets
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
import sqlalchemy as sa
from flask.cli import ScriptInfo, routes_command, shell_command
from sqlmodel import Session, select

from crm.settings import Settings, SettingsError, load_settings

# Modules exporting COMMANDS (a list of Click commands), added when present.
COMMAND_MODULES = ["funnel.cli", "bot.cli", "crm.scheduler.cli", "crm.web.cli"]
# Functions `start(settings, engine) -> stop callable | None` run beside the web by `up`.
UP_COMPONENTS = ["crm.scheduler.runner:start_for_up", "bot.telegram:start_for_up"]
DEMO_HOUSEHOLDS = 2000


def friendly_errors(func: Callable) -> Callable:
    """Turn our errors into one line on stderr and exit status 1."""
    from crm.services.errors import ServiceError

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (SettingsError, ServiceError) as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def cli_settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def safe_url(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)


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


def _create_app_for_cli():
    from crm.web import create_app

    # Commands such as `routes` and `shell` never sign a cookie, so a throwaway key will do.
    settings = cli_settings()
    return create_app(settings, secret_key=settings.secret_key or secrets.token_urlsafe(32))


@click.group(context_settings={"obj": ScriptInfo(create_app=_create_app_for_cli)})
def main() -> None:
    """Fostercrm: recruitment and retention of foster carers."""


main.add_command(routes_command)
main.add_command(shell_command)


# -- database -----------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database commands."""


@contextmanager
def cli_engine(settings: Settings) -> Iterator[sa.Engine]:
    from crm.db import make_engine

    engine = make_engine(settings.database.url)
    try:
        yield engine
    finally:
        engine.dispose()


def upgrade_database(settings: Settings) -> str:
    from crm.migrate import upgrade
    from crm.services.reference import ensure_reference_data

    upgrade(settings.database.url)
    with cli_engine(settings) as engine, Session(engine) as session:
        ensure_reference_data(session)
        versions = session.exec(sa.text("SELECT version_num FROM alembic_version")).all()
        return ", ".join(sorted(row[0] for row in versions))


@db.command("upgrade")
@friendly_errors
def db_upgrade() -> None:
    """Create or migrate the database to the newest schema."""
    settings = cli_settings()
    try:
        version = upgrade_database(settings)
    except sa.exc.OperationalError as exc:
        raise click.ClickException(
            f"database {safe_url(settings.database.url)}: cannot connect ({exc.orig})"
        ) from None
    click.echo(f"Database {safe_url(settings.database.url)} is at revision {version}.")


# -- demo data ----------------------------------------------------------------------------


@main.command("demo-data")
@click.option(
    "--households",
    type=click.IntRange(1, 2_000_000),
    default=DEMO_HOUSEHOLDS,
    show_default=True,
    help="How many households to create.",
)
@click.option(
    "--seed", type=int, default=1, show_default=True, help="Same seed and date, same data."
)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="The day the demo histories run up to (default: today).",
)
@friendly_errors
def demo_data(households: int, seed: int, as_of) -> None:  # noqa: ANN001
    """Fill the database with realistic, made-up demo data (never for live use)."""
    from crm.services.demo_data import generate_demo_data

    settings = cli_settings()
    upgrade_database(settings)
    with cli_engine(settings) as engine:
        summary = generate_demo_data(
            engine,
            settings,
            households=households,
            seed=seed,
            as_of=as_of.date() if as_of else None,
            progress=True,
        )
    click.echo(summary.describe())


# -- users --------------------------------------------------------------------------------


@main.group()
def user() -> None:
    """Staff accounts."""


@user.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option(
    "--role",
    required=True,
    help="admin, manager, recruitment_officer, "
    "assessing_social_worker or supervising_social_worker",
)
@click.option("--area", "areas", multiple=True, help="An area they work in (repeat for more).")
@click.password_option(help="At least 12 characters; asked for when not given.")
@friendly_errors
def user_create(email: str, name: str, role: str, areas: tuple[str, ...], password: str) -> None:
    """Create a member of staff who can sign in."""
    from crm.services.actors import Actor
    from crm.services.staff import create_staff_user

    with cli_engine(cli_settings()) as engine, Session(engine) as session:
        staff = create_staff_user(
            session,
            Actor.system("cli"),
            email=email,
            name=name,
            role=role,
            password=password,
            area_names=list(areas),
        )
        click.echo(f"Created {staff.role} {staff.email} (id {staff.id}).")


# -- everything in one process ------------------------------------------------------------


def _load(path: str):
    """Import `module:attribute`, or None while that part of the product is not there yet."""
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            return None
        raise
    return getattr(module, attribute) if attribute else module


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


@main.command()
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
    """Run Fostercrm: database, web app and background parts in one process."""
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
    click.echo(f"Database: {safe_url(settings.database.url)}")
    if warning := public_address_warning(settings, host, port):
        click.echo(f"Warning: {warning}", err=True)
    upgrade_database(settings)
    engine = make_engine(settings.database.url)
    if demo:
        with Session(engine) as session:
            empty = session.exec(select(Hub.id)).first() is None
        if empty:
            from crm.services.demo_data import generate_demo_data

            click.echo(f"Loading demo data ({households} households)...")
            click.echo(
                generate_demo_data(
                    engine, settings, households=households, seed=1, progress=True
                ).describe()
            )
        from crm.services.demo_data import DEMO_LOGINS, DEMO_PASSWORD

        click.echo(f"Demo sign-ins (password for all: {DEMO_PASSWORD}):")
        width = max(len(role) for _, role in DEMO_LOGINS)
        for email, role in DEMO_LOGINS:
            click.echo(f"  {role:<{width}}  {email}")

    # Background parts sign links in messages (check-ins, unsubscribe) with the same key.
    settings = settings.model_copy(update={"secret_key": secret_key})
    stoppers = []
    for path in UP_COMPONENTS:
        start = _load(path)
        if start is not None:
            stop = start(settings, engine)
            if stop is not None:
                stoppers.append(stop)
    app = create_app(settings, engine=engine, secret_key=secret_key)
    # The assistant's classifiers take a few seconds to build: before the first person writes.
    from bot.webchat import assistant

    with app.app_context():
        assistant().warm_up()
    # A service manager's SIGTERM stops us like Ctrl+C, so background parts shut down cleanly
    # (the scheduler gives up its lease at once instead of letting it expire).
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    # Everything imported so far lives for the whole process: freezing it keeps Python's full
    # garbage collections from walking it during requests (board p95 ~210 ms -> ~80 ms at
    # 100,000 households; see bench/web.py --gc-freeze).
    gc.freeze()
    # Bind before saying we are running, so the message is true when it appears.
    server = make_server(app, settings, host, port)
    click.echo(f"Fostercrm is running at http://{host}:{port}/ (Ctrl+C to stop)")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        for stop in reversed(stoppers):
            stop()
        engine.dispose()


for _module_name in COMMAND_MODULES:
    _module = _load(_module_name)
    for _command in getattr(_module, "COMMANDS", []):
        main.add_command(_command)


def run() -> None:
    """Console-script entry point."""
    main(prog_name="fostercrm")


if __name__ == "__main__":
    sys.exit(run())
