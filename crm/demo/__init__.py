"""Realistic, made-up, deterministic demo data: `fostercrm demo-data` and `fostercrm up --demo`.

What it builds: a regional hub with three fictional local authorities, their postcode districts
(plus a few that belong to no area, so the triage queue has work), staff in every role with
weekly availability and some leave, campaigns with costs, and households whose histories follow
the national shape in DOMAIN.md (about 31% of enquiries reach an initial visit, 12% apply and
5-6% are approved, about nine months from enquiry to approval), with the reasons people stop,
pauses, approved carers with placements, supervision, check-ins and deregistrations, and the
open work of today: call-backs due, visits booked in free slots, follow-ups.

Why it does not call the services: 100,000 households must load in minutes. The rows are
generated in Python and bulk-inserted in chunks (COPY on PostgreSQL, the driver's executemany on
SQLite), ids assigned here (after whatever the database already holds), in foreign-key order,
one commit per chunk; on SQLite into empty tables one transaction instead, without the secondary
indexes until the end (`rows.sqlite_load`). The rules the services keep are mirrored instead,
and the tests check the result with the services' own eyes: stage events form the chain
`move_stage` would have written, booked visits sit on free slots that `free_slots` computes,
and the normal services keep working on the loaded database.

Deterministic: everything comes from `random.Random` streams seeded by `seed`, and every time
is derived from `as_of` (the local day the histories run up to, exclusive). The same seed and
`as_of` on an empty database give identical rows, on SQLite and on PostgreSQL alike.

The parts, by what they generate: `organisation` (hub, areas, staff, availability, leave,
campaigns, and the demo sign-ins), `households` (enquiries, applicants, consents), `pipeline`
(stage histories), `visits` (initial visits and carers' appointments in free slots), `carers`
(after approval: terms, placements, supervision, check-ins), `work` (timeline, tasks). They
share one `generator.Generator`; `shape` and `words` are the numbers and words they draw from,
`diary` the calendar and slots, `rows` the bulk inserts. `generate` below runs it all.
"""

from __future__ import annotations

import time as time_module
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Session, select
from tqdm import tqdm

from crm import clock
from crm.demo.generator import Generator
from crm.demo.mockingbird import add_constellations
from crm.demo.organisation import AREAS, DEMO_HUB_NAME, DEMO_LOGINS
from crm.demo.panel import add_panel
from crm.demo.rows import sqlite_load
from crm.models import Area, AreaPostcodeDistrict, AuditEvent, Hub, Reason, Source, StaffUser
from crm.services.errors import InvalidInput
from crm.services.reference import ensure_reference_data
from crm.settings import Settings

# Households per chunk: one write (and commit, but for SQLite's one-transaction load) each, and
# the progress bar moves per chunk.
CHUNK_HOUSEHOLDS = 2000


@dataclass
class DemoSummary:
    """What `generate` created and how long it took."""

    households: int
    seed: int
    as_of: date
    seconds: float
    rows: dict[str, int]
    reached: dict[str, int] = field(default_factory=dict)
    carers: dict[str, int] = field(default_factory=dict)
    current: dict[str, int] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def describe(self) -> str:
        reached = self.reached
        lines = [
            f"Demo data: {self.households:,} household{'s' if self.households != 1 else ''} "
            f"(seed {self.seed}, histories up to "
            f"{self.as_of.isoformat()}) in {self.seconds:.1f} s "
            f"({self.total_rows:,} rows, {self.total_rows / max(self.seconds, 1e-9):,.0f}/s).",
            f"  {len(AREAS)} areas, {self.rows.get('staff_user', 0)} staff, "
            f"{self.rows.get('campaign', 0)} campaigns.",
            "  Reached: "
            + ", ".join(
                f"{stage.replace('_', ' ')} {reached.get(stage, 0):,}"
                for stage in ("initial_visit", "application", "approved")
            )
            + ".",
            "  Carers: "
            + (
                ", ".join(f"{status.replace('_', ' ')} {n:,}" for status, n in self.carers.items())
                or "none yet"
            )
            + ".",
            f"  Open: {self.current.get('open_tasks', 0):,} tasks, "
            f"{self.current.get('booked_appointments', 0):,} booked appointments.",
        ]
        return "\n".join(lines)


def _refuse_if_loaded(connection: sa.Connection) -> set[str]:
    """Demo data goes into a database once. Returns the postcode districts already taken."""
    conflicts = []
    if connection.execute(
        sa.select(Hub.__table__.c.id).where(Hub.__table__.c.name == DEMO_HUB_NAME)
    ).first():
        conflicts.append(f"the hub {DEMO_HUB_NAME!r}")
    names = [spec.name for spec in AREAS]
    for name in connection.execute(
        sa.select(Area.__table__.c.name).where(Area.__table__.c.name.in_(names))
    ).scalars():
        conflicts.append(f"the area {name!r}")
    emails = [email for email, _ in DEMO_LOGINS]
    for email in connection.execute(
        sa.select(StaffUser.__table__.c.email).where(StaffUser.__table__.c.email.in_(emails))
    ).scalars():
        conflicts.append(f"the user {email}")
    if conflicts:
        more = f" and {len(conflicts) - 1} more" if len(conflicts) > 1 else ""
        raise InvalidInput(
            f"Demo data is already loaded in this database ({conflicts[0]} exists{more}). "
            "Load it into an empty database.",
            "database",
        )
    return set(connection.execute(sa.select(AreaPostcodeDistrict.__table__.c.district)).scalars())


