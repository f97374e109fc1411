from datetime import UTC, datetime

import pytest
from sqlmodel import func, select

import crm.models as m
from crm import clock
from crm.services.enquiries import ApplicantDetails, EnquiryInput, create_enquiry
from crm.services.errors import InvalidInput

CONSENT = {
    m.ConsentScope.STORE_DETAILS: "I agree to Fostercrm keeping my details.",
    m.ConsentScope.EMAIL: "You may email me about fostering.",
}


def enquiry(**overrides) -> EnquiryInput:
    values = dict(
        applicant=ApplicantDetails(
            "Sam", "Patel", email="Sam.Patel@Example.com", phone="07700 900982"
        ),
        enquiry_channel=m.EnquiryChannel.WEB_FORM,
        postcode="le1 6zg",
        source_key="social_media",
        consents=dict(CONSENT),
        interests="Teenagers",
    )
    values.update(overrides)
    return EnquiryInput(**values)


def count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_new_enquiry_creates_household_event_consent_and_task(session, org, settings, system_actor):
    result = create_enquiry(session, system_actor, enquiry(), settings)

    household = result.household
    assert result.created is True
    assert household.stage == m.Stage.ENQUIRY
    assert household.postcode == "LE1 6ZG"
    assert household.area_id == org.north.id
    assert household.assigned_officer_id == org.officer_north.id
    applicant = household.applicants[0]
    assert (applicant.email, applicant.phone) == ("sam.patel@example.com", "+447700900982")
    events = session.exec(select(m.StageEvent)).all()
    assert [(e.from_stage, e.to_stage) for e in events] == [(None, m.Stage.ENQUIRY)]
    scopes = {c.scope for c in session.exec(select(m.Consent)).all()}
    assert scopes == {m.ConsentScope.STORE_DETAILS, m.ConsentScope.EMAIL}
    task = result.response_task
    assert task.kind == m.TaskKind.RESPOND_TO_ENQUIRY
    assert task.owner_id == org.officer_north.id
    # Tuesday 10:00 -> one working day later.
    assert task.due_at == datetime(2026, 3, 11, 10, 0, tzinfo=UTC)
    audit = session.exec(select(m.AuditEvent)).all()
    assert [(a.action, a.entity) for a in audit] == [(m.AuditAction.CREATE, "household")]


def test_friday_afternoon_enquiry_before_bank_holiday_is_due_tuesday(
    session, org, settings, system_actor
):
    # Friday 1 May 2026, 15:00 BST; Monday 4 May is the early May bank holiday.
    clock.set_now(datetime(2026, 5, 1, 14, 0, tzinfo=UTC))
    result = create_enquiry(session, system_actor, enquiry(), settings)
    assert result.response_task.due_at == datetime(2026, 5, 5, 14, 0, tzinfo=UTC)


def test_same_email_links_to_existing_household(session, org, settings, system_actor):
    first = create_enquiry(session, system_actor, enquiry(), settings)
    again = create_enquiry(
        session,
        system_actor,
        enquiry(
            applicant=ApplicantDetails("Samuel", "Patel", email="sam.patel@example.com"),
            enquiry_channel=m.EnquiryChannel.TELEGRAM,
        ),
        settings,
    )
    assert again.created is False
    assert again.household.id == first.household.id
    assert count(session, m.Household) == 1
    # Still one open call-back task, and the repeat is on the timeline.
    assert count(session, m.Task) == 1
    kinds = session.exec(select(m.Activity.kind)).all()
    assert kinds == [m.ActivityKind.REPEAT_ENQUIRY]
    # Consent typed by whoever used that email in a chat is not attached to the family.
    assert count(session, m.Consent) == len(CONSENT)


def test_same_phone_in_another_format_links(session, org, settings, system_actor):
    first = create_enquiry(session, system_actor, enquiry(), settings)
    again = create_enquiry(
        session,
        system_actor,
        enquiry(applicant=ApplicantDetails("Sam", "Patel", phone="+44 7700 900982")),
        settings,
    )
    assert again.household.id == first.household.id


