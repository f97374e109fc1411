"""Benchmark the chat assistant. Prints numbers; asserts nothing.

1. Reply time per message, in-process: the full `Assistant.reply` (store the message, match,
   answer, save state) against a SQLite file, over the evaluation set's messages; and the
   classification alone. Median and p95 (aim: full reply p95 under 30 ms).
2. 200 simultaneous Telegram conversations through the local Bot API server
   (crm.testing.telegram_api) with python-telegram-bot polling it: every chat sends /start and
   two questions at once; counts replies, errors and the time until every reply has arrived.

    python bench/bot.py                 # both
    python bench/bot.py --chats 50      # fewer conversations
    python bench/bot.py --postgres URL  # the Telegram part against PostgreSQL
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlmodel import Session, func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import crm.models as m  # noqa: E402
from bot.assistant import Assistant, Incoming  # noqa: E402
from bot.evaluation import read_eval_file  # noqa: E402
from bot.knowledge import KnowledgeCache  # noqa: E402
from crm.db import make_engine  # noqa: E402
from crm.migrate import upgrade  # noqa: E402
from crm.testing.fixtures import (  # noqa: E402
    POSTGRES_ENV,
    drop_postgres_schema,
    make_organisation,
    make_test_settings,
    postgres_url,
)

EVAL = ROOT / "tests" / "bot" / "eval_set.csv"
BENCH_SCHEMA = f"fostercrm_bench_bot_{os.getpid()}"


def _set_base(url: str) -> bool:
    os.environ[POSTGRES_ENV] = url
    return True


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def database(url: str | None, folder: Path) -> str:
    if url:
        # A schema of its own, dropped afterwards: never the tables of a real database.
        url = postgres_url(BENCH_SCHEMA) if _set_base(url) else url
        upgrade(url)
        return url
    url = f"sqlite:///{folder / 'bench.db'}"
    upgrade(url)
    return url


def in_process(folder: Path, rounds: int) -> None:
    url = database(None, folder / "inproc")
    settings = make_test_settings(url)
    engine = make_engine(url)
    with Session(engine) as session:
        make_organisation(session)
    cache = KnowledgeCache()
    assistant = Assistant(settings, cache)
    texts = [text for _, text in read_eval_file(EVAL)]
    assistant.classify("warm up")
    # As `fostercrm up` does before serving: the knowledge base and classifier are long-lived,
    # so full garbage collections need not walk them on every reply.
    gc.collect()
    gc.freeze()
    matching: list[float] = []
    for _ in range(rounds):
        for text in texts:
            start = time.perf_counter()
            assistant.classify(text)
            matching.append((time.perf_counter() - start) * 1000)
    replies: list[float] = []
    with Session(engine, expire_on_commit=False) as session:
        for round_number in range(rounds):
            for index, text in enumerate(texts):
                start = time.perf_counter()
                assistant.reply(
                    session,
                    m.ChatChannel.WEBCHAT,
                    f"bench-{round_number}-{index % 40}",
                    Incoming.message(text),
                )
                replies.append((time.perf_counter() - start) * 1000)
    engine.dispose()
    for name, values in (("classifying only", matching), ("full reply (SQLite)", replies)):
        print(
            f"{name:<22} n={len(values):>5}  median {statistics.median(values):6.2f} ms  "
            f"p95 {percentile(values, 0.95):6.2f} ms  max {max(values):7.2f} ms"
        )
    print(f"  (load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


def telegram(folder: Path, chats: int, postgres: str | None) -> None:
    from bot.telegram import BackgroundBot
    from crm.testing.telegram_api import FakeTelegramServer

    url = database(postgres, folder / "tg")
    settings = make_test_settings(url)
    engine = make_engine(url, pool_size=20, max_overflow=20) if postgres else make_engine(url)
    with Session(engine) as session:
        if session.exec(select(m.Hub.id)).first() is None:
            make_organisation(session)
    errors: list[str] = []

    class Count(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            errors.append(record.getMessage())

    logging.getLogger("bot").addHandler(Count(level=logging.ERROR))
    logging.getLogger("telegram").addHandler(Count(level=logging.ERROR))
    questions = ["/start", "can i foster if i rent", "how much is the allowance"]
    with FakeTelegramServer() as server:
        settings = settings.model_copy(
            update={"telegram_bot_token": server.token, "telegram_api_base_url": server.base_url}
        )
        with BackgroundBot(settings, engine, poll_timeout=0.5):
            start = time.perf_counter()
            for text in questions:
                for chat in range(chats):
                    server.inject_message(10_000 + chat, text)
            expected = chats * len(questions)
            done = server.wait_for(lambda: len(server.sent) >= expected, timeout=600)
            elapsed = time.perf_counter() - start
            sent = server.sent
    failed_calls = [c for c in server.calls if c.status != 200]
    with Session(engine) as session:
        stored = session.exec(select(func.count()).select_from(m.ChatMessage)).one()
        conversations = session.exec(select(func.count()).select_from(m.ChatConversation)).one()
    error_replies = sum(1 for s in sent if "went wrong on our side" in s.text)
    markers = ["fostering assistant", "rent", "£"]  # what each answer must contain, in order

    def in_order(chat: int) -> bool:
        mine = [s.text for s in sent if str(s.chat_id) == str(10_000 + chat)]
        return len(mine) == len(questions) and all(
            marker in text for marker, text in zip(markers, mine, strict=True)
        )

    per_chat_ok = all(in_order(c) for c in range(chats))
    engine.dispose()
    print(
        f"telegram: {chats} simultaneous chats x {len(questions)} messages "
        f"({'PostgreSQL' if postgres else 'SQLite'})"
    )
    print(
        f"  all replies arrived: {done}  replies {len(sent)}/{expected}  in {elapsed:.2f} s  "
        f"({len(sent) / elapsed:.0f} replies/s)"
    )
    print(
        f"  every chat answered 3 times in order: {per_chat_ok}  conversations stored: "
        f"{conversations}  messages stored: {stored}"
    )
    print(
        f"  errors: logged {len(errors)}, failed API calls {len(failed_calls)}, "
        f"'something went wrong' replies {error_replies}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="passes over the evaluation set")
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--postgres", help="PostgreSQL URL for the Telegram part")
    parser.add_argument("--skip-telegram", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "inproc").mkdir()
        (folder / "tg").mkdir()
        in_process(folder, args.rounds)
        if not args.skip_telegram:
            try:
                telegram(folder, args.chats, args.postgres)
            finally:
                if args.postgres:
                    drop_postgres_schema(BENCH_SCHEMA)


if __name__ == "__main__":
    main()
