"""Demo Mockingbird constellations: in each area with enough carers, a hub home (its longest
serving active carer) and 6 to 9 satellites, with monthly meetings and the sleepovers, short
breaks and peer support of the last year. Deterministic for a seed; ids from the database."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from crm.models import (
    Area,
    Carer,
    CarerStatus,
    Constellation,
    ConstellationActivity,
    ConstellationActivityKind,
    ConstellationMember,
    Household,
)

SLEEPOVER = ConstellationActivityKind.SLEEPOVER
SHORT_BREAK = ConstellationActivityKind.SHORT_BREAK
# Sleepovers are the most common help a hub home gives.
KINDS = [SLEEPOVER, SLEEPOVER, SLEEPOVER, SHORT_BREAK, ConstellationActivityKind.PEER_SUPPORT]
NAMES = ("Kestrel", "Skylark", "Heron", "Wren", "Curlew")


def add_constellations(connection: sa.Connection, seed: int, as_of: date) -> Counter:
    rng = random.Random(seed * 7919 + 11)
    counts: Counter = Counter()
    areas = connection.execute(sa.select(Area.id, Area.name).order_by(Area.id)).all()
    for number, (area_id, area_name) in enumerate(areas):
        carers = connection.execute(
            sa.select(Carer.id, Carer.approved_on)
            .join(Household, Household.id == Carer.household_id)
            .where(Household.area_id == area_id, Carer.status == CarerStatus.ACTIVE)
            .order_by(Carer.approved_on, Carer.id)
        ).all()
        if len(carers) < 8:
            continue
        (hub_id, hub_approved), rest = carers[0], list(carers[1:])
        started = max(hub_approved, as_of - timedelta(days=rng.randint(400, 900)))
        name = f"{area_name} {NAMES[number % len(NAMES)]}"
        constellation_id = connection.execute(
            sa.insert(Constellation)
            .values(
                name=name,
                area_id=area_id,
                hub_carer_id=hub_id,
                started_on=started,
                created_at=_noon(as_of),
            )  # fmt: skip
            .returning(Constellation.id)
        ).scalar_one()
        counts["constellation"] += 1
        satellites = rng.sample(rest, k=min(len(rest), rng.randint(6, 9)))
        members = []
        for carer_id, approved_on in satellites:
            first = max(approved_on, started)
            span = max((as_of - first).days, 0)
            members.append(
                {
                    "constellation_id": constellation_id,
                    "carer_id": carer_id,
                    "joined_on": first + timedelta(days=rng.randint(0, span // 3)),
                    "left_on": None,
                    "left_reason": None,
                }
            )
        connection.execute(sa.insert(ConstellationMember), members)
        counts["constellation_member"] += len(members)
        activities = []
        day = started + timedelta(days=14)
        while day <= as_of:
            activities.append(_activity(constellation_id, ConstellationActivityKind.MEETING, day))
            day += timedelta(days=28 + rng.randint(0, 7))
        for member in members:
            day = max(member["joined_on"], as_of - timedelta(days=365))
            while True:
                day += timedelta(days=rng.randint(30, 90))
                if day > as_of:
                    break
                kind = rng.choice(KINDS)
                nights = {SLEEPOVER: 1, SHORT_BREAK: rng.randint(2, 4)}.get(kind, 0)
                activities.append(
                    _activity(constellation_id, kind, day, member["carer_id"], nights)
                )
        if activities:
            connection.execute(sa.insert(ConstellationActivity), activities)
        counts["constellation_activity"] += len(activities)
    return counts


def _activity(
    constellation_id: int,
    kind: ConstellationActivityKind,
    day: date,
    carer_id: int | None = None,
    nights: int = 0,
) -> dict:
    return {
        "constellation_id": constellation_id,
        "kind": kind.value,
        "occurred_on": day,
        "carer_id": carer_id,
        "nights": nights,
        "notes": None,
        "recorded_by_id": None,
        "created_at": _noon(day),
    }


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)
