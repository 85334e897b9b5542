"""Concurrent reads' audit rows are committed together, in one intact chain, before each read
is answered; rows the database refuses fail only their own read."""

from __future__ import annotations

import asyncio
import datetime as dt

import asyncpg
import pytest

from services.coordination import audit
from services.coordination.reading.audit_writer import GroupedAuditWriter

pytestmark = pytest.mark.integration

AT = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)


def read_of(n: int) -> audit.AuditEntry:
    return audit.AuditEntry(
        actor="rav/coordinator/eva", action="read-timeline", object=f"IIZ-{n}", purpose="test"
    )


async def test_every_read_s_row_is_committed_when_its_append_returns(db: asyncpg.Pool) -> None:
    writer = GroupedAuditWriter(db, lambda: AT)

    async def read_and_look(n: int) -> bool:
        await writer.append([read_of(n)])
        async with db.acquire() as other:  # another connection sees only what is committed
            found = await other.fetchval(
                "SELECT count(*) FROM audit_log WHERE object = $1", f"IIZ-{n}"
            )
        return bool(found == 1)

    assert all(await asyncio.gather(*(read_and_look(n) for n in range(60))))


async def test_concurrent_reads_share_transactions_and_the_chain_stays_intact(
    db: asyncpg.Pool,
) -> None:
    writer = GroupedAuditWriter(db, lambda: AT)
    await asyncio.gather(*(writer.append([read_of(n)]) for n in range(200)))
    rows = await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'read-timeline'")
    # Rows written by one transaction share its xmin.
    transactions = await db.fetchval(
        "SELECT count(DISTINCT xmin::text) FROM audit_log WHERE action = 'read-timeline'"
    )
    assert rows == 200
    assert transactions < 200
    assert (await audit.verify(db)).intact


async def test_a_lone_read_does_not_wait_for_others(db: asyncpg.Pool) -> None:
    writer = GroupedAuditWriter(db, lambda: AT)
    await asyncio.wait_for(writer.append([read_of(1)]), timeout=30)
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE object = 'IIZ-1'") == 1


async def test_rows_the_database_refuses_fail_only_their_own_read(db: asyncpg.Pool) -> None:
    writer = GroupedAuditWriter(db, lambda: AT)
    unwritable = audit.AuditEntry(actor="x", action="read-case", detail={"bad": "\x00"})
    answers = await asyncio.gather(
        writer.append([read_of(1)]),
        writer.append([unwritable]),
        writer.append([read_of(2)]),
        return_exceptions=True,
    )
    assert answers[0] is None
    assert isinstance(answers[1], asyncpg.PostgresError)
    assert answers[2] is None
    written = await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'read-timeline'")
    assert written == 2
    assert (await audit.verify(db)).intact
