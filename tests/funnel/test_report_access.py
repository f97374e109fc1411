"""The weekly report reaches each person only for the areas they work in: through the real
outbox dispatcher and the real SMTP capture server (crm.testing.smtp), from the command line
(`report weekly --send [--area]`). And its CSV, like the household export, cannot run formulas.

The week is W10 of 2026; "now" is Tuesday 10 March, 10:00. Two stalled applications, one in
each area, put a household reference of each area into the report's tables.
"""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from click.testing import CliRunner
from sqlmodel import select

import crm.models as m
from crm.cli import main
from crm.db import make_engine
from crm.exports import SafeCsvWriter, neutralise_formula, safe_row
from crm.messaging.dispatcher import Dispatcher
from crm.services.actors import Actor
from crm.services.errors import NotAllowed
from crm.services.reports import weekly_report_email
from crm.services.staff import create_staff_user
from crm.testing.fixtures import TEST_PASSWORD
from crm.testing.smtp import SmtpCapture
from funnel.periods import IsoWeek
from funnel.report import load_weekly_report, report_csv
from tests.funnel.helpers import at, make_history

W10 = IsoWeek(2026, 10)


@pytest.fixture
def two_areas(session, settings, org):
    def stalled(first_name: str, postcode: str) -> m.Household:
        return make_history(
            session, settings, first_name=first_name, enquired_at=at("2025-06-02"),
            postcode=postcode,
            moves=[(at("2025-06-20"), "initial_visit", None),
                   (at("2025-07-01"), "application", None),
                   (at("2025-08-01"), "stage_one", None)],
        )  # fmt: skip

    north, south = stalled("Uma", "LE1 6ZG"), stalled("Ula", "NG1 1AA")
    assert (north.area_id, south.area_id) == (org.north.id, org.south.id)
    # The hub's manager now works in Northshire only; Southshire gets a manager of its own.
    session.delete(session.get(m.StaffArea, {"staff_id": org.manager.id, "area_id": org.south.id}))
    session.commit()
    south_manager = create_staff_user(
        session, Actor.system("test"), email="south.manager@test.example", name="South Manager",
        role="manager", password=TEST_PASSWORD, area_names=["Southshire"],
    )  # fmt: skip
    return {"north": north, "south": south, "south_manager": south_manager}


def run_cli(url: str, *args: str, recipients: str = ""):
    env = {"FOSTERCRM_DATABASE_URL": url}
    if recipients:
        env["FOSTERCRM_REPORT_RECIPIENTS"] = recipients
    return CliRunner().invoke(main, list(args), env=env)


def dispatch(settings, database_url: str) -> tuple[list, object]:
    with SmtpCapture() as server:
        engine = make_engine(database_url)
        dispatcher = Dispatcher(server.settings_for(settings), engine)
        try:
            result = dispatcher.run_until_idle()
        finally:
            dispatcher.close()
            engine.dispose()
    return server.messages(), result


def everything_in(message) -> str:
    """The text, the HTML and the CSV attachment of a report email, as one string."""
    parts = [
        message.get_body(("plain",)).get_content(),
        message.get_body(("html",)).get_content(),
    ]
    parts += [p.get_content() for p in message.iter_attachments()]
    return "\n".join(parts)


def test_each_manager_gets_only_their_areas(database_url, session, settings, org, two_areas):
    north, south = two_areas["north"], two_areas["south"]
    queued = run_cli(
        database_url, "report", "weekly", "--week", "2026-W10", "--send",
        recipients="nobody@elsewhere.example",
    )  # fmt: skip
    assert queued.exit_code == 0, queued.output
    assert "Queued for 2 recipient(s)" in queued.output
    assert "Not sent: 1 address(es) with no active manager's or admin's account" in queued.output
    assert "nobody@elsewhere.example" not in queued.output

    delivered, result = dispatch(settings, database_url)
    assert result.sent == 2 and result.failed == 0, result
    by_recipient = {tuple(d.recipients): d.message for d in delivered}
    assert set(by_recipient) == {(org.manager.email,), ("south.manager@test.example",)}

    north_mail = by_recipient[(org.manager.email,)]
    assert "Weekly fostering report (Northshire)" in str(north_mail["Subject"])
    body = everything_in(north_mail)
    assert north.reference in body
    assert south.reference not in body and "Southshire" not in body

    south_mail = by_recipient[("south.manager@test.example",)]
    body = everything_in(south_mail)
    assert south.reference in body
    assert north.reference not in body and "Northshire" not in body


def test_a_one_area_email_names_no_household_of_another_area(
    database_url, session, settings, org, two_areas
):
    """Refer-a-friend crosses areas: a Southshire family referred by Northshire's carer. The
    Southshire manager's email counts the referral without naming the referring household,
    and no table, verdict, action or attachment names a Northshire household or the area."""
    north, south = two_areas["north"], two_areas["south"]
    referred = make_history(
        session, settings, first_name="Ria", enquired_at=at("2026-03-03"), postcode="NG1 1AA",
        referrer_reference=north.reference,
    )  # fmt: skip
    assert referred.referrer_household_id == north.id
    message = weekly_report_email(
        session, settings, date(2026, 3, 8), ["south.manager@test.example"]
    )
    body = everything_in(message)
    assert south.reference in body and "A carer in another area" in body
    north_households = session.exec(
        select(m.Household.reference).where(m.Household.area_id == org.north.id)
    ).all()
    assert north_households
    for reference in north_households:
        assert reference not in body
    assert "Northshire" not in body


