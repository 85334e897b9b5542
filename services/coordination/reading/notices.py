"""The notices an institution must send to persons (AVG Art. 35a Abs. 1ter), and marking them
sent.

A notice is listed for its sender only (the institution that disclosed the data by law): its
case workers and coordinators read the list, one notice (JSON or the PDF letter) and mark it
sent. Every read is audited like a case read (``read-notices``: one row per person the list
showed, or the one notice's row; a notice not found leaves a row without subject, outcome
``not_found`` like every refused look-up), every mark too (``notice-sent``), and every refusal
of a role that may not handle notices (outcome ``denied``; ``refuse``). Marking is once per
notice (``notice_dispatch``, a record ``rebuild`` keeps): marking again changes nothing and
answers with the first mark.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import asyncpg
from pydantic import BaseModel, Field

from services.coordination import audit
from services.coordination.reading.access import audit_entry
from services.coordination.reading.caller import CASE_WORK_ROLES, Caller
from services.coordination.reading.list_audit import PersonShown, record_list_read
from services.coordination.reading.read_store import ReadStore

MAX_LIMIT = 500
READ_ACTION = "read-notices"
MARK_ACTION = "notice-sent"
MARK_PURPOSE = "Mitteilung an die betroffene Person versendet"


class NoticeStatus(StrEnum):
    OPEN = "open"
    SENT = "sent"
    ALL = "all"


class NoticeView(BaseModel):
    """One notice as its sender sees it (no personal data but the case references)."""

    notice_id: uuid.UUID = Field(description="Stable: a rebuild derives the same id.")
    event_id: uuid.UUID = Field(description="The event whose delivery the notice is about.")
    sender: str = Field(description="Your institution: it disclosed the data and informs.")
    recipient: str = Field(description="The institution that received the data.")
    case_number: str | None = Field(description="The IIZ case number, if the event has a case.")
    case_ref: str | None = Field(description="Your institution's own case reference, if known.")
    event_type: str = Field(description="CloudEvent type of the exchanged event.")
    categories: list[str] = Field(description="Data categories delivered.")
    articles: list[str] = Field(description="The articles of law the exchange rested on.")
    legal_basis_version: str | None = Field(description="Version of the legal-basis matrix.")
    exchanged_at: dt.datetime = Field(description="When the exchange happened (business time).")
    sent_at: dt.datetime | None = Field(description="When it was marked sent; None: open.")
    sent_by: str | None = Field(description="Who marked it sent (institution/role/user).")


@dataclass(frozen=True)
class NoticeList:
    notices: list[NoticeView]
    open: int  # of the institution in all, not only this list's
    sent: int


@dataclass(frozen=True)
class NoticeCounts:
    """For the demo's summary: notices derived, and how many of them were marked sent."""

    produced: int
    sent: int


_SELECT = (
    "SELECT n.notice_id, n.event_id, n.sender, n.recipient, c.case_number,"
    " p.state -> 'case_refs' ->> n.sender AS case_ref, n.event_type, n.categories, n.articles,"
    " n.legal_basis_version, n.exchanged_at, s.sent_at, s.sent_by, n.pseudonym"
    " FROM notices n"
    " LEFT JOIN cases c ON c.case_key = n.case_key"
    " LEFT JOIN persons p ON p.pseudonym = n.pseudonym"
    " LEFT JOIN notice_dispatch s ON s.notice_id = n.notice_id"
    " WHERE n.sender = $1"
)
_LIST = (
    _SELECT + " AND ($2 = 'all' OR ($2 = 'open') = (s.notice_id IS NULL))"
    " ORDER BY n.exchanged_at DESC, n.notice_id DESC LIMIT $3"
)
_ONE = _SELECT + " AND n.notice_id = $2"
_COUNTS = (
    "SELECT count(*) FILTER (WHERE s.notice_id IS NULL) AS open,"
    " count(s.notice_id) AS sent"
    " FROM notices n LEFT JOIN notice_dispatch s ON s.notice_id = n.notice_id"
)


def may_handle_notices(caller: Caller) -> bool:
    """Case workers and coordinators (of the sending institution: every query filters by it)."""
    return caller.role in CASE_WORK_ROLES


