"""History is history: what a tracker brings in is the past, and the reminders treat it so."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import select

import crm.models as m
from crm.services import reminders
from crm.services.imports.tracker import import_tracker


def test_recent_imported_enquiries_are_chased_only_when_their_reply_is_still_ours(
    session, org, sched_settings, tmp_path
):
    # Now is Tuesday 10 March 2026, 10:00. Ann enquired last Wednesday (her reply was due on
    # Thursday, before the import); Bo enquired this morning (his reply is due tomorrow).
    path = tmp_path / "recent.csv"
    path.write_text(
        "Ref,Date of enquiry,Name,Email,Postcode\n"
        "R-1,04/03/2026,Ann Ode,ann@example.org,LE1 6ZG\n"
        "R-2,10/03/2026,Bo Ng,bo@example.org,LE1 6ZG\n",
        encoding="utf-8",
    )
    report = import_tracker(session, sched_settings, path)
    assert report.count("created") == 2
    tasks = session.exec(select(m.Task)).all()
    bo = session.exec(select(m.Household).where(m.Household.reference == "R-2")).one()
    assert [(t.household_id, t.kind) for t in tasks] == [(bo.id, m.TaskKind.RESPOND_TO_ENQUIRY)]

    later = datetime(2026, 3, 12, 9, tzinfo=UTC)
    chased = reminders.run("enquiry_chasers", session, sched_settings, later)
    # Only Bo: his reply became late after the import, so it is our lateness.
    assert chased["overdue"] == 1
    overdue = session.exec(select(m.Task).where(m.Task.priority == m.TaskPriority.URGENT)).all()
    assert [t.household_id for t in overdue] == [bo.id]
    # An initial visit is to be offered within 5 working days: Ann's falls on 11 March, after
    # the import, so that one is ours to chase (Bo's is not due yet).
    offers = reminders.run("initial_visit_offers", session, sched_settings, later)
    assert offers == {"alerts": 1, "tasks": 1}
    ann = session.exec(select(m.Household).where(m.Household.reference == "R-1")).one()
    assert session.exec(
        select(m.Task.household_id).where(m.Task.kind != m.TaskKind.RESPOND_TO_ENQUIRY)
    ).all() == [ann.id]


def test_an_old_enquiry_inside_the_chase_window_is_not_offered_a_visit(
    session, org, sched_settings, tmp_path
):
    # Enquired 20 February: the visit offer was due by 27 February, before the import.
    path = tmp_path / "feb.csv"
    path.write_text(
        "Ref,Date of enquiry,Name,Email\nF-1,20/02/2026,Cy Cole,cy@example.org\n",
        encoding="utf-8",
    )
    import_tracker(session, sched_settings, path)
    later = datetime(2026, 3, 12, 9, tzinfo=UTC)
    assert sum(reminders.run("initial_visit_offers", session, sched_settings, later).values()) == 0
    assert sum(reminders.run("enquiry_chasers", session, sched_settings, later).values()) == 0
    assert session.exec(select(m.Task)).all() == []
