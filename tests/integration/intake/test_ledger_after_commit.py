"""The ledger write after intake's Kafka commit: a failure there is retried with capped backoff
and never makes the batch run again, so nothing is published twice and no receipt repeats."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
import structlog
from aiokafka import AIOKafkaProducer

from schemas.codec import to_kafka
from schemas.events import CaseOpened
from schemas.registry import load_institutions
from schemas.topics import CASE_EVENTS, INTAKE_REJECTED
from services.common.database import asyncpg_dsn
from services.intake.pipeline import LedgerRetry
from services.intake.runtime import IntakeRuntime
from services.intake.settings import IntakeSettings
from services.intake.submission import Submission, canonical_id
from tests.conftest import LogCollector
from tests.factories import sample_event, valid_ahv
from tests.integration.coordination.conftest import eventually
from tests.kafka_tools import Record, end_offsets, read_between

REGISTRY = load_institutions()
RAV = REGISTRY.by_id["rav"]
SUBMISSIONS = 5
RETRY_LINE = "ledger write failed; retrying"


class RefusingLedger:
    """Makes intake's ledger table refuse every INSERT while the fault is on (a trigger)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn  # its search_path is intake's (throw-away) schema

    async def install(self) -> None:
        await self._conn.execute("CREATE TABLE ledger_fault (on_since timestamptz)")
        await self._conn.execute(
            # Run as its owner, in this schema: the service role may not read ledger_fault.
            """CREATE FUNCTION refuse_ledger_rows() RETURNS trigger LANGUAGE plpgsql
            SECURITY DEFINER SET search_path FROM CURRENT AS $$
            BEGIN
                IF EXISTS (SELECT 1 FROM ledger_fault) THEN
                    RAISE EXCEPTION 'the ledger refuses writes (test fault)';
                END IF;
                RETURN NEW;
            END $$"""
        )
        await self._conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON submission_ledger"
            " FOR EACH ROW EXECUTE FUNCTION refuse_ledger_rows()"
        )

    async def switch_on(self) -> None:
        await self._conn.execute("INSERT INTO ledger_fault VALUES (now())")

    async def lift(self) -> None:
        await self._conn.execute("DELETE FROM ledger_fault")

    async def rows(self, ids: set[uuid.UUID]) -> set[uuid.UUID]:
        found = await self._conn.fetch(
            "SELECT canonical_id FROM submission_ledger WHERE canonical_id = ANY($1::uuid[])",
            list(ids),
        )
        return {r["canonical_id"] for r in found}


@pytest.fixture
async def refusing_ledger(intake_settings: IntakeSettings) -> AsyncIterator[RefusingLedger]:
    conn = await asyncpg.connect(  # as the schema owner: it adds and drops a trigger
        asyncpg_dsn(intake_settings.owner_database_url),
        server_settings={"search_path": intake_settings.intake_db_schema},
    )
    ledger = RefusingLedger(conn)
    await ledger.install()
    try:
        yield ledger
    finally:
        await conn.close()


class LiftAfter:
    """A fake sleep for the retry loop: records the delays and lifts the fault at the n-th."""

    def __init__(self, ledger: RefusingLedger, attempts: int) -> None:
        self.delays: list[float] = []
        self._ledger, self._attempts = ledger, attempts

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if len(self.delays) == self._attempts:
            await self._ledger.lift()


def _submissions(first: int) -> list[Submission]:
    return [
        Submission(
            sender=RAV,
            record=to_kafka(
                sample_event(
                    CaseOpened,
                    person={"ahv_number": valid_ahv(first + n), "case_ref": f"L-{first + n}"},
                )
            ),
            channel=f"test:{first + n}",
        )
        for n in range(SUBMISSIONS)
    ]


def _canonical_ids(submissions: list[Submission]) -> set[uuid.UUID]:
    return {canonical_id(s.sender.source, s.original_id or "") for s in submissions}


def _published(records: list[Record], ids: set[uuid.UUID]) -> Counter[uuid.UUID]:
    return Counter(
        found
        for r in records
        if r.topic == CASE_EVENTS and (found := uuid.UUID(dict(r.headers)["ce_id"].decode())) in ids
    )


def _receipts(records: list[Record], submissions: list[Submission]) -> Counter[tuple[str, str]]:
    """(original id, status) of every receipt to these submissions, however often it came."""
    ours = {s.original_id for s in submissions}
    answers = [json.loads(r.value) for r in records if r.topic == RAV.delivery_topic]
    return Counter((a["original_id"], a["status"]) for a in answers if a["original_id"] in ours)


