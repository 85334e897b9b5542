"""The database as a reader of cases meets it: one read-only snapshot per request, and the audit
row each read leaves, committed before the read is answered and stamped by the injected clock
(concurrent reads' rows in one transaction: ``audit_writer``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from services.coordination import audit
from services.coordination.clock import Clock, swiss_today
from services.coordination.domain.policy import World
from services.coordination.domain.rules import RuleSettings
from services.coordination.reading.audit_writer import GroupedAuditWriter


@dataclass(frozen=True)
class ReadStore:
    """What reading a case needs: the pool, the policy's world, the rules and a clock (and the
    day fixed for simulated time, if any)."""

    pool: asyncpg.Pool
    world: World  # registry kinds and legal-basis matrix (consents come from each file)
    rules: RuleSettings
    clock: Clock
    fixed_today: dt.date | None = None  # IIZ_COORDINATION_TODAY
    audit_writer: GroupedAuditWriter | None = None  # group commit; None: a transaction per read

    def today(self) -> dt.date:
        """The day reads judge overdue, active and parallel on (Europe/Zurich)."""
        return swiss_today(self.clock, self.fixed_today)

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[asyncpg.Connection]:
        """One consistent, read-only view for all of a request's reads."""
        async with (
            self.pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            yield conn

    async def record(self, *entries: audit.AuditEntry) -> None:
        """Append a read's audit rows (a list's: one per person) and wait until they are
        committed, outside any read snapshot (a request holds at most one connection at a time):
        with the concurrent reads' rows through ``audit_writer``, else in a transaction of its
        own."""
        if self.audit_writer is not None:
            await self.audit_writer.append(entries)
            return
        async with self.pool.acquire() as conn, conn.transaction():
            await audit.append(conn, entries, at=self.clock())
