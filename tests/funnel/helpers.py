"""Helpers for the funnel tests: small histories as DataFrames, and as real database rows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
from sqlmodel import Session

import crm.models as m
from crm.services.actors import Actor
from crm.services.enquiries import ApplicantDetails, EnquiryInput, create_enquiry
from crm.services.pipeline import move_stage
from funnel.frames import FUNNEL

FUNNEL_STAGES = set(FUNNEL)


def at(day: date | str, hour: int = 12, minute: int = 0) -> datetime:
    """A UTC moment on a day (winter dates in these tests, so UTC is also London time)."""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def journey_frames(journeys: Iterable[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Households and stage events from compact journeys:

    {"id": 1, "enquired": datetime, "moves": [(days_after, stage, reason), ...], ...}
    plus any household column (source_key, area, first_contact_at, reference...).
    """
    households, events = [], []
    for j in journeys:
        row = {k: v for k, v in j.items() if k not in ("id", "enquired", "moves")}
        row.update(household_id=j["id"], enquired_at=j["enquired"])
        row.setdefault("reference", f"H{j['id']}")
        households.append(row)
        current = None
        events.append((j["id"], None, "enquiry", j["enquired"], None))
        current = "enquiry"
        for move in j.get("moves", []):
            offset, stage, reason = (*move, None)[:3]
            when = j["enquired"] + timedelta(days=offset)
            events.append((j["id"], current, stage, when, reason))
            current = stage
    return pd.DataFrame(households), pd.DataFrame(
        events, columns=["household_id", "from_stage", "to_stage", "occurred_at", "reason_code"]
    )


def make_history(
    session: Session,
    settings,
    *,
    first_name: str,
    enquired_at: datetime,
    moves: list[tuple[datetime, str, str | None]] = (),
    email: str | None = None,
    postcode: str = "LE1 6ZG",
    source_key: str | None = "web_search",
    campaign_name: str | None = None,
    first_contact_at: datetime | None = None,
    area_name: str | None = None,
    referrer_reference: str | None = None,
    date_of_birth: date | None = None,
) -> m.Household:
    """A household made through create_enquiry and moved through move_stage, as in life."""
    actor = Actor.system("test")
    result = create_enquiry(
        session,
        actor,
        EnquiryInput(
            applicant=ApplicantDetails(
                first_name,
                "Tester",
                email=email or f"{first_name.lower()}@example.org",
                date_of_birth=date_of_birth,
            ),
            enquiry_channel=m.EnquiryChannel.STAFF,
            postcode=postcode,
            source_key=source_key,
            campaign_name=campaign_name,
            enquired_at=enquired_at,
            first_contact_at=first_contact_at,
            area_name=area_name,
            referrer_reference=referrer_reference,
        ),
        settings,
    )
    household = result.household
    for when, stage, reason in moves:
        move_stage(session, actor, household.id, stage, reason_code=reason, occurred_at=when)
    session.refresh(household)
    return household


def html_with_images_inline(message) -> str:  # noqa: ANN001 - an EmailMessage
    """The email's HTML part with its charts inline: Chromium has no cid: scheme, so it is
    given the very images the email carries as data: URLs."""
    import base64

    html = message.get_body(("html",)).get_content()
    for part in message.walk():
        if part.get_content_type() == "image/png":
            cid = part["Content-ID"].strip().strip("<>")
            data = base64.b64encode(part.get_content()).decode()
            html = html.replace(f"cid:{cid}", f"data:image/png;base64,{data}")
    return html
