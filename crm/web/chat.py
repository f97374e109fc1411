"""The public web chat (the same assistant as Telegram) and the admin page for its answers.

The chat works without JavaScript: a plain form posts the message (or a button's value) and the
page reloads showing the conversation (post/redirect/get). With JavaScript, crm/web/static/
chat/webchat.js sends the same form with fetch to /chat/messages and adds the replies in place. The
person is known by a random token in the signed session cookie, which is the conversation's
`external_id`: nothing guessable, nothing in the URL.
"""

from __future__ import annotations

import secrets
import threading

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from bot import conversations
from bot.assistant import Assistant, Incoming, Outcome
from bot.knowledge import (
    AnswerChange,
    KnowledgeCache,
    answer_values,
    history,
    render,
    save_answer,
)
from crm.models import ChatChannel, Role
from crm.services.errors import InvalidInput, NotAllowed
from crm.web import db, state
from crm.web.auth import current_actor, roles_required
from crm.web.ratelimit import hit

# Templates in crm/web/templates/webchat/; its script and stylesheet under /chat/static/.
bp = Blueprint("webchat", __name__, static_folder="static/chat", static_url_path="/chat/static")
SESSION_KEY = "webchat_id"
MAX_MESSAGE_CHARS = 10_000
SHOWN_MESSAGES = 60
# Per address: plenty for a person typing, too few for a script filling the database.
MESSAGES_PER_IP_PER_HOUR = 300
EDITOR_ROLES = (Role.ADMIN, Role.MANAGER)
_lock = threading.Lock()


def assistant() -> Assistant:
    """One assistant per app, built on first use (loading the knowledge base takes a moment
    and most requests never need it)."""
    existing = current_app.extensions.get("fostercrm_assistant")
    if existing is None:
        with _lock:
            existing = current_app.extensions.get("fostercrm_assistant")
            if existing is None:
                existing = Assistant(state().settings, KnowledgeCache())
                current_app.extensions["fostercrm_assistant"] = existing
    return existing


def _chat_id(create: bool) -> str | None:
    chat_id = session.get(SESSION_KEY)
    if chat_id is None and create:
        chat_id = secrets.token_urlsafe(18)
        session[SESSION_KEY] = chat_id
        session.permanent = True
    return chat_id


def _rate_limited() -> bool:
    return not hit("webchat", request.remote_addr, MESSAGES_PER_IP_PER_HOUR, 3600)


def _incoming() -> Incoming | None:
    button = (request.form.get("button") or "").strip()
    if button:
        return Incoming.press(button[:200])
    text = request.form.get("message")
    if text is None:
        return None
    return Incoming.message(text[:MAX_MESSAGE_CHARS])


@bp.get("/chat")
def chat():
    chat_id = _chat_id(create=False)
    messages = []
    buttons: list = []
    if chat_id is not None:
        conversation = conversations.find_conversation(db(), ChatChannel.WEBCHAT, chat_id)
        if conversation is not None:
            messages = conversations.transcript(db(), conversation.id)[-SHOWN_MESSAGES:]
            buttons = (conversation.data or {}).get("buttons", [])
    greeting = None
    if not messages:
        knowledge, _ = assistant().knowledge.current(db())
        greeting = render(knowledge.get("greeting").answer, answer_values(state().settings))
        buttons = [[["Book a visit", "go:book"], ["Talk to a person", "go:human"]]]
    return render_template(
        "webchat/chat.html",
        messages=messages,
        buttons=buttons,
        greeting=greeting,
        max_chars=MAX_MESSAGE_CHARS,
    )


@bp.post("/chat")
def send():
    """Without JavaScript: answer, then show the page again."""
    incoming = _incoming()
    if incoming is None:
        return redirect(url_for("webchat.chat"))
    if _rate_limited():
        abort(429)
    assistant().reply(db(), ChatChannel.WEBCHAT, _chat_id(create=True), incoming)
    return redirect(url_for("webchat.chat") + "#latest")


@bp.post("/chat/messages")
def send_json():
    """With JavaScript: the same, answered as JSON for the page to add in place."""
    incoming = _incoming()
    if incoming is None:
        return jsonify(error="Send a message or press a button"), 400
    if _rate_limited():
        return jsonify(error="Too many messages. Please wait a little and try again."), 429
    outcome = assistant().reply(db(), ChatChannel.WEBCHAT, _chat_id(create=True), incoming)
    return jsonify(_as_json(outcome))


def _as_json(outcome: Outcome) -> dict:
    return {
        "replies": [
            {
                "text": r.text,
                "buttons": [[{"label": b.label, "data": b.data} for b in row] for row in r.buttons],
            }
            for r in outcome.replies
        ],
        "topic": outcome.topic,
    }


# -- admin: the assistant's answers ---------------------------------------------------------


@bp.get("/admin/assistant")
@roles_required(*EDITOR_ROLES)
def answers():
    knowledge, _ = assistant().knowledge.current(db())
    topics = [t for t in knowledge.topics.values() if t.answer or t.examples]
    return render_template("webchat/answers.html", topics=topics)


@bp.route("/admin/assistant/<slug>", methods=["GET", "POST"])
@roles_required(*EDITOR_ROLES)
def edit_answer(slug: str):
    cache = assistant().knowledge
    knowledge, _ = cache.current(db())
    topic = knowledge.get(slug)
    if topic is None:
        abort(404)
    errors: dict[str, str] = {}
    values = {
        "title": topic.title,
        "answer": topic.answer,
        "examples": "\n".join(topic.examples),
    }
    if request.method == "POST":
        values = {k: request.form.get(k, "") for k in ("title", "answer", "examples")}
        change = AnswerChange(
            title=values["title"],
            answer=values["answer"] if topic.answer else None,
            examples=values["examples"].splitlines(),
        )
        try:
            save_answer(db(), current_actor(), cache.base, slug, change)
        except NotAllowed:
            abort(403)
        except InvalidInput as exc:
            errors = exc.errors
        else:
            flash(f"Saved. The assistant now uses the new version of “{values['title']}”.")
            return redirect(url_for("webchat.edit_answer", slug=slug))
    preview = None
    if topic.answer:
        try:
            preview = render(values["answer"] or topic.answer, answer_values(state().settings))
        except (KeyError, ValueError, IndexError):
            preview = None
    return render_template(
        "webchat/edit_answer.html",
        topic=topic,
        values=values,
        errors=errors,
        preview=preview,
        changes=history(db(), slug),
    ), (400 if errors else 200)
