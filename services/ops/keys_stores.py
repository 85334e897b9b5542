"""Where versioned keys were used on stored rows, and how one batch of rows moves to the current
key: count by key id, then ``move`` a batch (rows locked ``FOR UPDATE SKIP LOCKED``, in the
caller's short transaction, after the keyset position ``after``).

A row is left where it is (``unmovable``) when it names a key the keyring no longer holds and
no other source has the value; re-running never loops on it, because batches go by keyset.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from schemas.ahv import pseudonymise
from services.common.database import checked_schema
from services.common.document_seal import DocumentSeal, DocumentSealError
from services.common.identity_seal import IdentitySeal, IdentitySealError
from services.common.keyring import Keyring
from services.common.person_registry import PersonKeyError, unwrap_key, wrap_key

PSEUDONYM, IDENTITY, PERSON, DOCUMENT = "pseudonym", "identity", "person", "document"
# Delivery values are compact JSON (``model_dump_json``); a sealed AHV number is `<id>:<Fernet>`.
_SEALED_IN_JSON = re.compile(rb'"sealed_ahv":"([a-z0-9]{1,8}):([A-Za-z0-9_=-]+)"')
_SEALED_MARK = b'"sealed_ahv":"'
_OUTBOX_KEY_ID = "substring(convert_from(value, 'UTF8') from '\"sealed_ahv\":\"([a-z0-9]{1,8}):')"
_DOCUMENT_KEY_ID = "split_part(encode(substring(sealed from 1 for 9), 'escape'), ':', 1)"


@dataclass(frozen=True)
class Rotation:
    """The keyrings and the schemas a re-key works on."""

    pseudonyms: Keyring
    persons: Keyring
    identity: IdentitySeal
    documents: DocumentSeal
    coordination_schema: str
    person_schema: str
    document_schema: str


@dataclass(frozen=True)
class Moved:
    moved: int
    unmovable: int
    last: Any  # keyset position of the batch's last row; None: nothing left after `after`


@dataclass(frozen=True)
class Store:
    """One place where rows name a key id of one kind."""

    kind: str
    place: str
    count_sql: str  # key_id, rows
    move: Callable[[asyncpg.Connection, Rotation, Any, int], Any]  # -> Awaitable[Moved]
    batch_cap: int = 10_000
    first: Any = ""


def _t(schema: str, table: str) -> str:
    return f'"{checked_schema(schema)}".{table}'


def stores(r: Rotation) -> list[Store]:
    """Every place, in the order a re-key moves them: the registry's own values first, so the
    coordination copies can fall back to them."""
    p, c, d = r.person_schema, r.coordination_schema, r.document_schema
    return [
        Store(
            PERSON,
            f"{_t(p, 'persons')}.wrapped_key",
            f"SELECT wrap_key_id AS key_id, count(*) AS n FROM {_t(p, 'persons')}"  # noqa: S608
            " WHERE wrapped_key IS NOT NULL GROUP BY 1",
            _move_person_keys,
        ),
        Store(
            IDENTITY,
            f"{_t(p, 'persons')}.sealed_ahv",
            f"SELECT split_part(sealed_ahv, ':', 1) AS key_id, count(*) AS n"  # noqa: S608
            f" FROM {_t(p, 'persons')} WHERE sealed_ahv IS NOT NULL GROUP BY 1",
            _move_registry_identities,
        ),
        Store(
            IDENTITY,
            f"{_t(c, 'persons')}.sealed_ahv",
            f"SELECT split_part(sealed_ahv, ':', 1) AS key_id, count(*) AS n"  # noqa: S608
            f" FROM {_t(c, 'persons')} WHERE sealed_ahv IS NOT NULL GROUP BY 1",
            _move_coordination_identities,
        ),
        Store(
            IDENTITY,
            f"{_t(c, 'outbox')}.value (person.sealed_ahv)",
            f"SELECT {_OUTBOX_KEY_ID} AS key_id, count(*) AS n FROM {_t(c, 'outbox')}"  # noqa: S608
            f" WHERE position('{_SEALED_MARK.decode()}'::bytea in value) > 0 GROUP BY 1",
            _move_outbox_identities,
            first=0,
        ),
        Store(
            PSEUDONYM,
            f"{_t(p, 'lookups')}.lookup",
            f"SELECT split_part(lookup, ':', 2) AS key_id, count(*) AS n"  # noqa: S608
            f" FROM {_t(p, 'lookups')} GROUP BY 1",
            _move_lookups,
        ),
        Store(
            DOCUMENT,
            f"{_t(d, 'documents')}.sealed",
            f"SELECT {_DOCUMENT_KEY_ID} AS key_id, count(*) AS n"  # noqa: S608
            f" FROM {_t(d, 'documents')} GROUP BY 1",
            _move_documents,
            batch_cap=16,  # up to 20 MiB each: a batch stays small in memory
            first=uuid.UUID(int=0),
        ),
    ]


async def _move_person_keys(conn: asyncpg.Connection, r: Rotation, after: Any, n: int) -> Moved:
    table = _t(r.person_schema, "persons")
    rows = await conn.fetch(
        f"SELECT subject, wrapped_key, wrap_key_id FROM {table}"  # noqa: S608
        " WHERE wrapped_key IS NOT NULL AND wrap_key_id <> $1 AND subject > $2"
        " ORDER BY subject LIMIT $3 FOR UPDATE SKIP LOCKED",
        r.persons.current_id,
        after,
        n,
    )
    updates, unmovable = [], 0
    for row in rows:
        try:
            key = unwrap_key(
                r.persons, row["subject"], bytes(row["wrapped_key"]), row["wrap_key_id"]
            )
        except PersonKeyError:
            unmovable += 1
            continue
        updates.append((row["subject"], *wrap_key(r.persons, row["subject"], key)))
    await conn.executemany(
        f"UPDATE {table} SET wrapped_key = $2, wrap_key_id = $3 WHERE subject = $1",  # noqa: S608
        updates,
    )
    return Moved(len(updates), unmovable, rows[-1]["subject"] if rows else None)


async def _move_registry_identities(
    conn: asyncpg.Connection, r: Rotation, after: Any, n: int
) -> Moved:
    table = _t(r.person_schema, "persons")
    rows = await conn.fetch(
        f"SELECT subject, sealed_ahv FROM {table}"  # noqa: S608
        " WHERE sealed_ahv IS NOT NULL AND split_part(sealed_ahv, ':', 1) <> $1"
        " AND subject > $2 ORDER BY subject LIMIT $3 FOR UPDATE SKIP LOCKED",
        r.identity.key_id,
        after,
        n,
    )
    return await _reseal(conn, table, "subject", r, rows, "subject")


async def _move_coordination_identities(
    conn: asyncpg.Connection, r: Rotation, after: Any, n: int
) -> Moved:
    table = _t(r.coordination_schema, "persons")
    rows = await conn.fetch(
        f"SELECT c.pseudonym, c.sealed_ahv, g.sealed_ahv AS registered FROM {table} c"  # noqa: S608
        f" LEFT JOIN {_t(r.person_schema, 'persons')} g ON g.subject = c.pseudonym"
        " WHERE c.sealed_ahv IS NOT NULL AND split_part(c.sealed_ahv, ':', 1) <> $1"
        " AND c.pseudonym > $2 ORDER BY c.pseudonym LIMIT $3 FOR UPDATE OF c SKIP LOCKED",
        r.identity.key_id,
        after,
        n,
    )
    return await _reseal(conn, table, "pseudonym", r, rows, "pseudonym")


async def _reseal(
    conn: asyncpg.Connection,
    table: str,
    column: str,
    r: Rotation,
    rows: Sequence[asyncpg.Record],
    key: str,
) -> Moved:
    updates, unmovable = [], 0
    for row in rows:
        new = resealed(r, row["sealed_ahv"], row.get("registered"))
        if new is None:
            unmovable += 1
        else:
            updates.append((row[key], new))
    await conn.executemany(
        f"UPDATE {table} SET sealed_ahv = $2 WHERE {column} = $1",  # noqa: S608
        updates,
    )
    return Moved(len(updates), unmovable, rows[-1][key] if rows else None)


def resealed(r: Rotation, sealed: str, registered: str | None = None) -> str | None:
    """The sealed AHV number under the current identity key: opened and sealed again while its
    key is held, else the registry's current copy for the same subject; None: neither."""
    try:
        return r.identity.rekey(sealed)
    except IdentitySealError:
        pass
    if registered is not None and registered.startswith(f"{r.identity.key_id}:"):
        return registered
    return None


