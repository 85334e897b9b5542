"""Erasing one person, online, while the worker runs (crypto-shredding, issue 17).

One PostgreSQL transaction per subject:
1. lock the person the way the worker does (as ``store.lock_files``: the ``persons`` row, created
   if missing, ``FOR UPDATE``), then their registry row: a batch of the worker either committed
   before (its rows are deleted here) or locks after and finds the tombstone (it skips them);
2. delete every row of the person from coordination's projections and records (``PLAN`` below:
   every table is listed, with how it is found or why it is kept), the document store and
   intake's submission ledger;
3. tombstone the registry (``person_registry.tombstone``): lookups deleted, key and sealed AHV
   number gone, so the person's records on the canonical log can no longer be opened and
   ``rebuild`` skips them;
4. append one ``erased`` audit row: the subject, no case number, the counts per table and the
   ticket reference only.

Erasing again finds nothing and writes nothing (no second audit row). The audit log keeps every
older row of the person: their subject is random, and nothing in the bus links it to an AHV
number once the registry's lookups are gone. Not unlinkable, though: rows of reads keep the case
number in ``object`` (partners keep case number → person in their own files) and the reader's
free-text ``purpose`` (docs/retention.md, "Known gaps").
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncpg

from schemas.ahv import AhvNumber, mask_ahv_like
from services.common.database import checked_schema
from services.common.person_lookup import subjects_of
from services.common.person_registry import is_registry_subject, tombstone
from services.coordination import audit
from services.coordination.domain.case_file import CaseFile
from services.coordination.settings import CoordinationSettings

# Every coordination table and what erasure does with it. A test compares this with tables.py, so
# a table added later must be placed here.
PLAN: dict[str, str] = {
    "persons": "deleted: the person's file (pseudonym)",
    "cases": "deleted (pseudonym)",
    "participants": "deleted (pseudonym)",
    "consents": "deleted (pseudonym)",
    "consent_revocations": "deleted (pseudonym)",
    "timeline": "deleted (pseudonym)",
    "engagements": "deleted (pseudonym)",
    "referrals": "deleted (pseudonym)",
    "decisions": "deleted (the person's event ids)",
    "notices": "deleted (pseudonym)",
    "notice_dispatch": "deleted (the person's notice ids)",
    "processed_events": "deleted (the person's event ids, refused ones too)",
    "case_numbers": "deleted (the person's case keys)",
    "outbox": "deleted (key recipient/<subject>): payloads with the sealed AHV number",
    "deadlines": "deleted (pseudonym)",
    "delivery_outcomes": "deleted (the person's delivery ids)",
    "inbox_reads": "deleted (the person's event ids)",
    "published_figures": "kept: aggregate cells under disclosure control, no person",
    "audit_log": "kept: append-only; random subject, but case numbers in object (see docs)",
    "audit_head": "kept: one row, the chain's head",
    "audit_checkpoints": "kept: signed row counts and hashes",
}
# The deletes, in order (children before what they are found by): table, statement, and what
# its one parameter is (the subject, or the person's event ids, case keys, delivery ids, notice
# ids).
_DELETES: tuple[tuple[str, str, str], ...] = (
    ("decisions", "DELETE FROM decisions WHERE event_id = ANY($1::uuid[])", "events"),
    ("notice_dispatch", "DELETE FROM notice_dispatch WHERE notice_id = ANY($1::uuid[])", "notices"),
    ("notices", "DELETE FROM notices WHERE pseudonym = $1", "subject"),
    ("consent_revocations", "DELETE FROM consent_revocations WHERE pseudonym = $1", "subject"),
    ("consents", "DELETE FROM consents WHERE pseudonym = $1", "subject"),
    ("participants", "DELETE FROM participants WHERE pseudonym = $1", "subject"),
    ("engagements", "DELETE FROM engagements WHERE pseudonym = $1", "subject"),
    ("referrals", "DELETE FROM referrals WHERE pseudonym = $1", "subject"),
    ("deadlines", "DELETE FROM deadlines WHERE pseudonym = $1", "subject"),
    (
        "delivery_outcomes",
        "DELETE FROM delivery_outcomes WHERE delivery_id = ANY($1::uuid[])",
        "deliveries",
    ),
    ("inbox_reads", "DELETE FROM inbox_reads WHERE event_id = ANY($1::uuid[])", "events"),
    ("processed_events", "DELETE FROM processed_events WHERE event_id = ANY($1::uuid[])", "events"),
    ("timeline", "DELETE FROM timeline WHERE pseudonym = $1", "subject"),
    ("cases", "DELETE FROM cases WHERE pseudonym = $1", "subject"),
    ("case_numbers", "DELETE FROM case_numbers WHERE case_key = ANY($1::uuid[])", "cases"),
    ("persons", "DELETE FROM persons WHERE pseudonym = $1", "subject"),
)
# A ticket reference goes into the audit log for ever: an id, not a sentence.
TICKET_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9._:/#-]{0,63}$")
# So does the operator's name (``operator/<name>``): a login name, not free text.
ACTOR_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,39}$")
_UUID_TEXT = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_LOOKS_PERSONAL = re.compile(r"\d{6,}|IIZ-\d{4}-\d+", re.IGNORECASE)


class TicketError(ValueError):
    """The ticket reference or the operator's name is not a plain id (or looks like an AHV or
    case number)."""


def _looks_personal(text: str) -> bool:
    """A long digit run, a case number, or an AHV number however separated (dashes too)."""
    return bool(_LOOKS_PERSONAL.search(text)) or mask_ahv_like(text) != text


def checked_ticket(ticket: str) -> str:
    if not TICKET_PATTERN.match(ticket) or _looks_personal(ticket):
        raise TicketError(
            "the ticket reference must be a plain id (letters first, up to 64 of A-Z a-z 0-9 ."
            " _ : / # -), without an AHV number, case number or long digit run"
        )
    return ticket


def checked_actor(actor: str) -> str:
    """An operator's name for ``operator/<name>`` in the audit log: a login name only."""
    if not ACTOR_PATTERN.match(actor) or _looks_personal(actor):
        raise TicketError(
            "the operator's name must be a login name (letters first, up to 40 of A-Z a-z 0-9 ."
            " _ -), without an AHV number, case number or long digit run"
        )
    return actor


