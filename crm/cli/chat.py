"""`fostercrm chat`: the chat assistant in a terminal (and its measurements)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import click
import sqlalchemy as sa
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel

from crm.cli.common import cli_settings


def scratch_engine() -> sa.Engine:
    """A throwaway in-memory database with the full schema and reference lists, for a fresh
    conversation that must not touch (or alert) the real service."""
    import crm.models  # noqa: F401  (registers the tables)
    from crm.services.reference import ensure_reference_data

    engine = sa.create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        ensure_reference_data(session)
    return engine


def _buttons_text(outcome) -> str:  # noqa: ANN001
    labels = [b.label for b in outcome.buttons]
    return "  [" + "] [".join(labels) + "]" if labels else ""


@click.command("chat")
@click.option("--once", "once", metavar="TEXT", help="Answer one message and stop.")
@click.option("--json", "as_json", is_flag=True, help="With --once: print one JSON object.")
@click.option(
    "--eval",
    "run_eval",
    is_flag=True,
    help="Measure understanding on CSV files of expected,text lines (given after the options).",
)
@click.option(
    "--cross-validate",
    "cross",
    is_flag=True,
    help="Measure understanding by 5-fold cross-validation over the knowledge base's examples.",
)
@click.option(
    "--scratch",
    is_flag=True,
    help="Talk against a throwaway database instead of the configured one.",
)
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def chat_command(
    once: str | None,
    as_json: bool,
    run_eval: bool,
    cross: bool,
    scratch: bool,
    files: tuple[Path, ...],
) -> None:
    """Talk to the chat assistant in the terminal.

    Interactive chats use the configured database, like the web chat: an enquiry or visit made
    here is real (use --scratch to try things out). `--once "TEXT" --json` prints
    {"topic", "reply", "confidence"} for a fresh conversation and touches no real data.
    `--eval FILE [FILE...]` prints overall and per-topic accuracy, safeguarding recall and
    false alarms, and off-topic accuracy, per file and (for several) all together.
    """
    from bot.assistant import Assistant, Incoming
    from bot.knowledge import KnowledgeError
    from crm.models import ChatChannel

    settings = cli_settings()
    try:
        assistant = Assistant(settings)
    except KnowledgeError as exc:
        raise click.ClickException(str(exc)) from None

    if files and not run_eval:
        raise click.ClickException("files are only read with --eval")
    if run_eval:
        from bot.evaluation import evaluate, read_eval_file

        if not files:
            raise click.ClickException("--eval needs at least one CSV file")
        every: list[tuple[str, str]] = []
        for path in files:
            try:
                rows = read_eval_file(path)
            except (ValueError, UnicodeDecodeError) as exc:
                raise click.ClickException(str(exc)) from None
            every += rows
            if len(files) > 1:
                click.echo(f"== {path}")
            for line in evaluate(assistant, rows).lines():
                click.echo(line)
        if len(files) > 1:
            click.echo(f"== all {len(files)} files together")
            for line in evaluate(assistant, every).lines(mistakes=False):
                click.echo(line)
        return
    if cross:
        from bot import safeguarding
        from bot.evaluation import cross_validate

        knowledge, _ = assistant.knowledge.current()
        result = cross_validate(
            knowledge.entries(), knowledge.language, detector=safeguarding.detect
        )
        click.echo("Cross-validation over the knowledge base's examples (5 folds):")
        for line in result.lines(mistakes=False):
            click.echo(line)
        return

    if once is not None:
        engine = scratch_engine()
        try:
            with Session(engine, expire_on_commit=False) as session:
                outcome = assistant.reply(
                    session,
                    ChatChannel.WEBCHAT,
                    f"cli-{secrets.token_hex(8)}",
                    Incoming.message(once),
                )
        finally:
            engine.dispose()
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "topic": outcome.topic or "fallback",
                        "reply": outcome.text,
                        "confidence": round(float(outcome.confidence), 3),
                    },
                    ensure_ascii=False,
                )
            )
        else:
            click.echo(outcome.text + _buttons_text(outcome))
        return

    from crm.db import make_engine

    engine = scratch_engine() if scratch else make_engine(settings.database.url)
    external_id = f"terminal-{secrets.token_hex(8)}"
    click.echo("Chat with the assistant. Type /help for commands, or press Ctrl+D to leave.")
    click.echo("To press a button, type its label in square brackets, e.g. [Book a visit].")
    last = None
    try:
        with Session(engine, expire_on_commit=False) as session:
            while True:
                try:
                    text = click.prompt("you", prompt_suffix="> ", default="", show_default=False)
                except (EOFError, click.Abort):
                    click.echo()
                    break
                incoming = Incoming.message(text)
                if last is not None and text.startswith("[") and text.endswith("]"):
                    wanted = text[1:-1].strip().lower()
                    pressed = next((b for b in last.buttons if b.label.lower() == wanted), None)
                    if pressed is not None:
                        incoming = Incoming.press(pressed.data)
                last = assistant.reply(session, ChatChannel.WEBCHAT, external_id, incoming)
                for reply in last.replies:
                    click.echo(f"assistant> {reply.text}")
                    labels = [b.label for row in reply.buttons for b in row]
                    if labels:
                        click.echo("           [" + "] [".join(labels) + "]")
    finally:
        engine.dispose()
