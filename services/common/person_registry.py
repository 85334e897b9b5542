"""The person registry: who a subject is, and the key that opens their records (crypto-shredding).

Each person the bus sees gets a random subject (``prs:<32 hex>``), so nothing on the immutable log
or in the audit log can be traced back to an AHV number once the person's lookups are deleted.
The keyed hash of the AHV number (``pseudonymise``, one per pseudonym key version) survives only
as a lookup row. Each person has an AES-256 key of their own, stored wrapped (AES-GCM) under the
person keyring (``IIZ_PERSON_KEY``), with the wrap key id and the subject as associated data so a
wrapped key copied to another row does not open. Erasing a person (``tombstone``) deletes the
lookups and nulls key and sealed AHV number: their records on the log can no longer be read.

Intake creates persons (``resolve``); coordination reads keys (``keys_of``). The tables live in
their own schema (``IIZ_PERSON_DB_SCHEMA``), created by intake's migrations 0003 and 0004.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from schemas.ahv import AhvNumber, pseudonymise
from services.common.database import checked_schema
from services.common.identity_seal import IdentitySeal
from services.common.keyring import Keyring

SUBJECT_PREFIX = "prs:"
PERSON_KEY_BYTES = 32
NONCE_BYTES = 12
_WRAP_CONTEXT = "iiz-person-key"

Executor: TypeAlias = asyncpg.Connection | asyncpg.Pool


class PersonKeyError(ValueError):
    """A wrapped person key does not open: another row's key, a changed byte, or a wrap key this
    process does not hold. Never "erased": that is ``None`` in ``keys_of``."""


class PersonRegistryBusyError(RuntimeError):
    """``resolve`` lost to concurrent erasures of the same persons several times in a row."""


_RESOLVE_ATTEMPTS = 3


@dataclass(frozen=True)
class PersonKey:
    """A person's subject and their own AES-256 key."""

    subject: str
    key: bytes = field(repr=False)


def new_subject() -> str:
    """A random subject: 128 bits, no relation to the AHV number."""
    return SUBJECT_PREFIX + secrets.token_hex(16)


def is_registry_subject(subject: str) -> bool:
    return subject.startswith(SUBJECT_PREFIX)


def _wrap_aad(key_id: str, subject: str) -> bytes:
    return f"{_WRAP_CONTEXT}|{key_id}|{subject}".encode()


def wrap_key(keyring: Keyring, subject: str, key: bytes) -> tuple[bytes, str]:
    """``(nonce ‖ ciphertext, wrap key id)`` of a person key under the keyring's current key."""
    nonce = os.urandom(NONCE_BYTES)
    key_id = keyring.current_id
    aad = _wrap_aad(key_id, subject)
    return nonce + AESGCM(keyring.current).encrypt(nonce, key, aad), key_id


def unwrap_key(keyring: Keyring, subject: str, wrapped: bytes, key_id: str) -> bytes:
    """The person key; ``PersonKeyError`` if it is not this subject's or the wrap key is gone."""
    try:
        wrapping = keyring.get(key_id)
        nonce, body = wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:]
        key = AESGCM(wrapping).decrypt(nonce, body, _wrap_aad(key_id, subject))
    except LookupError:
        raise PersonKeyError(f"no person wrapping key {key_id[:8]!r} is held") from None
    except (InvalidTag, ValueError):
        raise PersonKeyError("a wrapped person key does not open for its subject") from None
    if len(key) != PERSON_KEY_BYTES:
        raise PersonKeyError("a person key has 32 bytes")
    return key


def lookups_of(ahv: AhvNumber, pseudonym_keyring: Keyring) -> list[str]:
    """The person's lookups under every pseudonym key version, the current one first."""
    return [pseudonymise(ahv, key, key_id) for key_id, key in pseudonym_keyring]


def _table(schema: str, name: str) -> str:
    return f'"{checked_schema(schema)}".{name}'


async def subjects_by_lookup(
    executor: Executor, schema: str, lookups: Sequence[str]
) -> dict[str, str]:
    """lookup → subject for the lookups the registry holds (erased persons have none)."""
    rows = await executor.fetch(
        f"SELECT lookup, subject FROM {_table(schema, 'lookups')} WHERE lookup = ANY($1::text[])",  # noqa: S608
        list(lookups),
    )
    return {r["lookup"]: r["subject"] for r in rows}


