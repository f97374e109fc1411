"""Whole conversations with the channel-free assistant, on SQLite and PostgreSQL: booking in
six messages, times typed in words, "next week", a time nobody works, a day gone by, "none of
these", cancelling and moving in free text, evening and Saturday times when staff offer them,
and a safeguarding disclosure in the middle of a booking that then carries on with the
details kept. (The same conversations through the terminal, Telegram and the web chat are in
test_channels.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from sqlmodel import func, select

import crm.models as m
from tests.bot.bot_helpers import Chat


def booked(session) -> list[m.Appointment]:
    return list(
        session.exec(
            select(m.Appointment).where(m.Appointment.status == m.AppointmentStatus.BOOKED)
        ).all()
    )


def details_up_to_slots(chat: Chat, first: str = "I'd like a visit") -> None:
    chat.say(first)
    chat.say("Sam Patel")
    chat.say("sam@example.com")
    chat.say("LE1 6ZG")
    chat.say("yes")


def test_a_typed_slot_books_in_six_messages(chat, session):
    details_up_to_slots(chat)
    outcome = chat.say("thursday 11am please")
    assert "visit_booked" in outcome.actions and chat.sent == 6
    [visit] = booked(session)
    # Thursday 12 March, 11am in London (GMT in March).
    assert visit.starts_at == datetime(2026, 3, 12, 11, 0, tzinfo=UTC)
    assert "Thursday 12 March at 11am" in outcome.text


def test_everything_in_one_message_and_the_buttons_own_label_typed(chat, session):
    chat.say("book a visit")
    outcome = chat.say("Sam Patel, sam@example.com, LE1 6ZG")
    assert "do you agree" in outcome.text
    chat.say("yes please")
    label = chat.button("Wed 11 Mar, 9:30am")
    assert label
    outcome = chat.say("Wed 11 Mar, 9:30am")
    assert "visit_booked" in outcome.actions and chat.sent == 4
    assert booked(session)[0].starts_at == datetime(2026, 3, 11, 9, 30, tzinfo=UTC)


def test_the_first_one_please(chat, session):
    details_up_to_slots(chat)
    assert chat.last.buttons[0].label == "Wed 11 Mar, 9:30am"
    outcome = chat.say("the first one please")
    assert "visit_booked" in outcome.actions
    assert booked(session)[0].starts_at == datetime(2026, 3, 11, 9, 30, tzinfo=UTC)


def test_next_week_offers_next_week(chat, session):
    details_up_to_slots(chat, first="can someone visit us next week")
    labels = [b.label for b in chat.last.buttons if "Mar," in b.label]
    assert labels and all(label.split()[1] in {"16", "17", "18", "19", "20"} for label in labels)
    # ...and so does asking for it once the times are shown.
    chat.press("Later times")
    outcome = chat.say("next week please")
    labels = [b.label for b in outcome.buttons if "Mar," in b.label]
    assert labels and all(label.split()[1] in {"16", "17", "18", "19", "20"} for label in labels)


def test_a_time_nobody_works_is_said_plainly_with_a_call_back_offered(chat, session):
    details_up_to_slots(chat)
    before = [b.label for b in chat.last.buttons]
    outcome = chat.say("7pm")
    assert "can't offer a visit at 7pm" in outcome.text
    assert "between 9:30am and 2pm on weekdays" in outcome.text
    assert "Ask the team to call me" in [b.label for b in outcome.buttons]
    assert [b.label for b in outcome.buttons] != before
    outcome = chat.press("Ask the team to call me")
    assert "arrange_task" in outcome.actions
    task = session.exec(select(m.Task).where(m.Task.kind == m.TaskKind.CALL_BACK)).one()
    assert "visit time" in task.title


def test_a_day_gone_by_is_said_so(chat, session):
    details_up_to_slots(chat)
    outcome = chat.say("can we do the 2nd of march")
    assert "already gone by" in outcome.text
    assert not booked(session)


def test_none_of_these_typed_offers_other_days_or_a_call(chat, session):
    details_up_to_slots(chat)
    shown = {b.label.split(",")[0] for b in chat.last.buttons if "," in b.label}
    outcome = chat.say("none of those work for us sorry")
    days = {b.label.split(",")[0] for b in outcome.buttons if "," in b.label}
    assert days and not days & shown
    assert "Ask the team to call me" in [b.label for b in outcome.buttons]


def test_cancel_and_move_in_free_text(chat, session):
    details_up_to_slots(chat)
    chat.say("friday 2pm")
    [visit] = booked(session)
    assert visit.starts_at == datetime(2026, 3, 13, 14, 0, tzinfo=UTC)
    outcome = chat.say("can we move it to monday at 11")
    assert "visit_moved" in outcome.actions
    [moved] = booked(session)
    assert moved.starts_at == datetime(2026, 3, 16, 11, 0, tzinfo=UTC)
    outcome = chat.say("actually we need to cancel it sorry")
    assert "Are you sure you want to cancel your visit on Monday 16 March" in outcome.text
    outcome = chat.say("yes")
    assert "visit_cancelled" in outcome.actions
    assert booked(session) == []


def test_evening_and_saturday_times_when_staff_offer_them(chat, session, org):
    session.add(
        m.AvailabilityPattern(
            staff_id=org.officer_north.id,
            weekday=5,
            start_time=time(10, 0),
            end_time=time(13, 0),
            slot_minutes=90,
        )
    )
    session.add(
        m.AvailabilityPattern(
            staff_id=org.officer_north.id,
            weekday=3,
            start_time=time(18, 0),
            end_time=time(19, 30),
            slot_minutes=90,
        )
    )
    session.commit()
    details_up_to_slots(chat)
    labels = [b.label for b in chat.last.buttons]
    # Among the first times shown there is one outside office hours.
    assert any(label.startswith("Sat") or label.endswith("6pm") for label in labels)
    outcome = chat.say("saturday morning?")
    saturday = [b.label for b in outcome.buttons if "," in b.label]
    assert saturday and all(label.startswith("Sat 14 Mar") for label in saturday)
    outcome = chat.say("thursday evening after 6")
    assert "visit_booked" not in outcome.actions
    assert [b.label for b in outcome.buttons if "," in b.label] == ["Thu 12 Mar, 6pm"]
    outcome = chat.say("Thu 12 Mar, 6pm")
    assert "visit_booked" in outcome.actions


def test_a_disclosure_mid_booking_then_carrying_on_keeps_the_details(make_chat, session):
    chat = make_chat(external_id="mid-booking")
    chat.say("book a visit")
    chat.say("Sam Patel")
    chat.say("sam@example.com")
    outcome = chat.say("my neighbour hits his kids, I can hear it now")
    assert outcome.actions == ["safeguarding"] and outcome.buttons == []
    assert "visit" not in outcome.text
    conversation = session.exec(select(m.ChatConversation)).one()
    session.refresh(conversation)
    # Nothing carries on by itself, but nothing typed is lost.
    assert conversation.state == "start"
    assert conversation.data["details"]["email"] == "sam@example.com"
    outcome = chat.say("ok, can we carry on booking")
    assert "resumed" in outcome.actions
    assert outcome.replies[-1].text == "What's your postcode?"
    chat.say("LE1 6ZG")
    outcome = chat.say("yes")
    assert "enquiry_created" in outcome.actions
    chat.say("Wed 11 Mar, 9:30am")
    [visit] = booked(session)
    household = session.get(m.Household, visit.household_id)
    [applicant] = household.applicants
    assert (applicant.first_name, applicant.email) == ("Sam", "sam@example.com")
    task = session.exec(select(m.Task).where(m.Task.kind == m.TaskKind.SAFEGUARDING)).one()
    assert "hits his kids" in task.detail


def test_the_detail_we_were_waiting_for_carries_on_by_itself(make_chat, session):
    chat = make_chat(external_id="postcode-after")
    chat.say("book a visit")
    chat.say("Sam Patel")
    chat.say("sam@example.com")
    chat.say("a child is in danger next door")
    outcome = chat.say("LE1 6ZG")
    assert "do you agree" in outcome.text


def test_a_second_answer_only_for_a_question_asked(chat):
    outcome = chat.say("we're both fit and healthy, can we foster a baby?")
    assert "smok" not in outcome.text.lower()
    assert "health" not in outcome.topics
    outcome = chat.say("do i need a spare room? also can i foster if i smoke")
    assert outcome.topics[:2] == ["spare-room", "smoking"]


def test_messages_from_the_person_are_counted_once_each(chat, session):
    details_up_to_slots(chat)
    stored = session.exec(
        select(func.count()).select_from(m.ChatMessage).where(m.ChatMessage.from_person.is_(True))
    ).one()
    assert stored == chat.sent == 5


def test_optional_answers_fill_gaps_only_and_are_checked(session, org, settings):
    from bot.conversations import actor_for
    from crm.services.enquiries import add_enquiry_details
    from crm.services.errors import InvalidInput, NotAllowed
    from crm.testing.fixtures import new_household

    household = new_household(session, settings)
    actor = actor_for(m.ChatChannel.WEBCHAT)
    add_enquiry_details(session, actor, household.id, interests="Teenagers", source_key="event")
    session.refresh(household)
    assert (household.interests, household.source_key) == ("Teenagers", "event")
    # What is already recorded is never overwritten from outside.
    add_enquiry_details(session, actor, household.id, interests="Babies", source_key="radio_tv")
    session.refresh(household)
    assert (household.interests, household.source_key) == ("Teenagers", "event")
    with pytest.raises(InvalidInput):
        add_enquiry_details(session, actor, household.id, source_key="no-such-source")
    # A member of staff from another area may not.
    with pytest.raises(NotAllowed):
        add_enquiry_details(
            session, org.actor(session, org.officer_south), household.id, interests="x"
        )
    audit = session.exec(
        select(m.AuditEvent).where(
            m.AuditEvent.entity == "household", m.AuditEvent.entity_id == household.id
        )
    ).all()
    assert any(a.detail.get("changed") == ["interests", "source_key"] for a in audit)


def test_yes_after_an_answer_offering_a_visit_starts_the_booking(chat):
    outcome = chat.say("can i foster if i rent")
    assert "initial visit" in outcome.text
    outcome = chat.say("yes please")
    assert outcome.replies[-1].text == "What's your name?"
    # Only straight after the offer: a "yes" out of the blue is not a booking.
    chat.say("never mind")
    assert "What's your name?" not in chat.say("yes").text
