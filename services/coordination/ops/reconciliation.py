"""The report of a reconciliation: pairs of counts that must be equal, and for each kind of
difference up to ``MAX_EXAMPLES`` ids (event, delivery or topic position ids: never personal
data)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

MAX_EXAMPLES = 10

MISSING_FROM_TIMELINE = "missing from the timeline"
NOT_ON_TOPIC = "on the timeline, not on the topic"
LEDGER_MISSING = "ledger missing"
DELIVERY_MISSING = "delivery missing"
WITHOUT_DECISION = "delivery without a decision"
NOT_PUBLISHED = "delivery not published"
NO_OUTCOME = "delivery without a final outcome"
ALERT_NO_OUTCOME = "alert without a final outcome"


@dataclass(frozen=True)
class Reconciliation:
    accepted: int
    in_timeline: int
    authorised: int
    in_outbox: int
    unauthorised_in_outbox: int
    published: int
    settled: int
    delivered: int
    dead_lettered: int
    alerts: int = 0
    alerts_settled: int = 0
    refused: int = 0  # dead-lettered or refused by coordination: not in the timeline, not lost
    erased: int = 0  # records of erased persons: never readable again, not counted as accepted
    not_on_topic: int = 0
    via_intake: int = 0  # accepted events that intake published (so have a ledger row)
    in_ledger: int = 0
    ledger_checked: bool = False
    topic_checked: bool = False  # timeline entries were checked against the topic
    source: str = "the given event ids"
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ledger_missing(self) -> int:
        return self.via_intake - self.in_ledger

    def kinds(self) -> dict[str, int]:
        """How many of each kind of difference."""
        return {
            MISSING_FROM_TIMELINE: self.accepted - self.in_timeline - self.refused,
            NOT_ON_TOPIC: self.not_on_topic,
            LEDGER_MISSING: self.ledger_missing,
            DELIVERY_MISSING: self.authorised - self.in_outbox,
            WITHOUT_DECISION: self.unauthorised_in_outbox,
            NOT_PUBLISHED: self.in_outbox - self.published,
            NO_OUTCOME: self.published - self.settled,
            ALERT_NO_OUTCOME: self.alerts - self.alerts_settled,
        }

    @property
    def differences(self) -> int:
        return sum(self.kinds().values())

    def lines(self) -> list[str]:
        refused = (
            f"+ {self.refused} dead-lettered or refused by coordination" if self.refused else ""
        )
        pairs = [
            ("accepted events", self.accepted, "timeline entries", self.in_timeline, refused),
            (
                "authorised decisions",
                self.authorised,
                "outbox deliveries",
                self.in_outbox,
                f"without a decision: {self.unauthorised_in_outbox}",
            ),
            ("outbox deliveries", self.in_outbox, "published", self.published, ""),
            (
                "published deliveries",
                self.published,
                "final outcomes",
                self.settled,
                f"{self.delivered} delivered, {self.dead_lettered} dead-lettered",
            ),
            ("alerts to these persons", self.alerts, "final outcomes", self.alerts_settled, ""),
        ]
        if self.ledger_checked:
            pairs.insert(
                1, ("accepted via intake", self.via_intake, "ledger rows", self.in_ledger, "")
            )
        lines = [f"accepted: {self.source}"]
        lines += [f"{a:<24}{n:>7} = {b:<18}{m:>7}  {note}".rstrip() for a, n, b, m, note in pairs]
        if self.topic_checked:
            lines.append(f"{'timeline, not on topic':<24}{self.not_on_topic:>7}")
        lines.append(f"{'differences':<24}{self.differences:>7}")
        for kind, count in self.kinds().items():
            if count:
                shown = self.examples.get(kind, [])
                more = ", …" if count > len(shown) else ""
                lines.append(f"  {kind} ({count}): {', '.join(shown)}{more}")
        return lines


def first_examples(ids: Iterable[str]) -> list[str]:
    """The first ``MAX_EXAMPLES`` of the ids, sorted."""
    return sorted(ids)[:MAX_EXAMPLES]
