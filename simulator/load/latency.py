"""Submission → recipient-topic latency: matching what the partners read to what was sent.

Pure. A partner's delivery names the canonical event it carries in ``ce_causationid``; intake
makes that id from the submission's source and id (``services.intake.submission.canonical_id``),
so the sender knows it before any answer. A receipt names the submission's own id. Alerts (the
deadline scheduler's, about an event) and refusals are not deliveries of a submission and are
counted apart. Every latency is measured from the slot's scheduled time, not from when the
sender managed to send it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from schemas.alerts import Alert
from schemas.receipts import Receipt
from schemas.refusals import Refusal

RECEIPT_TYPE = Receipt.cloud_event_type()
ALERT_TYPE = Alert.cloud_event_type()
REFUSAL_TYPE = Refusal.cloud_event_type()


@dataclass(frozen=True)
class Arrival:
    """One record a partner read from its delivery topic, and when (wall clock, seconds)."""

    record_id: str  # ce_id: a delivery read twice is one delivery
    causation: str | None  # ce_causationid
    type: str  # ce_type
    at: float


@dataclass(frozen=True)
class Percentiles:
    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float


@dataclass(frozen=True)
class Matched:
    """What of a load step's submissions reached the partners."""

    deliveries: list[float]  # seconds from the scheduled send, one per delivery
    receipts: list[float]  # seconds from the scheduled send to the sender's receipt
    refusals: int
    alerts: int
    repeated: int  # records read more than once (the same ce_id)


def percentile(ordered: Sequence[float], share: float) -> float:
    """The nearest-rank percentile of ascending ``ordered`` (``share`` in (0, 1])."""
    if not ordered:
        raise ValueError("no values")
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def summarise(seconds: Iterable[float]) -> Percentiles | None:
    ordered = sorted(seconds)
    if not ordered:
        return None
    return Percentiles(
        count=len(ordered),
        p50_ms=percentile(ordered, 0.50) * 1000,
        p99_ms=percentile(ordered, 0.99) * 1000,
        max_ms=ordered[-1] * 1000,
    )


def match(
    arrivals: Iterable[Arrival],
    canonical_due: Mapping[str, float],
    original_due: Mapping[str, float],
) -> Matched:
    """The arrivals that answer or deliver this step's submissions: ``canonical_due`` maps each
    canonical event id, ``original_due`` each submission's own id, to its scheduled time."""
    deliveries: list[float] = []
    receipts: list[float] = []
    refusals = alerts = repeated = 0
    seen: set[tuple[str, str]] = set()
    for arrival in arrivals:
        if arrival.causation is None:
            continue
        if arrival.type == RECEIPT_TYPE:
            due = original_due.get(arrival.causation)
        else:
            due = canonical_due.get(arrival.causation)
        if due is None:
            continue
        identity = (arrival.type, arrival.record_id)
        if identity in seen:
            repeated += 1
            continue
        seen.add(identity)
        if arrival.type == RECEIPT_TYPE:
            receipts.append(arrival.at - due)
        elif arrival.type == ALERT_TYPE:
            alerts += 1
        elif arrival.type == REFUSAL_TYPE:
            refusals += 1
        else:
            deliveries.append(arrival.at - due)
    return Matched(deliveries, receipts, refusals, alerts, repeated)
