"""Coordination's PostgreSQL side of a batch: lock the person files, remember, write every effect.

Everything of one batch happens in the caller's single transaction:
- ``lock_files`` creates missing person rows and locks all of the batch's persons (in a fixed
  order, so two instances never deadlock) before reading their files — an instance that lost a
  partition in a rebalance and still finishes a batch cannot interleave with the new owner;
- ``already_processed`` tells redelivered events apart (dedupe by event id);
- ``write`` stores timeline, decisions, read models, outbox rows, deadlines and notices with a
  few set-based statements.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import asyncpg

from schemas.events import ConsentGranted, ConsentRevoked
from services.coordination.deliveries import OutboxRecord
from services.coordination.domain.alerts import Deadline
from services.coordination.domain.case_file import Case, CaseFile
from services.coordination.domain.policy import Decision, business_date

OUTBOX_CHANNEL = "iiz_outbox"
CONSENT_GRANTED = ConsentGranted.cloud_event_type()
CONSENT_REVOKED = ConsentRevoked.cloud_event_type()


@dataclass(frozen=True)
class TimelineRow:
    event_id: uuid.UUID
    pseudonym: str
    case_key: uuid.UUID | None
    partition: int
    offset: int
    occurred_at: dt.datetime
    type: str
    origin: str
    datacategory: str
    event_json: str


@dataclass
class BatchEffects:
    """Everything a batch changes, gathered before one round of writes."""

    files: dict[str, CaseFile] = field(default_factory=dict)
    partitions: dict[str, tuple[int, int]] = field(default_factory=dict)  # person → (p, offset)
    sealed_ahv: dict[str, str] = field(default_factory=dict)
    timeline: list[TimelineRow] = field(default_factory=list)
    decisions: list[tuple[uuid.UUID, Decision]] = field(default_factory=list)
    notices: list[tuple[uuid.UUID, str, str, tuple[str, ...], dt.datetime]] = field(
        default_factory=list
    )
    outbox: list[OutboxRecord] = field(default_factory=list)
    deadlines: list[tuple[str, Deadline]] = field(default_factory=list)  # (person, deadline)
    processed: list[tuple[uuid.UUID, int, int, str]] = field(default_factory=list)


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


async def already_processed(conn: asyncpg.Connection, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT event_id FROM processed_events WHERE event_id = ANY($1::uuid[])", list(ids)
    )
    return {row["event_id"] for row in rows}


async def case_numbers(conn: asyncpg.Connection, cases: Sequence[Case]) -> dict[uuid.UUID, str]:
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


async def write(
    conn: asyncpg.Connection, effects: BatchEffects, numbers: dict[uuid.UUID, str]
) -> None:
    """All of a batch's writes, set-based; the caller's transaction makes them one."""
    await _write_timeline(conn, effects)
    await _write_decisions(conn, effects)
    await _write_read_models(conn, effects, numbers)
    await write_outbox(conn, effects.outbox)
    await write_deadlines(conn, effects.deadlines)
    if effects.notices:
        await conn.executemany(
            "INSERT INTO notices (event_id, recipient, pseudonym, articles, due_since)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
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
        [
            (name, file.model_dump_json(), file.last_position, effects.sealed_ahv.get(name))
            for name, file in effects.files.items()
        ],
    )


async def _write_timeline(conn: asyncpg.Connection, effects: BatchEffects) -> None:
    await conn.copy_records_to_table(
        "timeline",
        columns=[
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
        ],
        records=[
            (
                r.event_id,
                r.pseudonym,
                r.case_key,
                r.partition,
                r.offset,
                r.occurred_at,
                r.type,
                r.origin,
                r.datacategory,
                r.event_json,
            )
            for r in effects.timeline
        ],
    )


async def _write_decisions(conn: asyncpg.Connection, effects: BatchEffects) -> None:
    rows = []
    for event_id, d in effects.decisions:
        basis = d.basis
        rows.append(
            (
                event_id,
                d.recipient,
                d.allowed,
                basis.kind.value if basis else None,
                list(basis.consent_ids) if basis else [],
                list(basis.articles) if basis else [],
                basis.legal_basis_version if basis else None,
                sorted(c.value for c in d.categories),
                sorted(d.withheld),
                denial_text(d),
                bool(basis and basis.inform_person),
            )
        )
    # COPY: the batch's events were deduplicated under the persons' locks, so no row exists yet.
    await conn.copy_records_to_table(
        "decisions",
        records=rows,
        columns=[
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
        ],
    )


def denial_text(decision: Decision) -> str | None:
    if decision.reason is None:
        return None
    if decision.missing:
        return f"{decision.reason.value}:{','.join(sorted(c.value for c in decision.missing))}"
    return decision.reason.value


async def _write_read_models(
    conn: asyncpg.Connection, effects: BatchEffects, numbers: dict[uuid.UUID, str]
) -> None:
    """Cases, participants, engagements and referrals mirror the files; consents are appended."""
    persons = list(effects.files)
    files = list(effects.files.values())
    for table in ("participants", "engagements", "referrals"):
        await conn.execute(f"DELETE FROM {table} WHERE pseudonym = ANY($1::text[])", persons)  # noqa: S608
    await conn.executemany(
        "INSERT INTO cases (case_key, case_number, pseudonym, opened_by, opened_at, closed_at,"
        " outcome, projects) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (case_key) DO UPDATE SET closed_at = excluded.closed_at,"
        " outcome = excluded.outcome, projects = excluded.projects",
        [
            (
                c.case_key,
                numbers[c.case_key],
                f.pseudonym,
                c.opened_by,
                c.opened_at,
                c.closed_at,
                c.outcome,
                c.projects,
            )
            for f in files
            for c in f.cases
        ],
    )
    await conn.executemany(
        "INSERT INTO participants (pseudonym, case_key, institution, role, institution_case_ref,"
        " joined_at, joined_offset, via_referral, left_at) VALUES ($1, $2, $3, $4, $5, $6, $7,"
        " $8, $9)",
        [
            (
                f.pseudonym,
                p.case_key,
                p.institution,
                p.role,
                f.case_refs.get(p.institution),
                p.joined_on,
                p.joined_at,
                p.via_referral,
                p.left_on,
            )
            for f in files
            for p in f.participations
        ],
    )
    await conn.executemany(
        "INSERT INTO engagements (institution, kind, ref_id, pseudonym, case_key, started_on,"
        " ended_on) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        [
            (
                e.institution,
                e.kind.value,
                e.ref_id,
                f.pseudonym,
                e.case_key,
                e.started_on,
                e.ended_on,
            )
            for f in files
            for e in f.engagements
        ],
    )
    await conn.executemany(
        "INSERT INTO referrals (referral_id, pseudonym, case_key, from_institution,"
        " to_institution, purpose, requested_at, answer_due, status, answered_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
        [
            (
                r.referral_id,
                f.pseudonym,
                r.case_key,
                r.from_institution,
                r.to_institution,
                r.purpose,
                r.requested_at,
                r.answer_due,
                r.status.value,
                r.answered_at,
            )
            for f in files
            for r in f.referrals
        ],
    )
    await _append_consents(conn, effects)


async def _append_consents(conn: asyncpg.Connection, effects: BatchEffects) -> None:
    grants, revocations = [], []
    for row in effects.timeline:
        if row.type not in (CONSENT_GRANTED, CONSENT_REVOKED):
            continue
        data = json.loads(row.event_json)["data"]
        if row.type == CONSENT_GRANTED:
            grants.append(
                (
                    uuid.UUID(data["consent_id"]),
                    row.pseudonym,
                    row.origin,
                    data["institutions"],
                    data["categories"],
                    dt.date.fromisoformat(data["valid_from"]),
                    dt.date.fromisoformat(data["valid_until"]) if data.get("valid_until") else None,
                    data["document_ref"],
                    row.event_id,
                    row.offset,
                )
            )
        else:
            revocations.append(
                (
                    row.event_id,
                    uuid.UUID(data["consent_id"]),
                    row.pseudonym,
                    row.origin,
                    row.offset,
                    row.occurred_at,
                )
            )
    await conn.executemany(
        "INSERT INTO consents (consent_id, pseudonym, recorded_by, institutions, categories,"
        " valid_from, valid_until, document_ref, event_id, bus_offset)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
        grants,
    )
    await conn.executemany(
        "INSERT INTO consent_revocations (event_id, consent_id, pseudonym, recorded_by,"
        " bus_offset, revoked_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        revocations,
    )


async def write_outbox(conn: asyncpg.Connection, outbox: Sequence[OutboxRecord]) -> None:
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
