"""The tables' one definition (SQLModel classes) and the migrations agree: ``alembic check``, per
service.

For each service a throw-away schema is migrated with the service's real migrations, then:

1. Alembic's autogenerate comparison (what ``alembic check`` runs) between that schema and the
   service's ``METADATA`` finds nothing: no table, column, type, nullability, server default,
   index or unique constraint differs.
2. What that comparison does not look at (primary keys, check constraints, the ``WHERE`` of
   partial indexes, sequences, column order) is compared in PostgreSQL's own words: a second
   throw-away schema made by ``METADATA.create_all`` shows the same catalogue as the migrated one.
3. Drift is caught: copies of the metadata with one thing changed make the check fail.

Triggers, functions and seeded rows (the audit log's append-only trigger, the first audit_head
row) are not tables' shape and stay in the migrations; see ``services/coordination/tables.py``.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from pprint import pformat
from typing import Any

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    Column,
    Connection,
    DefaultClause,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    Sequence,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, INTEGER, TEXT, UUID, VARCHAR
from sqlalchemy.exc import SAWarning
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from services.common.database import asyncpg_dsn, sqlalchemy_url
from services.common.migrations import upgrade
from services.coordination import tables as coordination_tables
from services.intake import tables as intake_tables
from tests.infra import REPO, Infra


@dataclass(frozen=True)
class Service:
    migrations: Path
    metadata: MetaData
    sequences: tuple[Sequence, ...]  # standalone ones (not a serial's)


SERVICES = {
    "intake": Service(REPO / "services" / "intake" / "migrations", intake_tables.METADATA, ()),
    "coordination": Service(
        REPO / "services" / "coordination" / "migrations",
        coordination_tables.METADATA,
        (coordination_tables.CASE_NUMBER_SEQ,),
    ),
}
VERSION_TABLE = "alembic_version"


# ---------------------------------------------------------------------------------------------
# Schemas


async def _drop(database_url: str, schema: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def migrated(infra: Infra) -> AsyncIterator[dict[str, str]]:
    """Per service, a throw-away schema at the head of its real migrations."""
    schemas = {name: f"check_{name[:5]}_{uuid.uuid4().hex[:10]}" for name in SERVICES}
    try:
        for name, schema in schemas.items():
            await upgrade(SERVICES[name].migrations, infra.migration_database_url, schema)
        yield schemas
    finally:
        for schema in schemas.values():
            await _drop(infra.migration_database_url, schema)


@asynccontextmanager
async def _connection(database_url: str, schema: str) -> AsyncIterator[AsyncConnection]:
    """A SQLAlchemy connection whose unqualified names (and reflection) see ``schema`` only."""
    engine = create_async_engine(
        sqlalchemy_url(database_url),
        poolclass=NullPool,
        connect_args={"server_settings": {"search_path": schema}},
    )
    try:
        async with engine.connect() as conn:
            yield conn
    finally:
        await engine.dispose()


@asynccontextmanager
async def _schema_from_models(database_url: str, metadata: MetaData) -> AsyncIterator[str]:
    """A throw-away schema made by ``metadata.create_all`` (what the models alone say)."""
    schema = f"models_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    try:
        async with _connection(database_url, schema) as sa:
            await sa.run_sync(metadata.create_all)
            await sa.commit()
        yield schema
    finally:
        await _drop(database_url, schema)


# ---------------------------------------------------------------------------------------------
# 1. Alembic's comparison


def _compare(connection: Connection, metadata: MetaData) -> list[Any]:
    # include_schemas off: Alembic reflects the default schema only, i.e. the one search_path
    # names. The version table lives there too, so version_table_schema stays None (= that
    # default schema) and Alembic leaves alembic_version out, as `alembic check` does.
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_schemas": False,
            "version_table": VERSION_TABLE,
            "version_table_schema": None,
        },
    )
    differences: list[Any] = compare_metadata(context, metadata)
    return differences


async def alembic_differences(database_url: str, schema: str, metadata: MetaData) -> list[Any]:
    async with _connection(database_url, schema) as conn:
        return await conn.run_sync(_compare, metadata)


# ---------------------------------------------------------------------------------------------
# 2. The catalogue, as PostgreSQL prints it

CATALOGUE = {
    "columns": """
        SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
               a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = $1 AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
    """,
    "constraints": """
        SELECT c.relname, con.conname, con.contype, pg_get_constraintdef(con.oid)
        FROM pg_constraint con
        JOIN pg_class c ON c.oid = con.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1
    """,
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = $1",
    "sequences": """
        SELECT sequencename, data_type::text, start_value, min_value, max_value, increment_by,
               cycle, cache_size
        FROM pg_sequences WHERE schemaname = $1
    """,
}


async def catalogue(database_url: str, schema: str) -> dict[str, set[tuple[Any, ...]]]:
    """Columns, constraints, indexes and sequences of ``schema``, without the schema's name and
    without Alembic's version table."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url), server_settings={"search_path": schema})
    try:
        found: dict[str, set[tuple[Any, ...]]] = {}
        for kind, query in CATALOGUE.items():
            rows = await conn.fetch(query, schema)
            found[kind] = {
                tuple(v.replace(f"{schema}.", "") if isinstance(v, str) else v for v in row)
                for row in rows
                if row[0] != VERSION_TABLE
            }
        return found
    finally:
        await conn.close()


