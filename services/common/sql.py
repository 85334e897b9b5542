"""Table definitions and the asyncpg pools, brought together.

Each service defines its tables once, as SQLModel classes on a ``MetaData`` of its own
(``services/<service>/tables.py``). Queries are written with SQLAlchemy Core against those
classes, compiled **once** (at import) for the asyncpg dialect, and run on the service's asyncpg
pool: no second connection pool, no per-call compilation, no SQLAlchemy row processing. Names
stay unqualified, so the schema comes from the connection's ``search_path``
(``services.common.database.create_pool``) and tests can use throw-away schemas.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

from services.common.database import checked_schema

# The names PostgreSQL itself gives unnamed constraints, so that the metadata's DDL and the
# migrations' DDL produce the same catalogue (``cases_pkey``, ``cases_case_number_key``).
POSTGRES_NAMING: Mapping[str, str] = {
    "pk": "%(table_name)s_pkey",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
}

_ASYNCPG = PGDialect_asyncpg()  # type: ignore[no-untyped-call] # SQLAlchemy leaves it untyped


def service_metadata() -> MetaData:
    """A fresh, schema-less ``MetaData`` for one service's tables."""
    return MetaData(naming_convention=dict(POSTGRES_NAMING))


@dataclass(frozen=True)
class AsyncpgQuery:
    """A statement compiled for asyncpg: ``sql`` with ``$n`` placeholders, and which bound name
    goes to which ``$n``."""

    sql: str
    names: tuple[str, ...]
    literals: Mapping[str, Any]  # values bound inside the statement itself (e.g. ``limit(1)``)

    def args(self, **values: Any) -> tuple[Any, ...]:
        """The positional arguments for asyncpg, from the named ones."""
        unknown = values.keys() - set(self.names)
        missing = set(self.names) - values.keys() - self.literals.keys()
        if unknown or missing:
            raise TypeError(
                f"query parameters: unknown {sorted(unknown)}, missing {sorted(missing)}"
            )
        return tuple(values[n] if n in values else self.literals[n] for n in self.names)


def asyncpg_query(statement: ClauseElement, *, schema: str | None = None) -> AsyncpgQuery:
    """Compile a Core statement for asyncpg (as SQLAlchemy's own asyncpg driver would).

    ``schema`` qualifies the table names, for the rare read of another service's table (e.g.
    coordination's ``reconcile`` reading intake's ledger); without it the names stay bare and the
    connection's ``search_path`` decides.
    """
    translate = None if schema is None else {None: checked_schema(schema)}
    compiled = statement.compile(
        dialect=_ASYNCPG, schema_translate_map=translate, render_schema_translate=bool(translate)
    )
    if not isinstance(compiled, SQLCompiler):
        raise TypeError(f"not a SQL statement: {statement!r}")
    names = tuple(compiled.positiontup or ())
    literals = {n: compiled.binds[n].value for n in names if not compiled.binds[n].required}
    return AsyncpgQuery(compiled.string, names, literals)
