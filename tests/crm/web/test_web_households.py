"""Households: search, filters, sorting, pages, exports, the household page and its actions."""

import csv
import io
import re
from datetime import timedelta

from openpyxl import load_workbook
from sqlmodel import func, select

import crm.models as m
from crm import clock
from crm.services.actors import Actor
from crm.services.outbox import enqueue_message


def names_in(page: str) -> list[str]:
    return re.findall(r'<a class="govuk-link" href="/households/\d+">([^<]+)</a>', page)


def test_search_by_each_kind_of_detail(client_for, org, make_household):
    a = make_household("LE1 6ZG", "Amelia", "Jones", email="amelia@example.com")
    make_household("LE2 7AB", "Bilal", "Khan", phone="07700 900555")
    make_household("LE3 8DA", "Carys", "Jonas")
    c = client_for(org.manager)

    def search(q: str) -> list[str]:
        return names_in(c.get("/households", query_string={"q": q}).get_data(as_text=True))

    # Best match first: Jonas is one letter from Jones, so a forgiving search lists it too.
    assert search("jones") == ["Amelia Jones", "Carys Jonas"]
    assert sorted(search("jon")) == ["Amelia Jones", "Carys Jonas"]
    assert search("Amelia Jones") == ["Amelia Jones"]
    assert search("AMELIA@example.com") == ["Amelia Jones"]
    assert search("07700900555") == ["Bilal Khan"]
    assert search("+44 7700 900555") == ["Bilal Khan"]
    assert search("LE2 7AB") == ["Bilal Khan"]
    assert search("le3") == ["Carys Jonas"]
    assert search(a.reference) == ["Amelia Jones"]
    assert search(a.reference[:5]) == ["Amelia Jones"]
    assert search("nobody-at-all") == []


def test_filters_sorting_and_pages(client_for, org, make_household, session):
    for n in range(30):
        make_household(first=f"Person{n:02d}", last="Many")
        clock.advance(timedelta(minutes=1))
    c = client_for(org.manager)
    first = c.get("/households?q=many").get_data(as_text=True)
    assert "30 households found" in first
    assert "Page 1 of 2" in first
    assert names_in(first)[0] == "Person29 Many"  # newest first
    second = c.get("/households?q=many&page=2").get_data(as_text=True)
    assert len(names_in(second)) == 5
    oldest = c.get("/households?q=many&sort=enquired_asc").get_data(as_text=True)
    assert names_in(oldest)[0] == "Person00 Many"
    by_stage = c.get("/households?stage=initial_visit").get_data(as_text=True)
    assert "0 households found" in by_stage


def test_htmx_search_returns_only_the_results(client_for, org, make_household):
    make_household(first="Hana", last="Tanaka")
    c = client_for(org.manager)
    response = c.get("/households?q=tanaka", headers={"HX-Request": "true"})
    page = response.get_data(as_text=True)
    assert "Hana Tanaka" in page and "<html" not in page


def test_exports_are_audited(client_for, org, make_household, session):
    make_household(first="=cmd", last="Evil")
    make_household(first="Ed", last="Export")
    c = client_for(org.manager)
    response = c.get("/households?format=csv")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][0] == "Reference" and len(rows) == 3
    # A formula in a name is neutralised for spreadsheets.
    assert any(row[1].startswith("'=cmd") for row in rows[1:])
    xlsx = c.get("/households?format=xlsx&q=export")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][0] == "Reference" and values[1][1] == "Ed Export"
    exports = session.exec(
        select(m.AuditEvent).where(m.AuditEvent.action == m.AuditAction.EXPORT)
    ).all()
    assert [(e.entity, e.actor_id, e.detail["rows"]) for e in exports] == [
        ("household_list", org.manager.id, 2),
        ("household_list", org.manager.id, 1),
    ]
    assert "export" not in str(exports[1].detail.get("q", ""))  # search text is not logged


