"""Consent-scoped routing on the real broker and database: who receives what, and which fields.

The story: RAV opens an IIZ case; the person consents to exchange between RAV, IV-Stelle and the
social services of Liestal for case administration, employment, benefits and identity — not
health. RAV records it; IV and the social services, told of it, confirm it. Later the person
revokes the consent.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from typing import Any

import asyncpg

from schemas.codec import from_kafka
from schemas.events import (
    DATA_CLASS_BY_TYPE,
    AssessmentCompleted,
    BenefitGranted,
    CaseOpened,
    ConsentConfirmed,
    ConsentGranted,
    ConsentRevoked,
    MeasureEnded,
    MeasureStarted,
    ParticipantJoined,
)
from schemas.topics import DELIVERIES
from schemas.vocabulary import (
    BenefitKind,
    DataCategory,
    MeasureKind,
    MeasureResult,
    ParticipantRole,
    Potential,
)
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.deliveries import delivery_id
from tests.case_story import CaseStory
from tests.integration.coordination.conftest import Publish, eventually, processed_count
from tests.kafka_tools import end_offsets, read_until

SH = "sozialhilfe-2829"
EVENT_TYPES = frozenset(DATA_CLASS_BY_TYPE)
CONSENTED = [
    DataCategory.CASE_ADMIN,
    DataCategory.EMPLOYMENT,
    DataCategory.BENEFITS,
    DataCategory.IDENTITY,
]


def consent_story() -> tuple[CaseStory, dict[str, Any]]:
    story = CaseStory(person_seed=4711)
    s = story
    named: dict[str, Any] = {}
    named["opened"] = s.rav(CaseOpened, project_code="IIZ-FALLKOORD")
    named["consent"] = s.rav(
        ConsentGranted,
        institutions=["rav", "iv", SH],
        categories=CONSENTED,
        valid_from=dt.date(2026, 1, 1),
        document_ref="RAV-EINW-1",
    )
    named["iv_joins"] = s.rav(ParticipantJoined, institution="iv", role=ParticipantRole.PARTICIPANT)
    named["sh_joins"] = s.rav(ParticipantJoined, institution=SH, role=ParticipantRole.PARTICIPANT)
    # IV and the social services vouch for the consent RAV recorded: their identity may flow.
    consent_id = named["consent"].data.consent_id
    named["iv_confirms"] = s.iv(ConsentConfirmed, consent_id=consent_id)
    named["sh_confirms"] = s.sozialhilfe_2829(ConsentConfirmed, consent_id=consent_id)
    named["coaching"] = s.rav(MeasureStarted, kind=MeasureKind.COACHING)
    named["assessment"] = s.iv(
        AssessmentCompleted,
        potential=Potential.MEDIUM,
        health_limitations="Keine Arbeiten über Kopf",
        recommendation="Arbeitsversuch",
    )
    named["iv_measure"] = s.iv(
        MeasureStarted, kind=MeasureKind.IV_INTEGRATION_MEASURE, datacategory=DataCategory.HEALTH
    )
    named["social_benefit"] = s.sozialhilfe_2829(
        BenefitGranted, kind=BenefitKind.SOCIAL_ASSISTANCE, start=dt.date(2026, 3, 20)
    )
    named["revocation"] = s.rav(ConsentRevoked, consent_id=named["consent"].data.consent_id)
    named["coaching_ends"] = s.rav(
        MeasureEnded,
        measure_id=named["coaching"].data.measure_id,
        kind=MeasureKind.COACHING,
        result=MeasureResult.COMPLETED,
        cost_chf="1200.00",
    )
    named["iv_measure_ends"] = s.iv(
        MeasureEnded,
        measure_id=named["iv_measure"].data.measure_id,
        kind=MeasureKind.IV_INTEGRATION_MEASURE,
        result=MeasureResult.COMPLETED,
    )
    return story, named


# Who may receive which event of the story (the origin's own events are not sent back to it).
EXPECTED = {
    "opened": set(),  # nobody else takes part yet
    "consent": {"iv", SH},  # not yet taking part, but named: told so that they can confirm
    "iv_joins": {"iv"},
    "sh_joins": {"iv", SH},
    "iv_confirms": {"rav", SH},
    "sh_confirms": {"rav", "iv"},
    "coaching": {"iv", SH},
    "assessment": {"rav", SH},  # without the health field
    "iv_measure": set(),  # declared health: nobody has consented to health
    "social_benefit": {"rav", "iv"},
    "revocation": {"iv", SH},  # the revocation itself still reaches those it covered
    "coaching_ends": set(),  # after the revocation
    "iv_measure_ends": set(),
}


async def _deliveries(settings: CoordinationSettings, start: Any, expected: int) -> list[Any]:
    records = await read_until(settings, start, lambda rs: len(rs) >= expected, within=60)
    # Alerts and refusals (of other tests' persons, too) are no catalogue events.
    events = [r for r in records if dict(r.headers).get("ce_type", b"").decode() in EVENT_TYPES]
    return [from_kafka(r.key, r.value, r.headers) for r in events]


async def test_each_recipient_gets_exactly_the_consented_events_and_fields(
    running_coordination: CoordinationSettings, publish: Publish, db: asyncpg.Pool
) -> None:
    story, named = consent_story()
    start = await end_offsets(running_coordination, [DELIVERIES])
    await publish(story.events)
    await eventually(lambda: _all_processed(db, len(story.events)))

    expected_count = sum(len(r) for r in EXPECTED.values())
    delivered = await _deliveries(running_coordination, start, expected_count)
    mine = [d for d in delivered if d.subject == story.pseudonym and d.type != "ch.bl.iiz.alert.v1"]
    received: dict[str, set[str]] = defaultdict(set)
    by_cause = {str(e.id): name for name, e in named.items()}
    for d in mine:
        received[by_cause[str(d.causationid)]].add(str(d.recipient))
    assert {name: received.get(name, set()) for name in EXPECTED} == EXPECTED
    assert len(mine) == expected_count, "no delivery twice"

    assessment_copies = {d.recipient: d for d in mine if d.type.endswith("assessment.completed.v1")}
    assert assessment_copies["rav"].data.health_limitations is None
    assert assessment_copies["rav"].data.recommendation == "Arbeitsversuch"
    assert assessment_copies["rav"].consentref == str(named["consent"].data.consent_id)
    assert assessment_copies["rav"].iizcase is not None
    assert assessment_copies["rav"].recipientcaseref == story.events[0].data.person.case_ref
    assert all(d.data.person.sealed_ahv == story.sealed_ahv for d in mine), "identity consented"
    assert all(d.data.person.ahv_number is None for d in mine)


async def test_a_health_event_from_the_iv_never_reaches_the_rav(
    running_coordination: CoordinationSettings, publish: Publish, db: asyncpg.Pool
) -> None:
    story, named = consent_story()
    await publish(story.events)
    await eventually(lambda: _all_processed(db, len(story.events)))
    decision = await db.fetchrow(
        "SELECT allowed, reason FROM decisions WHERE event_id = $1 AND recipient = 'rav'",
        named["iv_measure"].id,
    )
    assert decision is not None
    assert (decision["allowed"], decision["reason"]) == (False, "no-basis:health")
    never = [delivery_id(named["iv_measure"].id, r) for r in ("rav", SH)]
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE delivery_id = ANY($1)", never) == 0


async def test_a_revocation_stops_later_events_while_earlier_deliveries_stay(
    running_coordination: CoordinationSettings, publish: Publish, db: asyncpg.Pool
) -> None:
    story, named = consent_story()
    await publish(story.events)
    await eventually(lambda: _all_processed(db, len(story.events)))
    allowed = await db.fetch(
        "SELECT t.event_id, d.recipient FROM decisions d JOIN timeline t USING (event_id)"
        " WHERE t.pseudonym = $1 AND d.allowed AND d.recipient <> t.origin",
        story.pseudonym,
    )
    after_revocation = {named["coaching_ends"].id, named["iv_measure_ends"].id}
    assert not [r for r in allowed if r["event_id"] in after_revocation]
    before = [r for r in allowed if r["event_id"] == named["coaching"].id]
    assert {r["recipient"] for r in before} == {"iv", SH}
    published = await eventually(lambda: _published_count(db, story.pseudonym))
    assert published == sum(len(r) for r in EXPECTED.values())


async def _all_processed(db: asyncpg.Pool, count: int) -> bool:
    return await processed_count(db) >= count


async def _published_count(db: asyncpg.Pool, pseudonym: str) -> int | None:
    rows = await db.fetch("SELECT published_at, headers FROM outbox")
    mine = [r for r in rows if pseudonym in json.dumps(json.loads(r["headers"]))]
    mine = [r for r in mine if "alert" not in r["headers"]]
    if any(r["published_at"] is None for r in mine):
        return None
    return len(mine)
