"""What a run did, counted from the topics (read committed, from the run's start offsets) and
from coordination's tables (the run's own schema), as id sets:

sent → accepted (canonical ids on ``iiz.case-events.v1``) → on the timeline → authorised
(outbox rows) → published (delivery ids on ``iiz.deliveries.v1``) → delivered (delivery ids on
the recipients' partner topics, or for coordinator alerts the digest queue).

**lost** sums the four set differences; **duplicated** counts effects that happened twice
(a canonical id twice on the bus, two timeline or outbox rows for one event and recipient, two
different receipts or two intake dead letters for one submission); **repeated deliveries** (a
delivery id more than once on a partner topic) are the documented at-least-once and counted
apart, as are repeated dead letters of coordination and notifications (same id or key).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import asyncpg

from schemas.alerts import Alert
from schemas.receipts import Receipt
from schemas.registry.institutions import InstitutionRegistry
from schemas.topics import (
    CASE_EVENTS,
    COORDINATION_REJECTED,
    DELIVERIES,
    DIGEST_QUEUE,
    INTAKE_REJECTED,
    NOTIFICATIONS_DEAD_LETTERS,
)
from simulator.script import Expect
from tests.faults.poison import PoisonSent
from tests.faults.tail import Seen, Tail
from tests.faults.traffic import Traffic

RECEIPT_TYPE = Receipt.cloud_event_type()
ALERT_TYPE = Alert.cloud_event_type()
FINAL = ("delivered", "dead-lettered")
EXAMPLES = 5


def _uuid(text: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(text) if text else None
    except ValueError:
        return None


def _examples(ids: Iterable[object]) -> list[str]:
    return sorted(str(i) for i in ids)[:EXAMPLES]


def _extra(counter: Counter[Any]) -> int:
    return sum(n - 1 for n in counter.values() if n > 1)


@dataclass
class Counts:
    sent: int = 0
    accepted: int = 0
    timeline: int = 0
    authorised: int = 0
    published: int = 0
    delivered: int = 0
    lost: dict[str, int] = field(default_factory=dict)
    duplicated: dict[str, int] = field(default_factory=dict)
    repeated_deliveries: int = 0
    repeated: dict[str, int] = field(default_factory=dict)  # other documented repeats
    poison_sent: int = 0
    poison_answered: int = 0
    poison_unanswered: list[str] = field(default_factory=list)
    poison_reasons: dict[str, int] = field(default_factory=dict)
    partner_mistakes: int = 0
    partner_mistakes_answered: int = 0
    resubmissions: int = 0
    resubmissions_answered: int = 0
    unpublished_outbox: int = 0
    without_final_outcome: int = 0
    valid_dead_lettered: dict[str, int] = field(default_factory=dict)
    phantoms: dict[str, int] = field(default_factory=dict)  # effects of nothing this run sent
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def lost_total(self) -> int:
        return sum(self.lost.values())

    @property
    def duplicated_total(self) -> int:
        return sum(self.duplicated.values())

    @property
    def complete(self) -> bool:
        """Everything expected has arrived (the run may settle)."""
        return (
            self.lost_total == 0
            and self.poison_answered == self.poison_sent
            and self.partner_mistakes_answered == self.partner_mistakes
            and self.resubmissions_answered == self.resubmissions
            and self.unpublished_outbox == 0
            and self.without_final_outcome == 0
        )

    def signature(self) -> tuple[object, ...]:
        """Changes whenever anything counted changes."""
        return (
            self.accepted,
            self.timeline,
            self.authorised,
            self.published,
            self.delivered,
            self.repeated_deliveries,
            tuple(sorted(self.duplicated.items())),
            tuple(sorted(self.repeated.items())),
            self.poison_answered,
            self.unpublished_outbox,
            self.without_final_outcome,
        )

    def as_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found["lost_total"] = self.lost_total
        found["duplicated_total"] = self.duplicated_total
        return found


async def count(
    traffic: Traffic, tail: Tail, pool: asyncpg.Pool, registry: InstitutionRegistry
) -> Counts:
    c = Counts()
    records = tail.records
    poison_at = {(p.poison.topic, p.partition, p.offset) for p in traffic.poison}

    # ----- intake: sent → accepted ----------------------------------------------------------
    sent = traffic.sent_valid()
    c.sent = len(sent)
    on_bus: Counter[uuid.UUID] = Counter()
    for r in records[CASE_EVENTS]:
        if (r.topic, r.partition, r.offset) in poison_at:
            continue
        event_id = _uuid(r.header("ce_id"))
        if event_id is not None:
            on_bus[event_id] += 1
    accepted = set(on_bus) & sent
    c.accepted = len(accepted)
    c.phantoms["canonical events not sent"] = len(set(on_bus) - sent)
    c.duplicated["canonical id twice on the bus"] = _extra(on_bus)
    c.examples["canonical id twice on the bus"] = _examples(i for i, n in on_bus.items() if n > 1)

    # ----- answers to every submission (receipts, dead letters) -----------------------------
    receipts = traffic.receipts.by_channel
    ids_per_channel = {ch: Counter(rid for rid, _ in found) for ch, found in receipts.items()}
    c.duplicated["two receipts for one submission"] = sum(
        len(ids) - 1 for ids in ids_per_channel.values()
    )
    c.repeated["receipt repeated (same id)"] = sum(_extra(ids) for ids in ids_per_channel.values())
    intake_dead = Counter(r.header("iiz_channel") for r in records[INTAKE_REJECTED])
    c.duplicated["two intake dead letters for one submission"] = _extra(intake_dead)
    for s in traffic.submissions:
        answers = receipts.get(s.channel, [])
        statuses = {data.get("status") for _, data in answers}
        if s.step.expect is Expect.REJECTED:
            c.partner_mistakes += 1
            c.partner_mistakes_answered += "rejected" in statuses and s.channel in intake_dead
        elif s.step.expect is Expect.DUPLICATE:
            c.resubmissions += 1
            c.resubmissions_answered += bool(statuses & {"duplicate", "accepted"})
        elif "rejected" in statuses:
            c.valid_dead_lettered["rejected by intake"] = (
                c.valid_dead_lettered.get("rejected by intake", 0) + 1
            )

    # ----- coordination: accepted → timeline ------------------------------------------------
    timeline_rows = await pool.fetch("SELECT event_id FROM timeline")
    timeline = Counter(r["event_id"] for r in timeline_rows)
    c.timeline = len(set(timeline) & accepted)
    c.phantoms["timeline entries not accepted"] = len(set(timeline) - set(on_bus))
    c.duplicated["two timeline rows for one event"] = _extra(timeline)
    refused = await pool.fetchval(
        "SELECT count(*) FROM processed_events p WHERE outcome = 'dead-lettered'"
        " AND p.event_id = ANY($1::uuid[])",
        list(accepted),
    )
    c.valid_dead_lettered["valid events dead-lettered by coordination"] = int(refused or 0)

    # ----- authorised → published → delivered -----------------------------------------------
    outbox = await pool.fetch(
        "SELECT delivery_id, published_at IS NOT NULL AS published,"
        " (SELECT h->>1 FROM jsonb_array_elements(headers) h WHERE h->>0 = 'ce_causationid'"
        "  LIMIT 1) AS cause,"
        " (SELECT h->>1 FROM jsonb_array_elements(headers) h WHERE h->>0 = 'ce_recipient'"
        "  LIMIT 1) AS recipient,"
        " (SELECT h->>1 FROM jsonb_array_elements(headers) h WHERE h->>0 = 'ce_type'"
        "  LIMIT 1) AS type"
        " FROM outbox"
    )
    authorised = {r["delivery_id"] for r in outbox}
    c.authorised = len(authorised)
    c.unpublished_outbox = sum(1 for r in outbox if not r["published"])
    per_event_recipient = Counter(
        (r["cause"], r["recipient"]) for r in outbox if r["type"] != ALERT_TYPE
    )
    c.duplicated["two outbox rows for one event and recipient"] = _extra(per_event_recipient)
    c.duplicated["two outbox rows for one delivery id"] = _extra(
        Counter(r["delivery_id"] for r in outbox)
    )
    decisions = await pool.fetchval(
        "SELECT count(*) - count(DISTINCT (event_id, recipient)) FROM decisions"
    )
    c.duplicated["two decisions for one event and recipient"] = int(decisions or 0)

    delivery_poison = {p.poison.key for p in traffic.poison if p.poison.topic == DELIVERIES}
    on_deliveries: Counter[uuid.UUID] = Counter()
    for r in records[DELIVERIES]:
        delivery_id = _uuid(r.header("ce_id"))
        if r.key in delivery_poison or delivery_id is None:
            continue
        on_deliveries[delivery_id] += 1
    published = set(on_deliveries) & authorised
    c.published = len(published)
    c.phantoms["deliveries not in the outbox"] = len(set(on_deliveries) - authorised)
    c.repeated["delivery published again (relay, same id)"] = _extra(on_deliveries)

    partner_topics = {i.delivery_topic for i in registry.institutions}
    at_partners: Counter[uuid.UUID] = Counter()
    for topic in partner_topics:
        for r in records[topic]:
            if r.header("ce_type") == RECEIPT_TYPE:
                continue
            delivery_id = _uuid(r.header("ce_id"))
            if delivery_id is not None:
                at_partners[delivery_id] += 1
    queued: Counter[uuid.UUID] = Counter()
    for r in records[DIGEST_QUEUE]:
        delivery_id = _uuid(r.header("ce_id"))
        if delivery_id is not None:
            queued[delivery_id] += 1
    delivered = (set(at_partners) | set(queued)) & published
    c.delivered = len(delivered)
    c.repeated_deliveries = _extra(at_partners)
    c.repeated["alert queued for the digest again"] = _extra(queued)
    dead_deliveries = {
        _uuid(r.header("ce_id"))
        for r in records[NOTIFICATIONS_DEAD_LETTERS]
        if r.key not in delivery_poison
    }
    c.valid_dead_lettered["valid deliveries dead-lettered by notifications"] = len(
        dead_deliveries & authorised
    )

    final = await pool.fetch(
        "SELECT DISTINCT delivery_id FROM delivery_outcomes WHERE status = ANY($1::text[])",
        list(FINAL),
    )
    c.without_final_outcome = len(published - {r["delivery_id"] for r in final})

    lost = {
        "sent, not accepted": sent - accepted,
        "accepted, not on the timeline": accepted - set(timeline),
        "authorised, not published": authorised - published,
        "published, not delivered": published - delivered,
    }
    c.lost = {kind: len(ids) for kind, ids in lost.items()}
    c.examples.update({kind: _examples(ids) for kind, ids in lost.items() if ids})

    # ----- poison -----------------------------------------------------------------------------
    answers = _poison_answers(traffic, records)
    c.poison_sent = len(traffic.poison)
    unanswered = []
    reasons: Counter[str] = Counter()
    for p in traffic.poison:
        found = answers.get(id(p), [])
        if found and all(found):
            c.poison_answered += 1
        else:
            unanswered.append(f"{p.poison.target}:{p.poison.kind}@{p.where}")
        reasons.update(_reasons(p, records, receipts))
    c.poison_unanswered = unanswered[:EXAMPLES]
    c.poison_reasons = dict(sorted(reasons.items()))
    c.repeated["dead letter repeated (coordination/notifications)"] = _poison_repeats(
        traffic, records
    )
    return c


def _poison_answers(traffic: Traffic, records: dict[str, list[Seen]]) -> dict[int, list[bool]]:
    """For each poison record: is each answer it is owed there?"""
    intake_dead = {r.header("iiz_channel") for r in records[INTAKE_REJECTED]}
    coordination_dead_at = {
        (r.header("iiz_topic"), r.header("iiz_partition"), r.header("iiz_offset"))
        for r in records[COORDINATION_REJECTED]
    }
    coordination_dead_keys = {
        r.key for r in records[COORDINATION_REJECTED] if r.header("iiz_topic") is None
    }
    notifications_dead_keys = {r.key for r in records[NOTIFICATIONS_DEAD_LETTERS]}
    receipts = traffic.receipts.by_channel
    found: dict[int, list[bool]] = {}
    for p in traffic.poison:
        target = p.poison.target
        if target == "intake":
            channel = f"kafka:{p.where}"
            rejected = any(d.get("status") == "rejected" for _, d in receipts.get(channel, []))
            found[id(p)] = [rejected, channel in intake_dead]
        elif target == "case-events":
            at = (p.poison.topic, str(p.partition), str(p.offset))
            found[id(p)] = [at in coordination_dead_at]
        elif target == "deliveries":
            found[id(p)] = [p.poison.key in notifications_dead_keys]
        else:
            found[id(p)] = [p.poison.key in coordination_dead_keys]
    return found


def _reasons(
    p: PoisonSent,
    records: dict[str, list[Seen]],
    receipts: dict[str, list[tuple[str, dict[str, Any]]]],
) -> list[str]:
    target, kind = p.poison.target, p.poison.kind
    if target == "intake":
        return [
            f"intake/{kind}: {d.get('reason')}" for _, d in receipts.get(f"kafka:{p.where}", [])
        ][:1]
    if target == "case-events":
        return [
            f"case-events/{kind}: {r.header('iiz_reason')}"
            for r in records[COORDINATION_REJECTED]
            if r.header("iiz_topic") == p.poison.topic
            and r.header("iiz_partition") == str(p.partition)
            and r.header("iiz_offset") == str(p.offset)
        ][:1]
    topic = NOTIFICATIONS_DEAD_LETTERS if target == "deliveries" else COORDINATION_REJECTED
    return [
        f"{target}/{kind}: {r.header('iiz_reason')}"
        for r in records[topic]
        if r.key == p.poison.key
    ][:1]


def _poison_repeats(traffic: Traffic, records: dict[str, list[Seen]]) -> int:
    wanted_keys = {p.poison.key for p in traffic.poison if p.poison.target != "intake"}
    by_key = Counter(
        r.key
        for topic in (COORDINATION_REJECTED, NOTIFICATIONS_DEAD_LETTERS)
        for r in records[topic]
        if r.key in wanted_keys and r.header("iiz_topic") is None
    )
    by_id = Counter(
        r.header("iiz_dead_letter_id")
        for r in records[COORDINATION_REJECTED]
        if r.header("iiz_dead_letter_id")
    )
    return _extra(by_key) + _extra(by_id)
