"""Fixtures for the chat assistant's tests: the assistant on the test database, a person
chatting to it, and the local Telegram Bot API server."""

from __future__ import annotations

import pytest

from bot.assistant import Assistant
from bot.knowledge import KnowledgeCache, load_knowledge
from bot.matching import Matcher
from crm.models import ChatChannel
from tests.bot.bot_helpers import Chat

WEB_SECRET = "test-secret-key-0123456789abcdef"


@pytest.fixture(scope="session")
def knowledge_files():
    knowledge = load_knowledge()
    return knowledge, Matcher(knowledge.entries(), knowledge.language)


@pytest.fixture
def assistant(settings, knowledge_files) -> Assistant:
    base, matcher = knowledge_files
    return Assistant(settings, KnowledgeCache(base, matcher))


@pytest.fixture
def chat(assistant, session, org):
    return Chat(assistant, session)


@pytest.fixture
def make_chat(assistant, session, org):
    def make(channel=ChatChannel.WEBCHAT, external_id="w1") -> Chat:
        return Chat(assistant, session, channel, external_id)

    return make
