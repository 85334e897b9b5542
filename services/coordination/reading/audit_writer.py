"""The audit rows of concurrent reads, appended together: group commit for the audit chain.

Every read leaves its audit row before it is answered. The chain has one order: a writer locks
its head until its transaction commits, and each commit waits for the WAL to reach the disk, so
with a transaction per read every read waited for the commits of all the reads queued before it.

``GroupedAuditWriter.append`` queues a read's entries and waits until they are committed. While
one transaction is under way, the entries of every read that arrives meanwhile wait, and the
next transaction appends them all at once. A lone read is written at once, as before: nothing
waits for a batch to fill. A read is answered only after its own rows are durable. If a
group's transaction fails, each of its reads is written again on its own, so one read's rows
(a value the database refuses) fail only that read; a read whose rows cannot be written is
answered with an error, never with data that left no audit row. Stopped (the process shuts
down), the writer fails every read still waiting instead of leaving it waiting.

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
        self._group: list[Waiting] = []  # the group being written
        self._writing: asyncio.Task[None] | None = None

    async def append(self, entries: Sequence[audit.AuditEntry]) -> None:
        """Return once ``entries`` are committed to the audit log (raise if they are not)."""
        if not entries:
            return
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((entries, written))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_all(), name="grouped-audit")
            self._writing.add_done_callback(self._after_writing)
        # A caller that goes away (a closed connection) still has its rows written: shielded.
        await asyncio.shield(written)

    async def _write_all(self) -> None:
        while self._waiting:
            self._group = group = self._take()
            try:
                await self._append([entry for entries, _ in group for entry in entries])
            except Exception as error:
                if len(group) == 1:
                    _settle(group, error)
                else:  # one read's rows must not fail the others': each on its own
                    for one in group:
                        await self._write_alone(one)
            else:
                _settle(group, None)
            self._group = []

    def _after_writing(self, task: asyncio.Task[None]) -> None:
        """Stopped before it was done (cancelled at shutdown, or a bug): no read waits for ever."""
        if task.cancelled() or task.exception() is not None:
            _settle([*self._group, *self._waiting], ConnectionError("the audit writer stopped"))
            self._group = []
            self._waiting.clear()

    async def _write_alone(self, one: Waiting) -> None:
        try:
            await self._append(one[0])
        except Exception as error:
            _settle([one], error)
        else:
            _settle([one], None)

    async def _append(self, rows: Sequence[audit.AuditEntry]) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await audit.append(conn, rows, at=self._clock())

    def _take(self) -> list[Waiting]:
        group: list[Waiting] = []
        count = 0
        while self._waiting and (not group or count + len(self._waiting[0][0]) <= self._most):
            entries, written = self._waiting.popleft()
            group.append((entries, written))
            count += len(entries)
        return group


def _settle(group: Sequence[Waiting], error: BaseException | None) -> None:
    """Answer the reads of a group: written (None), or failed with ``error``."""
    for _, written in group:
        if written.done():
            continue
        if error is None:
            written.set_result(None)
        else:
            written.set_exception(error)
