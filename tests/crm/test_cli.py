"""The `fostercrm` command, run as a user would (in-process with CliRunner, or as a process)."""

import os
import socket
import subprocess
import sys
import urllib.request

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

import crm.models as m
from crm.cli import main
from crm.db import make_engine
from crm.services.staff import verify_password
from crm.testing.fixtures import POSTGRES_ENV, drop_postgres_schema, postgres_url


@pytest.fixture
def cli_database(backend, tmp_path):
    """An EMPTY database (the CLI migrates it), on each backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'cli.db'}"
        return
    schema = f"fostercrm_cli_{os.getpid()}"
    yield postgres_url(schema)
    drop_postgres_schema(schema)


def run(url: str, *args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), env={"FOSTERCRM_DATABASE_URL": url}, input=input)


def test_db_upgrade_creates_the_schema_and_lists(cli_database):
    result = run(cli_database, "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "is at revision" in result.output
    engine = make_engine(cli_database)
    with Session(engine) as session:
        assert session.exec(select(m.Source).where(m.Source.key == "refer_a_friend")).one()
        assert session.exec(select(m.Reason).where(m.Reason.code == "retirement")).one()
    engine.dispose()
    # Running it again is harmless.
    assert run(cli_database, "db", "upgrade").exit_code == 0


def test_user_create_then_bad_input_is_one_line_and_changes_nothing(cli_database):
    assert run(cli_database, "db", "upgrade").exit_code == 0
    ok = run(
        cli_database,
        "user",
        "create",
        "--email",
        "Manager@Example.org",
        "--name",
        "Pat Manager",
        "--role",
        "manager",
        "--password",
        "a long enough password",
    )
    assert ok.exit_code == 0, ok.output
    assert "Created manager manager@example.org" in ok.output

    bad = [
        (["--role", "wizard"], "Unknown role 'wizard'"),
        (["--password", "short"], "at least 12 characters"),
        (["--email", "not-an-email"], "Enter an email address"),
        (["--area", "Atlantis"], "Unknown area 'Atlantis'"),
        (["--email", "manager@example.org"], "already exists"),
    ]
    base = {
        "--email": "new@example.org",
        "--name": "New Person",
        "--role": "manager",
        "--password": "a long enough password",
    }
    for override, message in bad:
        options = dict(base)
        options.update(dict(zip(override[::2], override[1::2], strict=True)))
        args = [item for pair in options.items() for item in pair]
        result = run(cli_database, "user", "create", *args)
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.output
    engine = make_engine(cli_database)
    with Session(engine) as session:
        users = session.exec(select(m.StaffUser)).all()
        assert [u.email for u in users] == ["manager@example.org"]
        assert verify_password(users[0].password_hash, "a long enough password")
    engine.dispose()


def test_a_bad_setting_stops_the_cli_with_one_line():
    result = CliRunner().invoke(
        main, ["db", "upgrade"], env={"FOSTERCRM_SERVICE_TIMEZONE": "Nowhere/Special"}
    )
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: setting service.timezone (from FOSTERCRM_SERVICE_TIMEZONE): "
        "unknown timezone 'Nowhere/Special'"
    )


def test_help_loads_none_of_the_heavy_parts():
    """`fostercrm --help` stays quick: pandas, scikit-learn, matplotlib and the web app are
    imported inside the commands that use them, never by the command group itself."""
    heavy = ("pandas", "sklearn", "matplotlib", "crm.web", "funnel", "bot.assistant")
    code = (
        "import sys\n"
        "from crm.cli import main\n"
        "try:\n"
        "    main(['--help'], prog_name='fostercrm')\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('loaded:', sorted(m for m in {heavy!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "Commands:" in result.stdout
    assert result.stdout.splitlines()[-1] == "loaded: []"


def test_up_needs_a_secret_key_outside_demo_mode(tmp_path):
    result = run(f"sqlite:///{tmp_path / 'x.db'}", "up")
    assert result.exit_code == 1
    assert "FOSTERCRM_SECRET_KEY: not set" in result.output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_up_demo_serves_the_product_from_an_empty_database(tmp_path):
    """The README's first command, as a real process: migrate, load demo data, serve."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOSTERCRM_")}
    env.pop(POSTGRES_ENV, None)
    env["FOSTERCRM_DATABASE_URL"] = f"sqlite:///{tmp_path / 'demo.db'}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crm.cli",
            "up",
            "--demo",
            "--port",
            str(port),
            "--households",
            "60",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = []
        for line in process.stdout:  # blocks until the process says it is serving
            output.append(line)
            if "is running at" in line:
                break
        assert any("is running at" in line for line in output), "".join(output)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=30) as response:
            assert response.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as response:
            assert response.status == 200
    finally:
        process.terminate()
        process.wait(timeout=30)
    text = "".join(output)
    assert "Demo sign-ins" in text
    # The one command still runs everything: the scheduler in a process of its own.
    assert "Scheduler and dispatcher: process" in text
    engine = make_engine(env["FOSTERCRM_DATABASE_URL"])
    with Session(engine) as session:
        assert len(session.exec(select(m.Household.id)).all()) == 60
    engine.dispose()


def test_the_demo_keeps_its_mfa_key_beside_the_database(tmp_path):
    from cryptography.fernet import Fernet

    from crm.cli.serve import demo_mfa_key
    from crm.settings import load_settings

    settings = load_settings(environ={"FOSTERCRM_DATABASE_URL": f"sqlite:///{tmp_path}/d.db"})
    key = demo_mfa_key(settings)
    Fernet(key)  # a real key
    path = tmp_path / "d.db.mfa-key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert demo_mfa_key(settings) == key, "the same after a restart"
