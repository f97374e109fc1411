"""Reminders of the assessment: a check outstanding past its target (config/checks.toml,
working days after it was requested or last chased) is chased by its assessing social worker;
a child of the household about to turn 18 during the assessment needs their own enhanced DBS.
Both go to the household's assessing social worker, or to the area's managers when it has
none (or they may no longer have it)."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from sqlmodel import select

from crm.models import Household, HouseholdCheck, HouseholdMember, MemberKind, StaffUser, Stage
from crm.services import checks, members
from crm.services.reminders import people
from crm.services.reminders.engine import (
    Audience,
    Due,
    Notice,
    ReminderSpec,
    Scan,
    date_text,
)


def _in_assessment() -> sa.ColumnElement[bool]:
    stages = Stage.in_group("assessment")
    return sa.and_(
        Household.anonymised_at.is_(None),
        sa.or_(
            Household.stage.in_(stages),
            sa.and_(Household.stage == Stage.ON_HOLD, Household.held_from_stage.in_(stages)),
        ),
    )


def _told(scan: Scan, household: Household) -> list[StaffUser]:
    assessor = people.allowed_owner(scan.session, household.assessor_id, household=household)
    return [assessor] if assessor else people.managers_for(scan.session, household.area_id)


def due_check_chasers(scan: Scan) -> list[Due]:
    config = checks.load_config()
    rows = scan.session.exec(
        select(HouseholdCheck, Household)
        .join(Household, Household.id == HouseholdCheck.household_id)
        .where(
            HouseholdCheck.requested_on.is_not(None),
            HouseholdCheck.received_on.is_(None),
            _in_assessment(),
        )
        .order_by(HouseholdCheck.id)
    ).all()
    names = {}
    member_ids = [c.member_id for c, _ in rows if c.member_id is not None]
    for member in people.in_chunks(scan.session, HouseholdMember, HouseholdMember.id, member_ids):
        names[member.id] = member.full_name
    people.households_with_applicants(scan.session, [h.id for _, h in rows])
    items = []
    for check, household in rows:
        kind = config.kind(check.check_key)
        if kind is None:
            continue
        due = checks.chase_due(check, kind)
        if due is None or due >= scan.today:
            continue
        key = f"check_chase:{check.id}:{due.isoformat()}"
        if scan.messaged(key):
            continue
        items.append(
            Due(
                key,
                household_id=household.id,
                staff=_told(scan, household),
                notices={
                    "chase": {
                        "household_name": household.display_name,
                        "household_reference": household.reference,
                        "check_label": kind.label + (f" ({check.label})" if check.label else ""),
                        "person_name": names.get(check.member_id, "the household"),
                        "requested_date": date_text(check.requested_on),
                        "chased_date": date_text(check.chased_on) if check.chased_on else None,
                        "working_days": kind.target_working_days,
                    }
                },
            )
        )
    return items


CHECK_CHASERS = ReminderSpec(
    id="check_chasers",
    title="Checks outstanding past their target",
    every={"trigger": "cron", "day_of_week": "mon-fri", "hour": 7, "minute": 20},
    keys="check_chase:",
    due=due_check_chasers,
    notices={"chase": Notice("check_overdue_staff", Audience.STAFF, "chasers")},
    counts=("chasers",),
)


def due_turning_18(scan: Scan) -> list[Due]:
    notice = checks.load_config().turning_18_notice_days
    today = scan.today
    # Born between these dates: 18 within the notice period (a day either side is read and
    # sorted out below, which keeps 29 February simple).
    leap_day = (today.month, today.day) == (2, 29)
    earliest = date(today.year - members.ADULT_AGE, today.month, 28 if leap_day else today.day)
    earliest -= timedelta(days=1)
    latest = earliest + timedelta(days=notice + 2)
    rows = scan.session.exec(
        select(HouseholdMember, Household)
        .join(Household, Household.id == HouseholdMember.household_id)
        .where(
            HouseholdMember.kind.in_([k.value for k in members.CHILD_KINDS]),
            HouseholdMember.date_of_birth.between(earliest, latest),
            _in_assessment(),
        )
        .order_by(HouseholdMember.id)
    ).all()
    people.households_with_applicants(scan.session, [h.id for _, h in rows])
    items = []
    for member, household in rows:
        if not MemberKind(member.kind).lives_in_household:
            continue
        birthday = members.eighteenth_birthday(member.date_of_birth)
        if not today < birthday <= today + timedelta(days=notice):
            continue
        key = f"turning_18:{member.id}:{birthday.isoformat()}"
        if scan.messaged(key):
            continue
        items.append(
            Due(
                key,
                household_id=household.id,
                staff=_told(scan, household),
                notices={
                    "notice": {
                        "household_name": household.display_name,
                        "household_reference": household.reference,
                        "person_name": member.full_name,
                        "birthday_date": date_text(birthday),
                        "days_left": (birthday - today).days,
                    }
                },
            )
        )
    return items


TURNING_18 = ReminderSpec(
    id="turning_18",
    title="Children of households in assessment turning 18 (their own DBS check)",
    every={"trigger": "cron", "day_of_week": "mon-fri", "hour": 7, "minute": 25},
    keys="turning_18:",
    due=due_turning_18,
    notices={"notice": Notice("member_turning_18_staff", Audience.STAFF, "notices")},
    counts=("notices",),
)
SPECS = (CHECK_CHASERS, TURNING_18)
