"""After everything else ran: no valid AHV number on any internal topic or in any log line.

The partners' delivery topics are not internal: there the AHV number is opened for deliveries
whose identity category was authorised (tests/integration/notifications, tests/e2e).
"""

from __future__ import annotations

import pytest

from schemas.topics import (
    CASE_EVENTS,
    COORDINATION_REJECTED,
    DELIVERIES,
    DELIVERY_OUTCOMES,
    DIGEST_QUEUE,
    INTAKE_REJECTED,
    NOTIFICATIONS_DEAD_LETTERS,
)
from services.common.settings import CommonSettings
from tests.ahv_scan import find_valid_ahv_numbers, find_valid_ahv_numbers_in_bytes
from tests.conftest import LogCollector
from tests.kafka_tools import read_all

INTERNAL_TOPICS = [
    CASE_EVENTS,
    DELIVERIES,
    INTAKE_REJECTED,
    DELIVERY_OUTCOMES,
    COORDINATION_REJECTED,
    DIGEST_QUEUE,
    NOTIFICATIONS_DEAD_LETTERS,
]

pytestmark = pytest.mark.leak_audit


async def test_no_internal_topic_holds_a_valid_ahv_number(settings: CommonSettings) -> None:
    records = await read_all(settings, INTERNAL_TOPICS)

    leaks = [
        (r.topic, r.offset)
        for r in records
        if find_valid_ahv_numbers_in_bytes(r.value or b"")
        or find_valid_ahv_numbers_in_bytes(r.key or b"")
        or any(find_valid_ahv_numbers_in_bytes(value) for _name, value in r.headers)
    ]
    assert records, "nothing on internal topics: the audit would prove nothing"
    assert leaks == []


def test_no_log_line_of_the_session_holds_a_valid_ahv_number(
    session_log_lines: LogCollector,
) -> None:
    leaking = [line[:120] for line in session_log_lines.lines if find_valid_ahv_numbers(line)]

    assert session_log_lines.lines, "nothing was logged: the audit would prove nothing"
    assert leaking == []
