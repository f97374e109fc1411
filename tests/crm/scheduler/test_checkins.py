"""Check-ins answered by Telegram button (python-telegram-bot against the local Bot API server)
and by the one-click email link (the real Flask app), landing on the carer's record and
creating the supervising social worker's task when they should."""

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select
from telegram import Bot

import crm.models as m
from crm import clock
from crm.messaging.dispatcher import Dispatcher
from crm.services import checkins, reminders
from crm.services import outbox as outbox_service
from crm.services.errors import InvalidInput, NotAllowed
from crm.testing.telegram_api import FakeTelegramServer
from tests.crm.scheduler.helpers import SECRET, make_carer, outbox, tasks


def at(*args) -> datetime:
    clock.set_now(datetime(*args, tzinfo=UTC))
    return clock.now()


def carer_with_check_in(session, engine, org, settings, **options) -> tuple[m.Carer, m.CheckIn]:
    at(2025, 6, 2, 12, 0)
    carer = make_carer(session, settings, supervisor_id=org.supervisor_north.id, **options)
    # Monday 2 March 2026, 10:00: a regular check-in goes out.
    at(2026, 3, 2, 10, 0)
    reminders.run("retention_check_ins", session, settings, clock.now())
    dispatcher = Dispatcher(settings, engine)
    assert dispatcher.run_until_idle().sent == 1
    dispatcher.close()
    [check_in] = session.exec(select(m.CheckIn).where(m.CheckIn.carer_id == carer.id)).all()
    return carer, check_in


def press(telegram: FakeTelegramServer, chat_id: int, data: str):
    """A person presses a button; PTB fetches the update from the local Bot API server."""
    telegram.inject_callback_query(chat_id, data)

    async def fetch():
        async with Bot(telegram.token, base_url=telegram.base_url) as bot:
            [update] = await bot.get_updates(timeout=2)
            await bot.get_updates(offset=update.update_id + 1, timeout=0)
            return update

    return asyncio.run(fetch())


def answer_callback(telegram: FakeTelegramServer, query_id: str, text: str) -> None:
    async def run():
        async with Bot(telegram.token, base_url=telegram.base_url) as bot:
            await bot.answer_callback_query(query_id, text=text)

    asyncio.run(run())


TELEGRAM_CARER = dict(
    first_name="Cara",
    email_address="cara@example.com",
    phone=None,
    consents=(m.ConsentScope.EMAIL, m.ConsentScope.TELEGRAM),
    telegram_chat=7001,
    preferred=m.Channel.TELEGRAM,
)


def test_a_low_score_by_button_flags_the_carer_and_tasks_their_social_worker(
    session, engine, org, tg_settings, telegram
):
    carer, check_in = carer_with_check_in(session, engine, org, tg_settings, **TELEGRAM_CARER)
    [sent] = telegram.messages_to(7001)
    data = dict(sent.buttons)["2"]
    assert data == f"checkin:{check_in.id}:2"

    update = press(telegram, 7001, data)
    query = update.callback_query
    result = checkins.handle_callback(
        session, tg_settings, query.data, chat_id=query.message.chat.id
    )
    answer_callback(telegram, query.id, result.reply)
    assert telegram.callback_answers[0]["text"].startswith("Thank you for telling us")

    session.expire_all()
    check_in = session.get(m.CheckIn, check_in.id)
    assert (check_in.score, check_in.wants_call) == (2, False)
    assert check_in.answered_at == clock.now()
    carer = session.get(m.Carer, carer.id)
    assert carer.at_risk is True
    assert carer.at_risk_reason == "Check-in on 02 Mar 2026: 2 out of 5 (finding it hard)"
    [task] = tasks(session, kind=m.TaskKind.CHECK_IN_FOLLOW_UP)
    assert task.id == check_in.follow_up_task_id
    assert task.owner_id == org.supervisor_north.id and task.carer_id == carer.id
    assert task.priority == m.TaskPriority.URGENT
    # Within one working day: Monday 10:00 -> Tuesday 10:00.
    assert task.due_at == datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
    [alert] = outbox(session, template="check_in_alert_staff")
    assert alert.recipient == org.supervisor_north.email
    note = session.exec(
        select(m.Activity).where(
            m.Activity.household_id == carer.household_id, m.Activity.kind == m.ActivityKind.NOTE
        )
    ).one()
    assert note.summary == "Check-in answered: 2 out of 5 (finding it hard)"

    # Pressing again (or another button) changes the answer but makes no second task.
    checkins.handle_callback(session, tg_settings, f"checkin:{check_in.id}:1", chat_id=7001)
    assert len(tasks(session, kind=m.TaskKind.CHECK_IN_FOLLOW_UP)) == 1
    assert session.get(m.CheckIn, check_in.id).score == 1


