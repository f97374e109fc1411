"""Subject access, erasure, the retention rule (service and command), the audit log and the
admin pages."""

import csv
import io
import zipfile
from datetime import timedelta

from click.testing import CliRunner
from sqlmodel import func, select

import crm.models as m
from crm import clock
from crm.services.actors import Actor
from crm.services.data_protection import apply_retention
from crm.services.pipeline import move_stage
from crm.services.timeline import log_activity


def test_subject_access_download(client_for, org, make_household, session):
    household = make_household(first="Sara", last="Access")
    log_activity(session, Actor.system("test"), household.id, "note", summary="Asked about pets")
    c = client_for(org.manager)
    # A form on the data protection page; one applicant, so nothing to choose.
    page = c.get(f"/households/{household.id}/erase").get_data(as_text=True)
    url = f"/households/{household.id}/subject-access.zip"
    assert f'method="get" action="{url}"' in page
    assert 'name="requested_by"' not in page
    response = c.get(url)
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and household.reference in disposition
    assert response.headers["Cache-Control"] == "no-store"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    files = {name.rsplit("/", 1)[-1]: archive.read(name) for name in archive.namelist()}
    assert "your-information.html" in files
    details = list(csv.reader(io.StringIO(files["your-details.csv"].decode("utf-8-sig"))))
    assert details[1][1:3] == ["Sara", "Access"]
    notes = files["notes-and-contact.csv"].decode("utf-8-sig")
    assert "Asked about pets" in notes
    progress = files["your-progress.csv"].decode("utf-8-sig")
    assert "Enquiry" in progress and "enquiry," not in progress
    assert "Agreed on the phone" in files["what-you-agreed-to.csv"].decode("utf-8-sig")
    export = session.exec(
        select(m.AuditEvent).where(m.AuditEvent.action == m.AuditAction.EXPORT)
    ).one()
    assert (export.entity, export.entity_id, export.actor_id, export.detail) == (
        "household",
        household.id,
        org.manager.id,
        {"subject_access": True, "requested_by": "first"},
    )


def test_subject_access_download_is_for_managers_and_admins_only(
    client_for, org, make_household, session
):
    household = make_household(first="Sara", last="Access")
    url = f"/households/{household.id}/subject-access.zip"
    for user in (org.officer_north, org.officer_south, org.assessor_north, org.supervisor_north):
        assert client_for(user).get(url).status_code == 403, user.email
    assert (
        session.exec(select(m.AuditEvent).where(m.AuditEvent.action == m.AuditAction.EXPORT)).all()
        == []
    )
    assert client_for(org.admin).get(url).status_code == 200


def test_erase_keeps_anonymous_stage_history(client_for, org, make_household, session):
    household = make_household(first="Eve", last="Erased", email="eve@example.com")
    system = Actor.system("test")
    move_stage(
        session,
        system,
        household.id,
        m.Stage.WITHDRAWN,
        reason_code="timing",
        reason_text="Eve's mother is ill",
    )
    log_activity(session, system, household.id, "note", summary="Eve called")
    url = f"/households/{household.id}"
    c = client_for(org.manager)
    unconfirmed = c.post(f"{url}/erase", {"reason": "Asked by email"}, token_from=url)
    assert "Tick the box to confirm" in unconfirmed.get_data(as_text=True)
    assert (
        c.post(
            f"{url}/erase", {"reason": "Asked by email", "confirm": "y"}, token_from=url
        ).status_code
        == 302
    )
    session.expire_all()
    h = session.get(m.Household, household.id)
    assert h.anonymised_at is not None and h.applicants == []
    assert h.postcode == "LE1"  # district only
    assert session.exec(select(func.count()).select_from(m.Consent)).one() == 0
    assert session.exec(select(func.count()).select_from(m.Activity)).one() == 0
    events = session.exec(
        select(m.StageEvent).where(m.StageEvent.household_id == household.id)
    ).all()
    assert [(e.to_stage, e.reason_code, e.reason_text) for e in events] == [
        ("enquiry", None, None),
        ("withdrawn", "timing", None),
    ]
    page = c.get(url).get_data(as_text=True)
    assert "Anonymised household" in page and "Eve" not in page
    # Gone from lists and search; no more actions.
    assert "Anonymised" not in c.get("/households").get_data(as_text=True)
    assert c.get(f"{url}/note").status_code == 404
    erase = session.exec(select(m.AuditEvent).where(m.AuditEvent.action == m.AuditAction.ERASE))
    assert erase.one().detail == {"basis": "request"}


