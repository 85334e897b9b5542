"""Reads the committee's facts from coordination's read models: one ``CaseFact`` per case.

Dates are Basel-Landschaft calendar days (Europe/Zurich). Pseudonyms are replaced by small
numbers that only link one person's cases (for re-entries) and never leave the figures.

Engagements belong to the person, not to the case that was open when they started: an ALV
benefit granted before the IIZ case opened counts too. Each engagement is attached to every case
of its person whose days [opened_on, closed_on or still open] it overlaps, clipped to them
(started_on no earlier than opened_on; ended_on no later than closed_on, also when the engagement
itself has not ended). One that ended before the case opened or started after it closed is not
the case's.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from decimal import Decimal

import asyncpg

from schemas.registry.institutions import load_institutions
from services.coordination.metrics.cell_key import record_key
from services.coordination.metrics.facts import (
    CaseFact,
    ConsentFact,
    CostFact,
    EngagementFact,
    ReferralFact,
)

CASES = """
SELECT case_key, pseudonym, projects, outcome,
       (opened_at AT TIME ZONE 'Europe/Zurich')::date AS opened_on,
       (closed_at AT TIME ZONE 'Europe/Zurich')::date AS closed_on
FROM cases ORDER BY opened_at, case_key
"""
ENGAGEMENTS = """
WITH case_days AS (
    SELECT case_key, pseudonym,
           (opened_at AT TIME ZONE 'Europe/Zurich')::date AS opened_on,
           (closed_at AT TIME ZONE 'Europe/Zurich')::date AS closed_on
    FROM cases
)
SELECT c.case_key, e.institution, e.kind,
       greatest(e.started_on, c.opened_on) AS started_on,
       least(e.ended_on, c.closed_on) AS ended_on  -- NULLs skipped: ends with its case
FROM engagements e JOIN case_days c ON c.pseudonym = e.pseudonym
WHERE (c.closed_on IS NULL OR e.started_on <= c.closed_on)
  AND (e.ended_on IS NULL OR e.ended_on >= c.opened_on)
"""
REFERRALS = """
SELECT case_key, from_institution, to_institution, status,
       (requested_at AT TIME ZONE 'Europe/Zurich')::date AS requested_on,
       (answered_at AT TIME ZONE 'Europe/Zurich')::date AS answered_on
FROM referrals WHERE case_key IS NOT NULL
"""
COSTS = """
SELECT case_key, event->'data'->>'cost_chf' AS chf,
       coalesce(event->'data'->>'financed_by', 'unknown') AS financed_by,
       (occurred_at AT TIME ZONE 'Europe/Zurich')::date AS ended_on
FROM timeline
WHERE type = 'ch.bl.iiz.measure.ended.v1' AND case_key IS NOT NULL
  AND event->'data' ? 'cost_chf'
"""
# A consent is in force until its valid_until or the day before its revocation, whichever is first.
CONSENTS = """
SELECT c.case_key, k.valid_from,
       least(k.valid_until, min((r.revoked_at AT TIME ZONE 'Europe/Zurich')::date) - 1) AS ended_on
FROM consents k
JOIN cases c ON c.pseudonym = k.pseudonym
LEFT JOIN consent_revocations r ON r.consent_id = k.consent_id
GROUP BY c.case_key, k.consent_id, k.valid_from, k.valid_until
"""
PARTICIPANTS = "SELECT DISTINCT case_key, institution FROM participants WHERE case_key IS NOT NULL"
ACCEPTED = frozenset({"accepted", "completed"})


async def load_case_facts(conn: asyncpg.Connection, *, cell_key_secret: bytes) -> list[CaseFact]:
    """Every case with its engagements (clipped, see above), referrals, costs, institutions and
    its person's consents (one snapshot), and its record key under ``cell_key_secret``."""
    engagements: dict[uuid.UUID, list[EngagementFact]] = defaultdict(list)
    for row in await conn.fetch(ENGAGEMENTS):
        engagements[row["case_key"]].append(
            EngagementFact(row["institution"], row["kind"], row["started_on"], row["ended_on"])
        )
    referrals: dict[uuid.UUID, list[ReferralFact]] = defaultdict(list)
    for row in await conn.fetch(REFERRALS):
        answered = row["status"] != "open"
        referrals[row["case_key"]].append(
            ReferralFact(
                row["from_institution"],
                row["to_institution"],
                row["requested_on"],
                row["answered_on"] if answered else None,
                (row["status"] in ACCEPTED) if answered else None,
            )
        )
    costs: dict[uuid.UUID, list[CostFact]] = defaultdict(list)
    kinds = financer_kinds()
    for row in await conn.fetch(COSTS):
        financer = kinds.get(row["financed_by"], "unknown")
        costs[row["case_key"]].append(CostFact(financer, Decimal(row["chf"]), row["ended_on"]))
    consents: dict[uuid.UUID, list[ConsentFact]] = defaultdict(list)
    for row in await conn.fetch(CONSENTS):
        if row["ended_on"] is None or row["ended_on"] >= row["valid_from"]:
            consents[row["case_key"]].append(ConsentFact(row["valid_from"], row["ended_on"]))
    institutions: dict[uuid.UUID, set[str]] = defaultdict(set)
    for row in await conn.fetch(PARTICIPANTS):
        institutions[row["case_key"]].add(row["institution"])
    persons: dict[str, int] = {}
    facts = []
    for row in await conn.fetch(CASES):
        key = row["case_key"]
        facts.append(
            CaseFact(
                person=persons.setdefault(row["pseudonym"], len(persons)),
                projects=tuple(row["projects"]),
                opened_on=row["opened_on"],
                closed_on=row["closed_on"],
                outcome=row["outcome"],
                engagements=tuple(sorted(engagements[key], key=_start)),
                referrals=tuple(referrals[key]),
                costs=tuple(costs[key]),
                institutions=frozenset(institutions[key]),
                consents=tuple(sorted(consents[key], key=_valid_from)),
                record_key=record_key(cell_key_secret, key),
            )
        )
    return facts


def financer_kinds() -> dict[str, str]:
    """Costs are reported by kind of financing institution (ALV/RAV, IV, social services, ...):
    one municipality's social service would otherwise name where a handful of persons live."""
    return {i.id: i.kind.value for i in load_institutions().institutions}


def _valid_from(consent: ConsentFact) -> dt.date:
    return consent.valid_from


def _start(engagement: EngagementFact) -> tuple[dt.date, str]:
    return (engagement.started_on, engagement.institution)
