"""A real local HTTP server that speaks enough of the Telegram Bot API for our tests.

python-telegram-bot (22.x) pointed at it works unchanged::

    from crm.testing.telegram_api import FakeTelegramServer

    with FakeTelegramServer() as server:
        bot = telegram.Bot(server.token, base_url=server.base_url)
        # or, for our settings: TELEGRAM_API_BASE_URL=server.base_url
        ...
        server.inject_message(chat_id=42, text="/start")        # the bot's getUpdates sees it
        server.inject_callback_query(chat_id=42, data="checkin:7:4")
        server.wait_for_messages(1, chat_id=42)                  # what the bot sent
        [message] = server.messages_to(42)
        message.text, message.reply_markup, message.parse_mode

It is a threaded HTTP server on 127.0.0.1 and an ephemeral port (so tests running side by side
never clash). Requests are `POST /bot<token>/<method>` with a form-encoded body (what PTB sends:
every non-string value JSON-encoded), a JSON body, a multipart body or a query string; answers
are the Bot API's `{"ok": true, "result": ...}` or `{"ok": false, "error_code", "description",
"parameters"}`, which PTB turns into RetryAfter, BadRequest, Forbidden and so on.

Methods: getMe, sendMessage, sendChatAction, answerCallbackQuery, editMessageText,
editMessageReplyMarkup, deleteMessage, deleteWebhook, setWebhook, getWebhookInfo, getUpdates
(long polling: honours `offset`, `timeout`, `limit`, `allowed_updates`), setMyCommands,
getMyCommands, deleteMyCommands, getChat, close, logOut. Anything else answers 404 "Not Found"
as the real API does.

Scripted failures, per method and optionally per chat, for the next N calls or for ever::

    server.fail("sendMessage", status=429, retry_after=3)            # next call: flood control
    server.fail("sendMessage", chat_id=7, status=403,
                description="Forbidden: bot was blocked by the user", times=None)
    server.block_chat(7)            # shorthand for the 403 above, for ever
    server.unknown_chat(8)          # 400 "Bad Request: chat not found", for ever

Everything recorded (calls, sent messages, callback answers, edits) is guarded by one lock; the
accessors return copies, so a test thread can read while the server threads write. `wait_for`
blocks on a condition variable (woken by every request) until a predicate holds or a deadline
passes: no sleeping.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

DEFAULT_TOKEN = "123456:TEST-token-for-the-local-bot-api"
# Parameters that arrive JSON-encoded inside a form body.
JSON_PARAMETERS = {
    "reply_markup",
    "entities",
    "caption_entities",
    "allowed_updates",
    "commands",
    "scope",
    "reply_parameters",
    "link_preview_options",
}
BOT_USER_ID = 123456


@dataclass(frozen=True)
class ApiCall:
    """One request the server received (after any scripted failure was decided)."""

    method: str
    params: dict[str, Any]
    token: str
    at: float  # time.monotonic() when it arrived
    status: int  # the HTTP status answered


@dataclass(frozen=True)
class SentMessage:
    message_id: int
    chat_id: int | str
    text: str
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    params: dict[str, Any]
    at: float

    @property
    def buttons(self) -> list[tuple[str, str | None]]:
        """(text, callback_data) of every inline button, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [(b.get("text"), b.get("callback_data")) for row in rows for b in row]


@dataclass
class FailureRule:
    method: str
    chat_id: str | None
    status: int
    description: str
    retry_after: int | None
    times: int | None  # None: for ever
    used: int = 0


@dataclass
class _State:
    calls: list[ApiCall] = field(default_factory=list)
    sent: list[SentMessage] = field(default_factory=list)
    callback_answers: list[dict[str, Any]] = field(default_factory=list)
    edits: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[dict[str, Any]] = field(default_factory=list)
    chat_actions: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    failures: list[FailureRule] = field(default_factory=list)
    webhook_url: str = ""
    commands: list[dict[str, Any]] = field(default_factory=list)