def test_household_page_shows_everything_and_audits_the_view(
    client_for, org, make_household, session, settings
):
    household = make_household(first="Tia", last="Lee")
    system = Actor.system("test")
    enqueue_message(
        session,
        channel=m.Channel.EMAIL,
        recipient="tia@example.com",
        template="welcome_pack",
        payload={},
        due_at=clock.now(),
        unique_key="welcome:1",
        household_id=household.id,
    )
    failed = enqueue_message(
        session,
        channel=m.Channel.EMAIL,
        recipient="tia@example.com",
        template="visit_reminder",
        payload={},
        due_at=clock.now(),
        unique_key="reminder:1",
        household_id=household.id,
    )
    failed.status = m.OutboxStatus.FAILED
    failed.error = "Mailbox unavailable"
    conversation = m.ChatConversation(
        channel=m.ChatChannel.WEBCHAT,
        external_id="abc",
        household_id=household.id,
        consent_given_at=clock.now(),
    )
    hidden = m.ChatConversation(
        channel=m.ChatChannel.WEBCHAT, external_id="no-consent", household_id=household.id
    )
    session.add_all([conversation, hidden])
    session.flush()
    session.add(
        m.ChatMessage(conversation_id=conversation.id, from_person=True, text="Can I rent?")
    )
    session.add(m.ChatMessage(conversation_id=conversation.id, from_person=False, text="Yes."))
    session.add(m.ChatMessage(conversation_id=hidden.id, from_person=True, text="Secret words"))
    session.commit()
    from crm.services.pipeline import move_stage

    move_stage(session, system, household.id, m.Stage.INITIAL_VISIT)

    c = client_for(org.officer_north)
    page = c.get(f"/households/{household.id}").get_data(as_text=True)
    assert "Tia Lee" in page and household.reference in page
    assert "Agreed on the phone" in page  # consent wording
    assert "Social media" in page  # source
    assert "Moved from Enquiry to Initial visit" in page
    assert "Message: welcome pack" in page and "Message pending" in page
    assert "Message: visit reminder" in page and "Mailbox unavailable" in page
    assert "Them: Can I rent?" in page and "Assistant: Yes." in page
    assert "Secret words" not in page  # no consent, no transcript
    assert "Task: Call back a new enquirer" in page
    views = session.exec(
        select(m.AuditEvent).where(
            m.AuditEvent.action == m.AuditAction.VIEW, m.AuditEvent.entity_id == household.id
        )
    ).all()
    assert [(v.entity, v.actor_id) for v in views] == [("household", org.officer_north.id)]


def test_note_call_assign_and_task(client_for, org, make_household, session):
    household = make_household()
    url = f"/households/{household.id}"
    c = client_for(org.officer_north)
    assert (
        c.post(
            f"{url}/note",
            {"summary": "Left info pack", "body": "Line one\nLine two"},
            token_from=url,
        ).status_code
        == 302
    )
    bad = c.post(f"{url}/call", {"summary": "Rang", "call_outcome": ""}, token_from=url)
    assert "Choose how the call went" in bad.get_data(as_text=True)
    assert (
        c.post(
            f"{url}/call", {"summary": "Rang them", "call_outcome": "spoke"}, token_from=url
        ).status_code
        == 302
    )
    session.expire_all()
    h = session.get(m.Household, household.id)
    assert h.first_contact_at is not None  # speaking to them closes the call-back task
    assert (
        c.post(
            f"{url}/assign", {"officer_id": str(org.assessor_north.id)}, token_from=url
        ).status_code
        == 302
    )
    wrong_area = c.post(f"{url}/assign", {"officer_id": str(org.officer_south.id)}, token_from=url)
    assert "does not work in this household" in wrong_area.get_data(as_text=True)
    due = {"due_on": ["20", "3", "2026"]}  # the GOV.UK date input: three fields, one name
    task = c.post(
        f"{url}/task",
        {"title": "Send forms", "owner_id": str(org.officer_north.id), "priority": "urgent", **due},
        token_from=url,
    )
    assert task.status_code == 302, task.get_data(as_text=True)
    page = c.get(url).get_data(as_text=True)
    assert "Left info pack" in page and "Rang them" in page and "Task: Send forms" in page
    session.expire_all()
    assert session.get(m.Household, household.id).assigned_officer_id == org.assessor_north.id
    t = session.exec(select(m.Task).where(m.Task.title == "Send forms")).one()
    assert t.priority == m.TaskPriority.URGENT and t.owner_id == org.officer_north.id
    # The household page sends you to the task's own page to close it, which asks what came
    # of it: a task closed with no outcome tells the next person nothing.
    assert f'href="/tasks/{t.id}#close"' in page
    task_url = f"/tasks/{t.id}"
    empty = c.post(f"{task_url}/close", {"outcome": "  "}, token_from=task_url)
    assert empty.status_code == 400
    assert "Say what came of it" in empty.get_data(as_text=True)
    session.refresh(t)
    assert t.done_at is None
    done = c.post(f"{task_url}/close", {"outcome": "Forms sent"}, token_from=task_url)
    assert done.status_code == 302
    session.refresh(t)
    assert t.done_at is not None and t.outcome == "Forms sent"


