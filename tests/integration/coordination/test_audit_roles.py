"""The audit log cannot be rewritten by its writer: the services' database role may append
through the chain and read, nothing else. Migrations run as the owner, which is another role."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.common.database import create_pool, database_user
from services.coordination import audit
from services.coordination.ops.migrate import migrate
from services.coordination.settings import CoordinationSettings

AT = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
async def owner(coordination_settings: CoordinationSettings) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the test's schema as the schema owner (who ran the migrations)."""
    s = coordination_settings
    pool = await create_pool(s.owner_database_url, s.coordination_db_schema)
    yield pool
    await pool.close()


def entries(count: int, action: str = "read-case") -> list[audit.AuditEntry]:
    return [
        audit.AuditEntry(actor="rav/coordinator/t", action=action, object=f"IIZ-2026-{n:06d}")
        for n in range(count)
    ]


async def append(pool: asyncpg.Pool, count: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await audit.append(conn, entries(count), at=AT)


async def test_the_service_role_is_not_the_owner(
    coordination_settings: CoordinationSettings, db: asyncpg.Pool, owner: asyncpg.Pool
) -> None:
    service = database_user(coordination_settings.database_url)
    assert service is not None
    assert service != database_user(coordination_settings.owner_database_url)
    assert await db.fetchval("SELECT current_user") == service
    owners = await owner.fetch(
        "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = current_schema()"
    )
    assert [r["tableowner"] for r in owners] == [await owner.fetchval("SELECT current_user")]
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db.execute("CREATE TABLE shadow (x int)")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'someone' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 1",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "UPDATE audit_head SET seq = 0, hash = repeat('0', 64)",
        "DELETE FROM audit_head",
        "INSERT INTO audit_head (id, seq, hash) VALUES (true, 0, repeat('0', 64))",
        "TRUNCATE audit_head",
        "SELECT seq FROM audit_head FOR UPDATE",
        "ALTER TABLE audit_log DISABLE TRIGGER USER",
        "DROP TRIGGER audit_log_chain ON audit_log",
        "DROP TABLE audit_log",
        "SELECT audit_log_advance_head()",
    ],
)
async def test_the_service_role_may_not_change_the_log_or_write_the_head(
    db: asyncpg.Pool, statement: str
) -> None:
    await append(db, 3)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db.execute(statement)
    assert await db.fetchval("SELECT count(*) FROM audit_log") == 3
    assert await db.fetchval("SELECT seq FROM audit_head") == 3
    assert (await audit.verify(db)).intact


async def test_appending_through_the_chain_advances_the_head(db: asyncpg.Pool) -> None:
    await append(db, 4)
    await append(db, 1)
    head = await db.fetchrow("SELECT seq, hash FROM audit_head")
    last = await db.fetchrow("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    assert (head["seq"], head["hash"]) == (5, last["hash"])
    assert (await audit.verify(db)).intact


def _row(seq: int, prev: str) -> tuple[object, ...]:
    entry = entries(1, "forged")[0]
    digest = audit.link_hash(seq, AT, entry, prev)
    return (seq, AT, entry.actor, entry.action, entry.object, prev, digest)


INSERT = (
    "INSERT INTO audit_log (seq, at, actor, action, object, detail, prev_hash, hash)"
    " VALUES ($1, $2, $3, $4, $5, '{}'::jsonb, $6, $7)"
)


async def test_an_append_that_does_not_continue_the_head_is_refused(db: asyncpg.Pool) -> None:
    await append(db, 3)
    head = await db.fetchrow("SELECT seq, hash FROM audit_head")
    refused = {
        "wrong previous hash": (_row(4, "f" * 64), "does not continue the chain"),
        "a row skipped": (_row(5, head["hash"]), "does not continue the chain"),
        "a row rewritten": (_row(3, head["hash"]), "duplicate key"),
    }
    for case, (row, reason) in refused.items():
        with pytest.raises(asyncpg.IntegrityConstraintViolationError, match=reason):
            await db.execute(INSERT, *row)
        assert await db.fetchval("SELECT seq FROM audit_head") == 3, case
    assert await db.fetchval("SELECT seq FROM audit_head") == 3
    assert await db.fetchval("SELECT count(*) FROM audit_log") == 3

    await db.execute(INSERT, *_row(4, head["hash"]))  # one that follows the head is taken
    assert await db.fetchval("SELECT seq FROM audit_head") == 4
    assert (await audit.verify(db)).intact


async def test_not_even_the_owner_truncates_the_log_without_dropping_its_trigger(
    db: asyncpg.Pool, owner: asyncpg.Pool
) -> None:
    await append(db, 2)
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await owner.execute("TRUNCATE audit_log")
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await owner.execute("DELETE FROM audit_log")
    assert await db.fetchval("SELECT count(*) FROM audit_log") == 2


async def test_a_function_added_later_is_not_executable_by_the_service_role(
    coordination_settings: CoordinationSettings, db: asyncpg.Pool, owner: asyncpg.Pool
) -> None:
    """PostgreSQL lets PUBLIC execute every new function; a SECURITY DEFINER one runs with the
    owner's rights. The next migrate takes that away unless the function is declared."""
    await owner.execute(
        "CREATE FUNCTION owners_power() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'"
    )
    await migrate(coordination_settings)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db.fetchval("SELECT owners_power()")
    assert await db.fetchval("SELECT seq FROM audit_lock_head()") == 0  # declared: still works
