"""The assistant's knowledge base: answers the fostering team can edit, and how they are found.

The defaults live in `config/knowledge/` (one TOML file per topic, plus intents and language;
see the README there). Edits made in the CRM are saved in the database (`KnowledgeEdit`), one row
per change with the previous text, and take precedence over the files. Why the database and not
the files: the Telegram poller, the scheduler and several web workers may run as separate
processes (or machines) that share only the database, so an edit saved on one must reach all of
them at once; a deploy that replaces `config/` must not wipe the team's edits; and the history
of who changed what is then an ordinary, audited query.
"""

from __future__ import annotations

import string
import threading
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from bot.matching import FALLBACK, Entry, Language, Matcher
from crm import clock
from crm.db import transaction
from crm.models import AuditAction, Role
from crm.models.knowledge import KnowledgeEdit
from crm.services import audit
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed
from crm.settings import CONFIG_DIR, Settings

KNOWLEDGE_DIR = CONFIG_DIR / "knowledge"
# The topics the product promises to answer (issue 6); loading fails if one is missing.
REQUIRED_TOPICS = (
    "age",
    "spare-room",
    "renting",
    "relationship-status",
    "lgbtq",
    "pets",
    "smoking",
    "working",
    "criminal-record",
    "health",
    "own-children",
    "background",
    "allowances",
    "tax-and-benefits",
    "process",
    "timescale",
    "training",
    "support",
    "types-of-fostering",
    "choosing-a-child",
    "birth-family-contact",
    "adoption",
    "kinship",
    "agency-or-council",
)
REQUIRED_INTENTS = ("book-visit", "manage-visit", "human", "safeguarding", "fallback")
PLACEHOLDERS = frozenset(
    {
        "service_name",
        "childrens_services_phone",
        "area_label",
        "privacy_url",
        "office_hours",
        "allowance_year",
        "allowance_band",
        "allowance_0_to_2",
        "allowance_3_to_4",
        "allowance_5_to_10",
        "allowance_11_to_15",
        "allowance_16_to_17",
    }
)
EDITOR_ROLES = frozenset({Role.ADMIN, Role.MANAGER})
MAX_ANSWER_CHARS = 2000
MAX_EXAMPLES = 200


class KnowledgeError(Exception):
    """A knowledge base file is missing or wrong; the message names the file."""


@dataclass(frozen=True)
class Topic:
    slug: str
    title: str
    answer: str
    examples: tuple[str, ...]
    keywords: tuple[str, ...]
    is_topic: bool = True
    edited: bool = False

    def entry(self) -> Entry:
        return Entry(self.slug, self.examples, self.keywords, self.is_topic)


