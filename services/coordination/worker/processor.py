"""One batch of ``iiz.case-events.v1``: compute every effect, write it in one transaction.

Ack policy (the consumer edge commits the batch's offsets only after ``process`` returns):
1. decode every record; one that is not a valid canonical event is poison;
2. one PostgreSQL transaction: lock the batch's persons and read which events were processed
   before (by id); fold the rest in offset order and decide (pure, ``batch.py``); issue the
   new cases' numbers; write the one ``BatchEffects`` value — timeline, decisions, read
   models, outbox rows, deadlines, notices, processed marks, files and audit entries;
3. after the commit, (re)send the dead letter of every poison record in the batch — also of
   those a crashed earlier attempt recorded — so a dead letter is never lost between commit and
   offset; a resent one carries the same id.
A crash anywhere before the offset commit redoes the batch: the processed marks make the redo
change nothing, and derived delivery ids keep the outbox at one row per delivery.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaProducer

from schemas.registry.institutions import InstitutionRegistry
from services.common.identity_seal import IdentitySeal
from services.common.keyring import Keyring
from services.common.person_registry import keys_of
from services.common.record_seal import subject_of
from services.coordination.clock import Clock
from services.coordination.domain.policy import LegalBasisMatrix, World
from services.coordination.domain.rules import RuleSettings
from services.coordination.worker import store
from services.coordination.worker.batch import (
    BatchContext,
    Decoded,
    batch_effects,
    decode,
    first_positions,
    fold_batch,
    open_sealed,
)
from services.coordination.worker.dead_letters import send_dead_letters
from services.coordination.worker.effects import BatchReport, BusRecord, Poison


@dataclass(frozen=True)
class Collaborators:
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    registry: InstitutionRegistry
    matrix: LegalBasisMatrix
    rules: RuleSettings
    seal: IdentitySeal
    lanes: int
    max_event_bytes: int
    clock: Clock  # stamps the batch's audit entries
    person_schema: str  # the person registry (crypto-shredding): whose key opens a record
    person_keyring: Keyring


class BatchProcessor:
    def __init__(self, parts: Collaborators, *, replay: bool = False) -> None:
        self._parts = parts
        self._context = BatchContext(
            world=World(
                kinds={i.id: i.kind for i in parts.registry.institutions},
                consents=(),
                matrix=parts.matrix,
                grace=parts.rules.grace,
            ),
            rules=parts.rules,
            lanes=parts.lanes,
            max_event_bytes=parts.max_event_bytes,
            replay=replay,
        )

    async def process(self, records: Sequence[BusRecord]) -> BatchReport:
        subjects = {s for r in records if (s := subject_of(r.headers)) is not None}
        # One connection for the batch: the keys are read on it (before the transaction and its
        # locks, as ever: an erasure in between is found under the locks, ``_commit``), then
        # the transaction runs on it.
        async with self._parts.pool.acquire() as conn:
            keys = await keys_of(
                conn, self._parts.person_schema, self._parts.person_keyring, subjects
            )
            opened = open_sealed(records, keys)
            decoded, poison = decode(opened.records, self._context)
            report = await self._commit(conn, decoded, [*opened.poison, *poison])
        return dataclasses.replace(report, erased=len(opened.erased))

    async def reject(self, record: BusRecord, reason: str, message: str) -> BatchReport:
        """Dead-letter a record that failed on its own (found by the consumer edge)."""
        async with self._parts.pool.acquire() as conn:
            return await self._commit(conn, [], [Poison(record, reason, message)])

    async def _commit(
        self, conn: asyncpg.Connection, decoded: list[Decoded], poison: list[Poison]
    ) -> BatchReport:
        ids = [e.id for _, e in decoded] + [p.record.poison_id for p in poison]
        async with conn.transaction():
            persons = first_positions(decoded)
            files = await store.lock_files(conn, persons) if persons else {}
            # Erased after this batch read their keys: the erasure holds (or held) the same locks,
            # so the tombstone is visible now, and nothing of theirs may be written again.
            poisoned = {s for p in poison if (s := subject_of(p.record.headers)) is not None}
            seen, erased = await store.processed_and_erased(
                conn, ids, self._parts.person_schema, {*files, *poisoned}
            )
            if erased:
                decoded = [d for d in decoded if str(d[1].subject) not in erased]
                poison = [p for p in poison if subject_of(p.record.headers) not in erased]
                files = {p: f for p, f in files.items() if p not in erased}
                await store.forget_files(conn, erased)
            folded = fold_batch(decoded, poison, files, seen, self._context)
            numbers = await store.issue_case_numbers(conn, folded.cases())
            effects = batch_effects(folded, numbers, self._context, at=self._parts.clock())
            await store.write_batch(conn, effects)
        await send_dead_letters(self._parts.producer, self._parts.seal, effects.dead_letters)
        return effects.report
