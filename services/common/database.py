"""PostgreSQL connection helpers: one URL format, asyncpg pools scoped to a service's schema."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

import asyncpg

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def asyncpg_dsn(url: str) -> str:
    """Accept SQLAlchemy-style URLs too (``postgresql+asyncpg://``) and hand asyncpg a libpq URL."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)


def sqlalchemy_url(url: str) -> str:
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+asyncpg://", url)


def database_label(url: str) -> str:
    """``host:port/database`` of a URL for operators' output: never the user or the password."""
    parts = urlsplit(asyncpg_dsn(url))
    host = parts.hostname or parse_qs(parts.query).get("host", ["local socket"])[0]
    return f"{host}:{parts.port or 5432}/{parts.path.lstrip('/') or '(default)'}"


def database_user(url: str) -> str | None:
    """The role a URL logs in as (``None`` if it names none)."""
    parts = urlsplit(asyncpg_dsn(url))
    if parts.username:
        return unquote(parts.username)
    return parse_qs(parts.query).get("user", [None])[0]


def checked_schema(name: str) -> str:
    """Schema names are interpolated into SQL, so they are checked, never taken raw."""
    if not _SCHEMA_NAME.match(name):
        raise ValueError(f"invalid schema name {name!r}")
    return name


async def create_pool(
    url: str, schema: str, *, min_size: int = 1, max_size: int = 10
) -> asyncpg.Pool:
    """A pool whose connections resolve unqualified names in the service's own schema."""
    return await asyncpg.create_pool(
        asyncpg_dsn(url),
        min_size=min_size,
        max_size=max_size,
        server_settings={"search_path": checked_schema(schema)},
    )