def test_a_good_score_is_stored_without_a_task(session, engine, org, tg_settings, telegram):
    carer, check_in = carer_with_check_in(session, engine, org, tg_settings, **TELEGRAM_CARER)
    result = checkins.handle_callback(
        session, tg_settings, f"checkin:{check_in.id}:5", chat_id=7001
    )
    assert result.reply == "Thank you, that's really helpful to know."
    assert result.follow_up_task is None
    assert tasks(session, kind=m.TaskKind.CHECK_IN_FOLLOW_UP) == []
    assert session.get(m.Carer, carer.id).at_risk is False


def test_asking_for_a_call_creates_the_task(session, engine, org, tg_settings, telegram):
    carer, check_in = carer_with_check_in(session, engine, org, tg_settings, **TELEGRAM_CARER)
    result = checkins.handle_callback(
        session, tg_settings, f"checkin:{check_in.id}:call", chat_id=7001
    )
    assert "call you within a working day" in result.reply
    [task] = tasks(session, kind=m.TaskKind.CHECK_IN_FOLLOW_UP)
    assert task.title == "Call the carer: they asked for a call"
    assert session.get(m.Carer, carer.id).at_risk_reason.endswith("would like a call")


def test_buttons_from_someone_else_or_malformed_are_refused(
    session, engine, org, tg_settings, telegram
):
    _carer, check_in = carer_with_check_in(session, engine, org, tg_settings, **TELEGRAM_CARER)
    with pytest.raises(NotAllowed):
        checkins.handle_callback(session, tg_settings, f"checkin:{check_in.id}:1", chat_id=999)
    for data in ["checkin:x:1", f"checkin:{check_in.id}:9", "checkin:1", "booking:1:2"]:
        with pytest.raises(InvalidInput):
            checkins.handle_callback(session, tg_settings, data, chat_id=7001)
    assert session.get(m.CheckIn, check_in.id).answered_at is None


def test_callback_data_round_trips_and_fits_telegram():
    for answer in [1, 5, "call"]:
        data = checkins.callback_data(2_000_000_000, answer)
        assert len(data.encode()) <= 64
        check_in_id, score, call = checkins.parse_callback_data(data)
        assert check_in_id == 2_000_000_000
        assert (score, call) == ((None, True) if answer == "call" else (answer, False))


# -- by email --------------------------------------------------------------------------------


@pytest.fixture
def client(sched_settings, engine):
    from crm.web import create_app

    app = create_app(sched_settings, engine=engine, secret_key=SECRET)
    app.config["TESTING"] = True
    return app.test_client()


def email_links(smtp, address: str) -> dict[str, str]:
    [email] = smtp.to(address)
    links = re.findall(r"(http://\S+/check-in/\S+/(\d|call))", email.text())
    return {answer: url.replace("http://127.0.0.1:5000", "") for url, answer in links}


def send_opened_answer(client, opened, link: str):
    """What the page's script (or its button) does: post the form it was given."""
    html = opened.get_data(as_text=True)
    assert 'id="one-click-answer"' in html and "send-answer.js" in html
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    return client.post(link.rsplit("/", 1)[0], data=fields)