def test_book_move_and_cancel_a_visit_in_free_slots_only(
    client_for, org, make_household, session, settings
):
    household = make_household()
    url = f"/households/{household.id}"
    c = client_for(org.officer_north)
    page = c.get(f"{url}/visits/book").get_data(as_text=True)
    offered = re.findall(r'name="slot" type="radio" value="([^"]+)"', page)
    staff_offered = {int(v.split("|")[0]) for v in offered}
    # Only staff of the household's area who do initial visits; never the other area.
    assert staff_offered == {org.officer_north.id, org.assessor_north.id}
    # A time that is not a free slot is refused.
    not_free = f"{org.officer_north.id}|2026-03-10T23:00:00+00:00"
    bogus = c.post(f"{url}/visits/book", {"slot": not_free}, token_from=url)
    assert "There is a problem" in bogus.get_data(as_text=True)
    assert (
        c.post(
            f"{url}/visits/book", {"slot": offered[0], "location": "At home"}, token_from=url
        ).status_code
        == 302
    )
    visit = session.exec(select(m.Appointment)).one()
    # Booked by staff, the household is still told (as when they book it themselves).
    [confirmation] = session.exec(
        select(m.OutboxMessage).where(m.OutboxMessage.template == "visit_confirmation")
    ).all()
    assert confirmation.household_id == household.id
    assert confirmation.payload["booked_via"] == "staff"
    page = c.get(f"{url}/visits/book").get_data(as_text=True)
    assert offered[0] not in page  # the slot is gone
    move_page = c.get(f"{url}/visits/{visit.id}/move").get_data(as_text=True)
    new_slot = re.findall(r'name="slot" type="radio" value="([^"]+)"', move_page)[3]
    assert (
        c.post(
            f"{url}/visits/{visit.id}/move",
            {"slot": new_slot, "location": "1 Elm Road, Leicester"},
            token_from=url,
        ).status_code
        == 302
    )
    session.expire_all()
    moved = session.get(m.Appointment, visit.id)
    assert moved.status == m.AppointmentStatus.MOVED and moved.moved_to_id
    no_reason = c.post(f"{url}/visits/{moved.moved_to_id}/cancel", {"reason": ""}, token_from=url)
    assert "Say why the visit is cancelled" in no_reason.get_data(as_text=True)
    assert (
        c.post(
            f"{url}/visits/{moved.moved_to_id}/cancel",
            {"reason": "They are unwell"},
            token_from=url,
        ).status_code
        == 302
    )
    session.expire_all()
    assert session.get(m.Appointment, moved.moved_to_id).status == m.AppointmentStatus.CANCELLED
    timeline = c.get(url).get_data(as_text=True)
    assert "Initial visit moved" in timeline and "Initial visit cancelled" in timeline
    assert "They are unwell" in timeline


def test_reopen_needs_confirmation_and_a_reason(client_for, org, make_household, session):
    from crm.services.pipeline import move_stage

    household = make_household()
    move_stage(session, Actor.system("test"), household.id, m.Stage.APPLICATION)
    url = f"/households/{household.id}/move"
    c = client_for(org.manager)
    page = c.get(url).get_data(as_text=True)
    assert "Enquiry (reopen)" in page
    refused = c.post(url, {"to_stage": "enquiry"}, token_from=url)
    assert "is a reopen" in refused.get_data(as_text=True)
    ok = c.post(
        url,
        {"to_stage": "enquiry", "reopen": "y", "reason_text": "Applied by mistake"},
        token_from=url,
    )
    assert ok.status_code == 302
    session.refresh(household)
    assert household.stage == m.Stage.ENQUIRY


def test_big_lists_stop_counting_at_the_cap(org, make_household, session):
    from crm.services.households import HouseholdQuery, search_households

    for n in range(7):
        make_household(first=f"Cap{n}", last="Count")
    actor = Actor.for_staff(session, org.manager)
    page = search_households(session, actor, HouseholdQuery(q="count", count_cap=5, per_page=2))
    assert (page.total, page.capped, page.pages) == (5, True, 3)
    assert len(page.rows) == 2
    exact = search_households(session, actor, HouseholdQuery(q="count", count_cap=7))
    assert (exact.total, exact.capped) == (7, False)