async def keys_of(
    executor: Executor, schema: str, keyring: Keyring, subjects: Iterable[str]
) -> dict[str, bytes | None]:
    """subject → person key, or ``None`` once erased. Subjects the registry does not hold
    (legacy ``psn:`` subjects, from before the registry) are absent."""
    wanted = sorted({s for s in subjects if is_registry_subject(s)})
    if not wanted:
        return {}
    rows = await executor.fetch(
        f"SELECT subject, wrapped_key, wrap_key_id FROM {_table(schema, 'persons')}"  # noqa: S608
        " WHERE subject = ANY($1::text[])",
        wanted,
    )
    return {
        r["subject"]: None
        if r["wrapped_key"] is None
        else unwrap_key(keyring, r["subject"], bytes(r["wrapped_key"]), r["wrap_key_id"])
        for r in rows
    }


async def erased_among(executor: Executor, schema: str, subjects: Iterable[str]) -> set[str]:
    """The subjects whose person has been erased (tombstones; nothing is unwrapped)."""
    wanted = sorted({s for s in subjects if is_registry_subject(s)})
    if not wanted:
        return set()
    rows = await executor.fetch(
        f"SELECT subject FROM {_table(schema, 'persons')}"  # noqa: S608
        " WHERE subject = ANY($1::text[]) AND erased_at IS NOT NULL",
        wanted,
    )
    return {r["subject"] for r in rows}


async def tombstone(conn: asyncpg.Connection, schema: str, subject: str) -> None:
    """Erase a person: their lookups go, their key and sealed AHV number become NULL,
    ``erased_at`` is set. Idempotent. Run it inside the erasure's transaction.

    The person's row is locked first (``FOR UPDATE``): a ``resolve`` adding a lookup holds it
    ``FOR SHARE`` until it commits, so the lookups deleted here include the one it added."""
    await conn.execute(
        f"SELECT 1 FROM {_table(schema, 'persons')} WHERE subject = $1 FOR UPDATE",  # noqa: S608
        subject,
    )
    await conn.execute(
        f"DELETE FROM {_table(schema, 'lookups')} WHERE subject = $1",  # noqa: S608
        subject,
    )
    await conn.execute(
        f"UPDATE {_table(schema, 'persons')} SET wrapped_key = NULL, wrap_key_id = NULL,"  # noqa: S608
        " sealed_ahv = NULL, erased_at = now() WHERE subject = $1 AND erased_at IS NULL",
        subject,
    )


