"""Intake's ledger of accepted submissions: the memory that tells a resubmission apart.

Ids only, no personal data. Written in the same breath as the Kafka transaction: the row is
committed only after the canonical event is, so a crash can at worst forget a row (and the
resubmission is then published again with the same canonical id, which consumers dedupe).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import asyncpg


class SubmissionLedger:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def known(self, canonical_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        ids = list(canonical_ids)
        if not ids:
            return set()
        rows = await self._pool.fetch(
            "SELECT canonical_id FROM submission_ledger WHERE canonical_id = ANY($1::uuid[])", ids
        )
        return {row["canonical_id"] for row in rows}

    @asynccontextmanager
    async def recording(
        self, entries: list[tuple[uuid.UUID, str, str, str]]
    ) -> AsyncIterator[None]:
        """Insert (canonical id, source, original id, channel) rows; commit when the block ends."""
        async with self._pool.acquire() as conn, conn.transaction():
            if entries:
                await conn.executemany(
                    "INSERT INTO submission_ledger (canonical_id, source, original_id, channel) "
                    "VALUES ($1, $2, $3, $4) ON CONFLICT (canonical_id) DO NOTHING",
                    entries,
                )
            yield
