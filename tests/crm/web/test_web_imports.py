"""The tracker import wizard through the web: upload, map, check, import; and what it refuses."""

from __future__ import annotations

import re

from sqlmodel import func, select

import crm.models as m
from crm.services.imports.mapping import layout_key

# A team's tracker: a title row, two columns of dates under names the importer does not know
# (so it stops until they are mapped), and two sources the CRM's list does not have.
TRACKER = (
    "Northshire enquiries 2024-25,,,,,,,\n"
    "Ref,Date of enquiry,Name,Email,Postcode,How heard,Visited on,Gave up on,Withdrawal reason\n"
    "N-1,06/05/2024,Kim Lee,kim@example.org,LE1 6ZG,Insta,20/05/2024,,\n"
    "N-2,13/05/2024,Al Ng,al@example.org,LE2 1AA,Leaflet thru door,27/05/2024,10/06/2024,"
    "Moving house\n"
    "N-3,20/05/2024,Bo Day,bo@example.org,LE3 1AA,Insta,,,\n"
)
HEADINGS = [
    "Ref", "Date of enquiry", "Name", "Email", "Postcode", "How heard", "Visited on",
    "Gave up on", "Withdrawal reason",
]  # fmt: skip


def upload(c, content: str | bytes, name: str = "northshire.csv"):
    data = content.encode() if isinstance(content, str) else content
    from io import BytesIO

    return c.post(
        "/imports",
        {"file": (BytesIO(data), name)},
        token_from="/imports",
        content_type="multipart/form-data",
    )


def wizard_answers(page: str) -> dict[str, str]:
    """The form's current answers, as a browser would post them back."""
    answers = {}
    for name, body in re.findall(r'<select[^>]* name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body)
        answers[name] = chosen.group(1) if chosen else ""
    hidden = r'<input type="hidden" name="(value-[^"]+)" value="([^"]*)"'
    for name, value in re.findall(hidden, page):
        answers[name] = value.replace("&#39;", "'").replace("&amp;", "&")
    return answers


def value_field(page: str, text: str) -> str:
    match = re.search(rf'name="(value-\d+)-text" value="{re.escape(text)}"', page)
    assert match, f"no question about {text!r}"
    return f"{match.group(1)}-choice"


def test_a_manager_maps_checks_and_imports_a_tracker(client_for, org, session):
    c = client_for(org.manager)
    started = upload(c, TRACKER)
    assert started.status_code == 302
    wizard_url = started.headers["Location"]
    page = c.get(wizard_url).get_data(as_text=True)
    # The two date columns stop the import until they are mapped or ignored.
    assert "Not ready to import yet" in page
    assert "Map or ignore this column: it holds dates" in page
    assert "G: Visited on" in page and "20/05/2024" in page
    # A preview of the first rows below the headings the importer found on row 2.
    assert "The first 3 rows, below the headings on row 2" in page
    assert '<td class="govuk-table__cell">Leaflet thru door</td>' in page

    answers = wizard_answers(page)
    answers.update({"column-visitedon": "initial_visit_date", "column-gaveupon": "withdrawn_date"})
    page = c.post(wizard_url, {**answers, "action": "update"}, token_from=wizard_url)
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Not ready to import yet" not in text
    # Now the sources the CRM does not know are asked about; a reason in the team's words is
    # asked about too (it would go under other by itself).
    answers = wizard_answers(text)
    answers[value_field(text, "Insta")] = "social_media"
    answers[value_field(text, "Leaflet thru door")] = "other"

    checked = c.post(wizard_url, {**answers, "action": "check"}, token_from=wizard_url)
    text = checked.get_data(as_text=True)
    assert checked.status_code == 200, text[:3000]
    assert "northshire.csv: 3 rows read; would create 3, update 0, leave 0 unchanged." in text
    assert session.exec(select(func.count()).select_from(m.Household)).one() == 0

    done = c.post(wizard_url, {**wizard_answers(text), "action": "import"}, token_from=wizard_url)
    text = done.get_data(as_text=True)
    assert done.status_code == 200, text[:3000]
    assert "Tracker imported" in text and "3 created" in text
    session.expire_all()
    households = session.exec(select(m.Household).order_by(m.Household.id)).all()
    assert [h.stage for h in households] == ["initial_visit", "withdrawn", "enquiry"]
    assert [h.source_key for h in households] == ["social_media", "other", "social_media"]
    assert households[1].source_text == "Leaflet thru door"
    # The mapping is kept for the layout, and the file (families' names) is forgotten.
    saved = session.exec(select(m.SavedImportMapping)).one()
    assert saved.layout_key == layout_key(HEADINGS)
    assert saved.mapping["columns"]["visitedon"] == "initial_visit_date"
    assert session.exec(select(func.count()).select_from(m.ImportUpload)).one() == 0
    assert c.get(wizard_url).status_code == 404

    # The next file with the same headings is mapped as last time, with no questions left.
    again = upload(c, TRACKER.replace("N-3,20/05/2024", "N-4,27/05/2024"), "june.csv")
    page = c.get(again.headers["Location"]).get_data(as_text=True)
    assert "mapped as they were for the last file with the same headings" in page
    assert "Not ready to import yet" not in page


def test_only_managers_and_admins_reach_the_wizard(client_for, org):
    for user in (org.officer_north, org.assessor_north, org.supervisor_north):
        assert client_for(user).get("/imports").status_code == 403
    assert client_for(org.admin).get("/imports").status_code == 200


def test_someone_elses_upload_is_not_found(client_for, org):
    started = upload(client_for(org.manager), TRACKER)
    assert client_for(org.admin).get(started.headers["Location"]).status_code == 404


def test_bad_files_get_a_sentence_and_nothing_is_kept(client_for, org, session):
    c = client_for(org.manager)
    refused = upload(c, b"\x89PNG\r\n\x1a\n", "photo.png")
    assert refused.status_code == 400
    assert "The file must be a spreadsheet" in refused.get_data(as_text=True)
    assert upload(c, b"", "empty.csv").status_code == 400
    too_big = upload(c, b"a" * (6 * 1024 * 1024), "huge.csv")
    assert too_big.status_code == 413
    assert "the wizard takes files up to 5 MB" in too_big.get_data(as_text=True)
    assert session.exec(select(func.count()).select_from(m.ImportUpload)).one() == 0
    # A picture named .csv is kept, then explained on the next page, not imported.
    started = upload(c, b"\x89PNG\r\n\x1a\n\x00\x00\x00", "photo.csv")
    page = c.get(started.headers["Location"]).get_data(as_text=True)
    assert "Not ready to import yet" in page


def test_a_wrong_header_row_is_said_and_the_choices_are_kept(client_for, org):
    c = client_for(org.manager)
    url = upload(c, TRACKER).headers["Location"]
    answers = wizard_answers(c.get(url).get_data(as_text=True))
    answers["column-visitedon"] = "initial_visit_date"
    answered = c.post(url, {**answers, "header_row": "two", "action": "check"}, token_from=url)
    text = answered.get_data(as_text=True)
    assert answered.status_code == 400
    assert "The header row must be the spreadsheet&#39;s row number, like 3" in text
    response = c.post(url, {**answers, "action": "check"}, token_from=url)
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert re.search(r'<option value="initial_visit_date" selected>Initial visit date', text)