def catalogue_differences(
    migrated: dict[str, set[tuple[Any, ...]]], models: dict[str, set[tuple[Any, ...]]]
) -> dict[str, dict[str, list[tuple[Any, ...]]]]:
    return {
        kind: {
            "only after the migrations": sorted(migrated[kind] - models[kind], key=repr),
            "only from the models": sorted(models[kind] - migrated[kind], key=repr),
        }
        for kind in CATALOGUE
        if migrated[kind] != models[kind]
    }


async def drift(database_url: str, migrated_schema: str, metadata: MetaData) -> dict[str, Any]:
    """Everything in which the migrated schema and ``metadata`` differ: empty means none."""
    found: dict[str, Any] = {}
    alembic = await alembic_differences(database_url, migrated_schema, metadata)
    if alembic:
        found["alembic"] = alembic
    async with _schema_from_models(database_url, metadata) as models_schema:
        differences = catalogue_differences(
            await catalogue(database_url, migrated_schema),
            await catalogue(database_url, models_schema),
        )
    if differences:
        found["catalogue"] = differences
    return found


# ---------------------------------------------------------------------------------------------
# The checks


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_alembic_finds_no_difference_between_the_migrations_and_the_models(
    infra: Infra, migrated: dict[str, str], service: str
) -> None:
    differences = await alembic_differences(
        infra.migration_database_url, migrated[service], SERVICES[service].metadata
    )

    assert differences == [], pformat(differences)


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_keys_checks_partial_indexes_sequences_and_column_order_match_too(
    infra: Infra, migrated: dict[str, str], service: str
) -> None:
    metadata = SERVICES[service].metadata
    async with _schema_from_models(infra.migration_database_url, metadata) as models_schema:
        from_models = await catalogue(infra.migration_database_url, models_schema)
    from_migrations = await catalogue(infra.migration_database_url, migrated[service])

    assert from_migrations["columns"], "the migrated schema has no tables"
    assert catalogue_differences(from_migrations, from_models) == {}


# ---------------------------------------------------------------------------------------------
# 3. Drift is caught: one change at a time, on a copy of the metadata

Mutation = Callable[[MetaData], None]


def _copy(service: Service, *, without: str | None = None) -> MetaData:
    copy = MetaData(naming_convention=dict(service.metadata.naming_convention))
    for table in service.metadata.tables.values():
        if table.name != without:
            table.to_metadata(copy)
    for sequence in service.sequences:
        Sequence(sequence.name, metadata=copy)
    return copy


def _index(metadata: MetaData, table: str, name: str) -> Index:
    return next(i for i in metadata.tables[table].indexes if i.name == name)


def _retype(table: str, column: str, new_type: Any) -> Mutation:
    def mutate(metadata: MetaData) -> None:
        metadata.tables[table].c[column].type = new_type

    return mutate


def _nullable(metadata: MetaData) -> None:
    metadata.tables["persons"].c.sealed_ahv.nullable = False


