"""The knowledge base: the files load and are complete, and answers edited in the CRM are saved
with their history, audited, and used at once by every assistant sharing the database."""

from __future__ import annotations

import re
import shutil

import pytest
from sqlmodel import select

import crm.models as m
from bot.assistant import Assistant
from bot.knowledge import (
    REQUIRED_TOPICS,
    AnswerChange,
    KnowledgeCache,
    KnowledgeError,
    answer_values,
    history,
    load_knowledge,
    render,
    save_answer,
)
from crm.services.errors import InvalidInput, NotAllowed
from crm.settings import CONFIG_DIR
from crm.testing.fixtures import make_test_settings
from tests.bot.bot_helpers import Chat


def test_every_topic_answers_in_plain_short_english_with_a_next_step():
    knowledge = load_knowledge()
    values = answer_values(make_test_settings())
    for slug in REQUIRED_TOPICS:
        topic = knowledge.get(slug)
        text = render(topic.answer, values)
        assert "{" not in text, slug
        assert 150 < len(text) < 1100, (slug, len(text))
        last = text.split("\n\n")[-1]
        # The next step: an offer to book, to talk to someone, or where to go.
        assert re.search(r"visit|contact|someone|ask|agency|book", last, re.I), slug
        assert len(topic.examples) >= 8, slug


def test_allowance_numbers_come_only_from_settings():
    raw = load_knowledge().get("allowances").answer
    assert not re.search(r"£\d", raw)
    settings = make_test_settings()
    text = render(raw, answer_values(settings))
    for value in (
        settings.allowances.weekly_0_to_2,
        settings.allowances.weekly_16_to_17,
    ):
        assert f"£{value}" in text


def test_a_missing_topic_or_broken_file_is_reported_by_name(tmp_path):
    copy = tmp_path / "knowledge"
    shutil.copytree(CONFIG_DIR / "knowledge", copy)
    (copy / "topics" / "pets.toml").unlink()
    with pytest.raises(KnowledgeError, match="missing topic\\(s\\) pets"):
        load_knowledge(copy)
    shutil.copy(CONFIG_DIR / "knowledge" / "topics" / "pets.toml", copy / "topics")
    (copy / "topics" / "age.toml").write_text('answer = "Hi {nonsense}"\n', encoding="utf-8")
    with pytest.raises(KnowledgeError, match="age.toml.*Unknown placeholder \\{nonsense\\}"):
        load_knowledge(copy)


def test_saving_an_answer_keeps_the_previous_text_and_is_audited(session, org, settings):
    base = load_knowledge()
    manager = org.actor(session, org.manager)
    new_text = "Pets are welcome! We look at each one. Want to book a visit?"
    edit = save_answer(session, manager, base, "pets", AnswerChange(answer=new_text))
    assert edit.previous_answer == base.get("pets").answer
    assert edit.answer == new_text
    assert edit.edited_by_id == org.manager.id
    audit = session.exec(select(m.AuditEvent).where(m.AuditEvent.entity == "knowledge_topic")).one()
    assert audit.detail == {"slug": "pets", "changed": ["answer"]}
    second = save_answer(session, manager, base, "pets", AnswerChange(answer=new_text + " Really."))
    assert second.previous_answer == new_text
    assert [e.id for e in history(session, "pets")] == [second.id, edit.id]


def test_every_assistant_uses_a_saved_answer_at_once(session, org, settings):
    base = load_knowledge()
    # Two processes: the web app and the Telegram bot, each with its own copy.
    web = Chat(Assistant(settings, KnowledgeCache(base)), session, external_id="web")
    telegram = Chat(Assistant(settings, KnowledgeCache(base)), session, m.ChatChannel.TELEGRAM, "9")
    assert "temperament" in web.say("can i foster with a dog").text
    save_answer(
        session,
        org.actor(session, org.admin),
        base,
        "pets",
        AnswerChange(
            answer="Dogs and cats are fine at {service_name}. Shall I book a visit?",
            examples=["do pets matter", "i have a tarantula"],
        ),
    )
    outcome = telegram.say("I have a tarantula")
    assert outcome.topic == "pets"
    assert outcome.text.startswith(f"Dogs and cats are fine at {settings.service.name}")
    assert "Dogs and cats" in web.say("do pets matter").text


def test_bad_edits_change_nothing(session, org):
    base = load_knowledge()
    admin = org.actor(session, org.admin)
    with pytest.raises(InvalidInput) as exc:
        save_answer(session, admin, base, "pets", AnswerChange(answer="   "))
    assert exc.value.errors == {"answer": "Enter the answer the assistant should give"}
    with pytest.raises(InvalidInput, match="Unknown placeholder"):
        save_answer(session, admin, base, "pets", AnswerChange(answer="£{allowance_99}"))
    with pytest.raises(InvalidInput, match="under 2000"):
        save_answer(session, admin, base, "pets", AnswerChange(answer="x" * 2001))
    with pytest.raises(InvalidInput, match="Nothing has changed"):
        save_answer(session, admin, base, "pets", AnswerChange(answer=base.get("pets").answer))
    with pytest.raises(InvalidInput, match="Unknown topic"):
        save_answer(session, admin, base, "unicorns", AnswerChange(answer="Hi"))
    with pytest.raises(NotAllowed):
        save_answer(
            session,
            org.actor(session, org.officer_north),
            base,
            "pets",
            AnswerChange(answer="Officers may not change what the public is told."),
        )
    assert session.exec(select(m.KnowledgeEdit)).all() == []
