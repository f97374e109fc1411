"""The one pytest plugin every test suite of Fostercrm uses.

Databases are real: each test gets a SQLite file migrated by Alembic and, where the test asks
for both backends, the same against PostgreSQL (FOSTERCRM_TEST_POSTGRES_URL). A missing service
skips with a reason on a developer's machine, and fails the run in CI (CI=true).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher, profiles
from sqlmodel import Session, SQLModel

import crm.models as m
from crm import clock as clock_module
from crm.db import make_engine, normalise_url
from crm.migrate import upgrade
from crm.services.actors import Actor
from crm.services.reference import ensure_reference_data
from crm.services.staff import hash_password, use_password_hasher
from crm.settings import Settings, load_settings

SERVICE_SKIP_PREFIX = "[needs-service]"
POSTGRES_ENV = "FOSTERCRM_TEST_POSTGRES_URL"
REDIS_ENV = "FOSTERCRM_TEST_REDIS_URL"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# A Tuesday in winter (GMT), away from bank holidays: the default "now" of tests.
DEFAULT_NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


def need_service(reason: str) -> None:
    """Skip for want of a real service; in CI that is a failure, never a skip."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must run this test)", pytrace=False)
    pytest.skip(f"{SERVICE_SKIP_PREFIX} {reason}")


def postgres_url(schema: str) -> str:
    """The test PostgreSQL URL with its own schema, so suites do not trip over each other."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        need_service(f"PostgreSQL not configured: set {POSTGRES_ENV}=postgresql://...")
    base = normalise_url(base)
    engine = sa.create_engine(base)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        need_service(f"PostgreSQL at {POSTGRES_ENV} not reachable: {exc.orig}")
    finally:
        engine.dispose()
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A real Redis (FOSTERCRM_TEST_REDIS_URL), for the rate limits that workers share."""
    url = os.environ.get(REDIS_ENV)
    if not url:
        need_service(f"Redis not configured: set {REDIS_ENV}=redis://127.0.0.1:6379/0")
    try:
        import redis
    except ImportError:
        need_service("the redis package is not installed (pip install -e '.[test]')")
    try:
        redis.Redis.from_url(url, socket_timeout=5).ping()
    except redis.RedisError as exc:
        need_service(f"Redis at {REDIS_ENV} not reachable: {exc}")
    return url


def make_test_settings(
    database_url: str = "sqlite://", documents_folder: Path | None = None
) -> Settings:
    """Settings from the real defaults file, untouched by the developer's environment (but
    for the second factor, below, and the documents folder: never the project's own)."""
    # The second factor is asked of no role here, so that every page's tests can sign in with
    # a password alone; tests/crm/web/test_second_factor.py signs in with the real defaults.
    folder = documents_folder or Path(tempfile.gettempdir()) / "fostercrm-test-documents"
    return load_settings(
        environ={},
        database={"url": database_url},
        sign_in={"mfa_required_roles": []},
        documents={"folder": str(folder)},
    )