class PersonRegistry:
    """The registry over a pool: intake's ``resolve`` and everybody's ``keys_of``."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        schema: str,
        person_keyring: Keyring,
        pseudonym_keyring: Keyring,
        identity_seal: IdentitySeal,
    ) -> None:
        self._pool = pool
        self._schema = checked_schema(schema)
        self._keyring = person_keyring
        self._pseudonyms = pseudonym_keyring
        self._seal = identity_seal

    @property
    def schema(self) -> str:
        return self._schema

    async def keys_of(self, subjects: Iterable[str]) -> dict[str, bytes | None]:
        return await keys_of(self._pool, self._schema, self._keyring, subjects)

    async def subjects_of(self, ahv: AhvNumber) -> list[str]:
        """The person's live subject (at most one), found under any pseudonym key version."""
        found = await subjects_by_lookup(
            self._pool, self._schema, lookups_of(ahv, self._pseudonyms)
        )
        return sorted(set(found.values()))

    async def resolve(self, ahvs: Iterable[AhvNumber]) -> dict[str, PersonKey]:
        """digits → the person's subject and key; persons not yet known (or erased) are created.

        One query when everyone is known. Two intake instances creating the same person race on
        the lookup's primary key (INSERT … ON CONFLICT DO NOTHING): the loser takes the winner's
        subject. A person found only under an older pseudonym key gets a lookup under the
        current one, added while their row is held ``FOR SHARE`` (an erasure waits for it, and
        then deletes that lookup too); one erased just before is looked up again (a new person).
        """
        people = {a.digits: a for a in ahvs}
        if not people:
            return {}
        lookups = {digits: lookups_of(ahv, self._pseudonyms) for digits, ahv in people.items()}
        for _ in range(_RESOLVE_ATTEMPTS):
            async with self._pool.acquire() as conn, conn.transaction():
                resolved, outdated = await self._known(conn, lookups)
                missing = [d for d in people if d not in resolved]
                if missing:
                    resolved.update(
                        await self._create(conn, {d: people[d] for d in missing}, lookups)
                    )
                    if len(resolved) < len(people):
                        continue  # a person claimed by another was erased at once: again
                if not outdated:
                    return resolved
                if not await self._hold_live(conn, {resolved[d].subject for d in outdated}):
                    continue  # erased since ``_known``: next time they are missing, created anew
                added = sorted((lookups[d][0], resolved[d].subject) for d in outdated)
                await conn.execute(
                    f"INSERT INTO {_table(self._schema, 'lookups')} (lookup, subject)"  # noqa: S608
                    " SELECT * FROM unnest($1::text[], $2::text[])"
                    " ON CONFLICT (lookup) DO NOTHING",
                    [lookup for lookup, _ in added],
                    [subject for _, subject in added],
                )
                return resolved
        raise PersonRegistryBusyError("persons kept being erased while they were resolved")

    async def _hold_live(self, conn: asyncpg.Connection, subjects: set[str]) -> bool:
        """Lock the persons' rows ``FOR SHARE`` (sorted: no deadlock); False if one is erased."""
        rows = await conn.fetch(
            f"SELECT subject, erased_at FROM {_table(self._schema, 'persons')}"  # noqa: S608
            " WHERE subject = ANY($1::text[]) ORDER BY subject FOR SHARE",
            sorted(subjects),
        )
        return len(rows) == len(subjects) and all(r["erased_at"] is None for r in rows)

    async def _known(
        self, conn: asyncpg.Connection, lookups: dict[str, list[str]]
    ) -> tuple[dict[str, PersonKey], set[str]]:
        """The persons found, and those found only under an older pseudonym key (by digits)."""
        rows = await conn.fetch(
            f"SELECT l.lookup, p.subject, p.wrapped_key, p.wrap_key_id"  # noqa: S608
            f" FROM {_table(self._schema, 'lookups')} l"
            f" JOIN {_table(self._schema, 'persons')} p USING (subject)"
            " WHERE l.lookup = ANY($1::text[]) AND p.erased_at IS NULL",
            [lookup for versions in lookups.values() for lookup in versions],
        )
        by_lookup = {r["lookup"]: r for r in rows}
        resolved, outdated = {}, set()
        for digits, versions in lookups.items():
            row = next((by_lookup[v] for v in versions if v in by_lookup), None)
            if row is None:
                continue
            key = unwrap_key(
                self._keyring, row["subject"], bytes(row["wrapped_key"]), row["wrap_key_id"]
            )
            resolved[digits] = PersonKey(row["subject"], key)
            if versions[0] not in by_lookup:
                outdated.add(digits)
        return resolved, outdated

    async def _create(
        self,
        conn: asyncpg.Connection,
        people: dict[str, AhvNumber],
        lookups: dict[str, list[str]],
    ) -> dict[str, PersonKey]:
        """Create the persons (by digits) and return them; one another instance claimed first
        (its lookup's insert lost on the primary key, after waiting for the winner's commit) is
        read back as the winner's person instead."""
        # Sorted: two instances claiming overlapping persons lock the lookups in one order.
        claims = {
            lookups[d][0]: (d, new_subject()) for d in sorted(people, key=lambda d: lookups[d][0])
        }
        won = await conn.fetch(
            f"INSERT INTO {_table(self._schema, 'lookups')} (lookup, subject)"  # noqa: S608
            " SELECT * FROM unnest($1::text[], $2::text[])"
            " ON CONFLICT (lookup) DO NOTHING RETURNING subject",
            list(claims),
            [subject for _, subject in claims.values()],
        )
        won_subjects = {r["subject"] for r in won}
        created: dict[str, PersonKey] = {}
        lost: list[str] = []
        subjects, wrapped_keys, key_ids, sealed = [], [], [], []
        for digits, subject in claims.values():
            if subject not in won_subjects:
                lost.append(digits)
                continue
            key = AESGCM.generate_key(256)
            wrapped, key_id = wrap_key(self._keyring, subject, key)
            subjects.append(subject)
            wrapped_keys.append(wrapped)
            key_ids.append(key_id)
            sealed.append(self._seal.seal(people[digits]))
            created[digits] = PersonKey(subject, key)
        if subjects:
            await conn.execute(
                f"INSERT INTO {_table(self._schema, 'persons')}"  # noqa: S608
                " (subject, wrapped_key, wrap_key_id, sealed_ahv)"
                " SELECT * FROM unnest($1::text[], $2::bytea[], $3::text[], $4::text[])",
                subjects,
                wrapped_keys,
                key_ids,
                sealed,
            )
        if lost:
            # The winners' persons: committed by now (the conflict waited for them).
            winners, _ = await self._known(conn, {d: lookups[d] for d in lost})
            created.update(winners)
        return created