@dataclass(frozen=True)
class Erasure:
    """What erasing one subject did: rows deleted per table (only tables with rows)."""

    subject: str
    counts: dict[str, int]
    tombstoned: bool  # the registry row was erased now (False: legacy subject or erased before)
    skipped: bool = False  # the guard said no under the lock: nothing was touched

    @property
    def changed(self) -> bool:
        return self.tombstoned or any(self.counts.values())


@dataclass(frozen=True)
class Requester:
    """Who erases and why, as the audit row says it."""

    actor: str  # "<institution>/<role>/<sub>", "operator/<name>" or "coordination"
    ticket: str  # the request's reference (or "retention:<schedule version>")
    purpose: str = "erasure"
    basis: str = "erasure request"


@dataclass(frozen=True)
class Stores:
    """The other schemas erasure reaches (names from the settings)."""

    persons: str  # the person registry
    documents: str  # the document store
    intake: str | None  # intake's schema (submission ledger); None: not erased here

    @classmethod
    def of(cls, settings: CoordinationSettings) -> Stores:
        intake = settings.coordination_intake_db_schema or None
        return cls(
            checked_schema(settings.person_db_schema),
            checked_schema(settings.document_db_schema),
            checked_schema(intake) if intake else None,
        )


async def erase_person(
    pool: asyncpg.Pool,
    settings: CoordinationSettings,
    ahv: AhvNumber,
    requester: Requester,
    *,
    at: dt.datetime,
) -> list[Erasure]:
    """Erase every subject the AHV number is known under (registry and legacy pseudonyms).

    ``LegacySubjectError`` (nothing erased) if the person has data under a legacy ``psn:``
    subject: their records on the canonical log are in clear, so a ``rebuild`` would bring the
    person back (and send their deliveries again) — erasing them needs the log resealed first."""
    async with pool.acquire() as conn:
        subjects = await subjects_of(conn, ahv, settings)
        if await legacy_with_data(conn, subjects):
            raise LegacySubjectError(
                "the person has events on the canonical log from before the person registry"
                " (a legacy psn: subject, in clear there): a rebuild would undo the erasure and"
                " send their deliveries again; reseal the log first. Nothing was erased."
            )
    return [await erase_subject(pool, Stores.of(settings), s, requester, at=at) for s in subjects]


class LegacySubjectError(Exception):
    """The person cannot be erased yet: data under a legacy (cleartext) ``psn:`` subject."""


async def legacy_with_data(conn: asyncpg.Connection, subjects: Sequence[str]) -> list[str]:
    """The legacy ``psn:`` subjects among ``subjects`` that coordination folded events of."""
    legacy = [s for s in subjects if not is_registry_subject(s)]
    if not legacy:
        return []
    rows = await conn.fetch(
        "SELECT pseudonym FROM persons WHERE pseudonym = ANY($1::text[])"
        " UNION SELECT pseudonym FROM timeline WHERE pseudonym = ANY($1::text[])",
        legacy,
    )
    return sorted(r["pseudonym"] for r in rows)


# Asked under the person's locks, in the erasure's transaction: may this subject still go?
# (The retention run's: is the person still past retention, now that no batch can change them?)
Guard = Callable[[asyncpg.Connection, str], Awaitable[bool]]


class _SkippedError(Exception):
    """The guard said no: roll back (also the lock's placeholder row)."""


