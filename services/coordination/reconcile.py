"""Reconciliation: proves for a set of accepted events that nothing was lost (ARCHITECTURE §8).

For the given canonical event ids (intake's ledger of a time window, or one run's accepted
submissions):

- every accepted event is in the timeline;
- every allowed decision for another institution has exactly its delivery in the outbox, and no
  delivery of these events exists without such a decision;
- every such delivery was published and has a final outcome from notifications (delivered or
  dead-lettered).

Each line of the report is a count pair that must be equal; ``differences`` sums the gaps.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg

from schemas.alerts import Alert
from services.coordination.deliveries import delivery_id

FINAL = ("delivered", "dead-lettered")

# Outbox headers are stored as a JSON list of [name, value] pairs.
DELIVERIES_OF_EVENTS = """
SELECT delivery_id, published_at IS NOT NULL AS published FROM outbox o
WHERE delivery_id = ANY($1) OR EXISTS (
    SELECT 1 FROM jsonb_array_elements(o.headers) h
    WHERE h->>0 = 'ce_causationid' AND h->>1 = ANY($2::text[]))
"""
ALERTS_TO_PERSONS = """
SELECT o.delivery_id, EXISTS (
    SELECT 1 FROM delivery_outcomes d
    WHERE d.delivery_id = o.delivery_id AND d.status = ANY($3::text[])) AS settled
FROM outbox o
WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(o.headers) h
              WHERE h->>0 = 'ce_type' AND h->>1 = $2)
  AND EXISTS (SELECT 1 FROM jsonb_array_elements(o.headers) h
              WHERE h->>0 = 'ce_subject' AND h->>1 IN (
                  SELECT pseudonym FROM timeline WHERE event_id = ANY($1)))
"""


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
    missing: dict[str, list[str]] = field(default_factory=dict)

    @property
    def differences(self) -> int:
        return (
            (self.accepted - self.in_timeline)
            + (self.authorised - self.in_outbox)
            + self.unauthorised_in_outbox
            + (self.in_outbox - self.published)
            + (self.published - self.settled)
            + (self.alerts - self.alerts_settled)
        )

    def lines(self) -> list[str]:
        pairs = [
            ("accepted submissions", self.accepted, "timeline entries", self.in_timeline, ""),
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
        lines = [f"{a:<22}{n:>7} = {b:<18}{m:>7}  {note}".rstrip() for a, n, b, m, note in pairs]
        return [*lines, f"{'differences':<22}{self.differences:>7}"]


async def reconcile(pool: asyncpg.Pool, event_ids: Sequence[uuid.UUID]) -> Reconciliation:
    ids = list(event_ids)
    in_timeline = await pool.fetch("SELECT event_id FROM timeline WHERE event_id = ANY($1)", ids)
    allowed = await pool.fetch(
        "SELECT d.event_id, d.recipient FROM decisions d JOIN timeline t USING (event_id)"
        " WHERE d.event_id = ANY($1) AND d.allowed AND d.recipient <> t.origin",
        ids,
    )
    expected = {delivery_id(r["event_id"], r["recipient"]) for r in allowed}
    outbox = await pool.fetch(
        DELIVERIES_OF_EVENTS,
        list(expected),
        [str(i) for i in ids],
    )
    outbox_ids = {r["delivery_id"] for r in outbox}
    published = {r["delivery_id"] for r in outbox if r["published"]}
    outcomes = await pool.fetch(
        "SELECT DISTINCT ON (delivery_id) delivery_id, status FROM delivery_outcomes"
        " WHERE delivery_id = ANY($1) AND status = ANY($2::text[])"
        " ORDER BY delivery_id, (status = 'delivered') DESC",
        list(published),
        list(FINAL),
    )
    settled = {r["delivery_id"]: r["status"] for r in outcomes}
    timeline_ids = {r["event_id"] for r in in_timeline}
    alerts = await pool.fetch(
        ALERTS_TO_PERSONS,
        ids,
        Alert.cloud_event_type(),
        list(FINAL),
    )
    return Reconciliation(
        accepted=len(ids),
        in_timeline=len(timeline_ids),
        authorised=len(expected),
        in_outbox=len(expected & outbox_ids),
        unauthorised_in_outbox=len(outbox_ids - expected),
        published=len(published & expected),
        settled=len(settled),
        delivered=sum(1 for s in settled.values() if s == "delivered"),
        dead_lettered=sum(1 for s in settled.values() if s == "dead-lettered"),
        alerts=len(alerts),
        alerts_settled=sum(1 for r in alerts if r["settled"]),
        missing={
            "timeline": sorted(str(i) for i in set(ids) - timeline_ids)[:20],
            "outbox": sorted(str(i) for i in expected - outbox_ids)[:20],
            "outcome": sorted(str(i) for i in published - set(settled))[:20],
        },
    )


async def accepted_since(
    pool: asyncpg.Pool, intake_schema: str, since: dt.datetime
) -> list[uuid.UUID]:
    """Intake's ledger: the canonical ids accepted at or after ``since``."""
    rows = await pool.fetch(
        f'SELECT canonical_id FROM "{intake_schema}".submission_ledger WHERE accepted_at >= $1',  # noqa: S608 - schema name from settings
        since,
    )
    return [r["canonical_id"] for r in rows]
