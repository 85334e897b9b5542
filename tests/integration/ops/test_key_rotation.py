"""Key rotation on the real database: rows written under k1/i1/p1/d1, the settings rotated to
k2/i2/p2/d2 with the old keys as previous ones, ``rekey`` (interrupted once, then run again)
moves every row while readers keep finding persons, and with the old keys retired everything
still opens and is found."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from schemas.ahv import AhvNumber
from services.common.database import asyncpg_dsn, create_pool
from services.common.document_seal import DocumentSeal
from services.common.document_store import StoredDocument, fetch, store
from services.common.identity_seal import IdentitySeal
from services.common.person_registry import PersonRegistry
from services.coordination.ops.migrate import migrate as migrate_coordination
from services.coordination.settings import CoordinationSettings
from services.intake.migrate import migrate as migrate_intake
from services.intake.settings import IntakeSettings
from services.ops.keys import (
    KINDS,
    KeysSettings,
    key_status,
    rekey,
    retirement_advice,
)
from services.ops.keys_stores import DOCUMENT, IDENTITY, PERSON, PSEUDONYM, Moved, Store
from tests.ahv_scan import find_valid_ahv_numbers
from tests.factories import valid_ahv
from tests.infra import Infra

PERSONS = 5
CONTENT = b"%PDF-1.7\nBescheinigung\n%%EOF\n"


class RunInterruptedError(Exception):
    """Stands in for an operator's Ctrl-C or a lost connection halfway through a run."""


@dataclass
class Stored:
    ahvs: list[AhvNumber]
    subjects: dict[str, str]  # digits → subject
    person_keys: dict[str, bytes]  # subject → key
    documents: list[uuid.UUID]


@pytest.fixture
async def v1(infra: Infra) -> AsyncIterator[KeysSettings]:
    """Settings under the first key versions (the development keys: k1, i1, p1, d1), with a
    migrated coordination schema, person registry and document store of their own."""
    suffix = uuid.uuid4().hex[:10]
    schemas: dict[str, Any] = {
        "coordination_db_schema": f"coordination_{suffix}",
        "person_db_schema": f"persons_{suffix}",
        "document_db_schema": f"documents_{suffix}",
    }
    common: dict[str, Any] = {"environment": "test", "database_url": infra.database_url}
    await migrate_coordination(CoordinationSettings(**common, **schemas))
    await migrate_intake(IntakeSettings(**common, **schemas, intake_db_schema=f"intake_{suffix}"))
    yield KeysSettings(**common, **schemas)
    conn = await asyncpg.connect(asyncpg_dsn(infra.migration_database_url))
    for schema in [*schemas.values(), f"intake_{suffix}"]:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    await conn.close()


def rotated(v1: KeysSettings, *, keep_previous: bool) -> KeysSettings:
    """The same deployment after a rotation to k2/i2/p2/d2; the old keys still held, or retired."""
    new = {
        "pseudonym_key": SecretStr("second-pseudonym-key-for-the-rotation-test"),
        "pseudonym_key_id": "k2",
        "identity_key": SecretStr(I2),
        "identity_key_id": "i2",
        "person_key": SecretStr(P2),
        "person_key_id": "p2",
        "document_key": SecretStr(D2),
        "document_key_id": "d2",
    }
    previous = {
        "pseudonym_previous_keys": {"k1": v1.pseudonym_key},
        "identity_previous_keys": {"i1": v1.identity_key},
        "person_previous_keys": {"p1": v1.person_key},
        "document_previous_keys": {"d1": v1.document_key},
    }
    return v1.model_copy(update={**new, **(previous if keep_previous else {})})


I2 = Fernet.generate_key().decode()
P2 = base64.urlsafe_b64encode(os.urandom(32)).decode()
D2 = base64.urlsafe_b64encode(os.urandom(32)).decode()


def registry(settings: KeysSettings, pool: asyncpg.Pool) -> PersonRegistry:
    return PersonRegistry(
        pool,
        settings.person_db_schema,
        settings.person_keyring,
        settings.pseudonym_keyring,
        IdentitySeal.from_settings(settings),
    )


async def write_under_v1(v1: KeysSettings, pool: asyncpg.Pool) -> Stored:
    """Persons, their coordination rows and deliveries, and documents, as the services would."""
    ahvs = [AhvNumber(valid_ahv(1700 + i)) for i in range(PERSONS)]
    resolved = await registry(v1, pool).resolve(ahvs)
    seal, documents = IdentitySeal.from_settings(v1), DocumentSeal.from_settings(v1)
    subjects = {digits: p.subject for digits, p in resolved.items()}
    c = v1.coordination_db_schema
    for index, ahv in enumerate(ahvs):
        subject = subjects[ahv.digits]
        await pool.execute(
            f'INSERT INTO "{c}".persons'  # noqa: S608 - a test's own schema
            " (pseudonym, sealed_ahv, state, bus_partition, last_offset)"
            " VALUES ($1, $2, '{}', 0, $3)",
            subject,
            seal.seal(ahv),
            index,
        )
        data = {"person": {"case_ref": f"RAV-{index}", "sealed_ahv": seal.seal(ahv)}, "n": index}
        await pool.execute(
            f'INSERT INTO "{c}".outbox'  # noqa: S608
            " (delivery_id, lane, topic, key, value, headers, published_at)"
            " VALUES ($1, 0, 'iiz.deliveries.v1', $2, $3, $4::jsonb,"
            " CASE WHEN $5 THEN now() END)",
            uuid.uuid4(),
            f"iv/{subject}".encode(),
            json.dumps(data, separators=(",", ":")).encode(),
            json.dumps([["ce_subject", subject], ["ce_type", "ch.bl.iiz.case.opened.v1"]]),
            index % 2 == 0,  # published ones and waiting ones
        )
    await pool.execute(  # a delivery without identity: not touched
        f'INSERT INTO "{c}".outbox (delivery_id, lane, topic, key, value, headers)'  # noqa: S608
        " VALUES ($1, 0, 'iiz.deliveries.v1', NULL, $2, '[]'::jsonb)",
        uuid.uuid4(),
        b'{"person":{"case_ref":"X"}}',
    )
    stored_documents = []
    for index in range(3):
        document_id = uuid.uuid4()
        await store(
            pool,
            v1.document_db_schema,
            StoredDocument(
                document_id,
                subjects[ahvs[index].digits],
                "sd-liestal",
                "application/pdf",
                len(CONTENT),
                hashlib.sha256(CONTENT).hexdigest(),
                documents.seal(document_id, CONTENT),
            ),
        )
        stored_documents.append(document_id)
    keys = {p.subject: p.key for p in resolved.values()}
    return Stored(ahvs, subjects, keys, stored_documents)