async def refuse(
    store: ReadStore,
    caller: Caller,
    action: str,
    purpose: str,
    notice_id: uuid.UUID | None = None,
) -> None:
    """Audit a role's refusal (``read-notices`` or ``notice-sent``, outcome ``denied``) like
    every other refused look-up: the misuse signals count it."""
    detail = {} if notice_id is None else {"notice": str(notice_id)}
    await store.record(
        audit_entry(
            caller, action, purpose, subject=None, case_number=None, outcome="denied", **detail
        )
    )


def _view(row: Any) -> NoticeView:
    return NoticeView(**{k: v for k, v in dict(row).items() if k != "pseudonym"})


def _basis(articles: Sequence[str]) -> str:
    return "law: " + "; ".join(articles)


async def list_notices(
    store: ReadStore, caller: Caller, purpose: str, *, status: NoticeStatus, limit: int
) -> NoticeList:
    """The caller's institution's notices, newest exchange first; audited per person."""
    async with store.snapshot() as conn:
        rows = await conn.fetch(_LIST, caller.institution, status.value, min(limit, MAX_LIMIT))
        counts = await conn.fetchrow(_COUNTS + " WHERE n.sender = $1", caller.institution)
    notices = [_view(row) for row in rows]
    await record_list_read(
        store,
        caller,
        READ_ACTION,
        purpose,
        zip((row["pseudonym"] for row in rows), notices, strict=True),
        _person_shown,
        status=status.value,
    )
    assert counts is not None
    return NoticeList(notices, int(counts["open"]), int(counts["sent"]))


def _person_shown(notices: Sequence[NoticeView]) -> PersonShown:
    return PersonShown(
        case_number=next((n.case_number for n in notices if n.case_number), None),
        basis=_basis(sorted({a for n in notices for a in n.articles})),
        detail={"notices": len(notices)},
    )


async def read_notice(
    store: ReadStore, caller: Caller, notice_id: uuid.UUID, purpose: str, *, form: str
) -> NoticeView | None:
    """One notice of the caller's institution (None: unknown or another's, alike); audited
    with the form it was read in (``json``, ``pdf``)."""
    async with store.snapshot() as conn:
        row = await conn.fetchrow(_ONE, caller.institution, notice_id)
    if row is None:
        await store.record(
            audit_entry(
                caller,
                READ_ACTION,
                purpose,
                subject=None,
                case_number=None,
                outcome="not_found",
                notice=str(notice_id),
                form=form,
            )
        )
        return None
    notice = _view(row)
    await store.record(
        audit_entry(
            caller,
            READ_ACTION,
            purpose,
            subject=row["pseudonym"],
            case_number=notice.case_number,
            basis=_basis(notice.articles),
            outcome="ok",
            notice=str(notice_id),
            form=form,
        )
    )
    return notice


async def mark_sent(store: ReadStore, caller: Caller, notice_id: uuid.UUID) -> NoticeView | None:
    """Record that the caller's institution sent the notice to the person (the first mark
    stays); None when the notice is not one of the institution's. Audited in the same
    transaction as the mark."""
    async with store.pool.acquire() as conn, conn.transaction():
        now = store.clock()
        marked = await conn.fetchval(
            "INSERT INTO notice_dispatch (notice_id, sent_at, sent_by)"
            " SELECT n.notice_id, $3, $4 FROM notices n WHERE n.notice_id = $1 AND n.sender = $2"
            " ON CONFLICT (notice_id) DO NOTHING RETURNING notice_id",
            notice_id,
            caller.institution,
            now,
            caller.actor,
        )
        row = await conn.fetchrow(_ONE, caller.institution, notice_id)
        notice = None if row is None else _view(row)
        await audit.append(
            conn,
            [
                audit_entry(
                    caller,
                    MARK_ACTION,
                    MARK_PURPOSE,
                    subject=None if row is None else row["pseudonym"],
                    case_number=None if notice is None else notice.case_number,
                    basis=None if notice is None else _basis(notice.articles),
                    outcome=(
                        "not_found" if notice is None else "marked" if marked else "already-sent"
                    ),
                    notice=str(notice_id),
                )
            ],
            at=now,
        )
    return notice


async def notice_counts(pool: asyncpg.Pool) -> NoticeCounts:
    """Notices produced (derived from the log) and how many were marked sent, all senders."""
    row = await pool.fetchrow(_COUNTS)
    assert row is not None
    return NoticeCounts(produced=int(row["open"]) + int(row["sent"]), sent=int(row["sent"]))