async def erase_subject(
    pool: asyncpg.Pool,
    stores: Stores,
    subject: str,
    requester: Requester,
    *,
    at: dt.datetime,
    guard: Guard | None = None,
) -> Erasure:
    """Erase one subject in one transaction; an ``erased`` audit row if anything changed.

    With a ``guard``: asked once the person is locked (no batch of the worker can change them
    until the transaction ends); if it says no, nothing is touched (``Erasure.skipped``)."""
    checked_ticket(requester.ticket)
    try:
        async with pool.acquire() as conn, conn.transaction():
            placeholder = await _lock_person(conn, subject)
            live = await conn.fetchval(
                f'SELECT erased_at IS NULL FROM "{stores.persons}".persons'  # noqa: S608
                " WHERE subject = $1 FOR UPDATE",
                subject,
            )
            if guard is not None and not await guard(conn, subject):
                raise _SkippedError
            counts = await delete_rows(conn, stores, subject)
            counts["persons"] -= placeholder  # the row the lock made is no row of the person
            if live is not None:
                await tombstone(conn, stores.persons, subject)
            erasure = Erasure(
                subject, {t: n for t, n in counts.items() if n}, tombstoned=bool(live)
            )
            if erasure.changed:
                await audit.append(conn, [erased_entry(erasure, requester)], at=at)
    except _SkippedError:
        return Erasure(subject, {}, tombstoned=False, skipped=True)
    return erasure


async def _lock_person(conn: asyncpg.Connection, subject: str) -> int:
    """Lock the person's file row as the worker does (``store.lock_files``: insert if missing,
    then ``FOR UPDATE``), so a batch of the worker and the erasure take turns. 1 if the row was
    made for the lock (the person had no file)."""
    made = await conn.fetchval(
        "INSERT INTO persons (pseudonym, state, bus_partition, last_offset)"
        " VALUES ($1, $2::jsonb, 0, -1) ON CONFLICT (pseudonym) DO NOTHING RETURNING true",
        subject,
        CaseFile(pseudonym=subject).model_dump_json(),
    )
    await conn.execute("SELECT 1 FROM persons WHERE pseudonym = $1 FOR UPDATE", subject)
    return 1 if made else 0


async def delete_rows(conn: asyncpg.Connection, stores: Stores, subject: str) -> dict[str, int]:
    """Delete the subject's rows everywhere (in the caller's transaction); rows per table."""
    event_ids = await _event_ids(conn, subject)
    case_keys = [
        r["case_key"]
        for r in await conn.fetch(
            "SELECT case_key FROM cases WHERE pseudonym = $1 UNION"
            " SELECT case_key FROM timeline WHERE pseudonym = $1 AND case_key IS NOT NULL",
            subject,
        )
    ]
    notice_ids = [
        r["notice_id"]
        for r in await conn.fetch("SELECT notice_id FROM notices WHERE pseudonym = $1", subject)
    ]
    # Deliveries, alerts and refusals to anybody about the person: keyed recipient/<subject>.
    delivery_ids = [
        r["delivery_id"]
        for r in await conn.fetch(
            "DELETE FROM outbox WHERE key IS NOT NULL AND position($1::bytea IN key) > 0"
            " RETURNING delivery_id",
            f"/{subject}".encode(),
        )
    ]
    counts = {"outbox": len(delivery_ids)}
    found: dict[str, object] = {
        "subject": subject,
        "events": event_ids,
        "cases": case_keys,
        "deliveries": delivery_ids,
        "notices": notice_ids,
    }
    for table, sql, parameter in _DELETES:
        counts[table] = _rows(await conn.execute(sql, found[parameter]))
    counts["documents"] = _rows(
        await conn.execute(
            f'DELETE FROM "{stores.documents}".documents WHERE pseudonym = $1',  # noqa: S608
            subject,
        )
    )
    if stores.intake is not None:
        counts["submission_ledger"] = _rows(
            await conn.execute(
                f'DELETE FROM "{stores.intake}".submission_ledger'  # noqa: S608
                " WHERE canonical_id = ANY($1::uuid[])",
                event_ids,
            )
        )
    return counts


async def _event_ids(conn: asyncpg.Connection, subject: str) -> list[uuid.UUID]:
    """The person's events: in the timeline, and refused ones (only the audit log names them)."""
    rows = await conn.fetch(
        "SELECT event_id FROM timeline WHERE pseudonym = $1 UNION"
        " SELECT object::uuid FROM audit_log WHERE subject = $1"
        " AND action IN ('decided', 'refused') AND object ~ $2",
        subject,
        _UUID_TEXT,
    )
    return [r["event_id"] for r in rows]


def _rows(status: str) -> int:
    """The row count of a command status (``DELETE 3``)."""
    return int(status.rsplit(" ", 1)[-1])


def erased_entry(erasure: Erasure, requester: Requester) -> audit.AuditEntry:
    """The one audit row of an erasure: counts and the ticket, no case number, no AHV number."""
    return audit.AuditEntry(
        actor=requester.actor,
        action="erased",
        subject=erasure.subject,
        object=None,
        purpose=requester.purpose,
        basis=requester.basis,
        detail={
            "rows": dict(sorted(erasure.counts.items())),
            "key_destroyed": erasure.tombstoned,
            "ticket": requester.ticket,
        },
    )


def total_rows(erasures: Sequence[Erasure]) -> int:
    return sum(n for e in erasures for n in e.counts.values())