def test_retention_rule_service_and_command(
    org, make_household, session, settings, database_url, monkeypatch
):
    system = Actor.system("test")
    old = make_household(first="Old", last="Withdrawn")
    move_stage(session, system, old.id, m.Stage.WITHDRAWN, reason_code="timing")
    active = make_household(first="Still", last="Going")
    recent_months = settings.retention.anonymise_closed_after_months
    clock.advance(timedelta(days=30 * recent_months - 20))
    recent = make_household(first="Recent", last="Leaver")
    move_stage(session, system, recent.id, m.Stage.NOT_PROGRESSED, reason_code="capacity")
    clock.advance(timedelta(days=40))
    assert apply_retention(session, Actor.system("retention rule"), settings) == 1
    assert apply_retention(session, Actor.system("retention rule"), settings) == 0  # idempotent
    session.expire_all()
    assert session.get(m.Household, old.id).anonymised_at is not None
    assert session.get(m.Household, active.id).anonymised_at is None
    assert session.get(m.Household, recent.id).anonymised_at is None
    # The command the scheduler calls does the same, later.
    clock.advance(timedelta(days=31 * recent_months))
    from crm.cli import main

    monkeypatch.setenv("FOSTERCRM_DATABASE_URL", database_url)
    result = CliRunner().invoke(main, ["data-protection", "apply-retention"])
    assert result.exit_code == 0, result.output
    assert "Anonymised 1 household(s)" in result.output
    session.expire_all()
    assert session.get(m.Household, recent.id).anonymised_at is not None


def test_audit_log_page_and_filters(client_for, org, make_household, session):
    household = make_household(first="Audra", last="Log")
    officer = client_for(org.officer_north)
    officer.get(f"/households/{household.id}")
    officer.get("/households?format=csv")
    manager = client_for(org.manager)
    page = manager.get("/audit").get_data(as_text=True)
    assert "Officer.North" in page and "View" in page and "Export" in page
    views = manager.get("/audit?action=view").get_data(as_text=True).split("Audit events")[1]
    assert f"Household {household.id}" in views and "Household list" not in views
    by_person = manager.get(f"/audit?actor={org.manager.id}").get_data(as_text=True)
    assert "Officer.North" not in by_person.split("Audit events")[1]
    dated = manager.get("/audit?from=2030-01-01").get_data(as_text=True)
    assert "0 events" in dated
    assert client_for(org.officer_north).get("/audit").status_code == 403