def test_send_for_one_area(database_url, session, settings, org, two_areas):
    north, south = two_areas["north"], two_areas["south"]
    result = run_cli(
        database_url, "report", "weekly", "--week", "2026-W10", "--send", "--area", "Southshire",
        recipients=org.admin.email,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Queued for 2 recipient(s)" in result.output
    assert "1 manager(s) who do not work in Southshire were left out" in result.output
    messages = session.exec(select(m.OutboxMessage).order_by(m.OutboxMessage.id)).all()
    assert sorted((x.recipient, x.payload["area_ids"]) for x in messages) == [
        (org.admin.email, [org.south.id]),
        ("south.manager@test.example", [org.south.id]),
    ]
    delivered, outcome = dispatch(settings, database_url)
    assert outcome.sent == 2, outcome
    for received in delivered:
        body = everything_in(received.message)
        assert "Weekly fostering report (Southshire)" in str(received.message["Subject"])
        assert south.reference in body and north.reference not in body
    # The whole-hub copy for the week is separate: --send without --area still sends it.
    again = run_cli(database_url, "report", "weekly", "--week", "2026-W10", "--send")
    assert "Queued for 2 recipient(s)" in again.output

    nobody = run_cli(
        database_url, "report", "weekly", "--week", "2026-W10", "--send", "--area", "Northshire",
        recipients="someone@elsewhere.example",
    )  # fmt: skip
    assert nobody.exit_code == 0  # the Northshire manager
    unknown = run_cli(
        database_url, "report", "weekly", "--week", "2026-W10", "--send", "--area", "Eastshire"
    )
    assert unknown.exit_code != 0 and "Unknown area 'Eastshire'" in unknown.output


def test_no_one_entitled_means_nothing_is_queued(database_url, session, settings, org):
    for manager in session.exec(select(m.StaffUser).where(m.StaffUser.role == "manager")).all():
        manager.active = False
        session.add(manager)
    session.commit()
    result = run_cli(
        database_url, "report", "weekly", "--week", "2026-W10", "--send",
        recipients=f"board@elsewhere.example,{org.officer_north.email}",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "No one to send it to" in result.output
    assert "2 address(es) with no active manager's or admin's account" in result.output
    assert "board@" not in result.output and org.officer_north.email not in result.output
    assert session.exec(select(m.OutboxMessage)).all() == []


def test_an_account_closed_after_queueing_gets_nothing(
    database_url, session, settings, org, two_areas
):
    queued = run_cli(database_url, "report", "weekly", "--week", "2026-W10", "--send")
    assert queued.exit_code == 0, queued.output
    org.manager.active = False
    session.add(org.manager)
    session.commit()
    delivered, outcome = dispatch(settings, database_url)
    assert [d.recipients for d in delivered] == [["south.manager@test.example"]]
    assert outcome.failed == 1
    session.expire_all()
    failed = session.exec(
        select(m.OutboxMessage).where(m.OutboxMessage.recipient == org.manager.email)
    ).one()
    assert failed.status == m.OutboxStatus.FAILED
    assert "no active staff account" in failed.error and "@" not in failed.error


def test_weekly_report_email_refuses_an_address_without_an_account(session, settings, org):
    with pytest.raises(NotAllowed) as refused:
        weekly_report_email(session, settings, date(2026, 3, 8), ["stranger@elsewhere.example"])
    assert "stranger" not in str(refused.value)
    with pytest.raises(NotAllowed):
        weekly_report_email(session, settings, date(2026, 3, 8), [org.officer_north.email])


# -- formulas in the CSV ------------------------------------------------------------------


def test_one_helper_neutralises_formula_cells():
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert neutralise_formula(f"{start}HYPERLINK(1)") == f"'{start}HYPERLINK(1)"
    for safe in ("Leicester", "", " =1", "2026-03-08", "'=already"):
        assert neutralise_formula(safe) == safe
    assert safe_row([-3, 0.25, None, "=1+1"]) == [-3, 0.25, None, "'=1+1"]
    buffer = io.StringIO()
    SafeCsvWriter(buffer).writerows([["@SUM(A1)", -2], ["fine", "-1"]])
    assert list(csv.reader(io.StringIO(buffer.getvalue()))) == [
        ["'@SUM(A1)", "-2"],
        ["fine", "'-1"],
    ]


def test_report_csv_cannot_run_formulas(session, settings, org):
    session.add(m.Campaign(name='=HYPERLINK("http://x.example","Spring")', source_key="radio_tv"))
    session.commit()
    make_history(
        session, settings, first_name="Cam", enquired_at=at("2026-03-03"),
        campaign_name='=HYPERLINK("http://x.example","Spring")', source_key="radio_tv",
    )  # fmt: skip
    report = load_weekly_report(session, settings, W10, with_charts=False)
    rows = list(csv.reader(io.StringIO(report_csv(report))))
    cells = [cell for row in rows for cell in row]
    assert '\'=HYPERLINK("http://x.example","Spring")' in cells
    assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for cell in cells)
    # Numbers stay numbers: a fall in enquiries is a negative count, not text.
    assert all(not c.startswith("-") or c.lstrip("-").replace(".", "").isdigit() for c in cells)