async def assert_everything_opens(settings: KeysSettings, pool: asyncpg.Pool, s: Stored) -> None:
    """Found by AHV number, keys unwrapped, AHV numbers and documents opened: under `settings`."""
    persons = registry(settings, pool)
    seal = IdentitySeal.from_settings(settings)
    for ahv in s.ahvs:
        assert await persons.subjects_of(ahv) == [s.subjects[ahv.digits]]
    assert await persons.keys_of(s.person_keys) == s.person_keys
    c = settings.coordination_db_schema
    for row in await pool.fetch(f'SELECT pseudonym, sealed_ahv FROM "{c}".persons'):  # noqa: S608
        assert s.subjects[seal.unseal(row["sealed_ahv"]).digits] == row["pseudonym"]
    rows = await pool.fetch(f'SELECT value FROM "{c}".outbox')  # noqa: S608
    values = [json.loads(r["value"]) for r in rows]
    sealed = [v["person"]["sealed_ahv"] for v in values if "sealed_ahv" in v["person"]]
    assert sorted(seal.unseal(x).digits for x in sealed) == sorted(a.digits for a in s.ahvs)
    documents = DocumentSeal.from_settings(settings)
    for document_id in s.documents:
        found = await fetch(pool, settings.document_db_schema, document_id)
        assert found is not None
        assert documents.open(document_id, found.sealed, found.sha256) == CONTENT
    again = await persons.resolve(s.ahvs)  # intake: the same persons, nobody new
    assert {d: p.subject for d, p in again.items()} == s.subjects


async def test_rekey_moves_every_kind_online_and_the_old_keys_can_then_be_retired(
    v1: KeysSettings,
) -> None:
    pool = await create_pool(v1.database_url, v1.coordination_db_schema)
    try:
        stored = await write_under_v1(v1, pool)
        v2 = rotated(v1, keep_previous=True)
        before = await key_status(v2)
        assert {k: before.not_current(k) for k in KINDS} == {
            PSEUDONYM: PERSONS,
            IDENTITY: 3 * PERSONS,  # registry, coordination persons, outbox
            PERSON: PERSONS,
            DOCUMENT: 3,
        }
        assert before.retirable(IDENTITY) == []
        await assert_everything_opens(v2, pool, stored)  # rotated, nothing moved yet

        batches: list[str] = []

        async def interrupt_after_five(store: Store, moved: Moved) -> None:
            batches.append(store.place)
            some = stored.ahvs[len(batches) % PERSONS]  # a reader between batches
            assert await registry(v2, pool).subjects_of(some) == [stored.subjects[some.digits]]
            if len(batches) == 5:
                raise RunInterruptedError

        with pytest.raises(RunInterruptedError):
            await rekey(v2, batch=2, on_batch=interrupt_after_five)
        halfway = await key_status(v2)
        assert (
            0
            < sum(halfway.not_current(k) for k in KINDS)
            < sum(before.not_current(k) for k in KINDS)
        )
        await assert_everything_opens(v2, pool, stored)

        report = await rekey(v2, batch=2)

        assert report.completed
        assert not any(report.left.values())
        after = await key_status(v2)
        assert {k: after.not_current(k) for k in KINDS} == dict.fromkeys(KINDS, 0)
        assert {k: after.retirable(k) for k in KINDS} == {
            PSEUDONYM: ["k1"],
            IDENTITY: ["i1"],
            PERSON: ["p1"],
            DOCUMENT: ["d1"],
        }
        assert any("i1: no stored row uses it" in line for line in retirement_advice(after))
        assert (await rekey(v2, batch=2)).moved == dict.fromkeys(KINDS, 0), "idempotent"

        retired = rotated(v1, keep_previous=False)
        assert retired.identity_keyring.previous_ids == ()
        await assert_everything_opens(retired, pool, stored)

        audit = await pool.fetch(
            "SELECT actor, subject, object, detail FROM audit_log WHERE action = 'rekeyed'"
            " ORDER BY seq"
        )
        assert [json.loads(r["detail"])["completed"] for r in audit] == [False, True, True]
        assert all(r["subject"] is None and r["object"] is None for r in audit)
        assert sum(json.loads(r["detail"])["moved"][IDENTITY] for r in audit) == 3 * PERSONS
        text = " ".join(r["detail"] for r in audit)
        assert find_valid_ahv_numbers(text) == []
        assert not any(subject in text for subject in stored.subjects.values())
    finally:
        await pool.close()