# -- pytest hooks -------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    # argon2's cheapest parameters: every organisation hashes a password and every sign-in
    # checks one, and the real parameters cost a second each on a busy 2-core machine. Only
    # here, in the test plugin: production code has no switch for this.
    use_password_hasher(PasswordHasher.from_parameters(profiles.CHEAPEST))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Under pytest-xdist the workers' reports reach the controller's reporter, so this check
    # sees every worker's skips there (in a worker it sees only its own, which is harmless).
    if not IN_CI:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    missing = [r for r in skipped if SERVICE_SKIP_PREFIX in str(r.longrepr)]
    if missing:
        # On a line of its own, after the progress dots (xdist's too).
        reporter.write("\n")
        reporter.write_line(
            f"CI: {len(missing)} test(s) needing PostgreSQL, Redis or Chromium were skipped",
            red=True,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# -- databases ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


def drop_postgres_schema(schema: str) -> None:
    engine = sa.create_engine(normalise_url(os.environ[POSTGRES_ENV]))
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_session_url() -> Iterator[str]:
    # One schema per test run, so runs side by side on one server never meet.
    schema = f"fostercrm_test_{os.getpid()}"
    url = postgres_url(schema)
    upgrade(url)
    yield url
    drop_postgres_schema(schema)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database with nothing in it, for tests that run the migrations themselves:
    a new SQLite file, or a PostgreSQL schema of this worker's that is dropped after."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    schema = f"fostercrm_migrations_{os.getpid()}"
    yield postgres_url(schema)
    drop_postgres_schema(schema)


def _emptying_statements() -> str:
    """Empty every table and put the ids back to 1, as one round trip. A DELETE of a few rows
    is much cheaper than TRUNCATE, which makes new files for each of ~80 tables (about a
    second a test, most of a PostgreSQL test's time)."""
    tables = SQLModel.metadata.sorted_tables
    deletes = [f'DELETE FROM "{t.name}"' for t in reversed(tables)]
    serial = [
        t.name
        for t in tables
        if "id" in t.c and t.c.id.primary_key and isinstance(t.c.id.type, sa.Integer)
    ]
    names = ", ".join(f"'\"{name}\"'" for name in serial)
    reset = (
        "SELECT setval(seq, 1, false) FROM (SELECT pg_get_serial_sequence(name, 'id') AS seq "
        f"FROM unnest(ARRAY[{names}]) AS name) AS serials WHERE seq IS NOT NULL"
    )
    return "; ".join([*deletes, reset])


def _truncate_all(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(_emptying_statements())


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def backend(request: pytest.FixtureRequest) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    return request.param


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        path = tmp_path / "fostercrm.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_session_url")
    yield url
    engine = make_engine(url)
    _truncate_all(engine)
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """For tests that only need SQLite."""
    path = tmp_path / "fostercrm.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_test_settings(database_url, tmp_path / "documents")


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: sa.Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


# -- a real browser -----------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps calling out and is refused by the
# closed network; as root it needs --no-sandbox.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def chromium():
    """Debian's headless Chromium driven by Playwright (browsers are never downloaded).

    Module-scoped on purpose: Playwright's sync API keeps an asyncio loop running in this
    thread while it is open, which would break later tests that call asyncio.run()."""
    if not os.path.exists(CHROMIUM):
        need_service(f"Chromium not installed at {CHROMIUM} (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need_service("Playwright not installed (pip install -e '.[test]')")
    manager = sync_playwright().start()
    browser = manager.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()
    manager.stop()


# -- time ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[type]:
    """Every test starts at DEFAULT_NOW; move it with clock.set_now / clock.advance."""
    clock_module.set_now(DEFAULT_NOW)
    yield clock_module
    clock_module.set_now(None)


# -- an organisation to work in -----------------------------------------------------------


@dataclass
class Organisation:
    hub: m.Hub
    north: m.Area
    south: m.Area
    admin: m.StaffUser
    manager: m.StaffUser
    officer_north: m.StaffUser
    officer_south: m.StaffUser
    assessor_north: m.StaffUser
    supervisor_north: m.StaffUser

    def actor(self, session: Session, user: m.StaffUser) -> Actor:
        return Actor.for_staff(session, user)


TEST_PASSWORD = "correct horse battery staple"


def make_organisation(session: Session) -> Organisation:
    """A hub with two areas, staff in each role, and weekday availability."""
    ensure_reference_data(session)
    hub = m.Hub(name="Test Hub")
    session.add(hub)
    session.flush()
    north = m.Area(hub_id=hub.id, name="Northshire")
    south = m.Area(hub_id=hub.id, name="Southshire")
    session.add_all([north, south])
    session.flush()
    for district in ("LE1", "LE2", "LE3"):
        session.add(m.AreaPostcodeDistrict(district=district, area_id=north.id))
    for district in ("NG1", "NG2"):
        session.add(m.AreaPostcodeDistrict(district=district, area_id=south.id))
    password_hash = hash_password(TEST_PASSWORD)
    # Few round trips (every test that asks for an organisation pays them): the staff are
    # inserted together, in this order (so their ids are those one-by-one inserts gave).
    people = {
        "admin": ("admin@test.example", m.Role.ADMIN, []),
        "manager": ("manager@test.example", m.Role.MANAGER, [north, south]),
        "officer_north": ("officer.north@test.example", m.Role.RECRUITMENT_OFFICER, [north]),
        "officer_south": ("officer.south@test.example", m.Role.RECRUITMENT_OFFICER, [south]),
        "assessor_north": (
            "assessor.north@test.example",
            m.Role.ASSESSING_SOCIAL_WORKER,
            [north],
        ),
        "supervisor_north": (
            "supervisor.north@test.example",
            m.Role.SUPERVISING_SOCIAL_WORKER,
            [north],
        ),
    }
    staff = {
        key: m.StaffUser(
            email=email, name=email.split("@")[0].title(), role=role, password_hash=password_hash
        )
        for key, (email, role, _) in people.items()
    }
    session.add_all(staff.values())
    session.flush()
    for key, (_, _, areas) in people.items():
        for area in areas:
            session.add(m.StaffArea(staff_id=staff[key].id, area_id=area.id))
    org = Organisation(hub=hub, north=north, south=south, **staff)
    for member in (org.officer_north, org.officer_south, org.assessor_north):
        for weekday in range(5):
            session.add(
                m.AvailabilityPattern(
                    staff_id=member.id,
                    weekday=weekday,
                    start_time=time(9, 30),
                    end_time=time(15, 30),
                    slot_minutes=90,
                )
            )
    session.add(m.Campaign(name="Spring radio 2026", source_key="radio_tv", cost_pence=500_000))
    session.commit()
    return org


def new_household(
    session: Session,
    settings: Settings,
    *,
    first_name: str = "Kim",
    last_name: str = "Lee",
    email: str | None = "kim.lee@example.com",
    phone: str | None = None,
    postcode: str | None = "LE2 1AA",
    channel: m.EnquiryChannel = m.EnquiryChannel.STAFF,
) -> m.Household:
    """A household at `enquiry`, created the one real way (create_enquiry)."""
    from crm.services.enquiries import ApplicantDetails, EnquiryInput, create_enquiry

    data = EnquiryInput(
        applicant=ApplicantDetails(first_name, last_name, email=email, phone=phone),
        enquiry_channel=channel,
        postcode=postcode,
        consents={m.ConsentScope.STORE_DETAILS: "You may keep my details to help me foster."},
    )
    return create_enquiry(session, Actor.system("test"), data, settings).household


@pytest.fixture
def org(session: Session) -> Organisation:
    return make_organisation(session)


@pytest.fixture
def system_actor() -> Actor:
    return Actor.system("test")