def _fix_sequences(connection: sa.Connection, tables: list[sa.Table]) -> None:
    """PostgreSQL hands out ids from sequences that bulk inserts with our own ids never
    touched: move each past the largest id so the services' next insert works."""
    for table in tables:
        connection.execute(
            sa.text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f'COALESCE((SELECT MAX(id) FROM "{table.name}"), 0) + 1, false)'
            )
        )


def generate(
    engine: sa.Engine,
    settings: Settings,
    *,
    households: int,
    seed: int,
    as_of: date | None = None,
    progress: bool = False,
) -> DemoSummary:
    """Fill the database with `households` demo households and everything around them.

    Refuses (InvalidInput) when the demo organisation is already there. `as_of` is the local
    day histories run up to (default: today in the service's time zone); the same `seed` and
    `as_of` on an empty database give identical rows.
    """
    if not isinstance(households, int) or households < 1:
        raise InvalidInput("Ask for at least one household", "households")
    if as_of is None:
        as_of = clock.now().astimezone(settings.tz).date()
    elif isinstance(as_of, datetime):
        as_of = as_of.date()
    started = time_module.perf_counter()

    with Session(engine) as session:
        ensure_reference_data(session)
        sources = {
            key for key in session.exec(select(Source.key).where(Source.active.is_(True))).all()
        }
        reasons: dict[str, set[str]] = defaultdict(set)
        for kind, code in session.exec(
            select(Reason.kind, Reason.code).where(Reason.active.is_(True))
        ).all():
            reasons[str(kind)].add(code)
    if not sources:
        raise InvalidInput("The sources list is empty: run `fostercrm db upgrade`", "sources")

    with engine.connect() as connection:
        taken = _refuse_if_loaded(connection)
        generator = Generator(connection, settings, households, seed, as_of, sources, reasons)
        generator.build_organisation(taken)
        connection.commit()

        times = generator.enquiry_times()
        bar = tqdm(
            total=households, unit="household", desc="Demo data", disable=not progress, leave=False
        )
        try:
            with sqlite_load(connection, generator.rows.tables) as one_transaction:
                for index, (enquired_at, channel) in enumerate(times):
                    generator.household(generator.ids.take("household"), enquired_at, channel)
                    if (index + 1) % CHUNK_HOUSEHOLDS == 0:
                        generator.rows.flush(connection)
                        if not one_transaction:
                            connection.commit()
                        bar.update(CHUNK_HOUSEHOLDS)
                generator.rows.flush(connection)
            connection.execute(
                AuditEvent.__table__.insert(),
                [
                    {
                        "id": generator.ids.take("audit_event"),
                        "occurred_at": generator.cutoff,
                        "actor_id": None,
                        "actor_label": "demo-data",
                        "action": "create",
                        "entity": "demo_data",
                        "entity_id": None,
                        "detail": {
                            "households": households,
                            "seed": seed,
                            "as_of": as_of.isoformat(),
                        },
                    }
                ],
            )
            connection.commit()
            constellations = add_constellations(connection, seed, as_of)
            connection.commit()
            bar.update(households - bar.n)
        finally:
            bar.close()

        if connection.dialect.name == "postgresql":
            _fix_sequences(connection, generator.ids.tables)
            connection.commit()
            # Fresh statistics, so the first pages after a big load get good query plans.
            for table in generator.rows.tables:
                connection.execute(sa.text(f'ANALYZE "{table.name}"'))
            connection.commit()
        elif connection.dialect.name == "sqlite":
            # The same for SQLite (issue 16), every row counted: sampled statistics guessed
            # about a thousand households per area and sent the carers list through every
            # household (crm.db.refresh_statistics). `up --demo` relies on these.
            connection.exec_driver_sql("PRAGMA analysis_limit=0")
            connection.exec_driver_sql("ANALYZE")
            connection.commit()

    # The panel's part of the journey, from what the load made (crm.demo.panel).
    with Session(engine) as session:
        panel_counts = add_panel(
            session, settings, as_of,
            manager_id=generator.hub_manager, decision_maker_id=generator.decision_maker,
        )  # fmt: skip
        session.commit()

    rows = Counter(generator.rows.counts)
    rows.update({"panel_meeting": panel_counts.meetings, "panel_listing": panel_counts.listings})
    rows.update(generator.extra_counts)
    rows.update(constellations)
    rows.update({"hub": 1, "area": len(AREAS), "audit_event": 1})
    rows["area_postcode_district"] = sum(len(a.districts) for a in generator.areas)
    reached = {k: generator.reached[k] for k in ("initial_visit", "application", "approved")}
    return DemoSummary(
        households=households,
        seed=seed,
        as_of=as_of,
        seconds=time_module.perf_counter() - started,
        rows=dict(sorted(rows.items())),
        reached=reached,
        carers=dict(sorted(generator.carer_status.items())),
        current=dict(generator.current),
    )
