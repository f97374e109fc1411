"""The household list, search and the carers list read indexes, on SQLite and PostgreSQL, and
their keyset page links give the same rows as counting pages.

A demo database (crm.demo) of HOUSEHOLDS households, analysed the way
`demo-data` leaves it (crm.db.refresh_statistics), is big enough that the planners choose
between a sequential scan and an index on cost. Every statement the services send is caught
and asked for its plan: PostgreSQL's EXPLAIN (FORMAT JSON) must show no sequential scan of
`household` (a count over the whole list reads a narrow index alone: an index-only scan),
SQLite's EXPLAIN QUERY PLAN no `SCAN household` that reads the table without an
index.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

import crm.models as m
from crm import clock
from crm.db import make_engine, normalise_url, refresh_statistics
from crm.demo import generate
from crm.demo.organisation import DEMO_PASSWORD
from crm.migrate import upgrade
from crm.services import carers, households
from crm.services.actors import Actor
from crm.testing.fixtures import (
    DEFAULT_NOW,
    POSTGRES_ENV,
    drop_postgres_schema,
    make_test_settings,
    postgres_url,
)
from crm.web import create_app

# PostgreSQL weighs pages: below some ten thousand households a sequential scan of the whole
# table is honestly its cheapest plan for a supervisor's carers, so it gets a bigger database.
HOUSEHOLDS = {"sqlite": 5000, "postgresql": 20000}


@dataclass
class Demo:
    engine: sa.Engine
    dialect: str
    statements: list[tuple[str, object]] = field(default_factory=list)

    def actor(self, session: Session, email: str) -> Actor:
        user = session.exec(select(m.StaffUser).where(m.StaffUser.email == email)).one()
        return Actor.for_staff(session, user)


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def demo(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Demo]:
    clock.set_now(DEFAULT_NOW)
    database = f"fostercrm_plans_{os.getpid()}"
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("plans") / "demo.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = _own_postgres_database(database)
        upgrade(url)
    engine = make_engine(url)
    generate(engine, make_test_settings(url), households=HOUSEHOLDS[request.param], seed=3)
    if request.param == "sqlite":
        # As `up --demo` leaves it: the demo's own statistics count every household.
        with engine.connect() as connection:
            counted = connection.exec_driver_sql(
                "SELECT stat FROM sqlite_stat1 WHERE idx = 'ix_household_area_id'"
            ).scalar_one()
        assert int(counted.split()[0]) == HOUSEHOLDS["sqlite"]
    assert refresh_statistics(engine)
    clock.set_now(None)
    site = Demo(engine, request.param)
    sa.event.listen(
        engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, params, _ctx, _many: site.statements.append(
            (statement, params)
        ),
    )
    yield site
    engine.dispose()
    if request.param == "postgresql":
        _drop_postgres_database(database)


def _admin() -> sa.Engine:
    postgres_url("fostercrm_plans_probe")  # skips (or fails in CI) when there is no server
    drop_postgres_schema("fostercrm_plans_probe")
    return sa.create_engine(normalise_url(os.environ[POSTGRES_ENV]), isolation_level="AUTOCOMMIT")


def _own_postgres_database(name: str) -> str:
    """A database of its own rather than a schema: VACUUM marks pages all-visible (which
    index-only scans need) only once no transaction in the same database could still see
    them as new, and other test runs on the server keep transactions open in theirs."""
    admin = _admin()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    url = sa.make_url(normalise_url(os.environ[POSTGRES_ENV])).set(database=name)
    return url.render_as_string(hide_password=False)


def _drop_postgres_database(name: str) -> None:
    admin = _admin()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _postgres_scans(plan: dict) -> Iterator[tuple[str, str | None, str | None]]:
    yield plan["Node Type"], plan.get("Relation Name"), plan.get("Index Name")
    for child in plan.get("Plans", []):
        yield from _postgres_scans(child)


def household_table_scans(session: Session, demo: Demo, statements) -> list[str]:
    """What each statement reads `household` by, where that is the whole table."""
    problems = []
    connection = session.connection()
    for statement, params in statements:
        if not re.search(r"\bhousehold\b", statement):
            continue
        if demo.dialect == "postgresql":
            plan = connection.exec_driver_sql(
                "EXPLAIN (FORMAT JSON) " + statement, params
            ).scalar_one()[0]["Plan"]
            nodes = list(_postgres_scans(plan))
            assert nodes
            problems += [
                f"Seq Scan of household in: {statement[:200]}"
                for kind, relation, _ in nodes
                if kind == "Seq Scan" and relation == "household"
            ]
        else:
            details = [
                row[-1]
                for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
            ]
            assert details
            problems += [
                f"{detail} in: {statement[:200]}"
                for detail in details
                if re.match(r"SCAN household(?! USING (COVERING )?INDEX)", detail)
            ]
    return problems


MANAGER, OFFICER, SUPERVISOR = (
    "manager@example.org",
    "officer.harrowdale@example.org",
    "supervisor@example.org",
)


def _sample(session: Session) -> dict[str, str]:
    applicant = session.exec(
        select(m.Applicant).where(m.Applicant.email.is_not(None)).order_by(m.Applicant.id)
    ).first()
    household = session.get(m.Household, applicant.household_id)
    return {
        "surname": applicant.last_name,
        "typo": applicant.last_name[:-2] + applicant.last_name[-1],  # a letter left out
        "email": applicant.email,
        "postcode": household.postcode.lower().replace(" ", ""),
        "reference": household.reference,
    }


def test_lists_and_search_use_indexes(demo):
    with Session(demo.engine) as session:
        values = _sample(session)
        queries = [
            households.HouseholdQuery(),
            households.HouseholdQuery(sort="enquired_asc", page=3),
            households.HouseholdQuery(sort="reference"),
            households.HouseholdQuery(q=values["surname"]),
            households.HouseholdQuery(q=values["typo"]),
            households.HouseholdQuery(q=values["surname"][:2]),
            households.HouseholdQuery(q="Amelia " + values["typo"]),
            households.HouseholdQuery(q=values["email"]),
            households.HouseholdQuery(q=values["postcode"]),
            households.HouseholdQuery(q=values["reference"]),
        ]
        for email in (MANAGER, OFFICER):
            actor = demo.actor(session, email)
            for query in queries:
                demo.statements.clear()
                households.search_households(session, actor, query)
                caught = list(demo.statements)
                assert household_table_scans(session, demo, caught) == [], (email, query)
        for email in (MANAGER, SUPERVISOR):
            actor = demo.actor(session, email)
            for query in (
                carers.CarerQuery(),
                carers.CarerQuery(status="all", page=2),
                carers.CarerQuery(q=values["typo"]),
            ):
                demo.statements.clear()
                carers.list_carers(session, actor, query)
                caught = list(demo.statements)
                assert household_table_scans(session, demo, caught) == [], (email, query)


def test_a_typo_is_found_on_a_big_database(demo):
    with Session(demo.engine) as session:
        values = _sample(session)
        actor = demo.actor(session, MANAGER)
        page = households.search_households(
            session, actor, households.HouseholdQuery(q=values["typo"], per_page=200)
        )
        names = [a.last_name for h in page.rows for a in h.applicants]
        assert values["surname"] in names
        # Best match first: the exact spelling of what was typed (if anyone has it) or the
        # nearest name before any further one.
        scores = [
            max(
                households.search.similarity(a.last_name.lower(), values["typo"].lower())
                for a in h.applicants
            )
            for h in page.rows
        ]
        assert scores == sorted(scores, reverse=True)


def test_similar_names_on_sqlite_are_read_from_the_name_indexes(demo):
    if demo.dialect != "sqlite":
        pytest.skip("SQLite's bound: the distinct names from the lower(...) indexes")
    with Session(demo.engine) as session:
        demo.statements.clear()
        households.search.similar_names(session, m.Applicant.last_name, "whitfeld")
        ((statement, params),) = demo.statements
        details = [
            row[-1]
            for row in session.connection().exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statement, params
            )
        ]
        assert any("USING INDEX ix_applicant_last_name_lower" in d for d in details), details


@pytest.mark.parametrize("sort", sorted(households.SORTS))
def test_household_pages_by_key_are_the_pages_by_number(demo, sort):
    with Session(demo.engine) as session:
        actor = demo.actor(session, OFFICER)

        def page(**kwargs) -> households.HouseholdPage:
            return households.search_households(
                session, actor, households.HouseholdQuery(sort=sort, **kwargs)
            )

        by_number = [[h.id for h in page(page=n).rows] for n in (1, 2, 3)]
        assert all(len(ids) == households.PAGE_SIZE for ids in by_number)
        first = page()
        assert first.previous_key is None
        second = page(page=2, after=first.next_key)
        third = page(page=3, after=second.next_key)
        by_key = [[h.id for h in p.rows] for p in (first, second, third)]
        assert by_key == by_number
        assert [h.id for h in page(page=2, before=third.previous_key).rows] == by_number[1]
        # A key that is not one (typed or cut short) falls back to counting, never fails.
        assert [h.id for h in page(page=2, after="not-a-key").rows] == by_number[1]


def test_carer_pages_by_key_are_the_pages_by_number(demo):
    with Session(demo.engine) as session:
        actor = demo.actor(session, MANAGER)

        def page(**kwargs) -> carers.CarerPage:
            return carers.list_carers(session, actor, carers.CarerQuery(status="all", **kwargs))

        by_number = [[r.carer.id for r in page(page=n).rows] for n in (1, 2, 3)]
        assert all(len(ids) == carers.PAGE_SIZE for ids in by_number)
        first = page()
        second = page(page=2, after=first.next_key)
        third = page(page=3, after=second.next_key)
        assert [[r.carer.id for r in p.rows] for p in (first, second, third)] == by_number
        assert [r.carer.id for r in page(page=2, before=third.previous_key).rows] == by_number[1]
        # The at-risk carers come first, and the same totals on every page.
        assert first.totals == third.totals and first.total == third.total
        # The totals come with the page's rows; past the end they are counted alone, and a
        # page number past the end shows the last page.
        last = page(page=10_000)
        assert last.page == last.pages > 3 and 0 < len(last.rows) <= carers.PAGE_SIZE
        assert (last.total, last.totals) == (first.total, first.totals)
        assert [r.carer.id for r in last.rows] == [r.carer.id for r in page(page=last.pages).rows]
        beyond = page(page=last.pages + 1, after=carers.carer_key(last.rows[-1].carer))
        assert beyond.rows == [] and (beyond.total, beyond.totals) == (first.total, first.totals)


def test_the_page_links_carry_the_key(demo):
    app = create_app(
        make_test_settings(str(demo.engine.url)),
        engine=demo.engine,
        secret_key="plans-secret-key-0123456789abcdef",
    )
    app.config["WTF_CSRF_ENABLED"] = False  # signing in from a test, not a browser
    client = app.test_client()
    signed = client.post("/sign-in", data={"email": OFFICER, "password": DEMO_PASSWORD})
    assert signed.status_code == 302
    link = re.compile(r'<a class="govuk-link govuk-pagination__link" href="([^"]+)" rel="next">')
    rows = re.compile(r'href="/households/(\d+)"')

    first = client.get("/households?sort=enquired_asc").get_data(as_text=True)
    (next_href,) = link.findall(first)
    assert "after=" in next_href and "page=2" in next_href
    # The link's words say where it goes, for a screen reader too.
    assert '<span class="govuk-visually-hidden"> page</span>' in first
    by_key = client.get(next_href.replace("&amp;", "&")).get_data(as_text=True)
    by_number = client.get("/households?sort=enquired_asc&page=2").get_data(as_text=True)
    assert rows.findall(by_key) == rows.findall(by_number) != []
    assert "Page 2 of" in by_key


def test_statistics_count_every_row_so_the_carers_list_starts_from_carers(demo):
    """Sampled statistics (SQLite's `PRAGMA analysis_limit`) guessed about a thousand
    households per area at any size, so SQLite walked every visible household to find the few
    carers: 43 ms for the carers page at 100,000 households, against 1.4 ms starting from the
    carers. Both databases' statistics must count the households that are there."""
    with Session(demo.engine) as session:
        connection = session.connection()
        if demo.dialect == "postgresql":
            counted = connection.exec_driver_sql(
                "SELECT reltuples FROM pg_class WHERE relname = 'household' "
                "AND relnamespace = current_schema()::regnamespace"
            ).scalar_one()
            assert int(counted) == HOUSEHOLDS["postgresql"]
            return
        counted = connection.exec_driver_sql(
            "SELECT stat FROM sqlite_stat1 WHERE idx = 'ix_household_area_id'"
        ).scalar_one()
        assert int(counted.split()[0]) == HOUSEHOLDS["sqlite"]
        actor = demo.actor(session, MANAGER)
        demo.statements.clear()
        carers.list_carers(session, actor, carers.CarerQuery())
        statement, params = next(
            s for s in demo.statements if "LIMIT" in s[0] and "ORDER BY" in s[0]
        )
        plan = [
            row[-1] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
        ]
        # The page and its totals are one statement (a subquery): of the two tables, the
        # carers must be read first and the households looked up by their keys.
        reads = [r for r in plan if r.split()[0] in ("SCAN", "SEARCH") and "placement" not in r]
        assert reads[0].startswith(("SCAN carer", "SEARCH carer")), plan
        assert reads[1].startswith("SEARCH household USING INTEGER PRIMARY KEY"), plan
