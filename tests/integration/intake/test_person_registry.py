"""The person registry on the real database: random subjects, one person per AHV number even when
two intake instances race, lookups under every pseudonym key version, and tombstones."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import asyncpg
import pytest

from schemas.ahv import AhvNumber, pseudonymise
from services.common.database import asyncpg_dsn, create_pool
from services.common.identity_seal import IdentitySeal
from services.common.keyring import Keyring
from services.common.person_registry import PersonRegistry, tombstone
from services.intake.settings import IntakeSettings
from tests.factories import valid_ahv

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(intake_settings: IntakeSettings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(intake_settings.database_url, intake_settings.intake_db_schema)
    yield pool
    await pool.close()


def registry(
    pool: asyncpg.Pool, settings: IntakeSettings, pseudonyms: Keyring | None = None
) -> PersonRegistry:
    return PersonRegistry(
        pool,
        settings.person_db_schema,
        settings.person_keyring,
        pseudonyms or settings.pseudonym_keyring,
        IdentitySeal.from_settings(settings),
    )


async def test_a_new_person_gets_a_random_subject_and_keeps_it(
    pool: asyncpg.Pool, intake_settings: IntakeSettings
) -> None:
    ahv = AhvNumber(valid_ahv(301))
    people = registry(pool, intake_settings)

    first = await people.resolve([ahv])
    again = await people.resolve([ahv, AhvNumber(valid_ahv(302))])

    subject = first[ahv.digits].subject
    assert re.fullmatch(r"prs:[0-9a-f]{32}", subject)
    assert subject != pseudonymise(ahv, b"x", "k1")  # no function of the AHV number
    assert again[ahv.digits] == first[ahv.digits]
    assert again[valid_ahv(302).replace(".", "")].subject != subject
    assert await people.keys_of([subject, "psn:k1:" + "0" * 32]) == {subject: first[ahv.digits].key}
    row = await pool.fetchrow(
        f'SELECT * FROM "{intake_settings.person_db_schema}".persons WHERE subject = $1',  # noqa: S608
        subject,
    )
    assert row is not None
    assert first[ahv.digits].key not in bytes(row["wrapped_key"])
    assert row["sealed_ahv"].startswith("i1:")


async def test_two_instances_creating_one_person_agree_on_one_subject(
    pool: asyncpg.Pool, intake_settings: IntakeSettings
) -> None:
    ahvs = [AhvNumber(valid_ahv(310 + n)) for n in range(6)]
    a, b = registry(pool, intake_settings), registry(pool, intake_settings)

    left, right = await asyncio.gather(a.resolve(ahvs), b.resolve(list(reversed(ahvs))))

    assert left == right
    count = await pool.fetchval(
        f'SELECT count(*) FROM "{intake_settings.person_db_schema}".persons'  # noqa: S608
        " WHERE subject = ANY($1::text[])",
        [p.subject for p in left.values()],
    )
    assert count == len(ahvs)


async def test_a_person_is_found_under_an_older_pseudonym_key_and_gets_the_current_lookup(
    pool: asyncpg.Pool, intake_settings: IntakeSettings
) -> None:
    ahv = AhvNumber(valid_ahv(320))
    old = Keyring("k1", {"k1": b"old-key"})
    new = Keyring("k2", {"k2": b"new-key", "k1": b"old-key"})
    before = await registry(pool, intake_settings, old).resolve([ahv])

    after = await registry(pool, intake_settings, new).resolve([ahv])

    assert after == before
    lookups = await pool.fetch(
        f'SELECT lookup FROM "{intake_settings.person_db_schema}".lookups WHERE subject = $1',  # noqa: S608
        before[ahv.digits].subject,
    )
    assert {r["lookup"] for r in lookups} == {
        pseudonymise(ahv, b"old-key", "k1"),
        pseudonymise(ahv, b"new-key", "k2"),
    }


async def test_a_tombstoned_person_has_no_key_and_their_number_makes_a_new_person(
    pool: asyncpg.Pool, intake_settings: IntakeSettings
) -> None:
    ahv = AhvNumber(valid_ahv(330))
    people = registry(pool, intake_settings)
    subject = (await people.resolve([ahv]))[ahv.digits].subject

    async with pool.acquire() as conn, conn.transaction():
        await tombstone(conn, intake_settings.person_db_schema, subject)
    reborn = (await people.resolve([ahv]))[ahv.digits].subject

    assert await people.keys_of([subject]) == {subject: None}
    assert await people.subjects_of(ahv) == [reborn]
    assert reborn != subject
    schema = intake_settings.person_db_schema
    row = await pool.fetchrow(f'SELECT * FROM "{schema}".persons WHERE subject = $1', subject)  # noqa: S608
    assert row is not None
    assert row["erased_at"] is not None
    assert (row["wrapped_key"], row["wrap_key_id"], row["sealed_ahv"]) == (None, None, None)
    owner = await asyncpg.connect(asyncpg_dsn(intake_settings.owner_database_url))
    try:
        with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="stays erased"):
            await owner.execute(
                f"UPDATE \"{schema}\".persons SET sealed_ahv = 'x' WHERE subject = $1",  # noqa: S608
                subject,
            )
    finally:
        await owner.close()


async def test_the_service_role_cannot_delete_a_person(
    pool: asyncpg.Pool, intake_settings: IntakeSettings
) -> None:
    # infra/local and the compose file give the services a role of their own (no skip: a
    # setup without it is a wrong setup, and this test says so)
    assert intake_settings.database_url != intake_settings.owner_database_url
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await pool.execute(f'DELETE FROM "{intake_settings.person_db_schema}".persons')  # noqa: S608


async def waiting_for(pool: asyncpg.Pool, blocker: asyncpg.Connection) -> None:
    """Until some session waits for a lock ``blocker`` holds (the race is then set up)."""
    pid = blocker.get_server_pid()
    for _ in range(300):
        if await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", pid
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("nobody waited for the erasure's locks")


async def test_no_lookup_can_name_an_erased_person_even_one_erased_concurrently(
    pool: asyncpg.Pool, intake_settings: IntakeSettings
) -> None:
    schema = intake_settings.person_db_schema
    erased, busy = AhvNumber(valid_ahv(340)), AhvNumber(valid_ahv(341))
    people = registry(pool, intake_settings)
    found = await people.resolve([erased, busy])
    gone, live = found[erased.digits].subject, found[busy.digits].subject
    async with pool.acquire() as conn, conn.transaction():
        await tombstone(conn, schema, gone)
    insert = f'INSERT INTO "{schema}".lookups (lookup, subject) VALUES ($1, $2)'  # noqa: S608

    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="erased person"):
        await pool.execute(insert, "psn:k9:" + "1" * 32, gone)

    # An erasure in progress: the lookup waits for it, then is refused.
    async with pool.acquire() as erasing:
        transaction = erasing.transaction()
        await transaction.start()
        await tombstone(erasing, schema, live)
        adding = asyncio.create_task(pool.execute(insert, "psn:k9:" + "2" * 32, live))
        await waiting_for(pool, erasing)
        await transaction.commit()
        with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="erased person"):
            await adding
    left = await pool.fetchval(
        f'SELECT count(*) FROM "{schema}".lookups WHERE subject = ANY($1::text[])',  # noqa: S608
        [gone, live],
    )
    assert left == 0


async def test_resolve_adding_a_current_lookup_does_not_race_an_erasure(
    pool: asyncpg.Pool, intake_settings: IntakeSettings
) -> None:
    schema = intake_settings.person_db_schema
    ahv = AhvNumber(valid_ahv(342))
    old = Keyring("k1", {"k1": b"old-key"})
    new = Keyring("k2", {"k2": b"new-key", "k1": b"old-key"})
    subject = (await registry(pool, intake_settings, old).resolve([ahv]))[ahv.digits].subject

    # The person is erased while intake (on the new pseudonym key) finds them under the old
    # lookup and adds the current one: it waits, sees the tombstone, and makes a new person.
    async with pool.acquire() as erasing:
        transaction = erasing.transaction()
        await transaction.start()
        await tombstone(erasing, schema, subject)
        resolving = asyncio.create_task(registry(pool, intake_settings, new).resolve([ahv]))
        await waiting_for(pool, erasing)
        await transaction.commit()
        reborn = (await resolving)[ahv.digits].subject

    assert reborn != subject
    rows = await pool.fetch(
        f'SELECT lookup, subject FROM "{schema}".lookups WHERE subject = ANY($1::text[])',  # noqa: S608
        [subject, reborn],
    )
    assert {r["subject"] for r in rows} == {reborn}
    assert await registry(pool, intake_settings, new).subjects_of(ahv) == [reborn]
