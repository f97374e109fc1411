"""The running scheduler (real APScheduler, real time) sends Telegram messages through
python-telegram-bot to the local Bot API server, and waits out a 429 retry_after."""

from datetime import time

from sqlmodel import select

import crm.models as m
from crm import clock
from crm.db import make_engine
from crm.scheduler.jobs import job
from crm.scheduler.runner import SchedulerRunner
from crm.services import checkins
from crm.testing.telegram_api import FakeTelegramServer
from tests.crm.scheduler.helpers import make_carer, scheduler_settings


def test_flood_control_is_waited_out_by_the_running_scheduler(database_url, org, settings, session):
    clock.set_now(None)
    with FakeTelegramServer(strict_token=True) as telegram:
        tg_settings = scheduler_settings(
            settings, telegram_base_url=telegram.base_url, telegram_token=telegram.token
        )
        # Whatever the hour this runs at: no quiet window (start == end).
        tg_settings = tg_settings.model_copy(
            update={
                "quiet_hours": tg_settings.quiet_hours.model_copy(
                    update={"start": time(21, 0), "end": time(21, 0)}
                )
            }
        )
        for chat_id, name in ((8101, "Cara"), (8102, "Dee")):
            carer = make_carer(
                session,
                tg_settings,
                supervisor_id=org.supervisor_north.id,
                first_name=name,
                email_address=None,
                phone=f"07700 900{chat_id % 1000:03d}",
                consents=(m.ConsentScope.TELEGRAM,),
                telegram_chat=chat_id,
                preferred=m.Channel.TELEGRAM,
            )
            checkins.start_check_in(
                session, tg_settings, carer, unique_key=f"checkin:{carer.id}:test", reason="regular"
            )
            session.commit()
        telegram.fail("sendMessage", status=429, retry_after=1)

        engine = make_engine(database_url)
        runner = SchedulerRunner(
            tg_settings,
            engine,
            holder="telegram-test",
            lease_seconds=5,
            dispatch_every=0.2,
            jobs=[job("dispatch_outbox")],
        )
        try:
            runner.start()
            telegram.wait_for_messages(2, timeout=30)
        finally:
            runner.stop()
            engine.dispose()

        calls = telegram.calls_to("sendMessage")
        assert [c.status for c in calls] == [429, 200, 200]
        # Nothing was sent to Telegram before the second it asked us to wait had passed.
        assert all(c.at - calls[0].at >= 1.0 for c in calls[1:])
        assert sorted(str(msg.chat_id) for msg in telegram.sent) == ["8101", "8102"]
        assert all(len(msg.buttons) == 6 for msg in telegram.sent)

    # The runner has stopped: what it recorded is final.
    session.expire_all()
    messages = session.exec(select(m.OutboxMessage)).all()
    assert {msg.status for msg in messages} == {m.OutboxStatus.SENT}
    assert {msg.attempts for msg in messages} == {1}
    assert all(msg.provider_message_id.startswith(msg.recipient + ":") for msg in messages)
