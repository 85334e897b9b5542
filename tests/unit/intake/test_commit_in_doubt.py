"""A commit that fails half-way must not be redone by this process (the fault suite saw a
batch published twice when the broker died while EndTxn was in flight)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from schemas.codec import KafkaRecord
from services.common.outages import MustRestartError
from services.intake.pipeline import IntakePipeline


class BrokerDiesDuringCommit:
    """A transactional producer whose commit never learns its outcome."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def begin_transaction(self) -> None:
        self.calls.append("begin")

    async def send(self, topic: str, value: bytes, **_: Any) -> Any:
        self.calls.append(f"send {topic}")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def commit_transaction(self) -> None:
        self.calls.append("commit")
        raise TimeoutError("EndTxn sent, no answer: the broker died")

    async def abort_transaction(self) -> None:
        self.calls.append("abort")


async def test_a_commit_whose_outcome_is_unknown_asks_for_a_new_process_and_aborts_nothing() -> (
    None
):
    producer = BrokerDiesDuringCommit()
    pipeline = IntakePipeline.__new__(IntakePipeline)
    pipeline._producer = producer  # type: ignore[assignment]
    pipeline._transaction_timeout = 5.0

    with pytest.raises(MustRestartError):
        await pipeline._publish_atomically([("topic", KafkaRecord(None, b"{}", ()))], None)

    assert producer.calls == ["begin", "send topic", "commit"]  # no abort, no second try
