"""No page shows markup as text: after each main action (its success banner, or its form
re-rendered with errors), on the public enquiry and booking pages, and in every template
(markup is built by templates and macros, never by joining strings)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from jinja2 import Environment, nodes
from sqlmodel import select

import crm.models as m
from crm import clock
from crm.services.actors import Actor
from crm.services.carers import assign_supervisor
from crm.services.pipeline import move_stage
from tests.crm.web.pagecheck import assert_no_markup_shown, markup_shown_as_text
from tests.crm.web.test_web_public import GOOD

ROOT = Path(__file__).resolve().parents[3]
SLOT = re.compile(r'name="slot" type="radio" value="([^"]+)"')


def parts(day: date) -> list[str]:
    """A date as typed in the GOV.UK date input: day, month, year."""
    return [str(day.day), str(day.month), str(day.year)]


def banner(html: str) -> list[str]:
    """The headings of the success banner, as people read them."""
    return re.findall(r'<p class="govuk-notification-banner__heading">([^<]*)</p>', html)


def test_the_checker_catches_markup_shown_as_text():
    # A control: the bug as it was (a joined literal escaped by autoescape) is caught...
    assert markup_shown_as_text('<div>&lt;p class="x"&gt;Call logged&lt;/p&gt;</div>')
    assert markup_shown_as_text("<div>Your reference&lt;br&gt;&lt;strong&gt;FC-1</div>")
    # ...and ordinary text with entities is not.
    assert markup_shown_as_text("<p>Tom &amp; Jo said 2 &lt; 3</p>") == []


def test_no_page_shows_markup_after_the_main_actions(
    client_for, client, org, make_household, session, settings
):
    today = clock.now().date()
    household = make_household(first="Tom", last="O'Brien & Co")
    url = f"/households/{household.id}"
    c = client_for(org.manager)

    def act(
        path: str, data: dict, expect: str | None = None, *, status: int = 200, page: str = ""
    ) -> str:
        response = c.post(path, data, token_from=page or path, follow_redirects=True)
        assert response.status_code == status, (path, response.status_code)
        html = assert_no_markup_shown(response, path)
        if expect is not None:
            assert expect in banner(html), (path, banner(html))
        return html

    # The household's actions, each ending on a page with its success banner.
    act(f"{url}/call", {"call_outcome": "spoke", "summary": "Rang them"}, "Call logged")
    act(f"{url}/note", {"summary": "Spare room seen", "body": "Tidy & bright"}, "Note added")
    act(f"{url}/move", {"to_stage": "initial_visit"}, "Moved to Initial visit")
    book = c.get(f"{url}/visits/book").get_data(as_text=True)
    act(
        f"{url}/visits/book",
        {"slot": SLOT.findall(book)[0], "location": "1 Elm Road, Leicester"},
        "Initial visit booked",
    )
    visit = session.exec(select(m.Appointment)).one()
    move_page = c.get(f"{url}/visits/{visit.id}/move").get_data(as_text=True)
    act(
        f"{url}/visits/{visit.id}/move",
        {"slot": SLOT.findall(move_page)[2], "location": "1 Elm Road, Leicester"},
        "Visit moved",
    )
    moved_to = session.exec(select(m.Appointment).where(m.Appointment.status == "booked")).one()
    act(
        f"{url}/visits/{moved_to.id}/cancel",
        {"reason": "They are unwell & resting"},
        "Visit cancelled",
    )
    act(
        f"{url}/task",
        {"title": "Send the pack", "due_on": parts(today + timedelta(days=3)),
         "owner_id": str(org.officer_north.id), "priority": "normal"},
        "Task created",
    )  # fmt: skip
    task = session.exec(select(m.Task).where(m.Task.title == "Send the pack")).one()
    act(
        f"/tasks/{task.id}/close",
        {"outcome": "Sent & signed"},
        "Task closed",
        page=f"/tasks/{task.id}",
    )
    act(
        f"{url}/details",
        {"first_name": "Tom", "last_name": "O'Brien & Co", "email": "tom@example.com",
         "address_line_1": "1 Elm Road", "town": "Leicester", "postcode": "LE1 6ZG"},
        "Details saved",
    )  # fmt: skip
    act(
        f"{url}/consent",
        {"scope": "phone", "granted": "yes", "wording": "Happy to be called"},
        "Consent recorded",
    )
    act(f"{url}/assign", {"officer_id": str(org.officer_north.id)}, "Assignment saved")
    act(
        "/households/new",
        {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
         "postcode": "LE2 1AA", "consent": "y", "consent_how": "phone"},
        "New enquiry recorded",
    )  # fmt: skip
    # Refusals re-render their forms, with the error summary, and still no markup as text.
    act(f"{url}/call", {"call_outcome": "spoke", "summary": ""})
    act(f"{url}/move", {"to_stage": "withdrawn"})
    act(f"{url}/task", {"title": "Late", "due_on": ["31", "2", "2026"], "priority": "normal"})
    act("/pipeline/move", {"household_id": household.id, "to_stage": "application"}, page=url)

    # A carer's actions.
    carer_household = make_household(first="Cara", last="Giver")
    move_stage(session, Actor.system("test"), carer_household.id, m.Stage.APPROVED)
    carer = session.exec(select(m.Carer).where(m.Carer.household_id == carer_household.id)).one()
    assign_supervisor(session, Actor.system("test"), carer.id, org.supervisor_north.id)
    curl = f"/carers/{carer.id}"
    act(f"{curl}/at-risk", {"at_risk": "yes", "reason": "Tired & low"}, "At-risk flag saved")
    act(
        f"{curl}/supervisor",
        {"staff_id": str(org.supervisor_north.id)},
        "Supervising social worker saved",
    )
    taking = {
        "started_on": parts(today),
        "reason": "Rest & family",
        "expected_end_on": parts(today),
    }
    act(f"{curl}/break", taking, "On a break from fostering")
    act(f"{curl}/break", taking, status=400)  # refused: already on a break
    visit = {"kind": "unannounced", "notes": "Tired & low"}
    act(
        f"{curl}/supervision-visits/new",
        {"visited_on": parts(today), **visit},
        "Supervision visit recorded",
    )
    act(
        f"{curl}/supervision-visits/new",
        {"visited_on": parts(today + timedelta(days=20)), **visit},
        status=400,
    )
    act(f"{curl}/break/end", {"ended_on": parts(today)}, "Back from a break")
    act(f"{curl}/notice", {"notice_given_on": parts(today), "reason_code": ""}, status=400)
    notice = {"notice_given_on": parts(today), "reason_code": "other", "reason_text": "Tom & me"}
    act(f"{curl}/notice", notice, "Notice recorded: the approval ends on 7 April 2026")
    act(
        f"{curl}/exit-conversation",
        {"exit_on": parts(today), "exit_notes": "Tired & low"},
        "Exit conversation recorded",
    )
    act(
        f"{curl}/notice/withdraw",
        {"withdrawn_on": parts(today), "withdrawn_reason": "Stays & smiles"},
        "Notice withdrawn: the carer stays approved",
    )

    # Admin list edits.
    c = client_for(org.admin)
    act(
        "/admin/users",
        {"name": "New Person", "email": "new@test.example", "role": "recruitment_officer",
         "areas": str(org.north.id), "password": "a long enough password"},
        "New Person can now sign in",
    )  # fmt: skip
    act(
        f"/admin/users/{org.officer_south.id}",
        {"action": "save", "name": "Officer South", "role": "recruitment_officer",
         "areas": str(org.south.id), "active": "1"},
        "Saved",
    )  # fmt: skip
    act("/admin/areas", {"name": "Eastshire", "districts": "PE1 PE2"}, "Area saved")
    act(
        "/admin/reasons",
        {"kind": "withdrawn", "code": "moved_abroad", "label": "Moved abroad"},
        "Reason saved",
    )
    act("/admin/sources", {"new": "1", "key": "poster", "label": "A poster"}, "Source saved")
    act("/admin/campaigns", {"name": "Summer fair", "cost": "120.50"}, "Campaign saved")
    act("/admin/areas", {"name": ""}, status=400)
    for path in ("/home", "/pipeline", "/households", url, "/visits", "/carers", curl,
                 "/admin", "/admin/messages", "/audit", "/admin/reasons"):  # fmt: skip
        assert_no_markup_shown(c.get(path), path)


def test_no_public_page_shows_markup(client, org, session):
    thanks = client.post("/enquire", GOOD, follow_redirects=True)
    html = assert_no_markup_shown(thanks, "thank-you page")
    household = session.exec(select(m.Household)).one()
    # The panel reads "Your reference" then the reference in bold, as markup.
    assert re.search(rf"Your reference<br>\s*<strong>{household.reference}</strong>", html)
    thanks_url = thanks.request.path
    booked = client.post(
        thanks_url, {"slot": SLOT.findall(html)[0]}, token_from=thanks_url, follow_redirects=True
    )
    assert "Your initial visit is booked" in assert_no_markup_shown(booked, "booked")
    for path in ("/enquire", "/privacy", "/enquire/thank-you"):
        assert_no_markup_shown(client.get(path), path)
    errors = client.post("/enquire", {**GOOD, "first_name": "", "email": "x"})
    assert_no_markup_shown(errors, "enquiry errors")


# -- static check: no template joins strings into markup ----------------------------------

TEMPLATE_DIRS = [
    ROOT / "crm" / "web" / "templates",
    ROOT / "crm" / "checkins" / "templates",
    ROOT / "bot" / "templates",
    ROOT / "funnel" / "templates",
    ROOT / "config" / "templates",
]


def _is_markup_literal(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Const) and isinstance(node.value, str) and "<" in node.value


def joined_markup(source: str) -> list[str]:
    """Where a template builds markup by joining strings: `'<p>' ~ x`, `'<br>' + x`,
    `join('<br>')`, or a format string holding a tag."""
    tree = Environment(extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"]).parse(source)
    found = []
    for node in tree.find_all((nodes.Concat, nodes.Add)):
        parts = node.nodes if isinstance(node, nodes.Concat) else [node.left, node.right]
        if any(_is_markup_literal(p) for p in parts):
            found.append(f"line {node.lineno}: joins markup with ~ or +")
    for node in tree.find_all(nodes.Filter):
        if node.name in ("join", "format", "replace") and any(
            _is_markup_literal(a) for a in [node.node, *node.args]
        ):
            found.append(f"line {node.lineno}: builds markup with |{node.name}")
    for node in tree.find_all(nodes.Mod):
        if _is_markup_literal(node.left):
            found.append(f"line {node.lineno}: builds markup with %")
    return found


def test_the_static_check_finds_joined_markup():
    # A control, with the two joins that showed raw HTML to every enquirer and member of staff.
    assert joined_markup(
        """{{ m({'html': '<p class="x">' ~ (messages | map('e') | join('<br>')) ~ '</p>'}) }}"""
    )
    assert joined_markup("""{{ p({'html': ('Your reference<br><b>' ~ ref ~ '</b>')}) }}""")
    assert joined_markup("""{% set x = "<b>" + name %}""")
    assert joined_markup("""{{ "<b>%s</b>" % name }}""")
    assert joined_markup("""{% set x %}<p>{{ a ~ ' ' ~ b }}</p>{% endset %}""") == []


@pytest.mark.parametrize(
    "path",
    sorted(
        (str(p.relative_to(ROOT)) for d in TEMPLATE_DIRS for p in d.rglob("*.html")),
    ),
)
def test_no_template_joins_strings_into_markup(path):
    assert joined_markup((ROOT / path).read_text(encoding="utf-8")) == []


def test_no_python_builds_markup_for_the_pages():
    offenders = []
    for folder in ("crm", "bot", "funnel"):
        for file in (ROOT / folder).rglob("*.py"):
            text = file.read_text(encoding="utf-8")
            if re.search(r"Markup\(\s*f?['\"][^'\"]*<", text):
                offenders.append(str(file.relative_to(ROOT)))
    assert offenders == []
