"""Coordination's PostgreSQL side of a batch: lock the person files, issue case numbers, write
the batch's effects.

Everything of one batch happens in the caller's single transaction:
- ``lock_batch`` creates missing person rows and locks all of the batch's persons (in a fixed
  order, so two instances never deadlock) before reading their files — an instance that lost a
  partition in a rebalance and still finishes a batch cannot interleave with the new owner —
  and tells redelivered events apart (dedupe by event id);
- ``issue_case_numbers`` gives new cases their numbers;
- ``write_batch`` stores the one ``BatchEffects`` value with a few set-based statements (COPY
  for the timeline and the decisions), NOTIFYs the outbox relay, and appends the audit entries
  to the hash chain last (its head is locked only for the end of the transaction).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence

import asyncpg

from services.common.database import checked_schema
from services.coordination import audit
from services.coordination.domain.case_file import CaseFile
from services.coordination.domain.case_parts import Case
from services.coordination.domain.consequences import Deadline
from services.coordination.domain.working_days import business_date
from services.coordination.worker.deliveries import OutboxRecord
from services.coordination.worker.effects import BatchEffects, ReadModels

OUTBOX_CHANNEL = "iiz_outbox"
TIMELINE_COLUMNS = (
    "event_id",
    "pseudonym",
    "case_key",
    "bus_partition",
    "bus_offset",
    "occurred_at",
    "type",
    "origin",
    "datacategory",
    "event",
)
DECISION_COLUMNS = (
    "event_id",
    "recipient",
    "allowed",
    "basis_kind",
    "consent_ids",
    "articles",
    "legal_basis_version",
    "categories",
    "withheld",
    "reason",
    "notice_required",
)


async def lock_batch(
    conn: asyncpg.Connection, persons: dict[str, tuple[int, int]], ids: Iterable[uuid.UUID]
) -> tuple[dict[str, CaseFile], set[uuid.UUID]]:
    """The batch's persons' files (locked) and which of ``ids`` were processed before."""
    files = await lock_files(conn, persons) if persons else {}
    return files, await already_processed(conn, ids)


async def lock_files(
    conn: asyncpg.Connection, persons: dict[str, tuple[int, int]]
) -> dict[str, CaseFile]:
    """Lock every person of the batch (creating new ones) and read their case files."""
    names = sorted(persons)
    await conn.executemany(
        "INSERT INTO persons (pseudonym, state, bus_partition, last_offset)"
        " VALUES ($1, $2::jsonb, $3, -1) ON CONFLICT (pseudonym) DO NOTHING",
        [(n, CaseFile(pseudonym=n).model_dump_json(), persons[n][0]) for n in names],
    )
    rows = await conn.fetch(
        "SELECT pseudonym, state FROM persons WHERE pseudonym = ANY($1::text[])"
        " ORDER BY pseudonym FOR UPDATE",
        names,
    )
    return {row["pseudonym"]: CaseFile.model_validate_json(row["state"]) for row in rows}


async def erased_among(
    conn: asyncpg.Connection, person_schema: str, subjects: Iterable[str]
) -> set[str]:
    """Which of the (locked) subjects the person registry says are erased (``ops/erase.py``)."""
    rows = await conn.fetch(
        f'SELECT subject FROM "{checked_schema(person_schema)}".persons'  # noqa: S608
        " WHERE subject = ANY($1::text[]) AND erased_at IS NOT NULL",
        list(subjects),
    )
    return {row["subject"] for row in rows}


async def forget_files(conn: asyncpg.Connection, subjects: Iterable[str]) -> None:
    """Drop the file rows ``lock_files`` made again for erased persons."""
    await conn.execute("DELETE FROM persons WHERE pseudonym = ANY($1::text[])", list(subjects))


async def already_processed(conn: asyncpg.Connection, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT event_id FROM processed_events WHERE event_id = ANY($1::uuid[])", list(ids)
    )
    return {row["event_id"] for row in rows}


async def issue_case_numbers(
    conn: asyncpg.Connection, cases: Sequence[Case]
) -> dict[uuid.UUID, str]:
    """Issue numbers to new cases (``IIZ-<year>-<nnnnnn>``) and return every case's number.

    Issued numbers are kept in their own table, so a rebuild gives each case its old number.
    """
    if not cases:
        return {}
    await conn.executemany(
        "INSERT INTO case_numbers (case_key, case_number) SELECT $1::uuid,"
        " 'IIZ-' || $2::text || '-' || lpad(nextval('case_number_seq')::text, 6, '0')"
        " WHERE NOT EXISTS (SELECT 1 FROM case_numbers WHERE case_key = $1::uuid)",
        [(c.case_key, str(business_date(c.opened_at).year)) for c in cases],
    )
    rows = await conn.fetch(
        "SELECT case_key, case_number FROM case_numbers WHERE case_key = ANY($1::uuid[])",
        [c.case_key for c in cases],
    )
    return {row["case_key"]: row["case_number"] for row in rows}


async def write_batch(conn: asyncpg.Connection, effects: BatchEffects) -> None:
    """All of a batch's writes; the caller's transaction makes them one."""
    # COPY: the batch's events were deduplicated under the persons' locks, so no row exists yet.
    await conn.copy_records_to_table(
        "timeline", records=effects.timeline, columns=list(TIMELINE_COLUMNS)
    )
    await conn.copy_records_to_table(
        "decisions", records=effects.decisions, columns=list(DECISION_COLUMNS)
    )
    await write_read_models(conn, effects.read_models)
    await write_outbox(conn, effects.outbox)
    await write_deadlines(conn, effects.deadlines)
    if effects.notices:  # derived again by a rebuild, with the same ids
        await conn.executemany(
            "INSERT INTO notices (notice_id, event_id, recipient, sender, pseudonym, case_key,"
            " event_type, categories, articles, legal_basis_version, exchanged_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
            effects.notices,
        )
    await conn.executemany(
        "INSERT INTO processed_events (event_id, bus_partition, bus_offset, outcome)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING",
        effects.processed,
    )
    await conn.executemany(
        "UPDATE persons SET state = $2::jsonb, last_offset = $3, sealed_ahv ="
        " coalesce($4, sealed_ahv), updated_at = now() WHERE pseudonym = $1",
        effects.persons,
    )
    await audit.append(conn, effects.audit, at=effects.audited_at)


async def write_read_models(conn: asyncpg.Connection, rows: ReadModels) -> None:
    """Cases, participants, engagements and referrals mirror the files; consents are appended."""
    for table in ("participants", "engagements", "referrals"):
        await conn.execute(f"DELETE FROM {table} WHERE pseudonym = ANY($1::text[])", rows.persons)  # noqa: S608
    await conn.executemany(
        "INSERT INTO cases (case_key, case_number, pseudonym, opened_by, opened_at, closed_at,"
        " outcome, projects) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (case_key) DO UPDATE SET closed_at = excluded.closed_at,"
        " outcome = excluded.outcome, projects = excluded.projects",
        rows.cases,
    )
    await conn.executemany(
        "INSERT INTO participants (pseudonym, case_key, institution, role, institution_case_ref,"
        " joined_at, joined_offset, via_referral, left_at) VALUES ($1, $2, $3, $4, $5, $6, $7,"
        " $8, $9)",
        rows.participants,
    )
    await conn.executemany(
        "INSERT INTO engagements (institution, kind, ref_id, pseudonym, case_key, started_on,"
        " ended_on) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        rows.engagements,
    )
    await conn.executemany(
        "INSERT INTO referrals (referral_id, pseudonym, case_key, from_institution,"
        " to_institution, purpose, requested_at, answer_due, status, answered_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
        rows.referrals,
    )
    await conn.executemany(
        "INSERT INTO consents (consent_id, pseudonym, recorded_by, institutions, categories,"
        " valid_from, valid_until, document_ref, event_id, bus_offset)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
        rows.consents,
    )
    await conn.executemany(
        "INSERT INTO consent_revocations (event_id, consent_id, pseudonym, recorded_by,"
        " bus_offset, revoked_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        rows.revocations,
    )


async def write_outbox(conn: asyncpg.Connection, outbox: Sequence[OutboxRecord]) -> None:
    """Outbox rows (one per delivery id), and a NOTIFY that wakes the relay on commit."""
    if not outbox:
        return
    await conn.executemany(
        "INSERT INTO outbox (delivery_id, lane, topic, key, value, headers)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (delivery_id) DO NOTHING",
        [
            (
                o.delivery_id,
                o.lane,
                o.topic,
                o.record.key,
                o.record.value,
                json.dumps([[k, v.decode("utf-8")] for k, v in o.record.headers]),
            )
            for o in outbox
        ],
    )
    await conn.execute("SELECT pg_notify($1, '')", OUTBOX_CHANNEL)


async def write_deadlines(
    conn: asyncpg.Connection, deadlines: Sequence[tuple[str, Deadline]]
) -> None:
    await conn.executemany(
        "INSERT INTO deadlines (deadline_key, kind, pseudonym, ref_id, due_on)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (deadline_key) DO NOTHING",
        [(d.key, d.kind, person, d.ref_id, d.due_on) for person, d in deadlines],
    )
