"""dp_fixes: a safeguarding task names its chat by a link (task.conversation_id)

Until now a concern raised to the chat assistant named the chat in the task's title and detail
("Telegram chat 5550123987") and in the managers' alerts. Erasure could not find a concern
raised before the chat was tied to a household, so the chat id stayed. The link replaces the
words: existing concerns get their conversation (and its household, when the chat has one
now), and the chat id goes from their title, detail and alerts.

Revision ID: 0012_dp_fixes
Revises: 0006_lifecycle
Create Date: 2026-12-01 09:00:00
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_dp_fixes"
down_revision: str | None = "0006_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The two ways the assistant named a chat (bot.assistant before this revision). Kept here, not
# imported: a migration must not change when the application code does.
TELEGRAM = re.compile(r"Telegram chat (\S+?)(?=[:.]?(?:\s|$))")
WEBCHAT = re.compile(r"web chat \(conversation (\d+)\)")

task = sa.table(
    "task",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("title", sa.String),
    sa.column("detail", sa.String),
    sa.column("household_id", sa.Integer),
    sa.column("conversation_id", sa.Integer),
)
conversation = sa.table(
    "chat_conversation",
    sa.column("id", sa.Integer),
    sa.column("channel", sa.String),
    sa.column("external_id", sa.String),
    sa.column("household_id", sa.Integer),
)
outbox = sa.table(
    "outbox_message",
    sa.column("id", sa.Integer),
    sa.column("template", sa.String),
    sa.column("payload", sa.JSON),
)


def upgrade() -> None:
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.add_column(sa.Column("conversation_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_task_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_task_conversation_id_chat_conversation"),
            "chat_conversation",
            ["conversation_id"],
            ["id"],
            ondelete="SET NULL",
        )
    _link_existing_concerns(op.get_bind())


def _link_existing_concerns(bind: sa.Connection) -> None:
    chats = {
        (row.channel, row.external_id): row
        for row in bind.execute(sa.select(conversation)).mappings()
    }
    by_id = {row.id: row for row in chats.values()}
    # The exact words that named a chat, and what they become (only those words change: the
    # person's own words in the detail may say "Telegram chat" too).
    renamed: dict[str, str] = {}
    titles: dict[int, str] = {}
    for row in bind.execute(sa.select(task).where(task.c.kind == "safeguarding")).mappings():
        found = named = None
        if match := TELEGRAM.search(row.title or ""):
            found, named = chats.get(("telegram", match.group(1))), match.group(0)
            renamed[named] = "Telegram chat"
        elif match := WEBCHAT.search(row.title or ""):
            found, named = by_id.get(int(match.group(1))), match.group(0)
            renamed[named] = "web chat"
        if named is None:
            continue
        title = row.title.replace(named, renamed[named])
        titles[row.id] = title
        detail = row.detail.replace(named, renamed[named]) if row.detail else row.detail
        values = {"title": title, "detail": detail}
        if found is not None:
            values["conversation_id"] = found.id
            if row.household_id is None and found.household_id is not None:
                values["household_id"] = found.household_id
        bind.execute(sa.update(task).where(task.c.id == row.id).values(**values))
    alerts = sa.select(outbox).where(outbox.c.template == "safeguarding_alert_staff")
    for row in bind.execute(alerts).mappings():
        payload = dict(row.payload or {})
        where = str(payload.get("where", ""))
        if where not in renamed and payload.get("task_id") not in titles:
            continue
        if where in renamed:
            payload["where"] = renamed[where]
        if payload.get("task_id") in titles:
            payload["task_title"] = titles[payload["task_id"]]
        bind.execute(sa.update(outbox).where(outbox.c.id == row.id).values(payload=payload))


def downgrade() -> None:
    # The chat ids are not written back into the words: they are personal data the link holds.
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_task_conversation_id_chat_conversation"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_task_conversation_id"))
        batch_op.drop_column("conversation_id")
