"""Runs a service's Alembic migrations into that service's own PostgreSQL schema.

Each service owns one schema (``intake``, ``coordination``) and keeps its Alembic version table
there, so services migrate independently. Tests pass a throw-away schema name.

Migrations run only as an explicit command (``python -m services.<service> migrate``), never in a
worker's start-up. Each run holds a transaction-scoped advisory lock named after its schema, so
two migrators started together take turns: the second finds the schema at head and does nothing.

Migrations connect as the schema's owner (``IIZ_MIGRATION_DATABASE_URL``); the services connect
as a role of their own (``IIZ_DATABASE_URL``) that owns nothing. At the end of every upgrade, in
the same transaction, the service role's privileges are set anew from the service's declaration
(``ServiceGrants``): everything it held in the schema is revoked, then exactly the declared
privileges are granted. A table without a declaration stops the upgrade, so a table added later
can never be left out or get more than it was given. Functions in the schema are executable by
nobody but the owner and the roles they are declared for: PostgreSQL lets PUBLIC execute every
new function (a ``SECURITY DEFINER`` one runs with the owner's rights), so every upgrade revokes
that from PUBLIC too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from services.common.database import checked_schema, database_user, sqlalchemy_url

MIGRATION_LOCK_CLASS = ":migrations"  # advisory-lock namespace: hashtext(schema || this), 0
VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class Privileges:
    """What a service's own role may do in its schema: per table the privileges (``"SELECT,
    INSERT"``), the sequences it may draw from (USAGE) and the functions it may call."""

    tables: Mapping[str, str]
    sequences: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()  # signatures, e.g. "audit_lock_head()"


@dataclass(frozen=True)
class ServiceGrants:
    """The service role (``None``: the service connects as the owner itself, nothing to grant)
    and what it is granted."""

    role: str | None
    privileges: Privileges = field(default_factory=lambda: Privileges({}))

    @classmethod
    def for_urls(
        cls, database_url: str, owner_database_url: str, privileges: Privileges
    ) -> ServiceGrants:
        """The service role is the user of ``database_url``; none if it is the owner's URL."""
        if database_url == owner_database_url:
            return cls(None, privileges)
        role = database_user(database_url)
        if role is None:
            raise ValueError(
                "IIZ_DATABASE_URL names no user: the migration cannot grant the service role"
            )
        return cls(role, privileges)


def grant_statements(schema: str, role: str, privileges: Privileges, tables: set[str]) -> list[str]:
    """Revoke everything the role held in the schema, then grant exactly what is declared."""
    undeclared = sorted(tables - set(privileges.tables) - {VERSION_TABLE})
    if undeclared:
        raise ValueError(
            f"no privileges declared for the service role on {', '.join(undeclared)} "
            "(declare them beside the service's migrations)"
        )
    unknown = sorted(set(privileges.tables) - tables)
    if unknown:
        raise ValueError(f"privileges declared for tables that do not exist: {', '.join(unknown)}")
    s, r = f'"{checked_schema(schema)}"', '"' + role.replace('"', '""') + '"'
    statements = [
        *public_revocations(schema),
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {r}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {r}",
        f"REVOKE ALL ON ALL ROUTINES IN SCHEMA {s} FROM {r}",
        f"REVOKE ALL ON SCHEMA {s} FROM {r}",
        f"GRANT USAGE ON SCHEMA {s} TO {r}",
    ]
    for table, granted in sorted(privileges.tables.items()):
        if granted:
            statements.append(f'GRANT {granted} ON {s}."{table}" TO {r}')
    statements += [f'GRANT USAGE ON SEQUENCE {s}."{q}" TO {r}' for q in privileges.sequences]
    statements += [f"GRANT EXECUTE ON FUNCTION {s}.{f} TO {r}" for f in privileges.functions]
    return statements


def public_revocations(schema: str) -> list[str]:
    """Nobody but the owner may execute the schema's functions and procedures, unless granted:
    PostgreSQL gives PUBLIC EXECUTE on every new one."""
    return [f'REVOKE ALL ON ALL ROUTINES IN SCHEMA "{checked_schema(schema)}" FROM PUBLIC']


def _config(
    script_location: Path, schema: str, attributes: Mapping[str, str] | None = None
) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes.update(attributes or {})
    config.attributes["schema"] = schema
    return config


async def upgrade(
    script_location: Path,
    database_url: str,
    schema: str,
    grants: ServiceGrants | None = None,
    *,
    attributes: Mapping[str, str] | None = None,
    other_schemas: Mapping[str, Privileges] | None = None,
) -> None:
    """Create the schema if needed, upgrade it to the newest revision and set the service
    role's privileges (``grants``; ``None``: leave privileges as they are). ``database_url`` is
    the owner's.

    ``attributes`` are handed to the migrations (``context.config.attributes``), e.g. the name
    of a further schema they create; ``other_schemas`` declares the service role's privileges in
    such schemas, set anew like those of its own schema."""
    schema = checked_schema(schema)
    engine = create_async_engine(sqlalchemy_url(database_url))
    try:
        async with engine.begin() as conn:
            # Held until this transaction ends, i.e. across the whole upgrade, even on a crash.
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:schema || :lock_class), 0)"),
                {"schema": schema, "lock_class": MIGRATION_LOCK_CLASS},
            )
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            await conn.execute(text(f'SET search_path TO "{schema}"'))
            await conn.run_sync(_run_upgrade, script_location, schema, attributes)
            if grants is not None and grants.role is not None:
                await _grant(conn, schema, grants.role, grants.privileges)
                for other, privileges in (other_schemas or {}).items():
                    await _grant(conn, other, grants.role, privileges)
            elif grants is not None:  # the service is the owner: still nobody else
                for other in [schema, *(other_schemas or {})]:
                    for statement in public_revocations(other):
                        await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def _grant(conn: AsyncConnection, schema: str, role: str, privileges: Privileges) -> None:
    if role == (await conn.execute(text("SELECT current_user"))).scalar_one():
        for statement in public_revocations(schema):  # it has every privilege; nobody else
            await conn.execute(text(statement))
        return
    rows = await conn.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = :schema"), {"schema": schema}
    )
    for statement in grant_statements(schema, role, privileges, {r[0] for r in rows}):
        await conn.execute(text(statement))


def _run_upgrade(
    connection: Connection,
    script_location: Path,
    schema: str,
    attributes: Mapping[str, str] | None = None,
) -> None:
    config = _config(script_location, schema, attributes)
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def upgrade_blocking(
    script_location: Path, database_url: str, schema: str, grants: ServiceGrants | None = None
) -> None:
    asyncio.run(upgrade(script_location, database_url, schema, grants))


def shared_schema_under_lock(attribute: str, default: str) -> str:
    """In a migration of a schema several services' schemas share (documents, persons): its
    checked name, handed over by the migrator as ``attribute``, with the advisory lock that lets
    concurrent migrators create it only once."""
    from alembic import context, op  # only inside a running migration

    from services.common.database import checked_schema

    schema = checked_schema(context.config.attributes.get(attribute, default))
    op.get_bind().execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:schema || :lock_class), 0)"),
        {"schema": schema, "lock_class": MIGRATION_LOCK_CLASS},
    )
    return schema