def _server_default(metadata: MetaData) -> None:
    column = metadata.tables["deadlines"].c.status
    column.server_default = DefaultClause(text("'open'"))
    column.server_default.column = column


def _extra_column(metadata: MetaData) -> None:
    metadata.tables["submission_ledger"].append_column(Column("note", TEXT, nullable=True))


def _index_dropped(metadata: MetaData) -> None:
    table = metadata.tables["referrals"]
    table.indexes.discard(_index(metadata, "referrals", "referrals_of_person"))


def _index_predicate(metadata: MetaData) -> None:
    index = _index(metadata, "cases", "cases_one_open_per_person")
    index.dialect_options["postgresql"]["where"] = text("closed_at IS NOT NULL")


def _unique_dropped(metadata: MetaData) -> None:
    table = metadata.tables["case_numbers"]
    for constraint in [c for c in table.constraints if isinstance(c, UniqueConstraint)]:
        table.constraints.discard(constraint)


def _check_dropped(metadata: MetaData) -> None:
    table = metadata.tables["audit_head"]
    table.constraints = {c for c in table.constraints if c.name != "audit_head_id_check"}


def _primary_key_narrowed(metadata: MetaData) -> None:
    table = metadata.tables["participants"]
    with warnings.catch_warnings():  # that it no longer matches the columns' flags: the point
        warnings.simplefilter("ignore", SAWarning)
        table.append_constraint(PrimaryKeyConstraint("pseudonym", "institution"))


def _sequence_dropped(metadata: MetaData) -> None:
    # Sequences are kept in a private registry; a copy made without them is the clean way.
    metadata.clear()
    for table in SERVICES["coordination"].metadata.tables.values():
        table.to_metadata(metadata)


def _table_missing(metadata: MetaData) -> None:
    metadata.remove(metadata.tables["published_figures"])


@dataclass(frozen=True)
class Drift:
    service: str
    mutate: Mutation
    caught_by: str  # "alembic" or "catalogue": the check that must see it


DRIFTS = {
    "text column becomes varchar": Drift(
        "intake", _retype("access_tokens", "label", VARCHAR(200)), "alembic"
    ),
    "bigint column becomes integer": Drift(
        "coordination", _retype("timeline", "bus_offset", INTEGER()), "alembic"
    ),
    "text[] column becomes uuid[]": Drift(
        "coordination", _retype("decisions", "articles", ARRAY(UUID(as_uuid=True))), "alembic"
    ),
    "nullable column becomes not null": Drift("coordination", _nullable, "alembic"),
    "server default changes": Drift("coordination", _server_default, "alembic"),
    "column only in the models": Drift("intake", _extra_column, "alembic"),
    "index dropped": Drift("coordination", _index_dropped, "alembic"),
    "partial index predicate changes": Drift("coordination", _index_predicate, "catalogue"),
    "unique constraint dropped": Drift("coordination", _unique_dropped, "alembic"),
    "check constraint dropped": Drift("coordination", _check_dropped, "catalogue"),
    "primary key narrowed": Drift("coordination", _primary_key_narrowed, "catalogue"),
    "sequence dropped": Drift("coordination", _sequence_dropped, "catalogue"),
    "table missing from the models": Drift("coordination", _table_missing, "alembic"),
}


@pytest.fixture(params=sorted(DRIFTS))
def drifted(request: pytest.FixtureRequest) -> tuple[str, MetaData, str]:
    found = DRIFTS[request.param]
    copy = _copy(SERVICES[found.service])
    found.mutate(copy)
    return found.service, copy, found.caught_by


async def test_a_model_that_drifted_from_the_migrations_is_caught(
    infra: Infra, migrated: dict[str, str], drifted: tuple[str, MetaData, str]
) -> None:
    service, metadata, caught_by = drifted

    found = await drift(infra.migration_database_url, migrated[service], metadata)

    assert caught_by in found, pformat(found)


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_an_unchanged_copy_shows_no_drift(
    infra: Infra, migrated: dict[str, str], service: str
) -> None:
    """The copies above differ by their one change only."""
    assert (
        await drift(infra.migration_database_url, migrated[service], _copy(SERVICES[service])) == {}
    )