def test_one_click_from_the_email_answers_the_check_in(
    session, engine, org, sched_settings, smtp, client
):
    carer, check_in = carer_with_check_in(
        session, engine, org, sched_settings, email_address="cara@example.com", phone=None
    )
    links = email_links(smtp, "cara@example.com")
    assert sorted(links) == ["1", "2", "3", "4", "5", "call"]

    # Opening the link (as a mail scanner would) records nothing: the page sends the answer.
    opened = client.get(links["1"])
    assert opened.status_code == 200
    session.expire_all()
    assert session.get(m.CheckIn, check_in.id).answered_at is None
    assert tasks(session, kind=m.TaskKind.CHECK_IN_FOLLOW_UP) == []
    page = send_opened_answer(client, opened, links["1"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Thank you" in html and "1 out of 5" in html
    session.expire_all()
    assert session.get(m.CheckIn, check_in.id).score == 1
    [task] = tasks(session, kind=m.TaskKind.CHECK_IN_FOLLOW_UP)
    assert task.owner_id == org.supervisor_north.id
    assert session.get(m.Carer, carer.id).at_risk is True

    # The thank-you page takes a comment (a real form, with its CSRF token).
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    path = links["1"].rsplit("/", 1)[0]
    posted = client.post(path, data={"csrf_token": token, "score": "1", "comment": "Tough week"})
    assert posted.status_code == 200
    session.expire_all()
    assert session.get(m.CheckIn, check_in.id).comment == "Tough week"
    assert len(tasks(session, kind=m.TaskKind.CHECK_IN_FOLLOW_UP)) == 1


def test_a_good_answer_by_email_makes_no_task(session, engine, org, sched_settings, smtp, client):
    _carer, check_in = carer_with_check_in(
        session, engine, org, sched_settings, email_address="cara@example.com", phone=None
    )
    link = email_links(smtp, "cara@example.com")["4"]
    page = send_opened_answer(client, client.get(link), link)
    assert page.status_code == 200 and "going well" in page.get_data(as_text=True)
    session.expire_all()
    assert session.get(m.CheckIn, check_in.id).score == 4
    assert tasks(session, kind=m.TaskKind.CHECK_IN_FOLLOW_UP) == []


def test_forged_or_expired_links_change_nothing(session, engine, org, sched_settings, smtp, client):
    _carer, check_in = carer_with_check_in(
        session, engine, org, sched_settings, email_address="cara@example.com", phone=None
    )
    link = email_links(smtp, "cara@example.com")["1"]
    forged = link.replace("/check-in/", "/check-in/x")
    page = client.get(forged)
    assert page.status_code == 400 and "not valid" in page.get_data(as_text=True)
    clock.advance(timedelta(days=31))
    page = client.get(link)
    assert page.status_code == 400 and "expired" in page.get_data(as_text=True)
    session.expire_all()
    assert session.get(m.CheckIn, check_in.id).answered_at is None


def test_unsubscribe_link_needs_a_press_and_then_stops_emails(
    session, engine, org, sched_settings, smtp, client
):
    carer, _check_in = carer_with_check_in(
        session, engine, org, sched_settings, email_address="cara@example.com", phone=None
    )
    [email] = smtp.to("cara@example.com")
    url = email.message["List-Unsubscribe"].strip("<>").replace("http://127.0.0.1:5000", "")
    page = client.get(url)
    assert page.status_code == 200 and "Stop emails from us?" in page.get_data(as_text=True)
    consents = outbox_service.latest_consents(session, carer.household_id)
    assert consents[m.ConsentScope.EMAIL] is True
    # A pending message by email is cancelled when they unsubscribe.
    reminders.run("carer_reminders", session, sched_settings, at(2026, 4, 3, 9, 0))
    [waiting] = outbox(session, template="tsd_reminder")
    # RFC 8058 one-click: the mail provider POSTs without a form token.
    page = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert page.status_code == 200 and "unsubscribed" in page.get_data(as_text=True)
    session.expire_all()
    assert (
        outbox_service.latest_consents(session, carer.household_id)[m.ConsentScope.EMAIL] is False
    )
    assert session.get(m.OutboxMessage, waiting.id).status == m.OutboxStatus.CANCELLED
    withdrawn = session.exec(
        select(m.Consent).where(m.Consent.household_id == carer.household_id).order_by(m.Consent.id)
    ).all()[-1]
    assert (withdrawn.granted, withdrawn.via) == (False, "unsubscribe link")


# -- unanswered ------------------------------------------------------------------------------


def test_two_unanswered_check_ins_in_a_row_make_a_task(session, engine, org, sched_settings):
    carer, first = carer_with_check_in(
        session, engine, org, sched_settings, email_address="cara@example.com", phone=None
    )
    dispatcher = Dispatcher(sched_settings, engine)
    now = at(2026, 4, 13, 10, 0)  # six weeks later: the second check-in
    assert reminders.run("retention_check_ins", session, sched_settings, now)["periodic"] == 1
    dispatcher.run_until_idle()
    now = at(2026, 4, 20, 9, 59)
    assert checkins.flag_unanswered_check_ins(session, sched_settings, now) == 0
    now = at(2026, 4, 20, 10, 0)  # a week for the second to be answered
    assert (
        reminders.run("retention_check_ins", session, sched_settings, now)["unanswered_tasks"] == 1
    )
    assert (
        reminders.run("retention_check_ins", session, sched_settings, now)["unanswered_tasks"] == 0
    )
    [task] = tasks(session, kind=m.TaskKind.CHECK_IN_FOLLOW_UP)
    assert task.owner_id == org.supervisor_north.id and task.carer_id == carer.id
    assert task.title == "Get in touch: two check-ins in a row unanswered"


def test_an_answered_check_in_breaks_the_run(session, engine, org, sched_settings):
    _carer, first = carer_with_check_in(
        session, engine, org, sched_settings, email_address="cara@example.com", phone=None
    )
    checkins.answer_check_in(session, first.id, score=4, settings=sched_settings)
    reminders.run("retention_check_ins", session, sched_settings, at(2026, 4, 13, 10, 0))
    Dispatcher(sched_settings, engine).run_until_idle()
    now = at(2026, 5, 1, 10, 0)
    assert checkins.flag_unanswered_check_ins(session, sched_settings, now) == 0
