"""Intake killed with SIGKILL mid-stream loses nothing and publishes nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter

from aiokafka import AIOKafkaProducer

from schemas.codec import to_kafka
from schemas.events import CaseOpened
from schemas.registry import load_institutions
from schemas.topics import CASE_EVENTS
from services.intake.settings import IntakeSettings
from services.intake.submission import canonical_id
from tests.factories import sample_event, valid_ahv
from tests.infra import REPO
from tests.kafka_tools import Record, end_offsets, read_until

SUBMISSIONS = 3000


def _start_intake(settings: IntakeSettings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "IIZ_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "IIZ_DATABASE_URL": settings.database_url,
        "IIZ_INTAKE_DB_SCHEMA": settings.intake_db_schema,
        "IIZ_PERSON_DB_SCHEMA": settings.person_db_schema,
        "IIZ_INTAKE_GROUP_ID": settings.intake_group_id,
        "IIZ_INTAKE_INSTANCE_ID": settings.intake_instance_id,
        "IIZ_INTAKE_BATCH_SIZE": "100",
        "IIZ_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "faststream", "run", "--factory"]
    return subprocess.Popen(
        [*command, "services.intake.kafka_door:create_app"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _canonical_ids(records: list[Record]) -> Counter[str]:
    return Counter(dict(r.headers)["ce_id"].decode() for r in records)


async def test_intake_killed_mid_stream_and_restarted_publishes_every_event_exactly_once(
    intake_settings: IntakeSettings, partner_producer: AIOKafkaProducer
) -> None:
    settings = intake_settings
    registry = load_institutions()
    senders = ["rav", "iv", "sozialhilfe-2829"]
    events = [
        sample_event(
            CaseOpened,
            source=registry.by_id[senders[n % 3]].source,
            person={"ahv_number": valid_ahv(n), "case_ref": f"K-{n}"},
        )
        for n in range(SUBMISSIONS)
    ]
    expected = {str(canonical_id(e.source, str(e.id))) for e in events}
    start = await end_offsets(settings, [CASE_EVENTS])
    for n, event in enumerate(events):
        record = to_kafka(event)
        topic = registry.by_id[senders[n % 3]].intake_topic
        await partner_producer.send(
            topic, record.value, key=record.key, headers=list(record.headers)
        )
    await partner_producer.flush()

    first = _start_intake(settings)
    try:
        # Kill only once some, but not all, of the work is committed.
        await read_until(
            settings, start, lambda rs: len(_canonical_ids(rs).keys() & expected) >= 300, within=120
        )
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        first.kill()
    at_kill = await read_until(settings, start, lambda rs: True)
    second = _start_intake(settings)
    try:
        records = await read_until(
            settings, start, lambda rs: expected <= _canonical_ids(rs).keys(), within=180
        )
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    # Read again after the second instance stopped: what is committed now is final.
    final = await read_until(settings, start, lambda rs: expected <= _canonical_ids(rs).keys())

    ours = {i: c for i, c in _canonical_ids(final).items() if i in expected}
    assert len(_canonical_ids(at_kill).keys() & expected) < SUBMISSIONS
    assert set(ours) == expected
    assert max(ours.values()) == 1, [i for i, c in ours.items() if c > 1][:5]
    assert len(records) >= SUBMISSIONS