@dataclass(frozen=True)
class KnowledgeBase:
    topics: dict[str, Topic]
    language: Language

    def entries(self) -> list[Entry]:
        return [t.entry() for t in self.topics.values() if t.examples]

    @property
    def topic_slugs(self) -> list[str]:
        return [s for s, t in self.topics.items() if t.is_topic]

    def get(self, slug: str) -> Topic | None:
        return self.topics.get(slug)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KnowledgeError(f"knowledge base file {path}: not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise KnowledgeError(f"knowledge base file {path}: not valid TOML ({exc})") from None


def _strings(path: Path, data: dict, key: str) -> tuple[str, ...]:
    values = data.get(key, [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise KnowledgeError(f"knowledge base file {path}: {key} must be a list of strings")
    return tuple(v.strip() for v in values if v.strip())


def check_answer_text(answer: str) -> str | None:
    """A reason the answer cannot be used, or None."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(answer) if name is not None}
    except ValueError as exc:
        return f"Braces must be paired: {exc}"
    unknown = sorted(f for f in fields if f not in PLACEHOLDERS)
    if unknown:
        return (
            "Unknown placeholder "
            + ", ".join("{" + f + "}" for f in unknown)
            + ". You can use: "
            + ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))
        )
    return None


def load_knowledge(directory: Path | None = None) -> KnowledgeBase:
    directory = directory or KNOWLEDGE_DIR
    topics: dict[str, Topic] = {}
    for path in sorted((directory / "topics").glob("*.toml")):
        data = _read_toml(path)
        answer = str(data.get("answer", "")).strip()
        if not answer:
            raise KnowledgeError(f"knowledge base file {path}: answer is empty")
        problem = check_answer_text(answer)
        if problem:
            raise KnowledgeError(f"knowledge base file {path}: {problem}")
        topics[path.stem] = Topic(
            slug=path.stem,
            title=str(data.get("title", path.stem)),
            answer=answer,
            examples=_strings(path, data, "examples"),
            keywords=_strings(path, data, "keywords"),
        )
    missing = [slug for slug in REQUIRED_TOPICS if slug not in topics]
    if missing:
        raise KnowledgeError(
            f"knowledge base {directory / 'topics'}: missing topic(s) {', '.join(missing)}"
        )
    intents_path = directory / "intents.toml"
    for slug, data in _read_toml(intents_path).items():
        answer = str(data.get("answer", "")).strip()
        problem = check_answer_text(answer) if answer else None
        if problem:
            raise KnowledgeError(f"knowledge base file {intents_path} [{slug}]: {problem}")
        topics[slug] = Topic(
            slug=slug,
            title=str(data.get("title", slug)),
            answer=answer,
            examples=_strings(intents_path, data, "examples"),
            keywords=_strings(intents_path, data, "keywords"),
            is_topic=False,
        )
    missing = [slug for slug in REQUIRED_INTENTS if slug not in topics]
    if missing:
        raise KnowledgeError(f"knowledge base file {intents_path}: missing {', '.join(missing)}")
    language_path = directory / "language.toml"
    language_data = _read_toml(language_path)
    language = Language(
        textspeak={str(k): str(v) for k, v in language_data.get("textspeak", {}).items()},
        synonyms={
            str(k): tuple(str(p) for p in v) for k, v in language_data.get("synonyms", {}).items()
        },
    )
    return KnowledgeBase(topics=topics, language=language)


# -- answers ------------------------------------------------------------------------------


def answer_values(settings: Settings, *, area_name: str | None = None, phone: str | None = None):
    service = settings.service
    allowances = settings.allowances
    return {
        "service_name": service.name,
        "childrens_services_phone": phone or service.childrens_services_phone,
        "area_label": f"{area_name}" if area_name else "your local",
        "privacy_url": privacy_url(settings),
        "office_hours": office_hours_text(settings),
        "allowance_year": allowances.year,
        "allowance_band": allowances.band_name,
        "allowance_0_to_2": allowances.weekly_0_to_2,
        "allowance_3_to_4": allowances.weekly_3_to_4,
        "allowance_5_to_10": allowances.weekly_5_to_10,
        "allowance_11_to_15": allowances.weekly_11_to_15,
        "allowance_16_to_17": allowances.weekly_16_to_17,
    }


def render(answer: str, values: dict[str, Any]) -> str:
    return answer.format_map(values).strip()


def privacy_url(settings: Settings) -> str:
    return settings.service.public_base_url.rstrip("/") + "/privacy"


def office_hours_text(settings: Settings) -> str:
    start = settings.service.office_hours_start.strftime("%-I:%M%p").lower().replace(":00", "")
    end = settings.service.office_hours_end.strftime("%-I:%M%p").lower().replace(":00", "")
    return f"{start} to {end}, Monday to Friday (not bank holidays)"


# -- edits from the CRM -------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerChange:
    """What an editor typed; None leaves that part unchanged."""

    answer: str | None = None
    examples: list[str] | None = None
    title: str | None = None


def latest_edits(session: Session) -> dict[str, KnowledgeEdit]:
    newest = (
        select(KnowledgeEdit.slug, sa.func.max(KnowledgeEdit.id).label("id"))
        .group_by(KnowledgeEdit.slug)
        .subquery()
    )
    rows = session.exec(select(KnowledgeEdit).join(newest, KnowledgeEdit.id == newest.c.id))
    return {edit.slug: edit for edit in rows}


def edits_version(session: Session) -> int:
    """Changes whenever an answer is saved, so every process can tell its copy is stale."""
    return session.exec(select(sa.func.coalesce(sa.func.max(KnowledgeEdit.id), 0))).one()


def apply_edits(base: KnowledgeBase, edits: dict[str, KnowledgeEdit]) -> KnowledgeBase:
    topics = dict(base.topics)
    for slug, edit in edits.items():
        topic = topics.get(slug)
        if topic is None:
            continue
        topics[slug] = replace(
            topic,
            title=edit.title or topic.title,
            answer=edit.answer,
            examples=tuple(edit.examples) if edit.examples is not None else topic.examples,
            edited=True,
        )
    return KnowledgeBase(topics=topics, language=base.language)


def history(session: Session, slug: str) -> list[KnowledgeEdit]:
    return list(
        session.exec(
            select(KnowledgeEdit)
            .where(KnowledgeEdit.slug == slug)
            .order_by(KnowledgeEdit.id.desc())
        ).all()
    )


def save_answer(
    session: Session,
    actor: Actor,
    base: KnowledgeBase,
    slug: str,
    change: AnswerChange,
) -> KnowledgeEdit:
    """Save an edited answer (and/or its example phrasings), keeping the previous text.

    Only admins and managers edit what the assistant says to the public."""
    if not actor.is_system and actor.role not in EDITOR_ROLES:
        raise NotAllowed("Only admins and managers can change the assistant's answers")
    current = apply_edits(base, latest_edits(session))
    topic = current.get(slug)
    if topic is None:
        raise InvalidInput(f"Unknown topic {slug!r}", "slug")
    errors: dict[str, str] = {}
    answer = topic.answer if change.answer is None else change.answer.replace("\r\n", "\n")
    answer = answer.strip()
    if slug == "safeguarding" and change.answer:
        errors["answer"] = (
            "The safeguarding reply is fixed in the code (bot/data/safeguarding_replies.toml), "
            "so that no edit can switch it off"
        )
    elif slug in ("book-visit", "manage-visit", "human") and change.answer:
        errors["answer"] = "This intent starts a conversation; it has no answer text to edit"
    elif not answer and topic.answer:
        errors["answer"] = "Enter the answer the assistant should give"
    elif len(answer) > MAX_ANSWER_CHARS:
        errors["answer"] = f"Keep the answer under {MAX_ANSWER_CHARS} characters (it is a chat)"
    else:
        problem = check_answer_text(answer)
        if problem:
            errors["answer"] = problem
    examples = list(topic.examples)
    if change.examples is not None:
        examples = [" ".join(e.split()) for e in change.examples if e and e.strip()]
        if not examples and topic.examples:
            errors["examples"] = "Give at least one way people ask about this"
        elif len(examples) > MAX_EXAMPLES:
            errors["examples"] = f"Give at most {MAX_EXAMPLES} example questions"
        elif any(len(e) > 300 for e in examples):
            errors["examples"] = "Keep each example question under 300 characters"
    title = topic.title if change.title is None else " ".join(change.title.split())
    if not title:
        errors["title"] = "Enter a title"
    elif len(title) > 200:
        errors["title"] = "Keep the title under 200 characters"
    if errors:
        raise InvalidInput(errors)
    if (answer, tuple(examples), title) == (topic.answer, topic.examples, topic.title):
        raise InvalidInput("Nothing has changed", "answer")

    edit = KnowledgeEdit(
        slug=slug,
        title=title,
        answer=answer,
        examples=examples,
        previous_title=topic.title,
        previous_answer=topic.answer,
        previous_examples=list(topic.examples),
        edited_by_id=actor.user_id,
        edited_by_label=actor.label,
        edited_at=clock.now(),
    )
    with transaction(session):
        session.add(edit)
        session.flush()
        changed = [
            name
            for name, new, old in (
                ("answer", answer, topic.answer),
                ("examples", tuple(examples), topic.examples),
                ("title", title, topic.title),
            )
            if new != old
        ]
        audit.record(
            session,
            actor,
            AuditAction.UPDATE,
            "knowledge_topic",
            edit.id,
            slug=slug,
            changed=changed,
        )
    session.refresh(edit)
    return edit


# -- one shared, always-current copy per process ------------------------------------------


class KnowledgeCache:
    """The knowledge base with the CRM's edits applied, and its matcher.

    Checking for edits costs one indexed query (the newest edit's id); the matcher is rebuilt
    only when example phrasings change."""

    def __init__(self, base: KnowledgeBase | None = None, matcher: Matcher | None = None) -> None:
        """`matcher`, when given, must have been built from `base` (it saves rebuilding)."""
        self.base = base or load_knowledge()
        self._lock = threading.Lock()
        self._version: int | None = None
        self._knowledge = self.base
        self._matcher = matcher
        self._matcher_examples: tuple | None = self._examples(self.base) if matcher else None

    @staticmethod
    def _examples(knowledge: KnowledgeBase) -> tuple:
        return tuple((t.slug, t.examples, t.keywords) for t in knowledge.topics.values())

    def _build(self, knowledge: KnowledgeBase) -> None:
        examples = self._examples(knowledge)
        if self._matcher is None or examples != self._matcher_examples:
            self._matcher = Matcher(knowledge.entries(), knowledge.language)
            self._matcher_examples = examples
        self._knowledge = knowledge

    def current(self, session: Session | None = None) -> tuple[KnowledgeBase, Matcher]:
        with self._lock:
            if session is not None:
                version = edits_version(session)
                if version != self._version:
                    edits = latest_edits(session) if version else {}
                    self._build(apply_edits(self.base, edits))
                    self._version = version
            if self._matcher is None:
                self._build(self.base)
            return self._knowledge, self._matcher


__all__ = [
    "FALLBACK",
    "AnswerChange",
    "KnowledgeBase",
    "KnowledgeCache",
    "KnowledgeError",
    "Topic",
    "answer_values",
    "history",
    "load_knowledge",
    "render",
    "save_answer",
]
