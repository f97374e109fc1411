"""Safeguarding first: a child who may be at risk gets the emergency advice at once, staff get
an urgent task, and no recruitment flow follows. Ordinary questions never trigger it."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlmodel import select

import crm.models as m
from bot import safeguarding
from crm import clock

CONCERNS = [
    "im worried about my neighbours kids",
    "I think the child next door is being hit, I hear screaming every night",
    "my friend's little boy has bruises and says his dad hurts him",
    "a child in my street is always left home alone with no food",
    "how do i report child abuse",
    "my niece told me her stepdad touches her",
    "i think a kid is being neglected",
    "i'm 14 and my mum hits me, i don't want to go home",
    "there is a baby left alone in the flat upstairs",
    "i'm scared for a child at my sons school",
    "someone is hurting my little sister",
    "a child is in danger",
    "My neighbour beats his son",
    "her boyfriend slaps the kids when he's drunk",
    "the kids next door are not safe",
    "I want to report a concern about a child",
    "safeguarding concern about my grandson's dad",
    "my daughter's friend says her uncle touched her",
    "i'm scared to go home tonight",
    "I'm being abused at home",
    "he is hurting me",
    "there's a toddler left on his own in a car",
    "the children across the road are starving, nothing to eat",
    "i think my nephew is being groomed online",
    "worried about a girl in my class",
    "child abuse",
    "I need to report neglect",
    "a boy at the park had a black eye and said his dad did it",
    "i want to kill myself",
    "my stepdad hits me with a belt",
    "The little girl downstairs is locked in her room all day",
    "my sister's partner is violent and the baby is at risk",
    "concerned for the welfare of a child I teach",
    "NEIGHBOUR HITS HIS KIDS!!!",
    "me mums boyfriend hurts me n my brother",
]

ORDINARY = [
    "can I foster children who have been abused?",
    "do foster children come from abusive backgrounds",
    "I was abused as a child, can I still foster?",
    "what training is there for looking after kids who were neglected",
    "what happens if a child in my care says they are being hurt at contact",
    "what if a foster child makes an allegation against me",
    "I'm worried about how my kids will cope with fostering",
    "i'm worried my children will be jealous of a foster child",
    "concerned about the money side of fostering",
    "will I hit the age limit at 60",
    "is it safe to foster teenagers",
    "how do you keep children safe in foster care",
    "do you get support if the child has experienced trauma",
    "can I foster if I had depression",
    "my dog is good with children",
    "can a child share a room with my son",
    "how long does the assessment take",
    "what is the allowance for a baby",
    "my neighbour fosters and recommended you",
    "we have a spare room since our son left home",
    "I'm scared I won't be good enough",
    "worried about the assessment",
    "what happens when children go back home to their parents",
    "can we foster children with a history of abuse",
    "how do you report my change of address",
]


@pytest.mark.parametrize("text", CONCERNS)
def test_concerns_are_caught(text):
    assert safeguarding.detect(text) is not None, text


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_questions_are_not(text):
    assert safeguarding.detect(text) is None, text


def test_no_fostering_question_in_the_evaluation_set_triggers_it():
    rows = csv.DictReader((Path(__file__).parent / "eval_set.csv").open(encoding="utf-8"))
    wrong = [
        r["text"]
        for r in rows
        if r["expected"] != "safeguarding" and safeguarding.detect(r["text"]) is not None
    ]
    assert wrong == []


def test_the_reply_gives_999_and_the_areas_number_and_staff_get_an_urgent_task(
    make_chat, session, org
):
    org.north.childrens_services_phone = "0116 305 0005"
    session.add(org.north)
    session.commit()
    chat = make_chat(m.ChatChannel.TELEGRAM, "555")
    # Half-way through a booking, in Northshire...
    chat.say("book a visit")
    chat.say("Sam Patel")
    chat.say("sam@example.com")
    chat.say("LE1 6ZG")
    outcome = chat.say("actually my neighbour hits his kids, I can hear it now")
    assert outcome.actions == ["safeguarding"]
    assert outcome.topic == "safeguarding"
    assert "999" in outcome.text
    assert "Northshire" in outcome.text and "0116 305 0005" in outcome.text
    # Nothing about booking, consent or fostering in that reply, and no buttons.
    assert len(outcome.replies) == 1 and outcome.buttons == []
    assert "agree" not in outcome.text and "visit" not in outcome.text
    task = session.exec(select(m.Task)).one()
    assert task.kind == m.TaskKind.SAFEGUARDING
    assert task.priority == m.TaskPriority.URGENT
    assert task.due_at == clock.now()
    assert task.area_id == org.north.id
    assert "hits his kids" in task.detail
    # Managers of the area (and admins) are alerted by email, without the person's words.
    alerts = session.exec(select(m.OutboxMessage)).all()
    assert {a.recipient for a in alerts} == {org.manager.email, org.admin.email}
    assert all("hits" not in str(a.payload) for a in alerts)
    # The booking flow does not carry on: the next message is understood afresh.
    conversation = session.exec(select(m.ChatConversation)).one()
    assert conversation.state == "start"
    assert chat.say("do i need a spare room").topic == "spare-room"


def test_without_an_area_the_service_number_is_given(chat, session, settings):
    outcome = chat.say("I think a child is being abused")
    assert settings.service.childrens_services_phone in outcome.text
    task = session.exec(select(m.Task)).one()
    assert task.area_id is None  # the hub's queue
