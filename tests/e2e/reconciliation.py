"""Compares what partners received with what the independent model expects.

Works on raw records of any delivery topic: ``iiz.deliveries.v1`` (coordination's outbox, the
AHV number sealed where identity is authorised) or the partners' ``iiz.deliver.<inst>.v1``
(notifications, the AHV number in clear there). Alerts are counted, not compared; deliveries of
events that are not this run's are ignored.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from schemas.ahv import contains_ahv_number
from simulator.partners import ReceivedDelivery
from tests.e2e.expected import (
    CLEAR_AHV,
    SEALED_AHV,
    Expected,
    Key,
    lookup,
    schema_facts,
    without,
)

ALERT_TYPE = "ch.bl.iiz.alert.v1"
RECEIPT_TYPE = "ch.bl.iiz.receipt.v1"
PARTNER_TOPIC_PREFIX = "iiz.deliver."
IDENTITY_PATHS = frozenset({CLEAR_AHV, SEALED_AHV})
Finding = tuple[uuid.UUID, str, str]  # event, recipient, what


@dataclass
class Reconciliation:
    """The differences between expected and received deliveries (empty lists: none)."""

    matched: int = 0
    missing: list[Key] = field(default_factory=list)
    unexpected: list[Key] = field(default_factory=list)
    duplicates: list[Key] = field(default_factory=list)  # twice, with another id or on a topic
    not_withheld: list[Finding] = field(default_factory=list)  # a marked field it must lack
    identity_leaks: list[Key] = field(default_factory=list)  # an AHV number without identity
    over_minimised: list[Finding] = field(default_factory=list)  # an authorised field missing
    altered: list[Finding] = field(default_factory=list)  # content differs from what was sent
    wrong_basis: list[Finding] = field(default_factory=list)  # basis missing or not a consent
    misrouted: list[Finding] = field(default_factory=list)  # on another institution's topic
    alerts: int = 0  # alerts about this run's persons (not compared)
    repeats_on_bus: int = 0  # a delivery id again on iiz.deliveries.v1 (the relay may repeat)
    foreign: int = 0  # deliveries of events that are not this run's

    KINDS = (
        "missing", "unexpected", "duplicates", "not_withheld", "identity_leaks",
        "over_minimised", "altered", "wrong_basis", "misrouted",
    )  # fmt: skip

    @property
    def differences(self) -> int:
        return sum(len(getattr(self, kind)) for kind in self.KINDS)

    def describe(self) -> str:
        lines = [f"matched {self.matched}, differences {self.differences}, alerts {self.alerts}"]
        for kind in self.KINDS:
            found = getattr(self, kind)
            if found:
                lines.append(f"  {kind} ({len(found)}): {found[:5]}")
        return "\n".join(lines)


def compare(expected: Expected, received: Iterable[ReceivedDelivery]) -> Reconciliation:
    """Received deliveries (raw records of delivery topics) against the expected ones."""
    result = Reconciliation()
    ours = expected.accepted_ids
    ids: dict[Key, set[str]] = {}
    seen_on_topic: set[tuple[str, str]] = set()
    subjects: set[str | None] = set()
    alerts: list[ReceivedDelivery] = []
    for record in received:
        kind = record.header("ce_type")
        causation = _uuid(record.header("ce_causationid"))
        if kind == ALERT_TYPE:
            alerts.append(record)
            continue
        if kind == RECEIPT_TYPE or causation not in ours:
            result.foreign += kind != RECEIPT_TYPE
            continue
        assert causation is not None
        owner = _topic_owner(record.topic)
        recipient = record.header("ce_recipient") or owner or "?"
        key, delivery_id = (causation, recipient), record.header("ce_id") or "?"
        subjects.add(record.header("ce_subject"))
        if owner is not None and owner != recipient:
            result.misrouted.append((causation, recipient, record.topic))
        if (record.topic, delivery_id) in seen_on_topic:
            if owner is not None:
                result.duplicates.append(key)
            else:
                result.repeats_on_bus += 1
            continue
        seen_on_topic.add((record.topic, delivery_id))
        if ids.setdefault(key, set()) and delivery_id not in ids[key]:
            result.duplicates.append(key)
        ids[key].add(delivery_id)
        if key not in expected.deliveries:
            result.unexpected.append(key)
        else:
            check_content(expected, key, record, result)
    result.matched = len(set(ids) & set(expected.deliveries))
    result.missing = sorted(set(expected.deliveries) - set(ids), key=str)
    result.alerts = sum(
        _uuid(a.header("ce_causationid")) in ours or a.header("ce_subject") in subjects
        for a in alerts
    )
    return result


def check_content(
    expected: Expected, key: Key, record: ReceivedDelivery, result: Reconciliation
) -> None:
    """Fields withheld as expected, nothing else changed, the basis a consent that holds."""
    event_id, recipient = key
    withheld, sent = expected.deliveries[key], expected.events[event_id]
    data = json.loads(record.value)
    result.not_withheld.extend(
        (event_id, recipient, path)
        for path in sorted(withheld - IDENTITY_PATHS)
        if lookup(data, path) is not None
    )
    clear = lookup(data, CLEAR_AHV)
    if withheld & IDENTITY_PATHS:
        texts = [record.value, *(value for _, value in record.headers)]
        if lookup(data, SEALED_AHV) is not None or any(
            contains_ahv_number(t.decode("utf-8", "replace")) for t in texts
        ):
            result.identity_leaks.append(key)
    elif clear is None and lookup(data, SEALED_AHV) is None:
        result.over_minimised.append((event_id, recipient, CLEAR_AHV))
    elif clear is not None and str(clear).replace(".", "") != sent.ahv_digits:
        result.identity_leaks.append(key)  # another person's number
    result.over_minimised.extend(
        (event_id, recipient, path)
        for path in sorted(sent.marked - withheld - IDENTITY_PATHS)
        if lookup(data, path) is None
    )
    if without(data, schema_facts(sent.event_type).marked) != sent.content:
        result.altered.append((event_id, recipient, "data"))
    named = {r for r in (record.header("ce_consentref") or "").split(",") if r}
    if record.header("ce_legalbasis") or not named:  # the legal-basis matrix is empty
        result.wrong_basis.append((event_id, recipient, "no consent named"))
    elif not {_uuid(r) for r in named} <= expected.bases[key]:
        result.wrong_basis.append((event_id, recipient, ",".join(sorted(named))))


def _topic_owner(topic: str) -> str | None:
    if topic.startswith(PARTNER_TOPIC_PREFIX) and topic.endswith(".v1"):
        return topic.removeprefix(PARTNER_TOPIC_PREFIX).removesuffix(".v1")
    return None


def _uuid(text: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(text) if text else None
    except ValueError:
        return None
