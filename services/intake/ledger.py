"""Intake's ledger of accepted submissions: the memory that tells a resubmission apart.

Ids only, no personal data. Rows are written right after the Kafka transaction commits, never
while it is open: holding row locks across a Kafka transaction let one stalled instance block
every other. A crash in between can at worst forget a row (a resubmission is then published
again with the same canonical id, which consumers dedupe) — never claim an unpublished event.

The queries are written against the table's one definition (``services/intake/tables.py``) and
compiled once, here, for the asyncpg pool (``services/common/sql.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import asyncpg
from sqlalchemy import any_, bindparam, func
from sqlalchemy.dialects.postgresql import ARRAY, TEXT, UUID, insert
from sqlmodel import col, select

from services.common.sql import asyncpg_query
from services.intake import tables

_LEDGER = tables.SubmissionLedger  # the table; ``SubmissionLedger`` below is the service's door
KNOWN = asyncpg_query(
    select(col(_LEDGER.canonical_id)).where(
        col(_LEDGER.canonical_id) == any_(bindparam("ids", type_=ARRAY(UUID(as_uuid=True))))
    )
)
# One statement per batch (``unnest`` of one array per column), not one per row; the same
# conflict handling as a row at a time.
_ROWS = (
    func.unnest(
        bindparam("canonical_ids", type_=ARRAY(UUID(as_uuid=True))),
        bindparam("sources", type_=ARRAY(TEXT)),
        bindparam("original_ids", type_=ARRAY(TEXT)),
        bindparam("channels", type_=ARRAY(TEXT)),
    )
    .table_valued("canonical_id", "source", "original_id", "channel")
    .render_derived()
)
RECORD = asyncpg_query(
    insert(_LEDGER)
    .from_select(
        ["canonical_id", "source", "original_id", "channel"],
        select(_ROWS.c.canonical_id, _ROWS.c.source, _ROWS.c.original_id, _ROWS.c.channel),
    )
    .on_conflict_do_nothing(index_elements=[col(_LEDGER.canonical_id)])
)


class SubmissionLedger:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def known(self, canonical_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        ids = list(canonical_ids)
        if not ids:
            return set()
        rows = await self._pool.fetch(KNOWN.sql, *KNOWN.args(ids=ids))
        return {row["canonical_id"] for row in rows}

    async def record(self, entries: list[tuple[uuid.UUID, str, str, str]]) -> None:
        """Remember accepted submissions: (canonical id, source, original id, channel)."""
        if entries:
            ids, sources, originals, channels = (list(c) for c in zip(*entries, strict=True))
            await self._pool.execute(
                RECORD.sql,
                *RECORD.args(
                    canonical_ids=ids, sources=sources, original_ids=originals, channels=channels
                ),
            )
