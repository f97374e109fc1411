"""Every staff page runs a number of SQL statements that does not grow with the data.

Two demo databases (crm.demo) per backend, a small and a ten times larger one with more staff
in one area, and every staff page requested on each as the person who would use it; the
statements each request sends are counted with a `before_cursor_execute` listener on the
engine. A page whose count is higher on the larger database loads related rows one at a time
(an N+1: a template reading `household.display_name` for each row, say) and fails here.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import time, timedelta

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlmodel import Session, select

import crm.models as m
from crm import clock
from crm.db import make_engine
from crm.demo import generate
from crm.demo.organisation import DEMO_PASSWORD
from crm.services.actors import Actor
from crm.services.enquiries import ApplicantDetails, EnquiryInput, create_enquiry
from crm.services.staff import hash_password
from crm.testing.fixtures import (
    DEFAULT_NOW,
    drop_postgres_schema,
    make_test_settings,
    postgres_url,
)
from crm.web import create_app

SMALL, LARGE = 1000, 4000
EXTRA_STAFF = 12  # added to one area of the larger database, so team views grow in people too
USERS = {
    "manager": "manager@example.org",
    "officer": "officer.harrowdale@example.org",
    "supervisor": "supervisor@example.org",
    "assessor": "assessor@example.org",
    "admin": "admin@example.org",
}


@dataclass
class DemoSite:
    engine: sa.Engine
    clients: dict[str, FlaskClient]
    ids: dict[str, int]
    statements: list[str] = field(default_factory=list)

    def count(self, who: str, path: str) -> tuple[int, int]:
        client = self.clients[who]
        url = path.format(**self.ids)
        client.get(url, follow_redirects=True)  # warm caches that fill once per process
        self.statements.clear()
        response = client.get(url, follow_redirects=True)
        return response.status_code, len(self.statements)


def _add_staff(engine: sa.Engine) -> None:
    """More supervising social workers in Harrowdale, each with a weekly pattern."""
    with Session(engine) as session:
        area = session.exec(select(m.Area).where(m.Area.name == "Harrowdale")).one()
        password = hash_password("not used by these tests")
        for n in range(EXTRA_STAFF):
            staff = m.StaffUser(
                email=f"extra{n}@example.org",
                name=f"Extra Worker {n}",
                role=m.Role.SUPERVISING_SOCIAL_WORKER,
                password_hash=password,
            )
            session.add(staff)
            session.flush()
            session.add(m.StaffArea(staff_id=staff.id, area_id=area.id))
            for weekday in range(5):
                session.add(
                    m.AvailabilityPattern(
                        staff_id=staff.id,
                        weekday=weekday,
                        start_time=time(9, 0),
                        end_time=time(16, 30),
                        slot_minutes=90,
                    )
                )
        session.commit()


def _late_enquiries(engine: sa.Engine, settings) -> None:  # noqa: ANN001
    """Two Harrowdale enquiries nobody has answered for a week, on both databases alike, so the
    officer's late-enquiries panel is never empty (an empty list would save a statement on one
    database and not the other, whatever the page does per row)."""
    clock.set_now(DEFAULT_NOW - timedelta(days=7))
    with Session(engine) as session:
        district = session.exec(
            select(m.AreaPostcodeDistrict.district)
            .join(m.Area, m.Area.id == m.AreaPostcodeDistrict.area_id)
            .where(m.Area.name == "Harrowdale")
            .order_by(m.AreaPostcodeDistrict.district)
        ).first()
        officer = session.exec(
            select(m.StaffUser).where(m.StaffUser.email == USERS["officer"])
        ).one()
        for n in range(2):
            household = create_enquiry(
                session,
                Actor.system("test"),
                EnquiryInput(
                    applicant=ApplicantDetails(
                        "Late", f"Enquirer{n}", email=f"late{n}@example.com"
                    ),
                    enquiry_channel=m.EnquiryChannel.WEB_FORM,
                    postcode=f"{district} 1AA",
                    consents={m.ConsentScope.STORE_DETAILS: "You may keep my details."},
                ),
                settings,
            ).household
            # Routing picks the least busy officer; the panel lists the officer's own.
            household.assigned_officer_id = officer.id
            session.commit()
    clock.set_now(DEFAULT_NOW)


def _ids(engine: sa.Engine) -> dict[str, int]:
    """The busiest records: the household with the longest timeline, the carer with the most
    check-ins, an officer, an area, the surname and postcode to search for."""
    with engine.connect() as conn:

        def one(sql: str):  # noqa: ANN202
            return conn.execute(sa.text(sql)).scalar_one()

        return {
            "household": one(
                "SELECT a.household_id FROM activity a JOIN household h ON h.id = a.household_id "
                "WHERE h.anonymised_at IS NULL AND h.area_id IS NOT NULL "
                "GROUP BY a.household_id ORDER BY count(*) DESC, a.household_id LIMIT 1"
            ),
            "carer": one(
                "SELECT c.id FROM carer c LEFT JOIN check_in k ON k.carer_id = c.id "
                "GROUP BY c.id ORDER BY count(k.id) DESC, c.id LIMIT 1"
            ),
            "officer": one(f"SELECT id FROM staff_user WHERE email = '{USERS['officer']}'"),
            "area": one("SELECT id FROM area WHERE name = 'Harrowdale'"),
        }


def _site(url: str, households: int, extra_staff: bool) -> DemoSite:
    engine = make_engine(url)
    settings = make_test_settings(url)
    generate(engine, settings, households=households, seed=1)
    if extra_staff:
        _add_staff(engine)
    _late_enquiries(engine, settings)
    app = create_app(settings, engine=engine, secret_key="query-count-secret-0123456789abcdef")
    app.config["WTF_CSRF_ENABLED"] = False  # signing in from a test, not a browser
    clients = {}
    for who, email in USERS.items():
        client = app.test_client()
        signed = client.post("/sign-in", data={"email": email, "password": DEMO_PASSWORD})
        assert signed.status_code == 302, email
        clients[who] = client
    site = DemoSite(engine, clients, _ids(engine))
    sa.event.listen(engine, "before_cursor_execute", lambda *args: site.statements.append(args[2]))
    return site


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def sites(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DemoSite, DemoSite]]:
    clock.set_now(DEFAULT_NOW)
    made: list[tuple[DemoSite, str]] = []
    for households in (SMALL, LARGE):
        if request.param == "sqlite":
            path = tmp_path_factory.mktemp("counts") / f"demo-{households}.db"
            shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
            url, schema = f"sqlite:///{path}", ""
        else:
            schema = f"fostercrm_counts_{os.getpid()}_{households}"
            url = postgres_url(schema)
            from crm.migrate import upgrade

            upgrade(url)
        made.append((_site(url, households, extra_staff=households == LARGE), schema))
    clock.set_now(None)
    yield made[0][0], made[1][0]
    for site, schema in made:
        site.engine.dispose()
        if schema:
            drop_postgres_schema(schema)


def test_the_larger_database_is_larger(sites):
    small, large = sites
    tables = ("household", "applicant", "activity", "task", "appointment", "carer", "check_in")
    for site_pair in ((small, large),):
        for table in tables:
            counts = []
            for site in site_pair:
                with site.engine.connect() as conn:
                    counts.append(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar())
            assert 0 < counts[0] < counts[1], table
    with large.engine.connect() as conn:
        staff = conn.execute(sa.text("SELECT count(*) FROM staff_user")).scalar()
    with small.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM staff_user")).scalar() < staff


PAGES = [
    ("manager", "/home"),
    ("officer", "/home"),
    ("supervisor", "/home"),
    ("assessor", "/home"),
    ("manager", "/pipeline"),
    ("manager", "/pipeline?area={area}"),
    ("officer", "/pipeline"),
    ("manager", "/households"),
    ("manager", "/households?page=3"),
    ("manager", "/households?q=sm"),
    ("manager", "/households?q=LE1"),
    ("manager", "/households?q=whitfeld"),
    ("officer", "/households"),
    ("manager", "/households/{household}"),
    ("manager", "/visits?staff=team"),
    ("manager", "/visits?staff={officer}"),
    ("officer", "/visits"),
    ("supervisor", "/visits?staff=team"),
    ("manager", "/carers"),
    ("manager", "/carers?status=all"),
    ("supervisor", "/carers"),
    ("manager", "/carers/{carer}"),
    ("manager", "/caseloads"),
    ("manager", "/caseloads/{officer}"),
    ("supervisor", "/caseloads"),
    ("admin", "/caseloads"),
    ("manager", "/reports"),
    ("admin", "/admin"),
    ("admin", "/admin/users"),
    ("admin", "/admin/areas"),
    ("admin", "/admin/reasons"),
    ("admin", "/admin/sources"),
    ("admin", "/admin/campaigns"),
    ("admin", "/admin/messages"),
    ("admin", "/audit"),
    ("admin", "/admin/assistant"),
    ("admin", "/visits?staff=team"),
]


@pytest.mark.parametrize(("who", "path"), PAGES, ids=[f"{w}:{p}" for w, p in PAGES])
def test_statements_do_not_grow_with_the_data(sites, who: str, path: str):
    small, large = sites
    status_small, few = small.count(who, path)
    status_large, many = large.count(who, path)
    assert status_small == status_large == 200
    assert many <= few, (
        f"{path} as {who}: {few} statements on the small database, {many} on the large"
    )
