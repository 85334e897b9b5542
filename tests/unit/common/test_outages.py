"""Which failures are outages (retry), which are a record's fault (isolate), which end the
process (restart) — found by the fault suite (docs/reliability.md, findings)."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka import errors as kafka_errors

from services.common.outages import MustRestartError, is_fatal, is_outage


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.UndefinedTableError("relation submission_ledger does not exist"),
        asyncpg.exceptions.InsufficientPrivilegeError("permission denied"),
        asyncpg.exceptions.InvalidSchemaNameError("schema does not exist"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.DeadlockDetectedError("deadlock"),
        ConnectionRefusedError("connection refused"),
        kafka_errors.KafkaConnectionError("broker away"),
        kafka_errors.NotEnoughReplicasError("isr too small"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_missing_table_or_an_absent_dependency_is_an_outage_not_the_records_fault(
    error: BaseException,
) -> None:
    assert is_outage(error)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.UntranslatableCharacterError("\\u0000 cannot be converted"),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        ValueError("a bug this record triggers"),
        kafka_errors.MessageSizeTooLargeError("too large"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_what_a_record_causes_is_not_an_outage(error: BaseException) -> None:
    assert not is_outage(error)


def test_an_unknown_commit_outcome_and_a_fenced_producer_end_the_process() -> None:
    assert is_fatal(MustRestartError("the outcome of a transaction's commit is unknown"))
    assert is_fatal(kafka_errors.ProducerFenced())
    assert not is_fatal(ConnectionRefusedError())
