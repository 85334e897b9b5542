"""One statement per batch for the ledger's rows and the registry's new persons, with the same
conflict handling as a row at a time: a person another instance claims first is theirs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from schemas.ahv import AhvNumber
from services.common.database import create_pool
from services.common.identity_seal import IdentitySeal
from services.common.person_registry import (
    PersonKey,
    PersonRegistry,
    lookups_of,
    new_subject,
    wrap_key,
)
from services.intake.ledger import SubmissionLedger
from services.intake.settings import IntakeSettings
from tests.factories import valid_ahv

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(intake_settings: IntakeSettings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(intake_settings.database_url, intake_settings.intake_db_schema)
    yield pool
    await pool.close()


def registry(pool: asyncpg.Pool, settings: IntakeSettings) -> PersonRegistry:
    return PersonRegistry(
        pool,
        settings.person_db_schema,
        settings.person_keyring,
        settings.pseudonym_keyring,
        IdentitySeal.from_settings(settings),
    )


async def test_the_ledger_records_a_batch_in_one_statement_and_skips_known_ids(
    pool: asyncpg.Pool,
) -> None:
    ledger = SubmissionLedger(pool)
    first = [(uuid.uuid4(), "/iiz/bl/rav", f"o-{n}", f"kafka:t/0/{n}") for n in range(3)]
    again = [(first[0][0], "/other", "changed", "http:x"), (uuid.uuid4(), "/iiz/bl/iv", "", "h")]

    await ledger.record(first)
    await ledger.record(again)
    await ledger.record([])

    rows = await pool.fetch(
        "SELECT canonical_id, source, original_id, channel FROM submission_ledger"
        " WHERE canonical_id = ANY($1::uuid[])",
        [i for i, *_ in first + again],
    )
    assert sorted(tuple(r) for r in rows) == sorted([*first, again[1]])  # the first row stays
    assert await ledger.known([first[1][0], uuid.uuid4()]) == {first[1][0]}


async def test_new_persons_come_back_with_the_keys_just_made(
    pool: asyncpg.Pool, intake_settings: IntakeSettings
) -> None:
    ahvs = [AhvNumber(valid_ahv(4100 + n)) for n in range(5)]
    people = registry(pool, intake_settings)

    created = await people.resolve(ahvs)
    found = await people.resolve(ahvs)

    assert created == found
    assert len({p.subject for p in created.values()}) == len(ahvs)
    keys = await people.keys_of(p.subject for p in created.values())
    assert keys == {p.subject: p.key for p in created.values()}


async def test_a_person_another_instance_claims_first_is_the_winners_in_a_mixed_batch(
    pool: asyncpg.Pool, intake_settings: IntakeSettings
) -> None:
    contested, free = AhvNumber(valid_ahv(4200)), AhvNumber(valid_ahv(4201))
    schema = intake_settings.person_db_schema
    subject, key = new_subject(), AESGCM.generate_key(256)
    wrapped, key_id = wrap_key(intake_settings.person_keyring, subject, key)
    seal = IdentitySeal.from_settings(intake_settings)
    lookup = lookups_of(contested, intake_settings.pseudonym_keyring)[0]

    async with pool.acquire() as winner:
        claim = winner.transaction()
        await claim.start()
        await winner.execute(
            f'INSERT INTO "{schema}".lookups (lookup, subject) VALUES ($1, $2)',  # noqa: S608
            lookup,
            subject,
        )
        await winner.execute(
            f'INSERT INTO "{schema}".persons (subject, wrapped_key, wrap_key_id, sealed_ahv)'  # noqa: S608
            " VALUES ($1, $2, $3, $4)",
            subject,
            wrapped,
            key_id,
            seal.seal(contested),
        )
        # The loser's claim waits on the winner's uncommitted lookup, then loses to it.
        loser = asyncio.create_task(registry(pool, intake_settings).resolve([free, contested]))
        await asyncio.sleep(0.5)
        assert not loser.done()
        await claim.commit()
        resolved = await loser

    assert resolved[contested.digits] == PersonKey(subject, key)
    assert resolved[free.digits].subject not in {subject}
    again = await registry(pool, intake_settings).resolve([free, contested])
    assert again == resolved
