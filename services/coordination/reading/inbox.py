"""The Posteingang: what the bus delivered to an institution, newest first, read or not.

An item is an event of another institution that coordination's policy allowed to the caller's
institution (an allowed decision for it as recipient): exactly what went into its delivery,
minimised the same way (the decision's withheld fields taken out, ``timeline.timeline_entry``).
Coordinator alerts (their own e-mail digest) and refusals are not in it. Every read of the list
is audited like a case read: one row per person whose entries it showed (subject, case number,
basis, count), or one row without subject for an empty list. Marking read is per institution
(``inbox_reads``: the first reader counts); it reads no personal data and is not audited.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from pydantic import Field

from services.coordination.reading.caller import Caller
from services.coordination.reading.list_audit import PersonShown, record_list_read
from services.coordination.reading.queries import Involvement
from services.coordination.reading.read_store import ReadStore
from services.coordination.reading.timeline import TimelineEntry, timeline_basis, timeline_entry

MAX_LIMIT = 200
DELIVERED = Involvement(participant=False, origin=False, recipient=True)

# The recipient's items: another institution's events with an allowed decision for it.
_ITEMS = (
    "SELECT t.event_id, t.bus_offset, t.occurred_at, t.type, t.origin, t.datacategory,"
    " t.event, t.pseudonym, c.case_number, d.basis_kind, d.consent_ids, d.articles,"
    " d.withheld, r.event_id IS NOT NULL AS read"
    " FROM decisions d"
    " JOIN timeline t ON t.event_id = d.event_id"
    " LEFT JOIN cases c ON c.case_key = t.case_key"
    " LEFT JOIN inbox_reads r ON r.institution = d.recipient AND r.event_id = d.event_id"
    " WHERE d.recipient = $1 AND d.allowed AND t.origin <> $1"
)
_PAGE = (
    _ITEMS  # noqa: S608 - constant SQL, joined
    + " AND ($2::uuid IS NULL OR (t.occurred_at, t.event_id) <"
    " (SELECT b.occurred_at, b.event_id FROM timeline b JOIN decisions bd"
    " ON bd.event_id = b.event_id AND bd.recipient = $1 AND bd.allowed"
    " WHERE b.event_id = $2))"
    " AND (NOT $3 OR r.event_id IS NULL)"
    " ORDER BY t.occurred_at DESC, t.event_id DESC LIMIT $4"
)
_ONE = _ITEMS + " AND d.event_id = $2"


class InboxItem(TimelineEntry):
    read: bool = Field(description="Marked read by someone of your institution.")


@dataclass(frozen=True)
class InboxRead:
    items: list[InboxItem]
    unread: int  # all unread items of the institution, not only this page's
    next_before: uuid.UUID | None  # pass as ``before`` for older items; None on the last page


async def read_inbox(
    store: ReadStore,
    caller: Caller,
    purpose: str,
    *,
    before: uuid.UUID | None,
    limit: int,
    unread_only: bool,
) -> InboxRead:
    """One page of the caller's institution's deliveries, newest first; audited per person."""
    async with store.snapshot() as conn:
        rows = await _items(conn, caller.institution, before, limit, unread_only)
        unread = await unread_count(conn, caller.institution)
    shown = rows[:limit]
    items = [
        InboxItem(**timeline_entry(row, caller.institution).model_dump(), read=row["read"])
        for row in shown
    ]
    pseudonyms = (row["pseudonym"] for row in shown)
    await record_list_read(
        store, caller, "read-inbox", purpose, zip(pseudonyms, items, strict=True), _person_shown
    )
    more = len(rows) > limit
    return InboxRead(items, unread, items[-1].event_id if more and items else None)


async def _items(
    conn: asyncpg.Connection,
    institution: str,
    before: uuid.UUID | None,
    limit: int,
    unread_only: bool,
) -> list[Any]:
    return list(
        await conn.fetch(
            _PAGE,
            institution,
            before,
            unread_only,
            min(limit, MAX_LIMIT) + 1,
        )
    )


async def unread_count(conn: asyncpg.Connection, institution: str) -> int:
    found = await conn.fetchval(
        "SELECT count(*) FROM decisions d JOIN timeline t ON t.event_id = d.event_id"
        " WHERE d.recipient = $1 AND d.allowed AND t.origin <> $1"
        " AND NOT EXISTS (SELECT 1 FROM inbox_reads r"
        "   WHERE r.institution = $1 AND r.event_id = d.event_id)",
        institution,
    )
    return int(found or 0)


def _person_shown(items: Sequence[InboxItem]) -> PersonShown:
    return PersonShown(
        case_number=next((i.case_number for i in items if i.case_number), None),
        basis=timeline_basis(DELIVERED, items),
        detail={"entries": len(items), "withheld_fields": sum(len(i.withheld) for i in items)},
    )


async def mark_read(store: ReadStore, caller: Caller, event_ids: Sequence[uuid.UUID]) -> int:
    """Mark the caller's deliveries among ``event_ids`` read; others are ignored. Returns how
    many were newly marked."""
    if not event_ids:
        return 0
    async with store.pool.acquire() as conn:
        marked = await conn.fetch(
            "INSERT INTO inbox_reads (institution, event_id, read_by, read_at)"
            " SELECT $1, d.event_id, $2, $3 FROM decisions d"
            " WHERE d.recipient = $1 AND d.allowed AND d.event_id = ANY($4::uuid[])"
            " ON CONFLICT DO NOTHING RETURNING event_id",
            caller.institution,
            caller.actor,
            store.clock(),
            list(dict.fromkeys(event_ids)),
        )
    return len(marked)


async def delivered_case(
    store: ReadStore, caller: Caller, event_id: uuid.UUID
) -> tuple[bool, str | None]:
    """Whether ``event_id`` was delivered to the caller's institution, and its case number."""
    async with store.snapshot() as conn:
        row = await conn.fetchrow(
            _ONE,
            caller.institution,
            event_id,
        )
    return (row is not None, row["case_number"] if row is not None else None)
