"""A restarted intake instance fences its predecessor: the zombie's open transaction is
aborted, it can commit nothing more, and read-committed readers never see what it wrote."""

from __future__ import annotations

import contextlib
import gc
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from aiokafka.errors import ProducerFenced

from schemas.codec import to_kafka
from schemas.events import CaseOpened
from schemas.registry import load_institutions
from schemas.topics import CASE_EVENTS
from services.intake.runtime import IntakeRuntime
from services.intake.settings import IntakeSettings
from services.intake.submission import Submission, canonical_id
from tests.factories import sample_event, valid_ahv
from tests.kafka_tools import Record, end_offsets, read_between

REGISTRY = load_institutions()


@pytest.fixture(autouse=True)
def _collect_what_the_fenced_producer_left() -> Iterator[None]:
    """A fenced aiokafka producer keeps futures failed with ProducerFenced that nobody awaits;
    asyncio logs each with its traceback when it is collected. Collect them now rather than at a
    random later moment: CPython 3.11.7 corrupts its AST state when such a traceback is formatted
    while pytest is parsing a module (python/cpython#106905, fixed in 3.11.8)."""
    yield
    gc.collect()


def _submission(n: int) -> Submission:
    event = sample_event(
        CaseOpened, person={"ahv_number": valid_ahv(900 + n), "case_ref": f"FENCE-{n}"}
    )
    return Submission(sender=REGISTRY.by_id["rav"], record=to_kafka(event), channel=f"test:{n}")


def _canonical(submission: Submission) -> str:
    assert submission.original_id is not None
    return str(canonical_id(submission.sender.source, submission.original_id))


def _ids(records: list[Record]) -> set[str]:
    return {dict(r.headers)["ce_id"].decode() for r in records}


@contextlib.asynccontextmanager
async def _started(settings: IntakeSettings, door: str) -> AsyncIterator[IntakeRuntime]:
    runtime = IntakeRuntime(settings)
    await runtime.start(door)
    try:
        yield runtime
    finally:
        with contextlib.suppress(ProducerFenced):  # a fenced producer may complain on stop
            await runtime.stop()


@pytest.mark.parametrize("door", ["kafka", "http"])
async def test_a_successor_started_mid_batch_aborts_the_predecessors_open_transaction(
    intake_settings: IntakeSettings, door: str
) -> None:
    settings = intake_settings
    successor_batch = _submission(1)
    start = await end_offsets(settings, [CASE_EVENTS])

    async with _started(settings, door) as predecessor:
        producer = predecessor.producer
        assert producer is not None
        # The predecessor hangs mid-batch with a transaction open ...
        await producer.begin_transaction()
        zombie_id = str(uuid.uuid4())
        # Not an event with a person in it: whatever a zombie leaves must carry no AHV number.
        await producer.send_and_wait(
            CASE_EVENTS, b'{"zombie": true}', key=b"zombie", headers=[("ce_id", zombie_id.encode())]
        )
        # ... while its replacement starts under the same instance id.
        async with _started(settings, door) as successor:
            assert successor.pipeline is not None
            await successor.pipeline.process([successor_batch])
            with pytest.raises(ProducerFenced):
                await producer.commit_transaction()

    ends = await end_offsets(settings, [CASE_EVENTS])
    on_the_topic = _ids(await read_between(settings, start, ends))
    assert _canonical(successor_batch) in on_the_topic
    assert zombie_id not in on_the_topic


@pytest.mark.parametrize("door", ["kafka", "http"])
async def test_a_successor_started_between_batches_fences_the_predecessors_next_batch(
    intake_settings: IntakeSettings, door: str
) -> None:
    settings = intake_settings
    zombie_batch, successor_batch = _submission(2), _submission(3)
    start = await end_offsets(settings, [CASE_EVENTS])

    async with _started(settings, door) as predecessor, _started(settings, door) as successor:
        assert predecessor.pipeline is not None
        assert successor.pipeline is not None
        await successor.pipeline.process([successor_batch])
        with pytest.raises(ProducerFenced):
            await predecessor.pipeline.process([zombie_batch])

    ends = await end_offsets(settings, [CASE_EVENTS])
    on_the_topic = _ids(await read_between(settings, start, ends))
    assert _canonical(successor_batch) in on_the_topic
    assert _canonical(zombie_batch) not in on_the_topic
