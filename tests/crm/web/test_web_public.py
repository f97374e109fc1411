"""The public enquiry form, the thank-you page's visit booking and the privacy notice."""

import re

from sqlmodel import func, select

import crm.models as m
from crm.web.public import ENQUIRIES_PER_IP_PER_HOUR, PUBLIC_ACTOR_LABEL

GOOD = {
    "first_name": "Priya",
    "last_name": "Shah",
    "email": "Priya.Shah@example.com",
    "phone": "07700 900123",
    "postcode": "le1 6zg",
    "interests": ["teenagers", "short_term"],
    "more": "We have a spare room since our son left.",
    "source_key": "social_media",
    "contact_by": ["email"],
    "consent": "y",
    "website": "",
}


def households(session) -> int:
    return session.exec(select(func.count()).select_from(m.Household)).one()


def test_enquiry_creates_a_household_with_consent_and_source(client, session, org):
    response = client.post("/enquire", GOOD)
    assert response.status_code == 302
    assert "/enquire/thank-you/" in response.headers["Location"]
    household = session.exec(select(m.Household)).one()
    assert household.stage == m.Stage.ENQUIRY
    assert household.area_id == org.north.id
    assert household.source_key == "social_media"
    assert household.enquiry_channel == m.EnquiryChannel.WEB_FORM
    assert "Fostering teenagers" in household.interests
    assert "spare room" in household.interests
    applicant = household.applicants[0]
    assert (applicant.email, applicant.phone) == ("priya.shah@example.com", "+447700900123")
    consents = {c.scope: c for c in session.exec(select(m.Consent))}
    assert set(consents) == {m.ConsentScope.STORE_DETAILS, m.ConsentScope.EMAIL}
    assert "privacy notice (version" in consents[m.ConsentScope.STORE_DETAILS].wording
    event = session.exec(select(m.StageEvent)).one()
    assert event.actor_label == PUBLIC_ACTOR_LABEL


