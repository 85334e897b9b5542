"""Access tokens for the HTTP door and the web form: one token per partner system or office.

A token is shown once, when it is created; the database keeps only its SHA-256 hash, so a copy
of the database does not let anyone submit. A revoked token stops working at once (every request
looks it up). Operators manage tokens with the CLI::

    python -m services.intake.tokens create --institution sozialhilfe-2829 --label "Fachapplikation"
    python -m services.intake.tokens list
    python -m services.intake.tokens revoke --token <token or the hash prefix shown by list>

The tokens live in intake's schema: run ``python -m services.intake migrate`` first. The queries
are written against the table's one definition (``services/intake/tables.py``) and compiled once
for the asyncpg pool (``services/common/sql.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import re
import secrets
import sys
from dataclasses import dataclass

import asyncpg
from sqlalchemy import bindparam, func, insert, update
from sqlmodel import col, select

from schemas.registry.institutions import Institution, InstitutionRegistry, load_institutions
from services.common.banner import announce, load_settings
from services.common.database import create_pool
from services.common.sql import asyncpg_query
from services.intake import tables
from services.intake.settings import IntakeSettings

TOKEN_PREFIX = "iiz_"  # noqa: S105 - a prefix, not a secret
SHOWN_HASH_CHARS = 12
MIN_PREFIX_CHARS = 8
_HASH_PREFIX = re.compile(r"^[0-9a-f]{8,64}$")

_TOKENS = tables.AccessTokens
CREATE = asyncpg_query(
    insert(_TOKENS).values(
        token_hash=bindparam("token_hash"),
        institution=bindparam("institution"),
        label=bindparam("label"),
    )
)
LOCK_BY_HASH = asyncpg_query(
    select(col(_TOKENS.token_hash))
    .where(col(_TOKENS.token_hash) == bindparam("token_hash"))
    .with_for_update()
)
LOCK_BY_PREFIX = asyncpg_query(
    select(col(_TOKENS.token_hash))
    .where(func.starts_with(col(_TOKENS.token_hash), bindparam("prefix")))
    .with_for_update()
)
REVOKE = asyncpg_query(
    update(_TOKENS)
    .where(col(_TOKENS.token_hash) == bindparam("token_hash"))
    .values(revoked_at=func.coalesce(col(_TOKENS.revoked_at), func.now()))
    .returning(_TOKENS)
)
INSTITUTION = asyncpg_query(
    select(col(_TOKENS.institution)).where(
        col(_TOKENS.token_hash) == bindparam("token_hash"), col(_TOKENS.revoked_at).is_(None)
    )
)
LIST = asyncpg_query(select(_TOKENS).order_by(col(_TOKENS.institution), col(_TOKENS.created_at)))


def token_hash(token: str) -> str:
    """The SHA-256 of a token (hex): what the database stores and looks up."""
    return hashlib.sha256(token.strip().encode("utf-8")).hexdigest()


class TokenError(ValueError):
    """A token operation that cannot be done (unknown institution, ambiguous prefix...)."""


@dataclass(frozen=True)
class TokenInfo:
    """A stored token as operators may see it: never the token, only the start of its hash."""

    hash_prefix: str
    institution: str
    label: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class TokenStore:
    def __init__(self, pool: asyncpg.Pool, registry: InstitutionRegistry) -> None:
        self._pool = pool
        self._registry = registry

    async def create(self, institution: str, label: str) -> str:
        """Store a new token for ``institution`` and return it; it cannot be read back later."""
        if institution not in self._registry.by_id:
            raise TokenError(f"unknown institution {institution!r}")
        if not label.strip():
            raise TokenError("a token needs a label (which system or office uses it)")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        await self._pool.execute(
            CREATE.sql,
            *CREATE.args(
                token_hash=token_hash(token), institution=institution, label=label.strip()[:200]
            ),
        )
        return token

    async def revoke(self, token_or_prefix: str) -> TokenInfo:
        """Revoke by the token itself or by the hash prefix ``list`` shows (>= 8 hex digits)."""
        value = token_or_prefix.strip()
        if value.startswith(TOKEN_PREFIX):
            lock, arguments = LOCK_BY_HASH, LOCK_BY_HASH.args(token_hash=token_hash(value))
        elif _HASH_PREFIX.match(value):
            lock, arguments = LOCK_BY_PREFIX, LOCK_BY_PREFIX.args(prefix=value)
        else:
            raise TokenError(
                f"give the token ({TOKEN_PREFIX}...) or at least {MIN_PREFIX_CHARS} hex digits "
                "of its hash as shown by `list`"
            )
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(lock.sql, *arguments)
            if not rows:
                raise TokenError("no such token")
            if len(rows) > 1:
                raise TokenError("the prefix matches several tokens; give more digits")
            row = await conn.fetchrow(REVOKE.sql, *REVOKE.args(token_hash=rows[0]["token_hash"]))
        return _info(row)

    async def institution_for(self, token: str) -> Institution | None:
        """The institution a valid, unrevoked token belongs to; ``None`` otherwise."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        return await self.institution_for_hash(token_hash(token))

    async def institution_for_hash(self, hashed: str) -> Institution | None:
        """Like ``institution_for``, for a session that remembers the hash, not the token."""
        institution = await self._pool.fetchval(
            INSTITUTION.sql, *INSTITUTION.args(token_hash=hashed)
        )
        return None if institution is None else self._registry.by_id.get(institution)

    async def list(self) -> list[TokenInfo]:
        rows = await self._pool.fetch(LIST.sql)
        return [_info(row) for row in rows]