def test_admin_manages_users_areas_and_lists(client_for, org, session):
    admin = client_for(org.admin)
    bad = admin.post(
        "/admin/users",
        {"name": "", "email": "bad", "role": "", "password": "short"},
        token_from="/admin",
    )
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert "Enter the person" in text and "at least 12 characters" in text
    ok = admin.post(
        "/admin/users",
        {
            "name": "New Person",
            "email": "new@test.example",
            "role": "recruitment_officer",
            "password": "a long password!",
            "areas": [str(org.south.id)],
        },
        token_from="/admin",
    )
    assert ok.status_code == 302
    user = session.exec(select(m.StaffUser).where(m.StaffUser.email == "new@test.example")).one()
    edit = admin.post(
        f"/admin/users/{user.id}",
        {
            "action": "save",
            "name": "New Person",
            "role": "manager",
            "active": "1",
            "areas": [str(org.north.id)],
        },
        token_from="/admin",
    )
    assert edit.status_code == 302
    session.expire_all()
    assert session.get(m.StaffUser, user.id).role == m.Role.MANAGER
    areas = session.exec(select(m.StaffArea.area_id).where(m.StaffArea.staff_id == user.id)).all()
    assert areas == [org.north.id]
    # Areas and postcode districts.
    clash = admin.post(
        "/admin/areas", {"name": "Westshire", "districts": "LE1 DE1"}, token_from="/admin"
    )
    assert "Already in another area: LE1" in clash.get_data(as_text=True)
    assert (
        admin.post(
            "/admin/areas", {"name": "Westshire", "districts": "de1, de2"}, token_from="/admin"
        ).status_code
        == 302
    )
    west = session.exec(select(m.Area).where(m.Area.name == "Westshire")).one()
    districts = session.exec(
        select(m.AreaPostcodeDistrict.district).where(m.AreaPostcodeDistrict.area_id == west.id)
    ).all()
    assert sorted(districts) == ["DE1", "DE2"]
    # Reasons, sources, campaigns.
    assert (
        admin.post(
            "/admin/reasons",
            {"kind": "withdrawn", "code": "moved_abroad", "label": "Moved abroad"},
            token_from="/admin",
        ).status_code
        == 302
    )
    reason = session.exec(select(m.Reason).where(m.Reason.code == "moved_abroad")).one()
    assert (
        admin.post(
            "/admin/reasons",
            {"reason_id": str(reason.id), "label": "Moved overseas"},
            token_from="/admin",
        ).status_code
        == 302
    )
    session.refresh(reason)
    assert (reason.label, reason.active) == ("Moved overseas", False)
    assert (
        admin.post(
            "/admin/sources",
            {"new": "1", "key": "podcast", "label": "Podcast"},
            token_from="/admin",
        ).status_code
        == 302
    )
    assert "Podcast" in admin.get("/enquire").get_data(as_text=True)
    bad_cost = admin.post(
        "/admin/campaigns", {"name": "Podcast ads", "cost": "lots"}, token_from="/admin"
    )
    assert "Enter the cost in pounds" in bad_cost.get_data(as_text=True)
    assert (
        admin.post(
            "/admin/campaigns",
            {"name": "Podcast ads", "source_key": "podcast", "cost": "1,250.50"},
            token_from="/admin",
        ).status_code
        == 302
    )
    campaign = session.exec(select(m.Campaign).where(m.Campaign.name == "Podcast ads")).one()
    assert campaign.cost_pence == 125050
    changes = session.exec(select(m.AuditEvent).where(m.AuditEvent.actor_id == org.admin.id))
    assert {e.entity for e in changes} >= {"staff_user", "area", "reason", "source", "campaign"}


def test_failed_messages_page(client_for, org, make_household, session):
    from crm.services.outbox import enqueue_message

    household = make_household()
    message = enqueue_message(
        session,
        channel=m.Channel.EMAIL,
        recipient="x@example.com",
        template="visit_reminder",
        payload={},
        due_at=clock.now(),
        unique_key="failed:1",
        household_id=household.id,
    )
    message.status = m.OutboxStatus.FAILED
    message.error = "550 mailbox unavailable"
    message.attempts = 5
    session.commit()
    page = client_for(org.admin).get("/admin/messages").get_data(as_text=True)
    assert "Messages that failed to send" in page
    assert "550 mailbox unavailable" in page and "Visit reminder" in page
    assert f"/households/{household.id}" in page


def test_admin_index_links_other_parts_when_present(client_for, client, org):
    page = client_for(org.admin).get("/admin").get_data(as_text=True)
    for href in ["/admin/users", "/admin/areas", "/admin/reasons", "/admin/sources",
                 "/admin/campaigns", "/admin/messages", "/audit"]:  # fmt: skip
        assert f'href="{href}"' in page, href
    app = client.http.application
    if "webchat.answers" in app.view_functions:
        assert 'href="/admin/assistant"' in page
    if "funnel.report" in app.view_functions:
        assert 'href="/reports"' in page


