"""What people read: errors in the error summary (never a green banner), every problem in
one round, reasons offered for the chosen stage, GOV.UK dates and times, free times offered
again when one is taken, failed and waiting messages, the visit's address, the favicon, and
pages that vary on htmx's request header."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

import crm.models as m
from crm import clock
from crm.services.actors import Actor
from crm.services.appointments import book_appointment, slots_for_area
from crm.services.carers import assign_supervisor
from crm.services.outbox import enqueue_message
from crm.services.pipeline import move_stage
from tests.crm.web.test_web_public import GOOD

SLOT = re.compile(r'name="slot" type="radio" value="([^"]+)"')
SUCCESS = "govuk-notification-banner--success"
TIME_TAKEN = "That time has just been taken. Choose one of the other free times."


def parts(day) -> list[str]:  # noqa: ANN001
    return [str(day.day), str(day.month), str(day.year)]


def error_summary(html: str) -> str:
    match = re.search(r'<div class="govuk-error-summary".*?</ul>', html, re.S)
    return match.group(0) if match else ""


# -- errors go in the error summary, in one round -----------------------------------------


def test_a_supervision_visit_in_the_future_is_an_error_not_a_success(
    client_for, org, make_household, session
):
    household = make_household(first="Cara", last="Giver")
    move_stage(session, Actor.system("test"), household.id, m.Stage.APPROVED)
    carer = session.exec(select(m.Carer).where(m.Carer.household_id == household.id)).one()
    assign_supervisor(session, Actor.system("test"), carer.id, org.supervisor_north.id)
    url = f"/carers/{carer.id}/supervision-visits/new"
    c = client_for(org.supervisor_north)
    later = clock.now().date() + timedelta(days=5)
    response = c.post(
        url, {"visited_on": parts(later), "kind": "announced", "notes": "Fine"}, token_from=url
    )
    html = response.get_data(as_text=True)
    # The form comes back (not a redirect to a green banner) with the error in the summary.
    assert response.status_code == 400
    assert SUCCESS not in html and "Success" not in html
    assert "The visit cannot be in the future" in error_summary(html)
    assert html.count('class="govuk-date-input"') == 1
    assert f'id="visited_on-day" name="visited_on" type="text" value="{later.day}"' in html
    assert "Fine</textarea>" in html
    assert "<title>Error: " in html
    session.refresh(carer)
    assert carer.last_supervision_at is None


def test_a_refused_quick_action_is_not_shown_as_a_success(client_for, org, make_household, session):
    household = make_household()
    move_stage(session, Actor.system("test"), household.id, m.Stage.APPROVED)
    carer = session.exec(select(m.Carer).where(m.Carer.household_id == household.id)).one()
    url = f"/carers/{carer.id}"
    c = client_for(org.manager)
    today = parts(clock.now().date())
    taking = {"started_on": today, "reason": "Rest", "expected_end_on": today}
    c.post(f"{url}/break", taking, token_from=f"{url}/break")
    again = c.post(f"{url}/break", taking, token_from=f"{url}/break", follow_redirects=True)
    html = again.get_data(as_text=True)
    assert "There is a problem" in error_summary(html) and SUCCESS not in html
    # The same on the board: a move that cannot happen is a problem, not a success.
    other = make_household(first="Bo", last="Ard")
    refused = c.post(
        "/pipeline/move",
        {"household_id": other.id, "to_stage": "bogus"},
        token_from="/pipeline",
        follow_redirects=True,
    )
    html = refused.get_data(as_text=True)
    assert "Choose a stage to move to" in error_summary(html) and SUCCESS not in html


def test_the_enquiry_form_reports_every_problem_at_once(client, org, session):
    response = client.post(
        "/enquire",
        {**GOOD, "first_name": "", "email": "not-an-email", "phone": "12", "postcode": "ZZZ"},
    )
    summary = error_summary(response.get_data(as_text=True))
    for message in [
        "Enter your first name",
        "Enter an email address in the correct format",
        "Enter a telephone number",
        "Enter a real UK postcode",
    ]:
        assert message in summary, message
    assert session.exec(select(m.Household)).first() is None


def test_staff_enquiry_reports_every_problem_at_once(client_for, org, session):
    c = client_for(org.officer_north)
    response = c.post(
        "/households/new",
        {"first_name": "", "last_name": "Lee", "email": "nope", "phone": "12", "postcode": "X"},
        token_from="/households/new",
    )
    summary = error_summary(response.get_data(as_text=True))
    for message in [
        "Enter a first name",
        "Enter an email address in the correct format",
        "Enter a telephone number",
        "Enter a real UK postcode",
        "Ask whether we may keep their details",
    ]:
        assert message in summary, message


# -- the move page: reasons for the chosen stage, in plain words --------------------------


def conditionals(html: str) -> dict[str, str]:
    """Each stage radio's value and the content it reveals."""
    found = {}
    for match in re.finditer(
        r'value="([a-z_]+)"[^>]*data-aria-controls="(conditional-[^"]+)"', html
    ):
        block = re.search(
            rf'<div class="govuk-radios__conditional[^"]*" id="{match.group(2)}">(.*?)</select>',
            html,
            re.S,
        )
        found[match.group(1)] = block.group(1)
    return found


