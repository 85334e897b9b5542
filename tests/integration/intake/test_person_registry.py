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
    if intake_settings.database_url == intake_settings.owner_database_url:
        pytest.skip("the services connect as the owner here: nothing is granted")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await pool.execute(f'DELETE FROM "{intake_settings.person_db_schema}".persons')  # noqa: S608
