"""Topic names and their planned layout (ARCHITECTURE §4), derived from the registry."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.registry.institutions import InstitutionRegistry, load_institutions

CASE_EVENTS = "iiz.case-events.v1"
DELIVERIES = "iiz.deliveries.v1"
INTAKE_REJECTED = "iiz.intake.rejected.v1"
DELIVERY_OUTCOMES = "iiz.delivery-outcomes.v1"
COORDINATION_REJECTED = "iiz.coordination.rejected.v1"
DIGEST_QUEUE = "iiz.notifications.digest.v1"
NOTIFICATIONS_DEAD_LETTERS = "iiz.notifications.dead-letters.v1"
AUDIT_CHECKPOINTS = "iiz.audit-checkpoints.v1"

_DAY_MS = 24 * 3600 * 1000
# Kafka deletes only closed segments: a topic with finite retention rolls a new segment at least
# daily, so a record is gone at most retention + one day (+ the broker's retention check, 5 min
# by default) after it was written. That bound is the erasure delay of the transient topics
# (docs/retention.md).
SEGMENT_MS = _DAY_MS


@dataclass(frozen=True)
class TopicPlan:
    name: str
    partitions: int
    retention_ms: int  # -1: kept forever
    purpose: str

    @property
    def configs(self) -> dict[str, str]:
        """Topic configs beside ``retention.ms`` that the plan applies (also to existing
        topics): finite retention needs segments that close."""
        return {"segment.ms": str(SEGMENT_MS)} if self.retention_ms > 0 else {}

    @property
    def longest_life_ms(self) -> int | None:
        """How long a record can stay at most (None: kept forever)."""
        return self.retention_ms + SEGMENT_MS if self.retention_ms > 0 else None


def planned_topics(registry: InstitutionRegistry | None = None) -> list[TopicPlan]:
    """Every topic the bus needs, for the infra command that creates them."""
    registry = registry or load_institutions()
    topics = [
        TopicPlan(CASE_EVENTS, 6, -1, "canonical case events, ordered per person"),
        TopicPlan(DELIVERIES, 6, 30 * _DAY_MS, "authorised, minimised deliveries"),
        TopicPlan(INTAKE_REJECTED, 3, 90 * _DAY_MS, "dead letters of intake"),
        TopicPlan(DELIVERY_OUTCOMES, 3, 90 * _DAY_MS, "delivery outcomes for the audit trail"),
        TopicPlan(COORDINATION_REJECTED, 3, 90 * _DAY_MS, "dead letters of coordination"),
        TopicPlan(DIGEST_QUEUE, 3, 7 * _DAY_MS, "coordinator alerts awaiting their e-mail digest"),
        TopicPlan(AUDIT_CHECKPOINTS, 1, -1, "signed audit-log checkpoints, kept forever"),
        TopicPlan(NOTIFICATIONS_DEAD_LETTERS, 3, 90 * _DAY_MS, "deliveries given up on"),
    ]
    for institution in registry.institutions:
        topics.append(
            TopicPlan(institution.intake_topic, 3, 30 * _DAY_MS, f"intake of {institution.id}")
        )
        topics.append(
            TopicPlan(institution.delivery_topic, 3, 30 * _DAY_MS, f"to {institution.id}")
        )
    return topics