def test_the_move_page_offers_each_stage_its_own_reasons(client_for, org, make_household, session):
    household = make_household()
    c = client_for(org.officer_north)
    url = f"/households/{household.id}/move"
    html = c.get(url).get_data(as_text=True)
    reveal = conditionals(html)
    assert set(reveal) == {"withdrawn", "not_progressed", "on_hold"}
    reasons = session.exec(select(m.Reason).where(m.Reason.active.is_(True))).all()
    for stage, block in reveal.items():
        mine = sorted(r.code for r in reasons if r.kind == stage)
        assert sorted(re.findall(r'<option value="([a-z_]+)"', block)) == mine, stage
    # Every reason appears once, under its own stage only (not every reason under each).
    offered_kinds = [r for r in reasons if r.kind in reveal]
    assert len(re.findall(r'<option value="[a-z_]+"', html)) == len(offered_kinds)
    # With the stage already chosen (from the board), its reasons are revealed.
    chosen = c.get(f"{url}?to=not_progressed").get_data(as_text=True)
    assert re.search(r'value="not_progressed" checked', chosen)
    assert re.search(
        r'class="govuk-radios__conditional" id="conditional-to_stage-\d+">\s*'
        r'<div class="govuk-form-group">\s*<label class="govuk-label" for="reason_not_progressed"',
        chosen,
    )


def test_a_reason_that_does_not_fit_is_refused_in_plain_words(
    client_for, org, make_household, session
):
    household = make_household()
    c = client_for(org.officer_north)
    url = f"/households/{household.id}/move"
    # "health" is a reason for deregistering, not for withdrawing.
    response = c.post(url, {"to_stage": "withdrawn", "reason_withdrawn": "health"}, token_from=url)
    html = response.get_data(as_text=True)
    assert "Choose one of the reasons for moving to withdrawn" in error_summary(html)
    assert "Unknown reason" not in html and "&#39;health&#39;" not in html
    assert 'href="#reason_withdrawn"' in error_summary(html)
    session.refresh(household)
    assert household.stage == m.Stage.ENQUIRY