def test_erasing_a_carer_also_erases_messages_and_links_kept_by_carer(
    org, make_household, session, settings
):
    from crm.services.data_protection import ERASED, anonymise_household, subject_access_zip

    system = Actor.system("test")
    household = make_household(first="Cora", last="Carer", email="cora@example.com")
    move_stage(session, system, household.id, m.Stage.APPROVED)
    carer = session.exec(select(m.Carer).where(m.Carer.household_id == household.id)).one()
    # Check-ins and staff alerts are written with only the carer's id.
    session.add(
        m.OutboxMessage(
            channel=m.Channel.EMAIL,
            recipient="cora@example.com",
            template="check_in",
            payload={"carer_name": "Cora Carer"},
            due_at=clock.now() + timedelta(days=1),
            unique_key="check_in:1:cora@example.com",
            carer_id=carer.id,
        )
    )
    session.add(m.TelegramChatLink(chat_id="4242", carer_id=carer.id))
    session.commit()
    archive = zipfile.ZipFile(
        io.BytesIO(subject_access_zip(session, system, settings, household.id).content)
    )
    files = {
        name.rsplit("/", 1)[-1]: archive.read(name).decode("utf-8-sig")
        for name in archive.namelist()
    }
    assert "cora@example.com" in files["messages.csv"] and "Cora Carer" in files["messages.csv"]
    assert "4242" in files["telegram.csv"]

    anonymise_household(session, system, household.id, reason="Asked in writing")
    session.expire_all()
    [message] = session.exec(select(m.OutboxMessage)).all()
    assert message.recipient == ERASED and message.payload == {}
    assert "cora" not in message.unique_key
    assert message.status == m.OutboxStatus.CANCELLED
    assert session.exec(select(m.TelegramChatLink)).all() == []


def test_a_joint_household_s_copy_asks_who_asked_for_it(client_for, org, make_household, session):
    from crm.services.households import ApplicantChange, DetailsChange, update_details

    household = make_household(first="Ada", last="Joint", email="ada@example.com")
    update_details(
        session, org.actor(session, org.manager), household.id,
        DetailsChange(applicants=[
            ApplicantChange("Ada", "Joint", email="ada@example.com"),
            ApplicantChange("Bea", "Joint", email="bea@example.com", phone="07700 900555"),
        ]),
    )  # fmt: skip
    c = client_for(org.manager)
    erase = f"/households/{household.id}/erase"
    url = f"/households/{household.id}/subject-access.zip"
    page = c.get(erase).get_data(as_text=True)
    for value in ("both", "first", "second"):
        assert f'name="requested_by" type="radio" value="{value}"' in page
    assert "Only Bea Joint" in page
    # A link without the choice (the household page's) asks for it first.
    asked = c.get(url)
    assert asked.status_code == 302 and asked.headers["Location"].endswith(f"{erase}#copy")
    wrong = c.get(f"{url}?requested_by=neighbour")
    assert wrong.status_code == 400
    assert "Choose who asked for the copy" in wrong.get_data(as_text=True)
    response = c.get(f"{url}?requested_by=second")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    everything = "".join(archive.read(n).decode("utf-8-sig") for n in archive.namelist())
    assert "bea@example.com" in everything and "ada@example.com" not in everything
    exports = session.exec(
        select(m.AuditEvent).where(m.AuditEvent.action == m.AuditAction.EXPORT)
    ).all()
    assert [e.detail for e in exports] == [{"subject_access": True, "requested_by": "second"}]


def test_a_safeguarding_concern_can_be_dealt_with_after_the_erasure(
    client_for, org, make_household, session, settings
):
    from crm.services.data_protection import anonymise_household
    from crm.services.safeguarding import raise_concern

    household = make_household(first="Cass", last="Concern", email="cass@example.com")
    concern = raise_concern(
        session, Actor.system("assistant:webchat"), settings,
        words="Cass Concern here: the boy next door is locked out every night",
        where="web chat", household_id=household.id,
    )  # fmt: skip
    anonymise_household(
        session, org.actor(session, org.manager), household.id, reason="Asked by email"
    )
    c = client_for(org.manager)
    url = f"/households/{household.id}"
    page = c.get(url).get_data(as_text=True)
    assert "Anonymised household" in page and "Cass" not in page
    assert concern.title in page
    task_url = f"/tasks/{concern.id}"
    assert f'href="{task_url}#close"' in page
    done = c.post(f"{task_url}/close", {"outcome": "Referred to the MASH"}, token_from=task_url)
    assert done.status_code == 302
    session.expire_all()
    task = session.get(m.Task, concern.id)
    assert task.done_at is not None and task.done_by_id == org.manager.id
    assert "the boy next door is locked out every night" in task.detail
