"""Edits to the chat assistant's answers made in the CRM: one row per change, never updated.

The newest row per topic is what the assistant says; the previous text is kept on each row so
a change can be seen and undone (the defaults live in config/knowledge/)."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class KnowledgeEdit(SQLModel, table=True):
    __tablename__ = "knowledge_edit"
    __table_args__ = (sa.Index("ix_knowledge_edit_slug_id", "slug", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=60)
    title: str = Field(max_length=200)
    answer: str = Field(sa_type=sa.Text)
    examples: list[Any] | None = Field(default=None, sa_type=sa.JSON)
    previous_title: str | None = Field(default=None, max_length=200)
    previous_answer: str | None = Field(default=None, sa_type=sa.Text)
    previous_examples: list[Any] | None = Field(default=None, sa_type=sa.JSON)
    edited_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    edited_by_label: str = Field(max_length=60)
    edited_at: datetime