# -- dates: the GOV.UK date input everywhere, GOV.UK wording ------------------------------


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (["31", "2", "2026"], "Date must be a real date"),
        (["12", "", "2026"], "Date must include a month"),
        (["", "", "2026"], "Date must include a day and month"),
        (["3", "13", "2026"], "Date must be a real date"),
        (["x", "3", "2026"], "Date must be a real date"),
        (["3", "3", "26"], "Year must include 4 numbers"),
        (["1", "1", "2020"], "Date must be today or in the future"),
    ],
)
def test_a_task_due_date_in_govuk_wording(client_for, org, make_household, session, typed, message):
    household = make_household()
    c = client_for(org.officer_north)
    url = f"/households/{household.id}/task"
    response = c.post(
        url, {"title": "Call back", "due_on": typed, "priority": "normal"}, token_from=url
    )
    html = response.get_data(as_text=True)
    assert message in error_summary(html)
    assert "Not a valid date" not in html
    # What was typed stays in the boxes.
    assert f'id="due_on-year" name="due_on" type="text" value="{typed[2]}"' in html
    assert session.exec(select(m.Task).where(m.Task.title == "Call back")).first() is None


def test_a_task_due_today_or_later_is_created(client_for, org, make_household, session, settings):
    household = make_household()
    c = client_for(org.officer_north)
    url = f"/households/{household.id}/task"
    today = clock.now().astimezone(settings.tz).date()
    for title, day in (("Today", today), ("Next week", today + timedelta(days=7))):
        data = {"title": title, "due_on": parts(day), "priority": "normal"}
        assert c.post(url, data, token_from=url).status_code == 302
        task = session.exec(select(m.Task).where(m.Task.title == title)).one()
        assert task.due_at.astimezone(settings.tz).date() == day


def test_parse_date_parts_reads_what_people_type():
    from crm.web.forms import parse_date_parts

    assert parse_date_parts(["7", "3", "2026"]).isoformat() == "2026-03-07"
    assert parse_date_parts([" 07 ", "Mar", "2026"]).isoformat() == "2026-03-07"
    assert parse_date_parts(["7", "march", "2026"]).isoformat() == "2026-03-07"
    assert parse_date_parts(["2026-03-07"]).isoformat() == "2026-03-07"
    with pytest.raises(ValueError, match="From date must be a real date"):
        parse_date_parts(["29", "2", "2025"], "From date")


def test_every_typed_date_uses_the_govuk_date_input(client_for, org, make_household, session):
    household = make_household()
    move_stage(session, Actor.system("test"), household.id, m.Stage.APPROVED)
    carer = session.exec(select(m.Carer).where(m.Carer.household_id == household.id)).one()
    other = make_household()
    manager = client_for(org.manager)
    pages = {
        f"/households/{other.id}/task": ["due_on"],
        f"/carers/{carer.id}/supervision-visits/new": ["visited_on"],
        f"/carers/{carer.id}/reviews/new": ["reviewed_on"],
        f"/carers/{carer.id}/training/new": ["completed_on"],
        f"/carers/{carer.id}/placements/new": ["started_on", "expected_end_on"],
        f"/visits/availability/{org.officer_north.id}": ["on_date"],
        "/audit": ["from", "to"],
    }
    for path, names in pages.items():
        html = manager.get(path).get_data(as_text=True)
        assert 'type="date"' not in html and "YYYY" not in html, path
        for name in names:
            for part in ("day", "month", "year"):
                assert f'id="{name}-{part}" name="{name}"' in html, (path, name, part)


def test_availability_and_audit_dates_in_three_boxes(client_for, org, session):
    c = client_for(org.officer_north)
    url = f"/visits/availability/{org.officer_north.id}"
    bad = c.post(url, {"action": "exception", "on_date": ["31", "2", "2026"]}, token_from=url)
    assert "Date must be a real date" in error_summary(bad.get_data(as_text=True))
    away = {"action": "exception", "on_date": ["17", "3", "2026"], "available": "no"}
    assert c.post(url, away, token_from=url).status_code == 302
    exception = session.exec(select(m.AvailabilityException)).one()
    assert exception.on_date.isoformat() == "2026-03-17"
    manager = client_for(org.manager)
    wrong = manager.get("/audit?from=30&from=2&from=2026").get_data(as_text=True)
    assert "From date must be a real date" in error_summary(wrong)
    today = clock.now().date()
    query = {"from": parts(today), "to": parts(today)}
    page = manager.get("/audit", query_string=query).get_data(as_text=True)
    assert "There is a problem" not in page
    assert re.search(r"\d+ events?", page)
    # The filter is kept in the boxes.
    assert f'id="from-year" name="from" type="text" value="{today.year}"' in page


