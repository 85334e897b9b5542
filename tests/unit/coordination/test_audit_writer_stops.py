"""A grouped audit writer that is stopped fails the reads still waiting, never leaves them."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from services.coordination import audit
from services.coordination.reading.audit_writer import GroupedAuditWriter

pytestmark = pytest.mark.unit


class PoolThatNeverAnswers:
    """A pool whose connections never come (a database that hangs)."""

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        await asyncio.Event().wait()
        yield None


async def test_reads_waiting_when_the_writer_is_cancelled_fail_instead_of_waiting_for_ever() -> (
    None
):
    writer = GroupedAuditWriter(PoolThatNeverAnswers(), lambda: dt.datetime.now(dt.UTC))
    entry = audit.AuditEntry(actor="rav/coordinator/eva", action="read-timeline")
    first = asyncio.create_task(writer.append([entry]))
    second = asyncio.create_task(writer.append([entry]))
    await asyncio.sleep(0)  # both reads queue; the writer waits for a connection
    assert writer._writing is not None
    writer._writing.cancel()
    answers = await asyncio.wait_for(asyncio.gather(first, second, return_exceptions=True), 10)
    assert all(isinstance(a, ConnectionError) for a in answers)
