"""The assistant's conversations, on SQLite and PostgreSQL: questions, the enquiry with
consent, booking, moving and cancelling, a person, erasing, and every kind of bad input."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session, func, select

import crm.models as m
from bot.assistant import Assistant, Incoming
from crm import clock
from crm.models import ChatChannel
from tests.bot.bot_helpers import Chat


def count(session, model, *where) -> int:
    return session.exec(select(func.count()).select_from(model).where(*where)).one()


def test_question_is_answered_with_a_next_step_and_stored(chat, session):
    outcome = chat.say("cn i foster if im gay")
    assert outcome.topic == "lgbtq"
    assert "welcome" in outcome.text
    assert "initial visit" in outcome.text.lower()
    assert [b.label for b in outcome.buttons] == ["Book a visit", "Talk to a person"]
    conversation = session.exec(select(m.ChatConversation)).one()
    messages = session.exec(select(m.ChatMessage).order_by(m.ChatMessage.id)).all()
    assert [(x.from_person, x.topic) for x in messages] == [(True, "lgbtq"), (False, None)]
    assert messages[0].text == "cn i foster if im gay"
    # No consent yet: nothing is linked to a household.
    assert conversation.household_id is None
    assert count(session, m.Household) == 0


def test_allowance_answer_uses_the_numbers_in_settings(chat, settings):
    outcome = chat.say("how much do foster carers get paid")
    assert outcome.topic == "allowances"
    assert f"£{settings.allowances.weekly_11_to_15}" in outcome.text
    assert settings.allowances.year in outcome.text


def test_several_questions_in_one_message_get_each_answer(chat):
    outcome = chat.say("do i need a spare room? also can i foster if i smoke")
    assert {"spare-room", "smoking"} <= set(outcome.topics)
    assert "bedroom" in outcome.text and "under 5" in outcome.text
    # One next step at the end, not one per answer.
    assert outcome.text.count("initial visit?") <= 1


def test_booking_a_visit_end_to_end(chat, session, org, settings):
    outcome = chat.give_details()
    assert "enquiry_created" in outcome.actions
    labels = [b.label for b in outcome.buttons]
    # Real free slots, never later today, at most two a day, plus "later" and "none suit".
    assert labels[-1] == "None of these suit me" and "Later times" in labels
    assert not any(label.startswith("Tue 10 Mar") for label in labels)
    outcome = chat.press(labels[0])
    assert "visit_booked" in outcome.actions
    assert "Booked" in outcome.text and "calendar invite" in outcome.text
    # From "I'd like to book a visit" to a confirmed booking: six messages from the person.
    assert chat.sent == 6
    # Then, optional and last: what interests them and how they heard about us.
    assert "optional" in outcome.replies[-1].text
    outcome = chat.answer_optional()
    assert "how did you hear" not in outcome.text

    household = session.exec(select(m.Household)).one()
    assert household.enquiry_channel == m.EnquiryChannel.WEBCHAT
    assert household.source_key == "social_media"
    assert household.interests == "Teenagers"
    assert household.area_id == org.north.id
    [applicant] = household.applicants
    assert (applicant.first_name, applicant.last_name) == ("Sam", "Patel")
    consents = session.exec(select(m.Consent)).all()
    assert {c.scope for c in consents} == {m.ConsentScope.STORE_DETAILS, m.ConsentScope.EMAIL}
    # The exact words shown, with the privacy notice link, are what was recorded.
    wording = consents[0].wording
    assert "privacy" in wording.lower() and settings.service.public_base_url in wording
    [appointment] = session.exec(select(m.Appointment)).all()
    assert appointment.household_id == household.id
    assert appointment.kind == m.AppointmentKind.INITIAL_VISIT
    assert appointment.booked_by_label == "assistant:webchat"
    [message] = session.exec(select(m.OutboxMessage)).all()
    assert (message.template, message.channel, message.recipient) == (
        "visit_confirmation",
        m.Channel.EMAIL,
        "sam.patel@example.com",
    )
    assert message.payload["appointment_id"] == appointment.id
    # The transcript is on the household's timeline, now that they consented.
    conversation = session.exec(select(m.ChatConversation)).one()
    assert conversation.household_id == household.id and conversation.consent_given_at
    activity = session.exec(
        select(m.Activity).where(m.Activity.kind == m.ActivityKind.CHAT_TRANSCRIPT)
    ).one()
    assert activity.conversation_id == conversation.id


def test_refusing_consent_saves_nothing(chat, session):
    chat.say("book a visit")
    chat.say("Sam Patel")
    chat.say("07700 900982")
    outcome = chat.say("NG1 1AA")
    assert "do you agree" in outcome.text
    outcome = chat.press("No")
    assert "haven't saved" in outcome.text
    assert count(session, m.Household) == 0
    assert count(session, m.Consent) == 0
    conversation = session.exec(select(m.ChatConversation)).one()
    assert "details" not in conversation.data


def test_question_in_the_middle_of_booking_is_answered_then_asked_again(chat):
    chat.say("book a visit")
    outcome = chat.say("wait, do i need to own my house?")
    assert outcome.topic == "renting"
    assert outcome.replies[-1].text == "What's your name?"
    outcome = chat.say("Sam")
    assert "surname" in outcome.text
    outcome = chat.say("Patel")
    assert "contact you" in outcome.text


def test_bad_details_get_a_clear_message_and_the_question_again(chat):
    chat.say("book a visit")
    assert "name" in chat.say("<script>alert(1)</script>").text
    assert "Sam Patel" in chat.say("hello").text  # a greeting is not a name
    chat.say("Sam Patel")
    assert "doesn't look like" in chat.say("not telling you").text
    assert "email" in chat.say("sam@").text.lower()
    chat.say("07700 900982")
    assert "postcode" in chat.say("XX99").text.lower()
    outcome = chat.say("it's le1 6zg")
    assert "do you agree" in outcome.text


def test_out_of_area_postcode_goes_to_the_team_without_slots(chat, session):
    chat.say("book a visit")
    chat.say("Sam Patel")
    chat.say("sam@example.com")
    chat.say("SW1A 1AA")
    outcome = chat.press("Yes, I agree")
    assert "outside the areas" in outcome.text
    chat.press("Skip")
    chat.press("Skip")
    assert count(session, m.Appointment) == 0
    household = session.exec(select(m.Household)).one()
    assert household.area_id is None
    assert household.source_key is None


def test_a_stale_button_is_recognised(chat, session):
    chat.give_details()
    old_slot = chat.button("Wed")
    chat.press("Later times")
    outcome = chat.press_data(old_slot)
    assert "earlier message" in outcome.text
    assert count(session, m.Appointment) == 0
    # Pressing a button from another conversation entirely is just as harmless.
    outcome = chat.press_data("ffffff:slot:0")
    assert "earlier message" in outcome.text


def test_a_slot_in_the_past_is_refused_and_fresh_slots_offered(chat, session):
    chat.give_details()
    first = chat.button("Wed")
    # Time passes while the person thinks: the slot is now in the past.
    clock.advance(timedelta(days=3))
    outcome = chat.press_data(first)
    assert "couldn't book" in outcome.text or "taken" in outcome.text
    assert count(session, m.Appointment) == 0
    assert not any(b.label.startswith("Wed 11 Mar") for b in outcome.buttons)


def test_two_people_choosing_the_same_slot_at_once(assistant, engine, org):
    """One gets it; the other is told and offered other times. Real threads, real database."""
    with Session(engine) as session:
        # Only one member of staff works that Wednesday, so 9:30 is one slot, not two.
        session.add(
            m.AvailabilityException(staff_id=org.assessor_north.id, on_date=date(2026, 3, 11))
        )
        session.commit()
    sessions = [Session(engine, expire_on_commit=False) for _ in range(2)]
    chats = [Chat(assistant, s, ChatChannel.WEBCHAT, f"race-{i}") for i, s in enumerate(sessions)]
    for i, one in enumerate(chats):
        one.give_details(name=f"Person {'AB'[i]}", contact=f"p{i}@example.com")
    slots = [one.button("Wed 11 Mar, 9:30am") for one in chats]
    barrier = threading.Barrier(2)
    outcomes: list = [None, None]

    def choose(i: int) -> None:
        barrier.wait()
        outcomes[i] = chats[i].press_data(slots[i])

    threads = [threading.Thread(target=choose, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    actions = sorted(a for o in outcomes for a in o.actions if a in ("visit_booked", "slot_taken"))
    assert actions == ["slot_taken", "visit_booked"]
    loser = next(o for o in outcomes if "slot_taken" in o.actions)
    assert "someone has just taken that time" in loser.text
    assert loser.buttons and not any(b.label == "Wed 11 Mar, 9:30am" for b in loser.buttons)
    with Session(engine) as session:
        booked = session.exec(
            select(m.Appointment).where(m.Appointment.status == m.AppointmentStatus.BOOKED)
        ).all()
        assert len(booked) == 1
    for s in sessions:
        s.close()


def test_moving_and_cancelling_from_the_chat(chat, session):
    chat.give_details()
    chat.press("Wed")
    # Moving in words offers the new times straight away.
    outcome = chat.say("I need to change my appointment")
    assert "Your initial visit is on Wednesday 11 March" in outcome.text
    outcome = chat.press("Fri")
    assert "visit_moved" in outcome.actions and "moved" in outcome.text
    statuses = sorted(a.status for a in session.exec(select(m.Appointment)).all())
    assert statuses == ["booked", "moved"]
    assert count(session, m.OutboxMessage) == 2  # a confirmation for each time
    # Cancelling in words goes straight to the question that matters.
    outcome = chat.say("cancel my visit")
    assert "Are you sure" in outcome.text
    outcome = chat.press("Yes, cancel it")
    assert "visit_cancelled" in outcome.actions
    assert sorted(a.status for a in session.exec(select(m.Appointment)).all()) == [
        "cancelled",
        "moved",
    ]


def test_manage_without_a_visit_in_this_chat(chat, session):
    outcome = chat.say("can i move my visit")
    assert "can't see a visit booked in this chat" in outcome.text


def test_a_chat_never_shows_a_visit_it_did_not_book(make_chat, session):
    first = make_chat(external_id="owner")
    first.give_details()
    first.press("Wed")
    consents_before = count(session, m.Consent)
    # Someone else types the same email address in another chat: noted as a repeat enquiry
    # for the team to follow up, but the chat is not attached to that household.
    other = make_chat(external_id="someone-else")
    outcome = other.give_details(name="Not Sam")
    assert "enquiry_known" in outcome.actions
    assert "already have your details" in outcome.text
    assert count(session, m.Household) == 1
    assert count(session, m.Consent) == consents_before
    stranger = session.exec(
        select(m.ChatConversation).where(m.ChatConversation.external_id == "someone-else")
    ).one()
    assert stranger.household_id is None
    outcome = other.say("when is my visit")
    assert "Wednesday" not in outcome.text


def test_asking_for_a_person_when_known_creates_a_task_with_an_honest_time(chat, session):
    chat.give_details()
    outcome = chat.say("can i talk to a real person")
    assert "human_task" in outcome.actions
    task = session.exec(select(m.Task).where(m.Task.kind == m.TaskKind.CALL_BACK)).one()
    # Tuesday 10:00: one working day of office hours later.
    assert task.due_at == datetime(2026, 3, 11, 10, 0, tzinfo=UTC)
    assert "Wednesday 11 March at 10am" in outcome.text
    assert "office is open now" in outcome.text


def test_asking_for_a_person_at_night_says_when_the_office_opens(chat, session):
    clock.set_now(datetime(2026, 3, 13, 21, 30, tzinfo=UTC))  # Friday night
    chat.say("i want to speak to a human")
    chat.say("Sam Patel")
    chat.say("07700 900982")
    # A postcode given while consent is asked is kept (and consent asked again).
    assert "do you agree" in chat.say("LE2 1AA").text
    outcome = chat.press("Yes, I agree")
    assert "closed just now" in outcome.text
    assert "Monday 16 March" in outcome.text
    household = session.exec(select(m.Household)).one()
    assert household.interests.startswith("Asked in the chat")
    assert household.postcode == "LE2 1AA"


def test_asking_for_a_person_from_a_fresh_chat_takes_three_messages(chat, session):
    chat.say("can I talk to someone please")
    outcome = chat.say("Sam Patel 07700 900982")
    assert "do you agree" in outcome.text
    outcome = chat.press("Yes, I agree")
    assert "human_task" in outcome.actions and chat.sent == 3
    [applicant] = session.exec(select(m.Applicant)).all()
    assert (applicant.first_name, applicant.last_name) == ("Sam", "Patel")
    assert applicant.phone == "+447700900982"


def test_delete_erases_the_chat_but_not_the_enquiry(chat, session):
    chat.give_details()
    chat.press("Wed")
    outcome = chat.say("/delete")
    outcome = chat.press("Yes, erase it")
    assert "erased" in outcome.actions
    assert count(session, m.ChatMessage) == 0
    assert count(session, m.Activity, m.Activity.kind == m.ActivityKind.CHAT_TRANSCRIPT) == 0
    conversation = session.exec(select(m.ChatConversation)).one()
    assert conversation.household_id is None and conversation.erased_at is not None
    assert conversation.data == {}
    assert count(session, m.Household) == 1 and count(session, m.Appointment) == 1
    erase = session.exec(
        select(m.AuditEvent).where(m.AuditEvent.action == m.AuditAction.ERASE)
    ).one()
    assert erase.entity == "chat_conversation"
    # They can start afresh.
    assert chat.say("hello").topic == "greeting"


def test_bad_input_gets_a_sensible_reply_and_nothing_is_lost(chat, session):
    households_before = count(session, m.Household)
    long_text = "I have been thinking about fostering for a long time. " * 200
    samples = [
        "",
        "   ",
        "😀😀😀",
        "?!?!",
        "<b>hello</b><script>alert('x')</script>",
        "'; DROP TABLE household; --",
        long_text[:10_000],
    ]
    for text in samples:
        outcome = chat.say(text)
        assert outcome.replies and outcome.replies[0].text
        assert "error" not in outcome.actions
    stored = [
        x.text
        for x in session.exec(
            select(m.ChatMessage)
            .where(m.ChatMessage.from_person.is_(True))
            .order_by(m.ChatMessage.id)
        )
    ]
    assert stored[2:] == samples[2:]
    assert len(stored[-1]) == 10_000
    # The SQL-looking message was stored as text, and the table it names is untouched.
    assert count(session, m.Household) == households_before
    assert chat.say("do i need a spare room").topic == "spare-room"


def test_stickers_and_photos_get_a_friendly_reply(assistant, session, org):
    outcome = assistant.reply(session, ChatChannel.TELEGRAM, "77", Incoming(kind="sticker"))
    assert "only read written messages" in outcome.text
    outcome = assistant.reply(
        session, ChatChannel.TELEGRAM, "77", Incoming(text="is my dog ok", kind="photo")
    )
    assert outcome.topic == "pets"
    texts = session.exec(select(m.ChatMessage.text).order_by(m.ChatMessage.id)).all()
    assert texts[0] == "[sent a sticker]"


def test_a_restart_loses_nothing(settings, knowledge_files, session, org):
    from bot.knowledge import KnowledgeCache

    base, matcher = knowledge_files
    first = Chat(Assistant(settings, KnowledgeCache(base, matcher)), session)
    first.say("book a visit")
    first.say("Sam Patel")
    # A new process: a new assistant, the same database.
    second = Chat(Assistant(settings, KnowledgeCache(base, matcher)), session)
    outcome = second.say("sam@example.com")
    assert "postcode" in outcome.text


def test_commands(chat, settings):
    assert "/delete" in chat.say("/help").text
    privacy = chat.say("/privacy").text
    assert f"{settings.service.public_base_url}/privacy" in privacy
    assert "What's your name?" in chat.say("/book").text
    # /start in the middle of something starts again.
    assert chat.say("/start").topic == "greeting"
    assert "can't see a visit" in chat.say("/visit").text
    assert "I don't know that command" in chat.say("/frobnicate").text
    outcome = chat.say("/human")
    assert "name and how to reach you" in outcome.text
    assert "No problem" in chat.say("never mind").text