# -- a time taken meanwhile ---------------------------------------------------------------


def test_a_slot_taken_meanwhile_offers_the_other_free_times(
    client_for, org, make_household, session, settings
):
    household = make_household()
    url = f"/households/{household.id}"
    c = client_for(org.officer_north)
    page = c.get(f"{url}/visits/book").get_data(as_text=True)
    chosen = SLOT.findall(page)[0]
    staff_id, starts = chosen.split("|")
    other = make_household(first="Other", last="Family")
    book_appointment(
        session, Actor.system("test"), settings, staff_id=int(staff_id),
        kind="initial_visit", starts_at=datetime.fromisoformat(starts), household_id=other.id,
    )  # fmt: skip
    response = c.post(
        f"{url}/visits/book", {"slot": chosen, "location": "1 Elm Road"}, token_from=url
    )
    html = response.get_data(as_text=True)
    assert TIME_TAKEN in error_summary(html)
    assert "Not a valid choice" not in html
    still_free = SLOT.findall(html)
    assert still_free and chosen not in still_free
    assert (
        session.exec(
            select(m.Appointment).where(m.Appointment.household_id == household.id)
        ).first()
        is None
    )


def test_the_public_is_offered_other_times_when_theirs_is_taken(
    client, org, session, settings, make_household
):
    thanks_url = client.post("/enquire", GOOD).headers["Location"]
    slot = SLOT.findall(client.get(thanks_url).get_data(as_text=True))[0]
    # Other families take that time with every member of staff who had it free (one initial
    # visit each: a household has at most one live initial visit).
    area_id = make_household("LE2 2AA", "Other", "Family").area_id
    taken = [s for s in slots_for_area(session, settings, area_id)
             if s.starts_at.strftime("%Y%m%dT%H%M%z") == slot]  # fmt: skip
    for n, s in enumerate(taken):
        other = make_household("LE2 2AA", "Other", f"Family{n}")
        book_appointment(
            session, Actor.system("test"), settings, staff_id=s.staff_id,
            kind="initial_visit", starts_at=s.starts_at, household_id=other.id,
        )  # fmt: skip
    response = client.post(thanks_url, {"slot": slot}, token_from="/enquire")
    html = response.get_data(as_text=True)
    assert TIME_TAKEN in error_summary(html)
    assert "Not a valid choice" not in html
    offered = SLOT.findall(html)
    assert offered and slot not in offered


# -- failed messages and those waiting to be tried again ----------------------------------


def test_the_messages_page_shows_failed_and_waiting_messages(
    client_for, org, make_household, session
):
    household = make_household()

    def message(key: str, status: m.OutboxStatus, attempts: int, error: str | None):
        row = enqueue_message(
            session, channel=m.Channel.EMAIL, recipient="x@example.com",
            template="visit_reminder", payload={}, due_at=clock.now(), unique_key=key,
            household_id=household.id,
        )  # fmt: skip
        row.status, row.attempts, row.error = status, attempts, error
        row.next_attempt_at = clock.now() + timedelta(minutes=5)
        session.add(row)

    message("f1", m.OutboxStatus.FAILED, 5, "550 mailbox unavailable")
    for n in range(3):
        message(f"r{n}", m.OutboxStatus.PENDING, n + 1, f"Connection refused ({n})")
    message("new", m.OutboxStatus.PENDING, 0, None)  # not tried yet: not waiting to retry
    message("sent", m.OutboxStatus.SENT, 1, None)
    session.commit()
    html = client_for(org.admin).get("/admin/messages").get_data(as_text=True)
    counts = re.search(r'id="message-counts">([^<]+)<', html).group(1)
    assert counts == "1 failed (no more attempts); 3 waiting to be tried again."
    assert "550 mailbox unavailable" in html
    for n in range(3):
        assert f"Connection refused ({n})" in html
    assert "No failed messages" not in html


