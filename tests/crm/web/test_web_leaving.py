"""The carer's breaks and leaving on the web (crm.web.leaving): what a supervising social
worker does on the carer's page, what a refusal keeps of what they typed, and who is refused.
"Today" is 10 March 2026 (the test clock)."""

from datetime import date

import pytest
from sqlmodel import select

import crm.models as m
from tests.crm.web.test_web_visits_carers import make_carer
from tests.crm.web.test_web_wording import error_summary

PAGES = ("break", "break/end", "notice", "exit-conversation", "notice/withdraw")


def test_a_notice_with_its_exit_conversation_then_withdrawn(
    client_for, org, make_household, session
):
    carer = make_carer(session, make_household, org, first="Nia", last="Notice")
    carer.approved_on = date(2025, 1, 6)
    session.add(carer)
    session.commit()
    c = client_for(org.supervisor_north)
    url = f"/carers/{carer.id}"
    page = c.get(url).get_data(as_text=True)
    assert "Record the carer's notice" in page and "Withdraw the notice" not in page
    form = c.get(f"{url}/notice").get_data(as_text=True)
    assert "Their approval ends 28 days after it" in form and "Exit conversation" in form

    # One round names every problem, and what was typed stays in the form.
    typed = {
        "notice_given_on": ["11", "3", "2026"], "reason_code": "other", "reason_text": "",
        "exit_on": ["9", "3", "2026"], "exit_notes": "", "exit_would_have_kept": "Respite",
    }  # fmt: skip
    refused = c.post(f"{url}/notice", typed, token_from=f"{url}/notice")
    assert refused.status_code == 400
    summary = error_summary(refused.get_data(as_text=True))
    assert "cannot be in the future" in summary
    assert "in the carer&#39;s words, why they are leaving" in summary
    assert "Enter what was said in the exit conversation" in summary
    assert "Respite</textarea>" in refused.get_data(as_text=True)
    assert session.exec(select(m.CarerLeaving)).all() == []

    typed.update(
        notice_given_on=["9", "3", "2026"], reason_text="Moving abroad",
        exit_notes="Sad to go; proud of the children",
    )  # fmt: skip
    done = c.post(f"{url}/notice", typed, token_from=f"{url}/notice", follow_redirects=True)
    html = done.get_data(as_text=True)
    assert error_summary(html) == ""
    assert "Notice recorded: the approval ends on 6 April 2026" in html
    assert "Moving abroad" in html and "Sad to go; proud of the children" in html
    assert "Withdraw the notice" in html and "Start a break from fostering" not in html
    [notice] = session.exec(select(m.CarerLeaving)).all()
    assert (notice.exit_conversation_by_id, notice.exit_would_have_kept) == (
        org.supervisor_north.id,
        "Respite",
    )

    withdraw = f"{url}/notice/withdraw"
    assert "the approval ends on 6 Apr 2026" in c.get(withdraw).get_data(as_text=True)
    no_reason = c.post(withdraw, {"withdrawn_on": ["10", "3", "2026"]}, token_from=withdraw)
    assert no_reason.status_code == 400
    assert "Say why the carer is staying" in error_summary(no_reason.get_data(as_text=True))
    kept = c.post(
        withdraw, {"withdrawn_on": ["10", "3", "2026"], "withdrawn_reason": "Job fell through"},
        token_from=withdraw, follow_redirects=True,
    )  # fmt: skip
    html = kept.get_data(as_text=True)
    assert "Notice withdrawn: the carer stays approved" in html
    assert "withdrawn 10 Mar 2026: Job fell through" in html
    assert "Record the carer's notice" in html
    session.refresh(carer)
    assert carer.status == m.CarerStatus.ACTIVE


def test_a_break_refused_keeps_what_was_typed(client_for, org, make_household, session):
    carer = make_carer(session, make_household, org)
    c = client_for(org.supervisor_north)
    form = f"/carers/{carer.id}/break"
    typed = {"started_on": ["10", "3", "2026"], "reason": "Family illness",
             "expected_end_on": ["1", "3", "2026"]}  # fmt: skip
    refused = c.post(form, typed, token_from=form)
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert "The expected end must be on or after the start" in error_summary(html)
    assert "Family illness</textarea>" in html
    session.refresh(carer)
    assert carer.status == m.CarerStatus.ACTIVE
    assert session.exec(select(m.CarerBreak)).all() == []


@pytest.mark.parametrize("role", ["officer_north", "assessor_north", "officer_south"])
def test_only_the_carer_team_reaches_the_leaving_pages(
    client_for, org, make_household, session, role
):
    carer = make_carer(session, make_household, org)
    c = client_for(getattr(org, role))
    for page in PAGES:
        assert c.get(f"/carers/{carer.id}/{page}").status_code == 403, page
    # A post with a good token is refused too.
    data = {"notice_given_on": ["9", "3", "2026"], "reason_code": "retirement"}
    assert c.post(f"/carers/{carer.id}/notice", data, token_from="/home").status_code == 403
    assert session.exec(select(m.CarerLeaving)).all() == []


def test_the_page_shows_the_history_of_a_carer_who_left(client_for, org, make_household, session):
    carer = make_carer(session, make_household, org, first="Lee", last="Left")
    carer.approved_on = date(2025, 1, 6)
    session.add(carer)
    session.commit()
    c = client_for(org.manager)
    url = f"/carers/{carer.id}"
    for page, data in (
        ("break", {"started_on": ["5", "1", "2026"], "reason": "Rest",
                   "expected_end_on": ["5", "2", "2026"]}),
        ("notice", {"notice_given_on": ["2", "2", "2026"], "reason_code": "retirement"}),
    ):  # fmt: skip
        assert c.post(f"{url}/{page}", data, token_from=f"{url}/{page}").status_code == 302
    html = c.get(url).get_data(as_text=True)
    assert "Approval ended" in html and "2 Mar 2026" in html
    assert "Past breaks" in html and "Rest" in html
    assert 'Record<span class="govuk-visually-hidden"> the exit conversation' in html
    # Deregistered: no actions left but the exit conversation.
    assert "Start a break from fostering" not in html and "Withdraw the notice" not in html
    talk = f"{url}/exit-conversation"
    done = c.post(
        talk, {"exit_on": ["3", "3", "2026"], "exit_notes": "Content to retire"},
        token_from=talk, follow_redirects=True,
    )  # fmt: skip
    assert "Exit conversation recorded" in done.get_data(as_text=True)
    assert "Content to retire" in done.get_data(as_text=True)
