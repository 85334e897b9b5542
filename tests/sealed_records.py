"""Reading canonical records as coordination does: sealed ones opened with their person's key
from the person registry (``record_seal``), legacy cleartext ones as they are."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg

from schemas.ahv import AhvNumber
from schemas.codec import KafkaRecord, from_kafka
from schemas.envelope import CloudEvent
from services.common.database import asyncpg_dsn
from services.common.person_lookup import subjects_of
from services.common.person_registry import keys_of
from services.common.record_seal import Erased, open_record, subject_of
from services.common.settings import CommonSettings


def as_record(record: Any) -> KafkaRecord:
    """A consumer record (or anything with key, value, headers) as a ``KafkaRecord``."""
    return KafkaRecord(record.key, record.value or b"", tuple(record.headers))


async def opened(settings: CommonSettings, records: Iterable[Any]) -> list[KafkaRecord]:
    """Each record readable; an erased person's record fails the test."""
    plain = [as_record(r) for r in records]
    conn = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    try:
        subjects = {s for r in plain if (s := subject_of(r.headers)) is not None}
        keys = await keys_of(conn, settings.person_db_schema, settings.person_keyring, subjects)
    finally:
        await conn.close()
    found = [open_record(r, keys) for r in plain]
    erased = [r for r in found if isinstance(r, Erased)]
    assert not erased, f"records of erased persons: {erased}"
    return [r for r in found if isinstance(r, KafkaRecord)]


async def events(settings: CommonSettings, records: Sequence[Any]) -> list[CloudEvent[Any]]:
    """The canonical events of the records (opened, then decoded)."""
    return [from_kafka(r.key, r.value, r.headers) for r in await opened(settings, records)]


async def registry_subject(settings: CommonSettings, ahv: AhvNumber) -> str:
    """The subject the person registry gave the person (the first of ``subjects_of``)."""
    conn = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    try:
        return (await subjects_of(conn, ahv, settings))[0]
    finally:
        await conn.close()
