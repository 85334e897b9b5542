"""Matching what the partners read to what was sent, and the percentiles of the latencies."""

from __future__ import annotations

import pytest

from simulator.load.latency import (
    ALERT_TYPE,
    RECEIPT_TYPE,
    REFUSAL_TYPE,
    Arrival,
    match,
    percentile,
    summarise,
)

DELIVERY = "ch.bl.iiz.case.opened.v1"


def test_the_nearest_rank_percentile_takes_the_value_at_the_rank() -> None:
    values = [float(n) for n in range(1, 101)]

    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([7.0], 0.99) == 7.0


def test_a_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)


def test_a_summary_is_in_milliseconds_and_sorts_first() -> None:
    found = summarise([0.3, 0.1, 0.2, 2.0])

    assert found is not None
    assert (found.count, found.p50_ms, found.p99_ms, found.max_ms) == (4, 200.0, 2000.0, 2000.0)
    assert summarise([]) is None


def test_deliveries_are_matched_by_causation_to_the_scheduled_time_of_their_event() -> None:
    arrivals = [
        Arrival("d1", "canon-a", DELIVERY, 10.25),
        Arrival("d2", "canon-a", DELIVERY, 10.5),  # the same event to a second recipient
        Arrival("d3", "canon-b", DELIVERY, 11.0),
        Arrival("d4", "canon-of-another-run", DELIVERY, 11.0),
    ]

    found = match(arrivals, {"canon-a": 10.0, "canon-b": 10.75}, {})

    assert sorted(found.deliveries) == [0.25, 0.25, 0.5]


def test_receipts_are_matched_by_the_submissions_own_id() -> None:
    arrivals = [
        Arrival("r1", "orig-a", RECEIPT_TYPE, 10.125),
        Arrival("r2", "canon-a", RECEIPT_TYPE, 10.5),  # a receipt never names the canonical id
    ]

    found = match(arrivals, {"canon-a": 10.0}, {"orig-a": 10.0})

    assert found.receipts == [0.125]
    assert found.deliveries == []


def test_alerts_and_refusals_are_counted_apart_not_as_latencies() -> None:
    arrivals = [
        Arrival("a1", "canon-a", ALERT_TYPE, 70.0),
        Arrival("f1", "canon-a", REFUSAL_TYPE, 10.2),
        Arrival("d1", "canon-a", DELIVERY, 10.1),
    ]

    found = match(arrivals, {"canon-a": 10.0}, {})

    assert (found.alerts, found.refusals) == (1, 1)
    assert found.deliveries == [pytest.approx(0.1)]


def test_a_record_read_twice_is_one_delivery() -> None:
    arrivals = [
        Arrival("d1", "canon-a", DELIVERY, 10.1),
        Arrival("d1", "canon-a", DELIVERY, 12.0),
        Arrival("d2", None, DELIVERY, 12.0),  # no causation: not ours
    ]

    found = match(arrivals, {"canon-a": 10.0}, {})

    assert found.deliveries == [pytest.approx(0.1)]
    assert found.repeated == 1