def test_staff_record_a_phone_enquiry(client_for, org, session, make_household):
    c = client_for(org.officer_north)
    url = "/households/new"
    data = {
        "first_name": "Femi", "last_name": "Ade", "phone": "07700 900777", "postcode": "LE2 3AB",
        "source_key": "radio_tv", "campaign_name": "Spring radio 2026",
        "interests": "Short breaks", "consent": "y", "consent_how": "phone",
    }  # fmt: skip
    no_consent = c.post(url, {**data, "consent": ""}, token_from=url)
    assert "Ask whether we may keep their details" in no_consent.get_data(as_text=True)
    bad = c.post(url, {**data, "phone": "12"}, token_from=url)
    assert "Enter a telephone number" in bad.get_data(as_text=True)
    assert 'value="Femi"' in bad.get_data(as_text=True)
    response = c.post(url, data, token_from=url)
    assert response.status_code == 302
    household = session.exec(select(m.Household).where(m.Household.postcode == "LE2 3AB")).one()
    assert household.enquiry_channel == m.EnquiryChannel.STAFF
    assert household.campaign_id is not None and household.source_key == "radio_tv"
    consent = session.exec(select(m.Consent).where(m.Consent.household_id == household.id)).one()
    assert consent.recorded_by_id == org.officer_north.id and "phone" in consent.wording
    # The same person again: linked to their record, not a second household.
    again = c.post(url, {**data, "first_name": "Femi", "interests": "Asked again"}, token_from=url)
    assert again.headers["Location"] == f"/households/{household.id}"
    count = session.exec(select(func.count()).select_from(m.Household)).one()
    assert count == 1


def test_change_details_and_record_consent(client_for, org, make_household, session):
    household = make_household(first="Dee", last="Tails", email="dee@example.com")
    url = f"/households/{household.id}"
    c = client_for(org.officer_north)
    form = c.get(f"{url}/details").get_data(as_text=True)
    assert 'value="Dee"' in form and 'value="dee@example.com"' in form
    base = {
        "first_name": "Dee", "last_name": "Tails", "email": "dee@example.com", "phone": "",
        "address_line_1": "1 High Street", "town": "Leicester", "postcode": "le1 6zg",
        "preferred_channel": "email",
    }  # fmt: skip
    bad = c.post(f"{url}/details", {**base, "email": "", "second_phone": "123"}, token_from=url)
    text = bad.get_data(as_text=True)
    assert "Enter an email address or a telephone number" in text
    assert "Enter a last name" in text  # the second applicant has a phone but no name
    assert 'value="1 High Street"' in text
    ok = c.post(
        f"{url}/details",
        {
            **base,
            "second_first_name": "Jo",
            "second_last_name": "Tails",
            "second_phone": "07700 900111",
        },
        token_from=url,
    )
    assert ok.status_code == 302
    session.expire_all()
    h = session.get(m.Household, household.id)
    assert (h.address_line_1, h.town, h.postcode) == ("1 High Street", "Leicester", "LE1 6ZG")
    assert [a.full_name for a in h.applicants] == ["Dee Tails", "Jo Tails"]
    assert h.applicants[1].phone == "+447700900111"
    audit_event = session.exec(
        select(m.AuditEvent)
        .where(m.AuditEvent.entity_id == household.id, m.AuditEvent.action == "update")
        .order_by(m.AuditEvent.id.desc())
    ).first()
    assert "applicant_2_added" in audit_event.detail["changed"]
    assert "Leicester" not in str(audit_event.detail)  # fields named, values never logged
    # Removing the second applicant.
    assert c.post(f"{url}/details", base, token_from=url).status_code == 302
    session.expire_all()
    assert [a.full_name for a in session.get(m.Household, household.id).applicants] == ["Dee Tails"]
    # Consent withdrawn by phone: recorded, newest shown first.
    no_words = c.post(f"{url}/consent", {"scope": "email", "granted": "no"}, token_from=url)
    assert "in their words" in no_words.get_data(as_text=True)
    withdrawn = {"scope": "email", "granted": "no", "wording": "Said on the phone: no more emails"}
    assert c.post(f"{url}/consent", withdrawn, token_from=url).status_code == 302
    latest = session.exec(
        select(m.Consent)
        .where(m.Consent.household_id == household.id, m.Consent.scope == "email")
        .order_by(m.Consent.id.desc())
    ).first()
    assert latest.granted is False and latest.recorded_by_id == org.officer_north.id
    assert "no more emails" in c.get(url).get_data(as_text=True)