class FakeTelegramServer:
    """Start with `start()` or `with FakeTelegramServer() as server:`; stop with `stop()`."""

    def __init__(
        self,
        token: str | None = DEFAULT_TOKEN,
        *,
        bot_username: str = "fostercrm_test_bot",
        bot_first_name: str = "Fostercrm Test",
        strict_token: bool = False,
    ) -> None:
        """`strict_token=True` answers 401 Unauthorized to any other token (as Telegram does)."""
        self.token = token or DEFAULT_TOKEN
        self.strict_token = strict_token
        self.bot_user = {
            "id": BOT_USER_ID,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self._state = _State()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._message_ids = itertools.count(1)
        self._update_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._stopping = False
        self._waiting_polls = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> FakeTelegramServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="fake-telegram", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()  # releases long polls at once
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeTelegramServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the fake Telegram server is not running")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """For `Bot(token, base_url=...)` and TELEGRAM_API_BASE_URL."""
        return f"http://127.0.0.1:{self.port}/bot"

    # -- scripting ----------------------------------------------------------------------------

    def fail(
        self,
        method: str = "sendMessage",
        *,
        chat_id: int | str | None = None,
        status: int = 429,
        description: str | None = None,
        retry_after: int | None = None,
        times: int | None = 1,
    ) -> FailureRule:
        """Answer the next `times` matching calls (None: all of them) with an error."""
        if status == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            description = {
                429: f"Too Many Requests: retry after {retry_after}",
                400: "Bad Request: chat not found",
                403: "Forbidden: bot was blocked by the user",
                401: "Unauthorized",
                500: "Internal Server Error",
                502: "Bad Gateway",
            }.get(status, "Error")
        rule = FailureRule(
            method=method,
            chat_id=None if chat_id is None else str(chat_id),
            status=status,
            description=description,
            retry_after=retry_after,
            times=times,
        )
        with self._lock:
            self._state.failures.append(rule)
        return rule

    def block_chat(self, chat_id: int | str, method: str = "sendMessage") -> FailureRule:
        return self.fail(method, chat_id=chat_id, status=403, times=None)

    def unknown_chat(self, chat_id: int | str, method: str = "sendMessage") -> FailureRule:
        return self.fail(method, chat_id=chat_id, status=400, times=None)

    def clear_failures(self) -> None:
        with self._lock:
            self._state.failures.clear()

    # -- updates for getUpdates --------------------------------------------------------------

    @staticmethod
    def _chat(chat_id: int, chat_type: str | None, title: str | None, user: dict) -> dict:
        chat_type = chat_type or ("private" if chat_id > 0 else "group")
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = user["first_name"]
            if user.get("username"):
                chat["username"] = user["username"]
        else:
            chat["title"] = title or "Test group"
        return chat

    @staticmethod
    def _user(user_id: int, first_name: str, username: str | None) -> dict:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        user["language_code"] = "en"
        return user

    def _add_update(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._changed:
            update = {"update_id": next(self._update_ids), kind: body}
            self._state.updates.append(update)
            self._changed.notify_all()
            return update

    def inject_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        first_name: str = "Sam",
        username: str | None = None,
        chat_type: str | None = None,
        chat_title: str | None = None,
    ) -> dict[str, Any]:
        """A person writes `text` to the bot. In a private chat the user is the chat
        (user_id defaults to chat_id); give `chat_type="group"` (or a negative chat_id) and a
        `user_id` for a group. A leading /command gets its bot_command entity, as Telegram
        sends it (PTB's CommandHandler needs that)."""
        user_id = user_id if user_id is not None else abs(chat_id)
        user = self._user(user_id, first_name, username)
        with self._lock:
            message_id = next(self._message_ids)
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": self._chat(chat_id, chat_type, chat_title, user),
            "from": user,
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self._add_update("message", message)

    def inject_callback_query(
        self,
        chat_id: int,
        data: str,
        *,
        message_id: int | None = None,
        user_id: int | None = None,
        first_name: str = "Sam",
        username: str | None = None,
        chat_type: str | None = None,
    ) -> dict[str, Any]:
        """A person presses an inline button with `data`, on the bot's message `message_id`
        (default: the last message the bot sent to that chat)."""
        user_id = user_id if user_id is not None else abs(chat_id)
        user = self._user(user_id, first_name, username)
        with self._lock:
            sent = [m for m in self._state.sent if str(m.chat_id) == str(chat_id)]
            if message_id is not None:
                sent = [m for m in sent if m.message_id == message_id]
            original = sent[-1] if sent else None
            callback_id = str(next(self._callback_ids))
        message = {
            "message_id": original.message_id if original else (message_id or 1),
            "date": int(time.time()),
            "chat": self._chat(chat_id, chat_type, None, user),
            "from": self.bot_user,
            "text": original.text if original else "",
        }
        if original is not None and original.reply_markup:
            message["reply_markup"] = original.reply_markup
        query = {
            "id": callback_id,
            "from": user,
            "chat_instance": f"instance-{chat_id}",
            "data": data,
            "message": message,
        }
        return self._add_update("callback_query", query)

    # -- what the bot did ---------------------------------------------------------------------

    @property
    def calls(self) -> list[ApiCall]:
        with self._lock:
            return list(self._state.calls)

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]

    @property
    def sent(self) -> list[SentMessage]:
        with self._lock:
            return list(self._state.sent)

    def messages_to(self, chat_id: int | str) -> list[SentMessage]:
        return [m for m in self.sent if str(m.chat_id) == str(chat_id)]

    @property
    def callback_answers(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._state.callback_answers)

    @property
    def edits(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._state.edits)

    @property
    def chat_actions(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._state.chat_actions)

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by a getUpdates offset."""
        with self._lock:
            return list(self._state.updates)

    @property
    def long_polls_waiting(self) -> int:
        """getUpdates calls being held open right now."""
        with self._lock:
            return self._waiting_polls

    @property
    def webhook_url(self) -> str:
        with self._lock:
            return self._state.webhook_url

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Block until `predicate()` is true (re-checked after every request) or `timeout`
        seconds pass; returns whether it became true."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                self._lock.release()
                try:
                    if predicate():
                        return True
                finally:
                    self._lock.acquire()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.5))

    def wait_for_messages(
        self, count: int, *, chat_id: int | str | None = None, timeout: float = 10.0
    ) -> list[SentMessage]:
        """Wait until at least `count` messages were sent (to `chat_id`); raises on timeout."""

        def matching() -> list[SentMessage]:
            return self.sent if chat_id is None else self.messages_to(chat_id)

        if not self.wait_for(lambda: len(matching()) >= count, timeout):
            raise TimeoutError(
                f"expected {count} Telegram message(s), got {len(matching())} in {timeout}s"
            )
        return matching()

    def reset(self) -> None:
        """Forget everything recorded and scripted (the counters keep counting)."""
        with self._lock:
            self._state = _State()

    # -- the API ------------------------------------------------------------------------------

    def _failure_for(self, method: str, params: dict[str, Any]) -> FailureRule | None:
        chat = params.get("chat_id")
        for rule in self._state.failures:
            if rule.method != method:
                continue
            if rule.chat_id is not None and rule.chat_id != str(chat):
                continue
            if rule.times is not None and rule.used >= rule.times:
                continue
            rule.used += 1
            return rule
        return None

    def handle(self, token: str, method: str, params: dict[str, Any]) -> tuple[int, dict]:
        """Answer one API call: (HTTP status, JSON body). Called by the HTTP handler threads;
        a long poll waits here without holding the lock."""
        if method.lower() == "getupdates":
            return self._get_updates(token, params)
        with self._changed:
            status, body = self._dispatch(token, method, params)
            self._state.calls.append(ApiCall(method, dict(params), token, time.monotonic(), status))
            self._changed.notify_all()
        return status, body

    def _dispatch(self, token: str, method: str, params: dict[str, Any]) -> tuple[int, dict]:
        if self.strict_token and token != self.token:
            return _error(401, "Unauthorized")
        rule = self._failure_for(method, params)
        if rule is not None:
            extra = {"retry_after": rule.retry_after} if rule.status == 429 else None
            return _error(rule.status, rule.description, extra)
        handler = getattr(self, f"_api_{method.lower()}", None)
        if handler is None:
            return _error(404, "Not Found")
        try:
            return 200, {"ok": True, "result": handler(params)}
        except _ApiError as exc:
            return _error(exc.status, exc.description)

    def _chat_json(self, chat_id: Any) -> dict[str, Any]:
        try:
            numeric = int(chat_id)
        except (TypeError, ValueError):
            if chat_id is None or chat_id == "":
                raise _ApiError(400, "Bad Request: chat_id is empty") from None
            # "@channelusername": a public chat we give a stable fake id.
            return {"id": -1000000000000 - abs(hash(chat_id)) % 10**9, "type": "channel"}
        if numeric > 0:
            return {"id": numeric, "type": "private", "first_name": "Test"}
        return {"id": numeric, "type": "group", "title": "Test group"}

    def _api_getme(self, _params: dict) -> dict:
        return dict(self.bot_user)

    def _api_sendmessage(self, params: dict) -> dict:
        text = params.get("text")
        if text is None or str(text) == "":
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(str(text)) > 4096:
            raise _ApiError(400, "Bad Request: message is too long")
        chat = self._chat_json(params.get("chat_id"))
        message_id = next(self._message_ids)
        markup = params.get("reply_markup")
        self._state.sent.append(
            SentMessage(
                message_id=message_id,
                chat_id=params.get("chat_id"),
                text=str(text),
                parse_mode=params.get("parse_mode"),
                reply_markup=markup if isinstance(markup, dict) else None,
                params=dict(params),
                at=time.monotonic(),
            )
        )
        result = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": dict(self.bot_user),
            "text": str(text),
        }
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            result["reply_markup"] = markup
        return result

    def _api_sendchataction(self, params: dict) -> bool:
        self._chat_json(params.get("chat_id"))
        self._state.chat_actions.append(dict(params))
        return True

    def _api_answercallbackquery(self, params: dict) -> bool:
        if not params.get("callback_query_id"):
            raise _ApiError(400, "Bad Request: query is too old or query ID is invalid")
        self._state.callback_answers.append(dict(params))
        return True

    def _edit(self, params: dict, kind: str) -> dict | bool:
        self._state.edits.append({"kind": kind, **params})
        if params.get("inline_message_id"):
            return True
        chat = self._chat_json(params.get("chat_id"))
        message_id = int(params.get("message_id") or 0)
        original = next(
            (
                m
                for m in self._state.sent
                if str(m.chat_id) == str(params.get("chat_id")) and m.message_id == message_id
            ),
            None,
        )
        result: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "edit_date": int(time.time()),
            "chat": chat,
            "from": dict(self.bot_user),
            "text": params.get("text") or (original.text if original else ""),
        }
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            result["reply_markup"] = markup
        return result

    def _api_editmessagetext(self, params: dict) -> dict | bool:
        if not params.get("text"):
            raise _ApiError(400, "Bad Request: message text is empty")
        return self._edit(params, "text")

    def _api_editmessagereplymarkup(self, params: dict) -> dict | bool:
        return self._edit(params, "reply_markup")

    def _api_deletemessage(self, params: dict) -> bool:
        self._state.deleted.append(dict(params))
        return True

    def _api_deletewebhook(self, params: dict) -> bool:
        self._state.webhook_url = ""
        if str(params.get("drop_pending_updates", "")).lower() in {"true", "1"}:
            self._state.updates.clear()
        return True

    def _api_setwebhook(self, params: dict) -> bool:
        self._state.webhook_url = str(params.get("url") or "")
        return True

    def _api_getwebhookinfo(self, _params: dict) -> dict:
        return {
            "url": self._state.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._state.updates),
        }

    def _api_setmycommands(self, params: dict) -> bool:
        commands = params.get("commands")
        self._state.commands = list(commands) if isinstance(commands, list) else []
        return True

    def _api_getmycommands(self, _params: dict) -> list:
        return list(self._state.commands)

    def _api_deletemycommands(self, _params: dict) -> bool:
        self._state.commands = []
        return True

    def _api_getchat(self, params: dict) -> dict:
        chat = self._chat_json(params.get("chat_id"))
        chat.setdefault("accent_color_id", 0)
        chat.setdefault("max_reaction_count", 11)
        return chat

    def _api_close(self, _params: dict) -> bool:
        return True

    def _api_logout(self, _params: dict) -> bool:
        return True

    def _get_updates(self, token: str, params: dict[str, Any]) -> tuple[int, dict]:
        offset = _int(params.get("offset"), 0)
        limit = max(1, min(_int(params.get("limit"), 100), 100))
        timeout = max(0.0, float(_int(params.get("timeout"), 0)))
        allowed = params.get("allowed_updates")
        deadline = time.monotonic() + timeout
        with self._changed:
            if self.strict_token and token != self.token:
                status, body = _error(401, "Unauthorized")
                self._state.calls.append(
                    ApiCall("getUpdates", dict(params), token, time.monotonic(), status)
                )
                return status, body
            rule = self._failure_for("getUpdates", params)
            if rule is not None:
                extra = {"retry_after": rule.retry_after} if rule.status == 429 else None
                self._state.calls.append(
                    ApiCall("getUpdates", dict(params), token, time.monotonic(), rule.status)
                )
                return _error(rule.status, rule.description, extra)
            # An offset confirms every update before it: they are never sent again.
            if offset > 0:
                self._state.updates = [u for u in self._state.updates if u["update_id"] >= offset]
            elif offset < 0:
                self._state.updates = self._state.updates[offset:]
            self._waiting_polls += 1
            self._changed.notify_all()
            while True:
                ready = [
                    u
                    for u in self._state.updates
                    if not isinstance(allowed, list)
                    or not allowed
                    or any(kind in u for kind in allowed)
                ]
                remaining = deadline - time.monotonic()
                if ready or remaining <= 0 or self._stopping:
                    break
                self._changed.wait(remaining)
            self._waiting_polls -= 1
            result = ready[:limit]
            self._state.calls.append(
                ApiCall("getUpdates", dict(params), token, time.monotonic(), 200)
            )
            self._changed.notify_all()
        return 200, {"ok": True, "result": result}


class _ApiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _error(status: int, description: str, parameters: dict | None = None) -> tuple[int, dict]:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return status, body


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _decode_value(name: str, value: str) -> Any:
    if name in JSON_PARAMETERS:
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTelegramServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) != 2 or not segments[0].startswith("bot"):
            self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        token, method = segments[0].removeprefix("bot"), segments[1]
        params: dict[str, Any] = {
            k: _decode_value(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
        }
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        content_type = self.headers.get("Content-Type", "")
        try:
            params.update(_parse_body(raw, content_type))
        except ValueError:
            self._reply(400, {"ok": False, "error_code": 400, "description": "Bad Request"})
            return
        status, body = self.fake.handle(token, method, params)
        self._reply(status, body)

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    if not raw:
        return {}
    if content_type.startswith("application/json"):
        value = json.loads(raw)
        if not isinstance(value, dict):
            raise ValueError("a JSON body must be an object")
        return value
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw
        )
        params: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not name:
                continue
            if part.get_filename():
                params[name] = {"filename": part.get_filename(), "size": len(part.get_payload())}
            else:
                params[name] = _decode_value(name, part.get_content().strip())
        return params
    return {k: _decode_value(k, v) for k, v in parse_qsl(raw.decode(), keep_blank_values=True)}


__all__ = ["DEFAULT_TOKEN", "ApiCall", "FailureRule", "FakeTelegramServer", "SentMessage"]