def test_unknown_postcode_district_goes_to_triage(session, org, settings, system_actor):
    result = create_enquiry(session, system_actor, enquiry(postcode="SW1A 1AA"), settings)
    assert result.household.area_id is None
    assert result.household.assigned_officer_id is None
    assert result.response_task.owner_id is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"applicant": ApplicantDetails("Sam", "Patel", email="not-an-email")}, "email"),
        ({"applicant": ApplicantDetails("Sam", "Patel", phone="0123")}, "phone"),
        ({"applicant": ApplicantDetails("Sam", "Patel")}, "email"),
        ({"applicant": ApplicantDetails("", "Patel", email="a@example.com")}, "first_name"),
        ({"postcode": "ZZ99 9ZZZ"}, "postcode"),
        ({"postcode": "QQ1 1AA"}, "postcode"),
        ({"source_key": "carrier_pigeon"}, "source_key"),
        ({"campaign_name": "No such campaign"}, "campaign_name"),
    ],
)
def test_bad_input_changes_nothing(session, org, settings, system_actor, overrides, field):
    with pytest.raises(InvalidInput) as caught:
        create_enquiry(session, system_actor, enquiry(**overrides), settings)
    assert field in caught.value.errors
    assert caught.value.errors[field]
    for model in (m.Household, m.Applicant, m.StageEvent, m.Task, m.Consent, m.AuditEvent):
        assert count(session, model) == 0


def test_the_public_must_agree_to_us_keeping_their_details(session, org, settings, system_actor):
    no_consent = enquiry(consents={m.ConsentScope.EMAIL: "You may email me."})
    with pytest.raises(InvalidInput) as caught:
        create_enquiry(session, system_actor, no_consent, settings)
    assert "consent" in caught.value.errors
    assert count(session, m.Household) == 0
    # A phone call typed in by staff records consent separately.
    staff_entered = enquiry(consents={}, enquiry_channel=m.EnquiryChannel.STAFF)
    assert create_enquiry(session, system_actor, staff_entered, settings).created


def test_every_problem_is_reported_at_once(session, org, settings, system_actor):
    bad = enquiry(applicant=ApplicantDetails("", "", email="nope"), postcode="nope")
    with pytest.raises(InvalidInput) as caught:
        create_enquiry(session, system_actor, bad, settings)
    assert set(caught.value.errors) == {"first_name", "last_name", "email", "postcode"}


def test_second_applicant_and_campaign(session, org, settings, system_actor):
    result = create_enquiry(
        session,
        system_actor,
        enquiry(
            second_applicant=ApplicantDetails("Alex", "Patel", email="alex@example.com"),
            campaign_name="Spring radio 2026",
        ),
        settings,
    )
    household = result.household
    assert [a.first_name for a in household.applicants] == ["Sam", "Alex"]
    assert household.display_name == "Sam Patel and Alex Patel"
    assert household.campaign_id is not None


def test_officer_with_fewest_open_enquiries_is_assigned(session, org, settings, system_actor):
    other = m.StaffUser(
        email="second.officer@test.example",
        name="Second",
        role=m.Role.RECRUITMENT_OFFICER,
        password_hash="x",
    )
    session.add(other)
    session.flush()
    session.add(m.StaffArea(staff_id=other.id, area_id=org.north.id))
    session.commit()
    first = create_enquiry(session, system_actor, enquiry(), settings)
    second = create_enquiry(
        session,
        system_actor,
        enquiry(applicant=ApplicantDetails("Jo", "Bloggs", email="jo@example.com")),
        settings,
    )
    assert {first.household.assigned_officer_id, second.household.assigned_officer_id} == {
        org.officer_north.id,
        other.id,
    }


def test_staff_of_another_area_cannot_add_to_a_known_household(
    session, org, settings, system_actor
):
    from crm.services.actors import Actor
    from crm.services.errors import NotAllowed

    create_enquiry(session, system_actor, enquiry(), settings)  # lives in Northshire
    before = (count(session, m.Activity), count(session, m.Consent), count(session, m.Task))
    south = Actor.for_staff(session, org.officer_south)
    with pytest.raises(NotAllowed, match="another area"):
        create_enquiry(session, south, enquiry(enquiry_channel=m.EnquiryChannel.STAFF), settings)
    assert (count(session, m.Activity), count(session, m.Consent), count(session, m.Task)) == before