async def _move_outbox_identities(
    conn: asyncpg.Connection, r: Rotation, after: Any, n: int
) -> Moved:
    table = _t(r.coordination_schema, "outbox")
    rows = await conn.fetch(
        f"SELECT o.id, o.value, g.sealed_ahv AS registered FROM {table} o"  # noqa: S608
        f" LEFT JOIN {_t(r.person_schema, 'persons')} g"
        " ON g.subject = (SELECT h->>1 FROM jsonb_array_elements(o.headers) h"
        "   WHERE h->>0 = 'ce_subject' LIMIT 1)"
        f" WHERE position($1::bytea in o.value) > 0 AND {_OUTBOX_KEY_ID} <> $2"
        " AND o.id > $3 ORDER BY o.id LIMIT $4 FOR UPDATE OF o SKIP LOCKED",
        _SEALED_MARK,
        r.identity.key_id,
        after,
        n,
    )
    updates, unmovable = [], 0
    for row in rows:
        value = rewritten_value(r, bytes(row["value"]), row["registered"])
        if value is None:
            unmovable += 1
        else:
            updates.append((row["id"], value))
    await conn.executemany(
        f"UPDATE {table} SET value = $2 WHERE id = $1",  # noqa: S608
        updates,
    )
    return Moved(len(updates), unmovable, rows[-1]["id"] if rows else None)


