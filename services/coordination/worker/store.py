"""Coordination's PostgreSQL side of a batch: lock the person files, issue case numbers, write
the batch's effects.

Everything of one batch happens in the caller's single transaction:
- ``lock_files`` creates missing person rows and locks all of the batch's persons (in a fixed
  order, so two instances never deadlock) before reading their files — an instance that lost a
  partition in a rebalance and still finishes a batch cannot interleave with the new owner —
  and ``processed_and_erased`` then tells redelivered events apart (dedupe by event id) and
  finds persons erased meanwhile;
- ``issue_case_numbers`` gives new cases their numbers;
- ``write_batch`` stores the one ``BatchEffects`` value with a few set-based statements (COPY
  for the timeline and the decisions), NOTIFYs the outbox relay, and appends the audit entries
  to the hash chain last (its head is locked only for the end of the transaction).

Set-based means one statement per table, not one per row: ``INSERT … SELECT … FROM unnest($1,
$2, …) WITH ORDINALITY … ORDER BY n`` with the conflict clause the row-by-row statement had, so
rows are inserted in the order of their list (the outbox's ids, the relay's order per lane) and a
redone batch changes nothing. An upsert cannot touch the same row twice in one statement, so
rows with the same key are merged first into the one row the row-by-row statements left behind.
The tables' statements then go to PostgreSQL together, each in a ``WITH`` of its own (``_write``:
one round trip; no table is written twice in it).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import asyncpg

from services.common.database import checked_schema
from services.coordination import audit
from services.coordination.domain.case_file import CaseFile
from services.coordination.domain.case_parts import Case
from services.coordination.domain.consequences import Deadline
from services.coordination.domain.working_days import business_date
from services.coordination.worker.deliveries import OutboxRecord
from services.coordination.worker.effects import BatchEffects, ReadModels, Row

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


async def lock_files(
    conn: asyncpg.Connection, persons: dict[str, tuple[int, int]]
) -> dict[str, CaseFile]:
    """Lock every person of the batch (creating new ones) and read their case files."""
    names = sorted(persons)
    await conn.execute(
        "INSERT INTO persons (pseudonym, state, bus_partition, last_offset)"
        " SELECT u.pseudonym, u.state::jsonb, u.bus_partition, -1"
        " FROM unnest($1::text[], $2::text[], $3::integer[])"
        " WITH ORDINALITY AS u(pseudonym, state, bus_partition, n)"
        " ORDER BY u.n ON CONFLICT (pseudonym) DO NOTHING",
        names,
        [CaseFile(pseudonym=n).model_dump_json() for n in names],
        [persons[n][0] for n in names],
    )
    rows = await conn.fetch(
        "SELECT pseudonym, state FROM persons WHERE pseudonym = ANY($1::text[])"
        " ORDER BY pseudonym FOR UPDATE",
        names,
    )
    return {row["pseudonym"]: CaseFile.model_validate_json(row["state"]) for row in rows}


async def processed_and_erased(
    conn: asyncpg.Connection,
    ids: Iterable[uuid.UUID],
    person_schema: str,
    subjects: Iterable[str],
) -> tuple[set[uuid.UUID], set[str]]:
    """The batch's events processed before, and its (locked) subjects the person registry says
    are erased (``ops/erase.py``): one round trip, run after the locks."""
    rows = await conn.fetch(
        "SELECT event_id, NULL::text AS subject FROM processed_events"  # noqa: S608
        " WHERE event_id = ANY($1::uuid[]) UNION ALL"
        f' SELECT NULL::uuid, subject FROM "{checked_schema(person_schema)}".persons'
        " WHERE subject = ANY($2::text[]) AND erased_at IS NOT NULL",
        list(ids),
        list(subjects),
    )
    seen = {row["event_id"] for row in rows if row["event_id"] is not None}
    return seen, {row["subject"] for row in rows if row["subject"] is not None}


async def forget_files(conn: asyncpg.Connection, subjects: Iterable[str]) -> None:
    """Drop the file rows ``lock_files`` made again for erased persons."""
    await conn.execute("DELETE FROM persons WHERE pseudonym = ANY($1::text[])", list(subjects))


async def issue_case_numbers(
    conn: asyncpg.Connection, cases: Sequence[Case]
) -> dict[uuid.UUID, str]:
    """Issue numbers to new cases (``IIZ-<year>-<nnnnnn>``) and return every case's number.

    Issued numbers are kept in their own table, so a rebuild gives each case its old number.
    """
    if not cases:
        return {}
    # A case listed twice is numbered once, with its first year (row by row, the second
    # statement saw the first's number). Numbers are drawn in the list's order: ``nextval`` is
    # volatile, so PostgreSQL evaluates it after the ORDER BY.
    years: dict[uuid.UUID, str] = {}
    for c in cases:
        years.setdefault(c.case_key, str(business_date(c.opened_at).year))
    rows = await conn.fetch(
        "WITH issued AS (INSERT INTO case_numbers (case_key, case_number)"
        " SELECT u.case_key, 'IIZ-' || u.year || '-' || lpad(nextval('case_number_seq')::text,"
        " 6, '0') FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS u(case_key, year, n)"
        " WHERE NOT EXISTS (SELECT 1 FROM case_numbers c WHERE c.case_key = u.case_key)"
        " ORDER BY u.n RETURNING case_key, case_number)"
        " SELECT case_key, case_number FROM issued UNION ALL"
        " SELECT case_key, case_number FROM case_numbers WHERE case_key = ANY($1::uuid[])",
        list(years),
        list(years.values()),
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
    models = effects.read_models
    await _forget_mirrored(conn, models.persons)
    await _write(
        conn,
        [
            *_read_model_parts(models),
            _Part.insert(OUTBOX, _outbox_rows(effects.outbox)),
            _Part.insert(DEADLINES, _deadline_rows(effects.deadlines)),
            # derived again by a rebuild, with the same ids
            _Part.insert(NOTICES, effects.notices),
            _Part.insert(PROCESSED, effects.processed),
            _Part.files(effects.persons),
        ],
        notify=bool(effects.outbox),
    )
    await audit.append(conn, effects.audit, at=effects.audited_at)


async def update_files(conn: asyncpg.Connection, persons: Sequence[Row]) -> None:
    """The changed files: (pseudonym, state, offset, sealed AHV number or ``None`` to keep)."""
    await _write(conn, [_Part.files(persons)])


async def write_read_models(conn: asyncpg.Connection, rows: ReadModels) -> None:
    """Cases, participants, engagements and referrals mirror the files; consents are appended."""
    await _forget_mirrored(conn, rows.persons)
    await _write(conn, _read_model_parts(rows))


async def write_outbox(conn: asyncpg.Connection, outbox: Sequence[OutboxRecord]) -> None:
    """Outbox rows (one per delivery id, their ids in the list's order), and a NOTIFY that
    wakes the relay on commit."""
    await _write(conn, [_Part.insert(OUTBOX, _outbox_rows(outbox))], notify=bool(outbox))


async def write_deadlines(
    conn: asyncpg.Connection, deadlines: Sequence[tuple[str, Deadline]]
) -> None:
    await _write(conn, [_Part.insert(DEADLINES, _deadline_rows(deadlines))])


async def _forget_mirrored(conn: asyncpg.Connection, persons: list[str]) -> None:
    """Drop the persons' mirrored rows (written anew after this statement, not within it)."""
    if persons:
        await conn.execute(
            "WITH p AS (DELETE FROM participants WHERE pseudonym = ANY($1::text[])),"
            " e AS (DELETE FROM engagements WHERE pseudonym = ANY($1::text[]))"
            " DELETE FROM referrals WHERE pseudonym = ANY($1::text[])",
            persons,
        )


def _read_model_parts(rows: ReadModels) -> list[_Part]:
    return [
        _Part.insert(CASES, _merged_case_upserts(rows.cases)),
        _Part.insert(PARTICIPANTS, rows.participants),
        _Part.insert(ENGAGEMENTS, rows.engagements),
        _Part.insert(REFERRALS, rows.referrals),
        _Part.insert(CONSENTS, rows.consents),
        _Part.insert(REVOCATIONS, rows.revocations),
    ]


def _outbox_rows(outbox: Sequence[OutboxRecord]) -> list[Row]:
    return [
        (
            o.delivery_id,
            o.lane,
            o.topic,
            o.record.key,
            o.record.value,
            json.dumps([[k, v.decode("utf-8")] for k, v in o.record.headers]),
        )
        for o in outbox
    ]


def _deadline_rows(deadlines: Sequence[tuple[str, Deadline]]) -> list[Row]:
    return [(d.key, d.kind, person, d.ref_id, d.due_on) for person, d in deadlines]


async def _write(conn: asyncpg.Connection, parts: Sequence[_Part], *, notify: bool = False) -> None:
    """The parts with rows, in one statement (one round trip), each part a ``WITH`` of its own.

    Each part writes its own table, and no table is written by two parts (the DELETEs of
    ``_forget_mirrored`` run in a statement before), so the order among the parts changes
    nothing; within a part, rows go in their list's order. NOTIFY (sent on commit) wakes the
    outbox relay."""
    present = [part for part in parts if part.arrays]
    if not present and not notify:
        return
    steps: list[str] = []
    args: list[Any] = []
    for part in present:
        steps.append(part.sql(len(args) + 1))
        args.extend(part.arrays)
    if notify:
        args.append(OUTBOX_CHANNEL)
        last = f"SELECT pg_notify(${len(args)}, '')"
    else:
        last = steps.pop()
    with_ = ", ".join(f"w{i} AS ({step})" for i, step in enumerate(steps))
    await conn.execute(f"WITH {with_} {last}" if with_ else last, *args)


# (column, its type) in the order of the rows' values. ``text[]`` and ``jsonb`` values travel as
# text (``unnest`` would flatten an array of arrays) and are cast; the rest keep their own type.
Columns = tuple[tuple[str, str], ...]
_AS_TEXT = ("text[]", "jsonb")


@dataclass(frozen=True)
class _Table:
    name: str
    columns: Columns
    on_conflict: str  # as the row-by-row statement had it


@dataclass(frozen=True)
class _Part:
    """One statement's worth of a batch: its SQL for parameters from ``$first`` on, and the
    values (one array per column); no arrays when there is nothing to write."""

    sql: Callable[[int], str]
    arrays: list[list[Any]]

    @classmethod
    def insert(cls, table: _Table, rows: Sequence[Row]) -> _Part:
        """``INSERT … SELECT … FROM unnest($1::t[], …) WITH ORDINALITY … ORDER BY n``."""
        arrays = _columns(rows, len(table.columns))
        for i, (_, kind) in enumerate(table.columns if arrays else ()):
            if kind == "text[]":
                arrays[i] = [_text_array_literal(v) for v in arrays[i]]
        return cls(partial(_insert_sql, table), arrays)

    @classmethod
    def files(cls, persons: Sequence[Row]) -> _Part:
        """The changed files: (pseudonym, state, offset, sealed AHV number or ``None``)."""
        return cls(_files_sql, _columns(_merged_file_updates(persons), 4))


def _insert_sql(table: _Table, first: int) -> str:
    names = ", ".join(name for name, _ in table.columns)
    values = ", ".join(
        f"u.{name}::{kind}" if kind in _AS_TEXT else f"u.{name}" for name, kind in table.columns
    )
    arrays = ", ".join(
        f"${n}::text[]" if kind in _AS_TEXT else f"${n}::{kind}[]"
        for n, (_, kind) in enumerate(table.columns, start=first)
    )
    return (
        f"INSERT INTO {table.name} ({names}) SELECT {values}"  # noqa: S608
        f" FROM unnest({arrays}) WITH ORDINALITY AS u({names}, n)"
        f" ORDER BY u.n {table.on_conflict}"
    ).rstrip()


def _files_sql(first: int) -> str:
    a, b, c, d = range(first, first + 4)
    return (
        "UPDATE persons p SET state = u.state::jsonb, last_offset = u.last_offset,"  # noqa: S608
        " sealed_ahv = coalesce(u.sealed_ahv, p.sealed_ahv), updated_at = now()"
        f" FROM unnest(${a}::text[], ${b}::text[], ${c}::bigint[], ${d}::text[])"
        " AS u(pseudonym, state, last_offset, sealed_ahv) WHERE p.pseudonym = u.pseudonym"
    )


CASES = _Table(
    "cases",
    (
        ("case_key", "uuid"),
        ("case_number", "text"),
        ("pseudonym", "text"),
        ("opened_by", "text"),
        ("opened_at", "timestamptz"),
        ("closed_at", "timestamptz"),
        ("outcome", "text"),
        ("projects", "text[]"),
    ),
    "ON CONFLICT (case_key) DO UPDATE SET closed_at = excluded.closed_at,"
    " outcome = excluded.outcome, projects = excluded.projects",
)
PARTICIPANTS = _Table(
    "participants",
    (
        ("pseudonym", "text"),
        ("case_key", "uuid"),
        ("institution", "text"),
        ("role", "text"),
        ("institution_case_ref", "text"),
        ("joined_at", "timestamptz"),
        ("joined_offset", "bigint"),
        ("via_referral", "boolean"),
        ("left_at", "timestamptz"),
    ),
    "",  # the person's rows were deleted first
)
ENGAGEMENTS = _Table(
    "engagements",
    (
        ("institution", "text"),
        ("kind", "text"),
        ("ref_id", "uuid"),
        ("pseudonym", "text"),
        ("case_key", "uuid"),
        ("started_on", "date"),
        ("ended_on", "date"),
    ),
    "ON CONFLICT DO NOTHING",
)
REFERRALS = _Table(
    "referrals",
    (
        ("referral_id", "uuid"),
        ("pseudonym", "text"),
        ("case_key", "uuid"),
        ("from_institution", "text"),
        ("to_institution", "text"),
        ("purpose", "text"),
        ("requested_at", "timestamptz"),
        ("answer_due", "date"),
        ("status", "text"),
        ("answered_at", "timestamptz"),
    ),
    "ON CONFLICT DO NOTHING",
)
CONSENTS = _Table(
    "consents",
    (
        ("consent_id", "uuid"),
        ("pseudonym", "text"),
        ("recorded_by", "text"),
        ("institutions", "text[]"),
        ("categories", "text[]"),
        ("valid_from", "date"),
        ("valid_until", "date"),
        ("document_ref", "text"),
        ("event_id", "uuid"),
        ("bus_offset", "bigint"),
    ),
    "ON CONFLICT DO NOTHING",
)
REVOCATIONS = _Table(
    "consent_revocations",
    (
        ("event_id", "uuid"),
        ("consent_id", "uuid"),
        ("pseudonym", "text"),
        ("recorded_by", "text"),
        ("bus_offset", "bigint"),
        ("revoked_at", "timestamptz"),
    ),
    "ON CONFLICT DO NOTHING",
)
OUTBOX = _Table(
    "outbox",
    (
        ("delivery_id", "uuid"),
        ("lane", "integer"),
        ("topic", "text"),
        ("key", "bytea"),
        ("value", "bytea"),
        ("headers", "jsonb"),
    ),
    "ON CONFLICT (delivery_id) DO NOTHING",
)
DEADLINES = _Table(
    "deadlines",
    (
        ("deadline_key", "text"),
        ("kind", "text"),
        ("pseudonym", "text"),
        ("ref_id", "uuid"),
        ("due_on", "date"),
    ),
    "ON CONFLICT (deadline_key) DO NOTHING",
)
NOTICES = _Table(
    "notices",
    (
        ("notice_id", "uuid"),
        ("event_id", "uuid"),
        ("recipient", "text"),
        ("sender", "text"),
        ("pseudonym", "text"),
        ("case_key", "uuid"),
        ("event_type", "text"),
        ("categories", "text[]"),
        ("articles", "text[]"),
        ("legal_basis_version", "text"),
        ("exchanged_at", "timestamptz"),
    ),
    "ON CONFLICT DO NOTHING",
)
PROCESSED = _Table(
    "processed_events",
    (
        ("event_id", "uuid"),
        ("bus_partition", "integer"),
        ("bus_offset", "bigint"),
        ("outcome", "text"),
    ),
    "ON CONFLICT (event_id) DO NOTHING",
)


def _columns(rows: Sequence[Row], width: int) -> list[list[Any]]:
    """The rows' values, column by column (no columns for no rows)."""
    for row in rows:
        if len(row) != width:
            raise ValueError(f"a row of {len(row)} values for {width} columns")
    return [list(column) for column in zip(*rows, strict=True)]


def _text_array_literal(values: Sequence[str | None] | None) -> str | None:
    """PostgreSQL's text form of a ``text[]``: every element quoted, so any text survives."""
    if values is None:
        return None
    return (
        "{"
        + ",".join(
            "NULL"
            if v is None
            else '"' + str.replace(str.replace(v, "\\", "\\\\"), '"', '\\"') + '"'
            for v in values
        )
        + "}"
    )


def _merged_case_upserts(rows: Sequence[Row]) -> list[Row]:
    """One row per case key, as the row-by-row upserts left it: the first row inserts the case
    (number, person, opener, opening time), the last one's closing, outcome and projects win.
    Each stays where its key came first."""
    merged: dict[Any, Row] = {}
    for row in rows:
        first = merged.get(row[0])
        merged[row[0]] = row if first is None else (*first[:5], *row[5:])
    return list(merged.values())


def _merged_file_updates(rows: Sequence[Row]) -> list[Row]:
    """One update per person, as row-by-row updates left it: the last state and offset, and the
    last sealed AHV number given (``coalesce``: ``None`` keeps the one before)."""
    merged: dict[Any, Row] = {}
    for pseudonym, state, offset, ahv in rows:
        before = merged.get(pseudonym)
        kept = ahv if ahv is not None or before is None else before[3]
        merged[pseudonym] = (pseudonym, state, offset, kept)
    return list(merged.values())
