"""Intake's ledger of accepted submissions: the memory that tells a resubmission apart.

Ids only, no personal data. Rows are written right after the Kafka transaction commits, never
while it is open: holding row locks across a Kafka transaction let one stalled instance block
every other. A crash in between can at worst forget a row (a resubmission is then published
again with the same canonical id, which consumers dedupe) — never claim an unpublished event.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

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

    async def record(self, entries: list[tuple[uuid.UUID, str, str, str]]) -> None:
        """Remember accepted submissions: (canonical id, source, original id, channel)."""
        if entries:
            await self._pool.executemany(
                "INSERT INTO submission_ledger (canonical_id, source, original_id, channel) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (canonical_id) DO NOTHING",
                entries,
            )
