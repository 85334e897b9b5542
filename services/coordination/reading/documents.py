"""Downloading a stored document, the same way for the API and the pages.

A document is handed out only to an institution that may see its announcement: the
``document.shared`` with that id, published by the institution that holds the document, in the
person's timeline, and visible to the caller exactly as the timeline shows entries (its own
event, or one the policy allowed it; category ``documents``; the committee never), and only
while a basis still holds today (a consent revoked or expired since ends it). An unknown
document and one the caller may not see are the same ``None`` (the doors answer the identical
404). The bytes are opened with the document key and checked against the announced SHA-256; a
document that fails the check is ``Damaged``, never handed out. Every download leaves exactly
one audit row (``download-document``), granted or refused, before the answer leaves.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from schemas.events import DocumentShared
from schemas.vocabulary import DataCategory
from services.common import document_store
from services.common.document_seal import DocumentSeal, DocumentSealError
from services.coordination.domain.summary import visibility
from services.coordination.reading import queries
from services.coordination.reading.access import Access, audit_entry, check_person_access, shown
from services.coordination.reading.caller import Caller
from services.coordination.reading.read_store import ReadStore
from services.coordination.reading.timeline import timeline_basis, timeline_entry

ACTION = "download-document"
ANNOUNCEMENT = DocumentShared.cloud_event_type()


@dataclass(frozen=True)
class Download:
    content: bytes
    media_type: str
    title: str


@dataclass(frozen=True)
class Damaged:
    """The stored document does not open or does not match its announced hash."""


async def _announcement(
    conn: asyncpg.Connection, doc: document_store.StoredDocument, reader: str
) -> Any | None:
    """The holder's announcement of the document, if the reader may see it (as
    ``queries.timeline_page`` decides: its own event, or one allowed to it)."""
    return await conn.fetchrow(
        "SELECT t.event_id, t.bus_offset, t.occurred_at, t.type, t.origin, t.datacategory,"
        " t.event, c.case_number, d.basis_kind, d.consent_ids, d.articles, d.withheld"
        " FROM timeline t"
        " LEFT JOIN decisions d ON d.event_id = t.event_id AND d.recipient = $2"
        " LEFT JOIN cases c ON c.case_key = t.case_key"
        " WHERE t.pseudonym = $1 AND t.type = $3 AND t.origin = $4"
        " AND t.event -> 'data' ->> 'document_id' = $5"
        " AND (t.origin = $2 OR d.allowed)"
        " ORDER BY t.bus_offset LIMIT 1",
        doc.pseudonym,
        reader,
        ANNOUNCEMENT,
        doc.held_by,
        str(doc.document_id),
    )


async def _basis_holds_today(
    conn: asyncpg.Connection, store: ReadStore, doc: document_store.StoredDocument, reader: str
) -> bool:
    """The announcement was allowed when it was published; the bytes are handed out only while
    a basis still holds today (a consent revoked or expired since ends the right to download,
    as it ends every later delivery)."""
    file, _ = await queries.current_file(conn, doc.pseudonym)
    may_see = visibility(file, reader, store.today(), store.world)
    return may_see(doc.held_by, DataCategory.DOCUMENTS)


def _parsed(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


async def download(
    store: ReadStore,
    caller: Caller,
    asked: str,
    purpose: str,
    *,
    schema: str,
    seal: DocumentSeal,
) -> Download | Damaged | None:
    """The document ``asked`` for (its id, from the URL), ``Damaged``, or None (unknown or not
    visible to the caller; audited)."""
    access: Access | None = None
    row = None
    document_id = _parsed(asked)
    async with store.snapshot() as conn:
        doc = await document_store.fetch(conn, schema, document_id) if document_id else None
        if doc is not None:
            access = await check_person_access(conn, caller, doc.pseudonym)
            row = await _announcement(conn, doc, caller.institution) if access.granted else None
            if row is not None and not await _basis_holds_today(
                conn, store, doc, caller.institution
            ):
                row = None
    entry = timeline_entry(row, caller.institution) if row is not None else None
    detail: dict[str, Any] = {"document_id": shown(asked)}
    if (
        doc is None
        or document_id is None
        or access is None
        or access.involved is None
        or entry is None
        or entry.category != DataCategory.DOCUMENTS.value
        or entry.data.get("sha256") != doc.sha256
    ):
        case = access.case if access else None
        await store.record(
            audit_entry(
                caller,
                ACTION,
                purpose,
                subject=doc.pseudonym if doc else None,
                case_number=case.case_number if case else None,
                outcome="not_found" if doc is None else "denied",
                **detail,
            )
        )
        return None
    found: Download | Damaged
    try:
        content = seal.open(document_id, doc.sealed, doc.sha256)
        found = Download(content, doc.media_type, str(entry.data.get("title") or ""))
    except DocumentSealError:
        found = Damaged()
    outcome = "ok" if isinstance(found, Download) else "damaged"
    await store.record(
        audit_entry(
            caller,
            ACTION,
            purpose,
            subject=doc.pseudonym,
            case_number=entry.case_number or (access.case.case_number if access.case else None),
            basis=timeline_basis(access.involved, [entry]),
            outcome=outcome,
            **detail,
            **({"size_bytes": len(found.content)} if isinstance(found, Download) else {}),
        )
    )
    return found