def test_with_nothing_wrong_the_messages_page_says_so(client_for, org):
    html = client_for(org.admin).get("/admin/messages").get_data(as_text=True)
    assert "No failed messages" in html and "No messages waiting to be tried again" in html


# -- the address of a visit at home -------------------------------------------------------


def test_booking_a_home_visit_asks_for_the_address(client_for, org, make_household, session):
    household = make_household()
    household.address_line_1, household.town = "12 Oak Lane", "Leicester"
    session.add(household)
    session.commit()
    url = f"/households/{household.id}"
    c = client_for(org.officer_north)
    page = c.get(f"{url}/visits/book").get_data(as_text=True)
    assert "Address of the visit" in page
    assert 'value="12 Oak Lane, Leicester, LE1 6ZG"' in page  # to confirm
    slot = SLOT.findall(page)[0]
    missing = c.post(f"{url}/visits/book", {"slot": slot, "location": ""}, token_from=url)
    assert "Enter the address of the visit" in error_summary(missing.get_data(as_text=True))
    assert session.exec(select(m.Appointment)).first() is None
    done = c.post(
        f"{url}/visits/book", {"slot": slot, "location": "12 Oak Lane, Leicester"}, token_from=url
    )
    assert done.status_code == 302
    visit = session.exec(select(m.Appointment)).one()
    assert visit.location == "12 Oak Lane, Leicester"
    # An information session is not at home: where is optional.
    info = c.get(f"{url}/visits/book?kind=information_session").get_data(as_text=True)
    assert "Where (optional)" in info and "Address of the visit" not in info


def test_moving_a_home_visit_confirms_the_address_and_tells_them(
    client_for, org, make_household, session, settings
):
    household = make_household()
    slots = slots_for_area(session, settings, household.area_id)
    visit = book_appointment(
        session, Actor.system("test"), settings, staff_id=slots[0].staff_id,
        kind="initial_visit", starts_at=slots[0].starts_at, household_id=household.id,
        location="3 Old Street",
    )  # fmt: skip
    url = f"/households/{household.id}"
    c = client_for(org.officer_north)
    page = c.get(f"{url}/visits/{visit.id}/move").get_data(as_text=True)
    assert 'value="3 Old Street"' in page
    new_slot = SLOT.findall(page)[3]
    moved = c.post(
        f"{url}/visits/{visit.id}/move",
        {"slot": new_slot, "location": "4 New Road, Leicester"},
        token_from=url,
    )
    assert moved.status_code == 302
    session.expire_all()
    new = session.get(m.Appointment, session.get(m.Appointment, visit.id).moved_to_id)
    assert new.location == "4 New Road, Leicester"
    [message] = session.exec(select(m.OutboxMessage)).all()
    assert message.template == "visit_confirmation" and message.payload["moved"] is True
    assert message.payload["appointment_id"] == new.id


# -- times in GOV.UK style ----------------------------------------------------------------


def test_times_read_the_govuk_way():
    from crm.timetext import clock_time, time_range

    assert clock_time(time(9, 30)) == "9:30am"
    assert clock_time(time(10, 0)) == "10am"
    assert clock_time(time(17, 45)) == "5:45pm"
    assert clock_time(time(12, 0)) == "midday"
    assert clock_time(time(0, 0)) == "midnight"
    assert clock_time(time(12, 30)) == "12:30pm"
    assert clock_time(time(0, 15)) == "12:15am"
    assert time_range(time(9, 30), time(11, 0)) == "9:30am to 11am"


