"""The document store: sealed documents in a PostgreSQL table of their own schema
(``IIZ_DOCUMENT_DB_SCHEMA``, default ``documents``), written by intake, read by coordination.

A row holds the sealed bytes (``document_seal``) and what the announcement says of them (media
type, size, SHA-256), the institution that holds the document and the person's pseudonym (to
find the announcement in the person's timeline). Rows are only added: a document is stored
before its ``document.shared`` is published, so an event never names a document that is not
stored; storing again under the same id with the same hash is a no-op (a retried submission).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from services.common.database import checked_schema

TABLE = "documents"


class DocumentIdTakenError(ValueError):
    """Another document is stored under this id (ids are random UUIDs: a bug or an attack)."""


@dataclass(frozen=True)
class StoredDocument:
    document_id: uuid.UUID
    pseudonym: str
    held_by: str
    media_type: str
    size_bytes: int
    sha256: str
    sealed: bytes


def _table(schema: str) -> str:
    return f'"{checked_schema(schema)}".{TABLE}'


async def store(conn: asyncpg.Connection | asyncpg.Pool, schema: str, doc: StoredDocument) -> None:
    """Add the document; again with the same id and hash: nothing happens."""
    inserted = await conn.fetchval(
        f"INSERT INTO {_table(schema)}"  # noqa: S608 - a checked schema name
        " (document_id, pseudonym, held_by, media_type, size_bytes, sha256, sealed)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (document_id) DO NOTHING RETURNING true",
        doc.document_id,
        doc.pseudonym,
        doc.held_by,
        doc.media_type,
        doc.size_bytes,
        doc.sha256,
        doc.sealed,
    )
    if inserted:
        return
    same = await conn.fetchval(
        f"SELECT sha256 = $2 AND held_by = $3 FROM {_table(schema)}"  # noqa: S608
        " WHERE document_id = $1",
        doc.document_id,
        doc.sha256,
        doc.held_by,
    )
    if not same:
        raise DocumentIdTakenError("another document is stored under this id")


async def fetch(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, document_id: uuid.UUID
) -> StoredDocument | None:
    row = await conn.fetchrow(
        "SELECT document_id, pseudonym, held_by, media_type, size_bytes, sha256, sealed FROM "  # noqa: S608 - a checked schema name
        f"{_table(schema)} WHERE document_id = $1",
        document_id,
    )
    return None if row is None else StoredDocument(**dict(row))