def rewritten_value(r: Rotation, value: bytes, registered: str | None) -> bytes | None:
    """The delivery's bytes with every sealed AHV number under the current key (every other
    byte unchanged); None if one cannot be moved."""
    failed = False

    def replace(found: re.Match[bytes]) -> bytes:
        nonlocal failed
        new = resealed(r, found.group(1).decode() + ":" + found.group(2).decode(), registered)
        if new is None:
            failed = True
            return found.group(0)
        return _SEALED_MARK + new.encode("ascii") + b'"'

    rewritten = _SEALED_IN_JSON.sub(replace, value)
    return None if failed else rewritten


async def _move_lookups(conn: asyncpg.Connection, r: Rotation, after: Any, n: int) -> Moved:
    lookups, persons = _t(r.person_schema, "lookups"), _t(r.person_schema, "persons")
    current_id, current = r.pseudonyms.current_id, r.pseudonyms.current
    # Locks the person too: an erasure (which locks the person before deleting its lookups)
    # either waits for this batch, then deletes the new lookup, or makes this batch skip it.
    rows = await conn.fetch(
        f"SELECT l.lookup, l.subject, p.sealed_ahv FROM {lookups} l"  # noqa: S608
        f" JOIN {persons} p USING (subject)"
        " WHERE split_part(l.lookup, ':', 2) <> $1 AND l.lookup > $2 AND p.erased_at IS NULL"
        " ORDER BY l.lookup LIMIT $3 FOR UPDATE OF l, p SKIP LOCKED",
        current_id,
        after,
        n,
    )
    moved = unmovable = 0
    for row in rows:
        try:
            ahv = r.identity.unseal(row["sealed_ahv"])
        except IdentitySealError:
            unmovable += 1
            continue
        new = pseudonymise(ahv, current, current_id)
        owner = await conn.fetchval(
            f"INSERT INTO {lookups} AS l (lookup, subject) VALUES ($1, $2)"  # noqa: S608
            " ON CONFLICT (lookup) DO UPDATE SET subject = l.subject RETURNING subject",
            new,
            row["subject"],
        )
        if owner != row["subject"]:  # another person holds it: keep the old lookup, report
            unmovable += 1
            continue
        await conn.execute(f"DELETE FROM {lookups} WHERE lookup = $1", row["lookup"])  # noqa: S608
        moved += 1
    return Moved(moved, unmovable, rows[-1]["lookup"] if rows else None)


async def _move_documents(conn: asyncpg.Connection, r: Rotation, after: Any, n: int) -> Moved:
    table = _t(r.document_schema, "documents")
    rows = await conn.fetch(
        f"SELECT document_id, sealed FROM {table}"  # noqa: S608
        f" WHERE {_DOCUMENT_KEY_ID} <> $1 AND document_id > $2"
        " ORDER BY document_id LIMIT $3 FOR UPDATE SKIP LOCKED",
        r.documents.key_id,
        after,
        n,
    )
    updates, unmovable = [], 0
    for row in rows:
        try:
            updates.append(
                (row["document_id"], r.documents.rekey(row["document_id"], bytes(row["sealed"])))
            )
        except DocumentSealError:
            unmovable += 1
    await conn.executemany(
        f"UPDATE {table} SET sealed = $2 WHERE document_id = $1",  # noqa: S608
        updates,
    )
    return Moved(len(updates), unmovable, rows[-1]["document_id"] if rows else None)