def _info(row: asyncpg.Record) -> TokenInfo:
    return TokenInfo(
        hash_prefix=row["token_hash"][:SHOWN_HASH_CHARS],
        institution=row["institution"],
        label=row["label"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


# ---------------------------------------------------------------------------------------------
# CLI


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m services.intake.tokens",
        description="Manage access tokens of intake's HTTP door and web form.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="issue a new token (shown once)")
    create.add_argument("--institution", required=True, help="registry id, e.g. sozialhilfe-2829")
    create.add_argument("--label", required=True, help="who uses it, e.g. 'Fachapplikation'")
    revoke = commands.add_parser("revoke", help="revoke a token")
    revoke.add_argument(
        "--token", required=True, help="the token, or the hash prefix shown by `list`"
    )
    commands.add_parser("list", help="list tokens (hash prefixes only)")
    return parser


async def _run(args: argparse.Namespace, settings: IntakeSettings) -> int:
    # Say where it reads and writes before it connects.
    announce(
        f"intake tokens {args.command}", settings, kafka=False, schema=settings.intake_db_schema
    )
    pool = await create_pool(settings.database_url, settings.intake_db_schema, max_size=2)
    store = TokenStore(pool, load_institutions())
    try:
        if args.command == "create":
            token = await store.create(args.institution, args.label)
            print(f"token for {args.institution} ({args.label}):")
            print(token)
            print("It is shown only now. Store it in the partner's secret store.")
        elif args.command == "revoke":
            info = await store.revoke(args.token)
            print(f"revoked {info.hash_prefix}… of {info.institution} ({info.label})")
        else:
            for info in await store.list():
                revoked = info.revoked_at.isoformat(timespec="seconds") if info.revoked_at else "-"
                print(
                    f"{info.hash_prefix}…  {info.institution:<20}  "
                    f"created {info.created_at.isoformat(timespec='seconds')}  "
                    f"revoked {revoked}  {info.label}"
                )
    except TokenError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except asyncpg.UndefinedTableError:
        print(
            f"error: schema {settings.intake_db_schema} has no token table;"
            " run `python -m services.intake migrate` first",
            file=sys.stderr,
        )
        return 2
    finally:
        await pool.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = load_settings(IntakeSettings, f"intake tokens {args.command}")
    return asyncio.run(_run(args, settings))


if __name__ == "__main__":
    raise SystemExit(main())