def _dead_letters(records: list[Record], submissions: list[Submission]) -> list[str]:
    ours = {s.original_id for s in submissions}
    found = (dict(r.headers).get("iiz_original_id", b"").decode() for r in records)
    return [original for original in found if original in ours]


def _one_acceptance_each(submissions: list[Submission]) -> dict[tuple[str, str], int]:
    return {(s.original_id or "", "accepted"): 1 for s in submissions}


async def test_a_ledger_that_refuses_writes_after_the_commit_is_retried_with_capped_backoff(
    intake_settings: IntakeSettings, refusing_ledger: RefusingLedger
) -> None:
    submissions = _submissions(first=300)
    ids = _canonical_ids(submissions)
    sleep = LiftAfter(refusing_ledger, attempts=9)
    runtime = IntakeRuntime(
        intake_settings, ledger_retry=LedgerRetry(first=0.1, cap=5.0, sleep=sleep)
    )
    await runtime.start("kafka")
    topics = [CASE_EVENTS, RAV.delivery_topic, INTAKE_REJECTED]
    start = await end_offsets(intake_settings, topics)
    await refusing_ledger.switch_on()
    try:
        assert runtime.pipeline is not None
        with structlog.testing.capture_logs() as logs:
            answered = await runtime.pipeline.process(submissions)
    finally:
        await runtime.stop()

    records = await read_between(intake_settings, start, await end_offsets(intake_settings, topics))
    assert [a.duplicate for a in answered] == [False] * SUBMISSIONS
    assert _published(records, ids) == dict.fromkeys(ids, 1)
    assert _receipts(records, submissions) == _one_acceptance_each(submissions)
    assert _dead_letters([r for r in records if r.topic == INTAKE_REJECTED], submissions) == []
    assert await refusing_ledger.rows(ids) == ids
    assert sleep.delays == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]
    retries = [entry for entry in logs if entry["event"] == RETRY_LINE]
    assert [entry["attempt"] for entry in retries] == list(range(1, 10))
    assert {entry["error"] for entry in retries} == {"RaiseError"}
    assert not [entry for entry in logs if "exc_info" in entry or "exception" in entry]


async def test_stopping_intake_while_it_retries_the_ledger_cancels_the_retry(
    intake_settings: IntakeSettings, refusing_ledger: RefusingLedger
) -> None:
    retrying = asyncio.Event()

    async def wait_for_the_stop(_delay: float) -> None:
        retrying.set()
        await asyncio.Event().wait()  # until cancelled

    runtime = IntakeRuntime(intake_settings, ledger_retry=LedgerRetry(sleep=wait_for_the_stop))
    await runtime.start("kafka")
    await refusing_ledger.switch_on()
    try:
        assert runtime.pipeline is not None
        batch = asyncio.create_task(runtime.pipeline.process(_submissions(first=320)))
        await retrying.wait()
        batch.cancel()
        with pytest.raises(asyncio.CancelledError):
            await batch
    finally:
        await runtime.stop()


@pytest.fixture
def new_log_lines(session_log_lines: LogCollector) -> Callable[[], list[str]]:
    """The log lines written since the test began (the session's collector keeps every line)."""
    before = len(session_log_lines.lines)
    return lambda: session_log_lines.lines[before:]


async def test_the_kafka_door_publishes_a_batch_once_while_the_ledger_refuses_writes(
    running_intake: IntakeSettings,
    refusing_ledger: RefusingLedger,
    partner_producer: AIOKafkaProducer,
    new_log_lines: Callable[[], list[str]],
) -> None:
    settings = running_intake
    submissions = _submissions(first=340)
    ids = _canonical_ids(submissions)
    topics = [CASE_EVENTS, RAV.delivery_topic, INTAKE_REJECTED]
    start = await end_offsets(settings, topics)
    await refusing_ledger.switch_on()
    for s in submissions:
        r = s.record
        await partner_producer.send(RAV.intake_topic, r.value, key=r.key, headers=list(r.headers))
    await partner_producer.flush()

    await eventually(lambda: _retried(new_log_lines, times=3), within=60)
    await refusing_ledger.lift()
    await eventually(lambda: _ledger_has(refusing_ledger, ids), within=60)

    records = await read_between(settings, start, await end_offsets(settings, topics))
    assert _published(records, ids) == dict.fromkeys(ids, 1)
    assert _receipts(records, submissions) == _one_acceptance_each(submissions)
    assert _dead_letters([r for r in records if r.topic == INTAKE_REJECTED], submissions) == []


async def _retried(lines: Callable[[], list[str]], *, times: int) -> bool:
    return sum(RETRY_LINE in line for line in lines()) >= times


async def _ledger_has(ledger: RefusingLedger, ids: set[uuid.UUID]) -> bool:
    return await ledger.rows(ids) == ids
