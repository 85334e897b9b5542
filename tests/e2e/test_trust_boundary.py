"""Nobody becomes involved, or obtains data, on its own word (issue 15), through the real doors:
intake's Kafka door, coordination and notifications in this process, the partners reading their
own delivery topics.

Act 1 — the self-authorisation story: ZIF, never referred, says it takes part and records a
consent naming [rav, zif] with health and identity. Both are refused with their reason codes on
ZIF's topic; ZIF receives nothing about the person; the case is unchanged.

Act 2 — the legitimate path: RAV refers the person to ZIF, ZIF accepts and records the consent;
RAV is told of it; RAV's assessment reaches ZIF without health and identity until RAV confirmed
the consent, and exactly the consented categories afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from schemas.ahv import AhvNumber, contains_ahv_number
from schemas.codec import record_from_structured, structured_event
from schemas.events import (
    AssessmentCompleted,
    BenefitGranted,
    CaseOpened,
    ConsentConfirmed,
    ConsentGranted,
    EventData,
    ParticipantJoined,
    PersonRef,
    ReferralAccepted,
    ReferralRequested,
)
from schemas.refusals import Refusal, RefusalReason
from schemas.vocabulary import (
    Barrier,
    BenefitKind,
    DataCategory,
    ParticipantRole,
    Potential,
    ReferralPurpose,
)
from services.common.kafka_clients import create_producer
from simulator.credentials import partner_settings
from simulator.partners import PartnerInboxes, ReceivedDelivery
from tests.e2e.conftest import RunningBus
from tests.e2e.notifications_run import running_notifications
from tests.factories import valid_ahv

AHV = AhvNumber(valid_ahv(915_001))
HEALTH_TEXT = "Keine Lasten über 10 kg, höchstens 4 Stunden pro Tag"
CASE_REFS = {"rav": "RAV-2026-77001", "zif": "ZIF-2026-0815"}
REFUSAL_TYPE = Refusal.cloud_event_type()
START = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)


class Partners:
    """RAV and ZIF as partners: each produces to its intake topic as its own principal and
    reads its own delivery topic; every submission waits for its receipt."""

    def __init__(self, producers: dict[str, AIOKafkaProducer], inboxes: PartnerInboxes) -> None:
        self._producers = producers
        self.inboxes = inboxes
        self.clock = START

    async def send(self, origin: str, cls: type[EventData], /, **fields: Any) -> uuid.UUID:
        """Submit one event as ``origin``; its canonical id once intake accepted it."""
        self.clock += dt.timedelta(hours=1)
        original_id = str(uuid.uuid4())
        data = cls(person=PersonRef(ahv_number=AHV, case_ref=CASE_REFS[origin]), **fields)
        attributes = {
            "specversion": "1.0",
            "id": original_id,
            "source": f"/iiz/bl/{origin}",
            "type": cls.cloud_event_type(),
            "time": self.clock.isoformat(),
        }
        record = record_from_structured(
            structured_event(attributes, data.model_dump(mode="json", exclude_none=True))
        )
        receipt = self.inboxes.expect_receipt(original_id)
        await self._producers[origin].send_and_wait(
            f"iiz.intake.{origin}.v1",
            value=record.value,
            key=record.key,
            headers=list(record.headers),
        )
        answer = await receipt
        assert answer["status"] == "accepted", answer
        return uuid.UUID(answer["canonical_id"])

    def of(self, institution: str) -> list[ReceivedDelivery]:
        topic = f"iiz.deliver.{institution}.v1"
        return [d for d in self.inboxes.deliveries if d.topic == topic]

    async def wait_for(self, institution: str, causation: uuid.UUID) -> ReceivedDelivery:
        """The delivery (or refusal) caused by the event ``causation``, on its topic."""

        def arrived(_: list[ReceivedDelivery]) -> bool:
            return any(d.header("ce_causationid") == str(causation) for d in self.of(institution))

        assert await self.inboxes.wait_until(arrived, within=60), (institution, causation)
        return next(d for d in self.of(institution) if d.header("ce_causationid") == str(causation))


@asynccontextmanager
async def partners_of(bus: RunningBus) -> AsyncIterator[Partners]:
    as_partner = partner_settings(bus.intake)
    producers = {i: create_producer(as_partner(i)) for i in CASE_REFS}
    inboxes = PartnerInboxes(bus.intake, bus.registry, as_partner=as_partner)
    for producer in producers.values():
        await producer.start()
    try:
        async with inboxes:
            yield Partners(producers, inboxes)
    finally:
        for producer in producers.values():
            await producer.stop()


def data_of(delivery: ReceivedDelivery) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(delivery.value)
    return loaded


def assessment(**fields: Any) -> dict[str, Any]:
    return {
        "assessment_id": uuid.uuid4(),
        "potential": Potential.MEDIUM,
        "barriers": [Barrier.HEALTH, Barrier.LANGUAGE],
        "health_limitations": HEALTH_TEXT,
        **fields,
    }


async def test_an_institution_that_authorises_itself_gets_refusals_and_nothing_about_the_person(
    running_bus: RunningBus, tmp_path: Path
) -> None:
    db = running_bus.coordination_db
    async with (
        running_notifications(
            running_bus.intake.kafka_bootstrap_servers, running_bus.intake.database_url, tmp_path
        ),
        partners_of(running_bus) as p,
    ):
        # Act 1: RAV has the case; ZIF, never referred, authorises itself.
        await p.send("rav", CaseOpened, project_code="IIZ-FALLKOORD")
        first_assessment = await p.send("rav", AssessmentCompleted, **assessment())
        joined = await p.send(
            "zif", ParticipantJoined, institution="zif", role=ParticipantRole.PARTICIPANT
        )
        self_consent = uuid.uuid4()
        granted = await p.send(
            "zif",
            ConsentGranted,
            consent_id=self_consent,
            institutions=["rav", "zif"],
            categories=[DataCategory.HEALTH, DataCategory.IDENTITY],
            valid_from=dt.date(2026, 11, 1),
            document_ref="ZIF-VOLLMACHT-1",
        )

        refused_join = await p.wait_for("zif", joined)
        refused_consent = await p.wait_for("zif", granted)

        # Refused with their reason codes, on ZIF's own topic, repeating only what ZIF sent.
        assert [refused_join.header("ce_type"), refused_consent.header("ce_type")] == [
            REFUSAL_TYPE,
            REFUSAL_TYPE,
        ]
        assert data_of(refused_join)["reason"] == RefusalReason.PARTICIPATION_NOT_AUTHORISED
        assert data_of(refused_consent)["reason"] == RefusalReason.CONSENT_RECORDER_NOT_TAKING_PART
        for refusal, event_id in ((refused_join, joined), (refused_consent, granted)):
            assert set(data_of(refusal)) == {
                "refused_id",
                "refused_type",
                "reason",
                "message",
                "case_ref",
            }
            assert data_of(refusal)["refused_id"] == str(event_id)
            assert data_of(refusal)["case_ref"] == CASE_REFS["zif"]
            assert refusal.header("ce_iizcase") is None  # the case number would reveal a case
            assert refusal.header("ce_recipientcaseref") == CASE_REFS["zif"]
            assert refusal.header("ce_consentref") is None
            assert refusal.header("ce_legalbasis") is None
            assert "rav" not in refusal.value.decode()
            assert not contains_ahv_number(refusal.value.decode())

        # Everything RAV's assessment caused for ZIF would be on the lane before the refusals.
        assert {d.header("ce_type") for d in p.of("zif")} == {REFUSAL_TYPE}
        assert not [d for d in p.of("zif") if d.header("ce_causationid") == str(first_assessment)]
        # RAV was not told of a consent that was never recorded.
        assert not [d for d in p.of("rav") if d.header("ce_causationid") == str(granted)]
        # The case is unchanged: no participation, no consent; the refusals are audited.
        assert await db.fetchval("SELECT count(*) FROM participants WHERE institution = 'zif'") == 0
        assert await db.fetchval("SELECT count(*) FROM consents") == 0
        audited = await db.fetch(
            "SELECT object, detail->>'reason' AS reason, detail->>'origin' AS origin"
            " FROM audit_log WHERE action = 'refused' ORDER BY seq"
        )
        assert [(r["object"], r["reason"], r["origin"]) for r in audited] == [
            (str(joined), "participation_not_authorised", "zif"),
            (str(granted), "consent_recorder_not_taking_part", "zif"),
        ]

        # Act 2: the legitimate path. RAV refers the person to ZIF; ZIF accepts.
        referral = uuid.uuid4()
        await p.send(
            "rav",
            ReferralRequested,
            referral_id=referral,
            to_institution="zif",
            purpose=ReferralPurpose.ZIF_FIRST_INTERVIEW,
        )
        await p.send("zif", ReferralAccepted, referral_id=referral)
        consent = uuid.uuid4()
        recorded = await p.send(
            "zif",
            ConsentGranted,
            consent_id=consent,
            institutions=["rav", "zif"],
            categories=[DataCategory.EMPLOYMENT, DataCategory.HEALTH, DataCategory.IDENTITY],
            valid_from=dt.date(2026, 11, 1),
            document_ref="ZIF-VOLLMACHT-2",
        )

        # RAV is told of the consent that names it.
        told = await p.wait_for("rav", recorded)
        assert told.header("ce_type") == ConsentGranted.cloud_event_type()
        assert told.header("ce_consentref") == str(consent)
        assert data_of(told)["institutions"] == ["rav", "zif"]

        # Before RAV confirmed: the assessment reaches ZIF, without health and identity.
        unconfirmed = await p.wait_for(
            "zif", await p.send("rav", AssessmentCompleted, **assessment())
        )
        assert unconfirmed.header("ce_type") == AssessmentCompleted.cloud_event_type()
        assert "health_limitations" not in data_of(unconfirmed)
        assert data_of(unconfirmed)["barriers"] == ["language"]  # the health barrier withheld
        assert "ahv_number" not in data_of(unconfirmed)["person"]

        # RAV confirms; its benefit (not consented) stays with it, its assessment now flows.
        await p.send("rav", ConsentConfirmed, consent_id=consent, document_ref="RAV-KOPIE-2")
        benefit = await p.send(
            "rav",
            BenefitGranted,
            benefit_id=uuid.uuid4(),
            kind=BenefitKind.ALV_DAILY_ALLOWANCE,
            start=dt.date(2026, 11, 2),
        )
        confirmed = await p.wait_for(
            "zif", await p.send("rav", AssessmentCompleted, **assessment())
        )
        assert data_of(confirmed)["health_limitations"] == HEALTH_TEXT
        assert data_of(confirmed)["barriers"] == ["health", "language"]
        assert data_of(confirmed)["person"]["ahv_number"] == AHV.formatted()
        assert confirmed.header("ce_consentref") == str(consent)
        assert not [d for d in p.of("zif") if d.header("ce_causationid") == str(benefit)]
        # ZIF's own deliveries about the person came only from the legitimate path.
        assert not [
            d
            for d in p.of("zif")
            if d.header("ce_type") != REFUSAL_TYPE and d.received_at < told.received_at
        ]