def test_public_and_staff_pages_show_govuk_times(client, client_for, org, make_household):
    thanks_url = client.post("/enquire", GOOD).headers["Location"]
    page = client.get(thanks_url).get_data(as_text=True)
    label_text = re.compile(r'for="slot[^"]*">\s*([^<]+?)\s*</label>')
    labels = label_text.findall(page)
    assert labels
    public_style = re.compile(
        r"[A-Z][a-z]+day \d{1,2} [A-Z][a-z]+ at (\d{1,2}(:\d\d)?[ap]m|midday)"
    )
    for label in labels:
        assert public_style.fullmatch(label), label
    # A time written "10 AM" or "2:30PM" (a bare "PM" can be part of a random reference).
    assert not re.search(r"\d\s?(AM|PM)\b", page)
    household = make_household()
    staff = client_for(org.officer_north).get(f"/households/{household.id}/visits/book")
    staff_labels = label_text.findall(staff.get_data(as_text=True))
    assert staff_labels
    for label in staff_labels:
        assert re.match(r"[A-Z][a-z]{2} \d{1,2} [A-Z][a-z]{2}, \S+ to \S+ with ", label), label
        assert not re.search(r"\d:\d\d(?![ap]m)", label), label  # no 24-hour clock


def test_a_visit_booked_for_midday_says_midday(client, org, session, settings):
    from crm.web.filters import govuk_time

    app = client.http.application
    with app.app_context():
        assert govuk_time(datetime(2026, 6, 1, 11, 0, tzinfo=UTC)) == "midday"  # BST
        assert govuk_time(datetime(2026, 1, 1, 0, 0, tzinfo=UTC)) == "midnight"


# -- the favicon --------------------------------------------------------------------------


def test_every_page_has_our_favicon(client, client_for, org):
    link = '<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">'
    assert link in client.get("/enquire").get_data(as_text=True)
    assert link in client_for(org.officer_north).get("/home").get_data(as_text=True)
    icon = client.get("/assets/favicon.svg")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    svg = icon.get_data(as_text=True)
    assert svg.lstrip().startswith("<svg") and "<script" not in svg
    # Both page skeletons link it (the staff and public pages, and the check-in pages).
    root = Path(__file__).resolve().parents[3]
    for layout in ("crm/web/templates/layout.html", "crm/web/templates/checkins/_layout.html"):
        text = (root / layout).read_text()
        assert "rel=\"icon\" href=\"{{ url_for('static', filename='favicon.svg') }}\"" in text, (
            layout
        )


# -- htmx: one address, a page or a part of it --------------------------------------------


def test_the_search_says_it_varies_on_the_htmx_header(client_for, org, make_household):
    make_household(first="Hana", last="Tanaka")
    c = client_for(org.manager)
    full = c.get("/households?q=tanaka")
    part = c.get("/households?q=tanaka", headers={"HX-Request": "true"})
    for response in (full, part):
        assert "HX-Request" in response.headers.get_all("Vary")[0]
    assert "<html" in full.get_data(as_text=True)
    assert "<html" not in part.get_data(as_text=True)
    # Going back with htmx asks for the history again: that needs the whole page.
    restore = c.get(
        "/households?q=tanaka",
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert "<html" in restore.get_data(as_text=True)


def test_htmx_keeps_no_history_cache(client):
    html = client.get("/enquire").get_data(as_text=True)
    content = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", html).group(1)
    config = json.loads(content)
    assert config["historyCacheSize"] == 0 and config["refreshOnHistoryMiss"] is True
    assert config["allowEval"] is False


def test_no_template_types_dates_or_times_another_way():
    # One date input (GOV.UK's) and one way to show a time (govuk_time / local_time).
    root = Path(__file__).resolve().parents[3]
    offenders = []
    # Every page's template, the web chat's and the check-in pages' included.
    for folder in ("crm/web/templates",):
        for path in (root / folder).rglob("*.html"):
            text = path.read_text(encoding="utf-8")
            if 'type="date"' in text or "YYYY" in text:
                offenders.append(f"{path.name}: a date typed without the GOV.UK date input")
            if re.search(r"local_time\([^)]*%[HIMp]", text):
                offenders.append(f"{path.name}: a 24-hour or AM/PM time (use govuk_time)")
    assert offenders == []
