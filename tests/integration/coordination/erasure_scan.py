"""Scanners for the erasure test: where do a person's fingerprints still occur?

A fingerprint is a text (AHV number in its forms, markers, ids, case numbers, sealed tokens); it
is looked for as text and, for ``bytea`` columns, as the hex of its UTF-8 bytes. Two leftovers are
allowed by design and masked before scanning: the person's (random) subject in the audit log's
``subject`` column and in the registry's tombstone row, and case numbers in the audit log's
``object`` column (docs/retention.md: the audit log keeps the fact; the case numbers are a known
limitation, linkable through partners' own files).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

PG_BIN_CANDIDATES = (os.environ.get("IIZ_PG_BIN", ""), "/usr/lib/postgresql/15/bin")
AUDIT_ALLOWED = ("subject", "object")


def needle_forms(needles: Mapping[str, str]) -> dict[str, str]:
    """Each fingerprint as text and as the hex of its bytes (how bytea shows it)."""
    forms = {}
    for name, text in needles.items():
        forms[name] = text
        forms[f"{name} (hex)"] = text.encode().hex()
    return forms


def found_in(text: str, forms: Mapping[str, str]) -> set[str]:
    lowered = text.lower()
    return {name for name, form in forms.items() if form.lower() in lowered}


async def tables_of(conn: asyncpg.Connection, schema: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1"
        " AND table_type = 'BASE TABLE' ORDER BY table_name",
        schema,
    )
    return [r["table_name"] for r in rows]


def _masked_row(table: str, row: dict[str, object], subject: str) -> dict[str, object]:
    if table == "audit_log":
        return {k: v for k, v in row.items() if k not in AUDIT_ALLOWED}
    if table == "persons" and row.get("subject") == subject:  # the registry's tombstone
        return {k: v for k, v in row.items() if k != "subject"}
    return row


async def scan_tables(
    conn: asyncpg.Connection, schemas: Iterable[str], needles: Mapping[str, str], subject: str
) -> dict[str, set[str]]:
    """``schema.table`` -> the fingerprints found in its rows (allowed leftovers masked)."""
    forms = needle_forms(needles)
    hits: dict[str, set[str]] = {}
    for schema in schemas:
        for table in await tables_of(conn, schema):
            rows = await conn.fetch(
                f'SELECT row_to_json(t)::text AS r FROM "{schema}"."{table}" t'  # noqa: S608
            )
            for row in rows:
                masked = _masked_row(table, json.loads(row["r"]), subject)
                found = found_in(json.dumps(masked), forms)
                if found:
                    hits.setdefault(f"{schema}.{table}", set()).update(found)
    return hits


def pg_bin() -> Path:
    for candidate in PG_BIN_CANDIDATES:
        if candidate and (Path(candidate) / "pg_dump").exists():
            return Path(candidate)
    raise AssertionError("pg_dump of the infra's PostgreSQL not found (IIZ_PG_BIN)")


async def pg_dump(database_url: str, schemas: Iterable[str]) -> str:
    """``pg_dump --data-only`` of the schemas, as the owner (the binary infra/local uses)."""
    parts = urlsplit(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    env = {**os.environ, "PGPASSWORD": parts.password or ""}
    args = ["--data-only", "--no-owner", "-h", parts.hostname or "127.0.0.1"]
    args += ["-p", str(parts.port or 5432), "-U", parts.username or "", "-d", parts.path[1:]]
    for schema in schemas:
        args += ["-n", schema]
    process = await asyncio.create_subprocess_exec(
        str(pg_bin() / "pg_dump"),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    return out.decode()


_COPY = re.compile(r'^COPY (?:"?[\w]+"?)\.("?[\w]+"?) \((.*)\) FROM stdin;$')


def scan_dump(dump: str, needles: Mapping[str, str], subject: str) -> dict[str, set[str]]:
    """Table -> fingerprints found in the dump's COPY data (allowed leftovers masked)."""
    forms = needle_forms(needles)
    hits: dict[str, set[str]] = {}
    table, columns = "", []
    for line in dump.splitlines():
        match = _COPY.match(line)
        if match:
            table = match.group(1).strip('"')
            columns = [c.strip().strip('"') for c in match.group(2).split(",")]
            continue
        if line == "\\.":
            table = ""
            continue
        if not table:
            continue
        values = dict(zip(columns, line.split("\t"), strict=False))
        found = found_in(json.dumps(_masked_row(table, values, subject)), forms)
        if found:
            hits.setdefault(table, set()).update(found)
    return hits
