"""Mappings of a team's tracker layout onto the CRM, saved so the next upload of the same
layout (the same headings) needs no questions."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm.models.base import created_at_field


class SavedImportMapping(SQLModel, table=True):
    __tablename__ = "import_mapping"

    id: int | None = Field(default=None, primary_key=True)
    # crm.services.imports.mapping.layout_key: a hash of the headings in order
    layout_key: str = Field(max_length=40, unique=True)
    headings: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    # ImportMapping.to_dict(): columns, values, dates, sheet, header row
    mapping: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    file_name: str = Field(max_length=200)
    saved_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    saved_at: datetime = created_at_field()


class ImportUpload(SQLModel, table=True):
    """A tracker uploaded to the import wizard and not yet imported. Kept in the database, not
    on one web worker's disk, so whichever worker answers the next step can read it; deleted
    when it is imported and purged after a day (it holds families' names)."""

    __tablename__ = "import_upload"

    id: int | None = Field(default=None, primary_key=True)
    # A random token in the wizard's address: upload ids are not guessable.
    token: str = Field(max_length=43, unique=True)
    file_name: str = Field(max_length=200)
    content: bytes = Field(sa_type=sa.LargeBinary)
    size: int
    uploaded_by_id: int = Field(foreign_key="staff_user.id")
    uploaded_at: datetime = created_at_field()
