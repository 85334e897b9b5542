"""Tells an outage (a dependency away: retry later) from a record's own fault (dead-letter it).

The consumer edge asks this about every failure. Getting it wrong one way dead-letters a good
record during an outage; the other way stalls a partition on a bad record. So the rule is
narrow and written once: what the network, the broker or PostgreSQL say about *themselves* is an
outage; everything else is the record's fault until a probe of the dependencies says otherwise
(the edge probes before it dead-letters anything).
"""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import errors as kafka_errors

# PostgreSQL SQLSTATE classes that describe the server or the connection, not the data:
# 08 connection exception, 40 transaction rollback (serialisation, deadlock), 53 insufficient
# resources, 55 object not in prerequisite state (lock not available), 57 operator
# intervention (shutdown, cancel), 58 system error; see below for 3F and 42.
# 3F invalid schema name and 42 undefined table/column or insufficient privilege: a schema that
# is missing or not migrated, never a record's fault (the SQL is parameterised).
_POSTGRES_OUTAGE_CLASSES = ("08", "3F", "40", "42", "53", "55", "57", "58")


class MustRestartError(Exception):
    """This process cannot go on safely (e.g. a transaction's outcome is unknown); a new process
    (started by the orchestrator, or the fault suite) resolves it and takes over."""


def is_fatal(error: BaseException) -> bool:
    """True if this process must stop: another instance took its place, it lacks a right, or
    it cannot tell what it already did."""
    return isinstance(
        error,
        MustRestartError
        | kafka_errors.ProducerFenced
        | kafka_errors.TransactionalIdAuthorizationFailed
        | kafka_errors.TopicAuthorizationFailedError
        | kafka_errors.GroupAuthorizationFailedError
        | kafka_errors.ClusterAuthorizationFailedError,
    )


def is_outage(error: BaseException) -> bool:
    """True if the failure is about a dependency being away, not about the records."""
    if isinstance(error, OSError | asyncio.TimeoutError | TimeoutError | ConnectionError):
        return True
    if isinstance(error, asyncpg.InterfaceError):  # connection closed, pool closing
        return True
    if isinstance(error, asyncpg.PostgresError):
        state = getattr(error, "sqlstate", None) or ""
        return state[:2] in _POSTGRES_OUTAGE_CLASSES
    if isinstance(error, kafka_errors.KafkaError):
        return _kafka_outage(error)
    cause = error.__cause__ or error.__context__
    return cause is not None and cause is not error and is_outage(cause)


def _kafka_outage(error: kafka_errors.KafkaError) -> bool:
    if isinstance(error, kafka_errors.MessageSizeTooLargeError | kafka_errors.RecordTooLargeError):
        return False  # the record itself is too large
    if isinstance(
        error,
        kafka_errors.KafkaConnectionError
        | kafka_errors.KafkaTimeoutError
        | kafka_errors.NodeNotReadyError
        | kafka_errors.RequestTimedOutError
        | kafka_errors.NotEnoughReplicasError
        | kafka_errors.NotEnoughReplicasAfterAppendError
        | kafka_errors.NotLeaderForPartitionError
        | kafka_errors.LeaderNotAvailableError
        | kafka_errors.CoordinatorNotAvailableError
        | kafka_errors.NotCoordinatorError
        | kafka_errors.ConcurrentTransactions,
    ):
        return True
    return bool(getattr(error, "retriable", False))


def log_failure(log: Any, message: str, error: BaseException, **context: Any) -> None:
    """An outage in one calm line; anything else with its traceback (it is a bug to fix)."""
    if is_outage(error):
        log.warning(message, error=type(error).__name__, **context)
    else:
        log.error(message, error=type(error).__name__, exc_info=error, **context)


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with full jitter: attempt 1 waits up to ``base`` seconds."""

    base: float = 0.2
    cap: float = 10.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        ceiling = min(self.cap, self.base * math.pow(2, max(0, attempt - 1)))
        draw = (rng or random).uniform(0.5, 1.0)
        return ceiling * draw
