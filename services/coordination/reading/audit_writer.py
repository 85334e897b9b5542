"""The audit rows of concurrent reads, appended together: group commit for the audit chain.

Every read leaves its audit row before it is answered. The chain has one order: a writer locks
its head until its transaction commits, and each commit waits for the WAL to reach the disk, so
with a transaction per read every read waited for the commits of all the reads queued before it.

``GroupedAuditWriter.append`` queues a read's entries and waits until they are committed. While
one transaction is under way, the entries of every read that arrives meanwhile wait, and the
next transaction appends them all at once. A lone read is written at once, as before: nothing
waits for a batch to fill. A read is answered only after its own rows are durable; if their
transaction fails, every read in it fails (the caller answers with an error, never with data
that left no audit row).

Measured (docs/benchmarks.md, issue 19), A/B on the same code: 100 clients reading once a
second each answered with p99 25-37 ms instead of 46-72 ms. Saturated (100 clients reading
without a pause) it answers in bursts, one group at a time, and reads about a quarter fewer per
second (88 instead of 115): that case is served by more API processes
(``IIZ_COORDINATION_API_WORKERS``), not by one.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence

import asyncpg

from services.coordination import audit
from services.coordination.clock import Clock

Waiting = tuple[Sequence[audit.AuditEntry], "asyncio.Future[None]"]


class GroupedAuditWriter:
    def __init__(self, pool: asyncpg.Pool, clock: Clock, *, most: int = 1000) -> None:
        self._pool = pool
        self._clock = clock
        self._most = most  # entries per transaction at most
        self._waiting: deque[Waiting] = deque()
        self._writing: asyncio.Task[None] | None = None

    async def append(self, entries: Sequence[audit.AuditEntry]) -> None:
        """Return once ``entries`` are committed to the audit log (raise if they are not)."""
        if not entries:
            return
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((entries, written))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_all(), name="grouped-audit")
        # A caller that goes away (a closed connection) still has its rows written: shielded.
        await asyncio.shield(written)

    async def _write_all(self) -> None:
        while self._waiting:
            group = self._take()
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    rows = [entry for entries, _ in group for entry in entries]
                    await audit.append(conn, rows, at=self._clock())
            except Exception as error:  # every read of the group fails; none is answered
                for _, written in group:
                    if not written.done():
                        written.set_exception(error)
            else:
                for _, written in group:
                    if not written.done():
                        written.set_result(None)

    def _take(self) -> list[Waiting]:
        group: list[Waiting] = []
        count = 0
        while self._waiting and (not group or count + len(self._waiting[0][0]) <= self._most):
            entries, written = self._waiting.popleft()
            group.append((entries, written))
            count += len(entries)
        return group
