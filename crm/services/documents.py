"""Files that belong to a household: application forms, references, reports.

Rules:
- the file is kept in the configured folder (settings.documents.folder), outside the
  database, under a name of our own; the row says what it is;
- only the configured types (by extension, and the content must look like that type) and
  sizes up to settings.documents.max_megabytes are taken; an empty file is refused;
- who may upload or open one is who may record the assessment (crm.services.members);
  every upload, view and download is in the audit trail;
- subject access lists them and includes the files; erasure removes rows and files.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, select

from crm.db import transaction
from crm.models import AuditAction, DocumentKind, HouseholdDocument
from crm.services import audit, members
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotFound
from crm.settings import Settings

# What a type's content starts with, where a type has a signature: a PDF renamed .png, or a
# program renamed .pdf, is refused.
SIGNATURES = {
    "pdf": (b"%PDF-",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "docx": (b"PK\x03\x04",),
    "odt": (b"PK\x03\x04",),
    "doc": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
    "rtf": (b"{\\rtf",),
}
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "odt": "application/vnd.oasis.opendocument.text",
    "doc": "application/msword",
    "rtf": "application/rtf",
    "txt": "text/plain",
}


def folder(settings: Settings) -> Path:
    return Path(settings.documents.folder)


def path_of(settings: Settings, document: HouseholdDocument) -> Path:
    return folder(settings) / document.stored_name


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def validate_upload(settings: Settings, kind: str, filename: str, content: bytes) -> dict:
    errors = {}
    try:
        chosen = DocumentKind(kind or "")
    except ValueError:
        chosen = None
        errors["kind"] = "Choose what kind of document it is"
    name = " ".join(os.path.basename((filename or "").replace("\\", "/")).split())[:200]
    allowed = settings.documents.allowed_types
    extension = _extension(name)
    limit = int(settings.documents.max_megabytes * 1024 * 1024)
    if not name:
        errors["file"] = "Choose a file to upload"
    elif extension not in allowed:
        errors["file"] = "The file must be one of: " + ", ".join(a.upper() for a in allowed)
    elif not content:
        errors["file"] = "The file is empty"
    elif len(content) > limit:
        errors["file"] = f"The file must be smaller than {settings.documents.max_megabytes:g} MB"
    elif extension in SIGNATURES and not content.startswith(SIGNATURES[extension]):
        errors["file"] = f"The file is not a real {extension.upper()} file"
    elif extension == "txt":
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            errors["file"] = "The file is not a plain text file"
    if errors:
        raise InvalidInput(errors)
    return {
        "kind": chosen,
        "original_name": name,
        "content_type": CONTENT_TYPES.get(extension, "application/octet-stream"),
        "size_bytes": len(content),
        "stored_name": f"{secrets.token_hex(16)}.{extension}",
    }


def upload(
    session: Session,
    actor: Actor,
    settings: Settings,
    household_id: int,
    *,
    kind: str,
    filename: str,
    content: bytes,
) -> HouseholdDocument:
    household = members.household_for_assessment(session, actor, household_id)
    fields = validate_upload(settings, kind, filename, content)
    document = HouseholdDocument(household_id=household.id, uploaded_by_id=actor.user_id, **fields)
    target = path_of(settings, document)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    partial.write_bytes(content)
    try:
        with transaction(session):
            session.add(document)
            session.flush()
            audit.record(
                session, actor, AuditAction.CREATE, "household_document", document.id,
                household_id=household.id, kind=document.kind.value,
            )  # fmt: skip
        # Only once the row is safe: a file with no row would be held without anyone knowing.
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    session.refresh(document)
    return document


def documents_of(session: Session, household_id: int) -> list[HouseholdDocument]:
    return list(
        session.exec(
            select(HouseholdDocument)
            .where(HouseholdDocument.household_id == household_id)
            .order_by(HouseholdDocument.uploaded_at.desc(), HouseholdDocument.id.desc())
        ).all()
    )


@dataclass
class OpenedDocument:
    document: HouseholdDocument
    content: bytes


def open_document(
    session: Session, actor: Actor, settings: Settings, document_id: int, *, download: bool
) -> OpenedDocument:
    """The file, for viewing in the browser or downloading: either is audited."""
    document = session.get(HouseholdDocument, document_id)
    if document is None:
        raise NotFound(f"No document with id {document_id}")
    members.household_for_assessment(session, actor, document.household_id)
    path = path_of(settings, document)
    if not path.is_file():
        raise NotFound("The file is missing from the documents folder")
    content = path.read_bytes()
    with transaction(session):
        audit.record(
            session, actor, AuditAction.EXPORT if download else AuditAction.VIEW,
            "household_document", document.id, household_id=document.household_id,
        )  # fmt: skip
    return OpenedDocument(document, content)


def remove_files(settings: Settings, stored_names: list[str]) -> None:
    """After erasure has committed: the files of rows that are gone."""
    for name in stored_names:
        (folder(settings) / name).unlink(missing_ok=True)