def test_bad_input_shows_errors_and_keeps_what_was_typed(client, session, org):
    data = {**GOOD, "email": "not-an-email", "postcode": "ZZZ", "consent": ""}
    response = client.post("/enquire", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "There is a problem" in page
    assert "Tick the box to agree" in page
    # Kept: the name and the text as typed.
    assert 'value="Priya"' in page and 'value="not-an-email"' in page
    assert "We have a spare room since our son left." in page
    assert households(session) == 0
    # The service's own checks come back on the form too.
    response = client.post("/enquire", {**GOOD, "email": "not-an-email", "postcode": "ZZZ"})
    page = response.get_data(as_text=True)
    assert "Enter an email address in the correct format" in page
    assert "Enter a real UK postcode" in page
    assert households(session) == 0


def test_email_or_phone_is_needed(client, session, org):
    response = client.post("/enquire", {**GOOD, "email": "", "phone": ""})
    assert "Enter an email address or a telephone number" in response.get_data(as_text=True)
    assert households(session) == 0


def test_honeypot_keeps_nothing(client, session, org):
    response = client.post("/enquire", {**GOOD, "website": "http://spam.example"})
    assert response.status_code == 302
    assert households(session) == 0


def test_rate_limit_per_address(client, session, org):
    for n in range(ENQUIRIES_PER_IP_PER_HOUR):
        data = {**GOOD, "email": f"person{n}@example.com", "phone": ""}
        assert client.post("/enquire", data).status_code == 302
    refused = client.post("/enquire", {**GOOD, "email": "one.more@example.com", "phone": ""})
    assert refused.status_code == 429
    assert households(session) == ENQUIRIES_PER_IP_PER_HOUR


def test_thank_you_offers_free_slots_and_books_one(client, session, org):
    thanks_url = client.post("/enquire", GOOD).headers["Location"]
    page = client.get(thanks_url).get_data(as_text=True)
    assert "Book an initial visit now" in page
    slots = re.findall(r'name="slot" type="radio" value="([^"]+)"', page)
    assert slots, page
    response = client.post(thanks_url, {"slot": slots[0]}, token_from=thanks_url)
    assert response.status_code == 302
    visit = session.exec(select(m.Appointment)).one()
    assert visit.kind == m.AppointmentKind.INITIAL_VISIT
    assert visit.booked_by_label == PUBLIC_ACTOR_LABEL
    # The staff member booked works in the household's area.
    assert visit.staff_id in {org.officer_north.id, org.assessor_north.id}
    confirmed = client.get(thanks_url).get_data(as_text=True)
    assert "Your initial visit is booked" in confirmed
    assert 'name="slot"' not in confirmed  # no second booking from the same link
    # The confirmation (with its calendar invite) waits in the outbox for the dispatcher.
    [message] = session.exec(select(m.OutboxMessage)).all()
    assert (message.template, message.channel, message.recipient) == (
        "visit_confirmation",
        m.Channel.EMAIL,
        "priya.shah@example.com",
    )
    assert message.payload["appointment_id"] == visit.id
    assert message.payload["booked_via"] == "web_form"


def test_a_slot_taken_meanwhile_is_refused_with_a_message(
    client, session, org, settings, make_household
):
    from crm.services.actors import Actor
    from crm.services.appointments import book_appointment, slots_for_area

    thanks_url = client.post("/enquire", GOOD).headers["Location"]
    page = client.get(thanks_url).get_data(as_text=True)
    slot = re.findall(r'name="slot" type="radio" value="([^"]+)"', page)[0]
    area_id = make_household("LE2 2AA", "Other", "Family").area_id
    # Other families take that time with everyone free at it, before the form is sent.
    for s in slots_for_area(session, settings, area_id):
        if s.starts_at.strftime("%Y%m%dT%H%M%z") == slot:
            other = make_household("LE2 2AA", "Other", "Family")
            book_appointment(
                session,
                Actor.system("test"),
                settings,
                staff_id=s.staff_id,
                kind="initial_visit",
                starts_at=s.starts_at,
                household_id=other.id,
            )
    before = session.exec(select(func.count()).select_from(m.Appointment)).one()
    response = client.post(thanks_url, {"slot": slot}, token_from="/enquire")
    assert response.status_code == 200
    assert "There is a problem" in response.get_data(as_text=True)
    assert session.exec(select(func.count()).select_from(m.Appointment)).one() == before


def test_forged_or_expired_booking_links(client, session, org):
    import time

    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    from crm.web.public import BOOKING_TOKEN_MAX_AGE, BOOKING_TOKEN_SALT

    thanks_url = client.post("/enquire", GOOD).headers["Location"]
    assert client.get(thanks_url).status_code == 200
    assert client.get(thanks_url[:-3] + "xyz").status_code == 404
    assert client.get("/enquire/thank-you/1").status_code == 404
    household_id = session.exec(select(m.Household.id)).one()

    class SignedLongAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - BOOKING_TOKEN_MAX_AGE - 60

    secret = client.http.application.secret_key
    old = URLSafeTimedSerializer(secret, salt=BOOKING_TOKEN_SALT, signer=SignedLongAgo)
    expired = client.get(f"/enquire/thank-you/{old.dumps({'h': household_id})}")
    assert expired.status_code == 410
    assert "link has expired" in expired.get_data(as_text=True)
    # A token made for another purpose (another salt) is refused.
    other = URLSafeTimedSerializer(secret, salt="something-else").dumps({"h": household_id})
    assert client.get(f"/enquire/thank-you/{other}").status_code == 404


def test_repeat_enquiry_gets_no_booking_link(client, session, org):
    client.post("/enquire", GOOD)
    again = client.post("/enquire", {**GOOD, "first_name": "Someone"})
    assert again.status_code == 302
    assert again.headers["Location"].endswith("/enquire/thank-you")
    assert households(session) == 1
    page = client.get("/enquire/thank-you").get_data(as_text=True)
    assert 'name="slot"' not in page


def test_privacy_notice(client, org, settings):
    page = client.get("/privacy").get_data(as_text=True)
    assert "Privacy notice" in page
    assert f"{settings.retention.anonymise_closed_after_months} months" in page
    enquire = client.get("/enquire").get_data(as_text=True)
    assert 'href="/privacy"' in enquire
