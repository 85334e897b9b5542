"""Queries written against the tables' one definition, compiled once for asyncpg."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import bindparam
from sqlmodel import col, select

from services.common.sql import AsyncpgQuery, asyncpg_query
from services.intake import ledger, tables, tokens


def test_bound_names_become_positions_in_the_order_the_sql_uses_them() -> None:
    query = asyncpg_query(
        select(col(tables.AccessTokens.label)).where(
            col(tables.AccessTokens.institution) == bindparam("institution"),
            col(tables.AccessTokens.token_hash) == bindparam("token_hash"),
        )
    )

    assert query.names == ("institution", "token_hash")
    assert query.args(token_hash="h", institution="i") == ("i", "h")
    assert "$1" in query.sql
    assert "$2" in query.sql


def test_values_written_into_the_statement_are_passed_without_being_named() -> None:
    query = asyncpg_query(
        select(col(tables.AccessTokens.label))
        .where(col(tables.AccessTokens.token_hash) == bindparam("token_hash"))
        .limit(1)
    )

    assert query.args(token_hash="h") == ("h", 1)


def test_another_services_table_is_read_with_its_schema_named() -> None:
    statement = select(col(tables.SubmissionLedger.canonical_id))

    assert "FROM intake_x.submission_ledger" in asyncpg_query(statement, schema="intake_x").sql
    assert "FROM submission_ledger" in asyncpg_query(statement).sql
    with pytest.raises(ValueError, match="invalid schema name"):
        asyncpg_query(statement, schema='x"; DROP TABLE y; --')


def test_an_unknown_or_missing_parameter_is_refused() -> None:
    with pytest.raises(TypeError, match="unknown"):
        ledger.KNOWN.args(ids=[], extra=1)
    with pytest.raises(TypeError, match="missing"):
        tokens.REVOKE.args()


@pytest.mark.parametrize(
    ("query", "table"),
    [
        (ledger.KNOWN, "submission_ledger"),
        (ledger.RECORD, "submission_ledger"),
        (tokens.CREATE, "access_tokens"),
        (tokens.LOCK_BY_HASH, "access_tokens"),
        (tokens.LOCK_BY_PREFIX, "access_tokens"),
        (tokens.REVOKE, "access_tokens"),
        (tokens.INSTITUTION, "access_tokens"),
        (tokens.LIST, "access_tokens"),
    ],
)
def test_intake_queries_name_no_schema_so_the_search_path_chooses_it(
    query: AsyncpgQuery, table: str
) -> None:
    assert re.search(rf"\b(FROM|INTO|UPDATE) {table}\b", query.sql)
    assert not re.search(rf"\w\.{table}\b", query.sql)
