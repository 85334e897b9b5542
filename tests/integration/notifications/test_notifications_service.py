"""Notifications on the real broker: each channel delivers exactly what coordination authorised,
reports every outcome, and two instances share the work without losing anything."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

from aiokafka.structs import ConsumerRecord
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary_event
from faststream import TestApp

from schemas.ahv import contains_ahv_number
from schemas.alerts import Audience
from schemas.codec import KafkaRecord
from schemas.events import CaseOpened, MeasureStarted
from schemas.topics import DELIVERY_OUTCOMES
from schemas.vocabulary import MeasureKind
from services.common.kafka_clients import end_offsets
from services.notifications.app import build, create_app
from services.notifications.replay import replay_dead_letters
from services.notifications.settings import NotificationsSettings
from simulator.mailbox import LocalSmtpServer
from simulator.webhook_partner import WebhookServer
from tests.case_story import REGISTRY, CaseStory
from tests.integration.notifications.conftest import (
    SECRETS,
    Clock,
    alert_for,
    authorised,
)
from tests.kafka_tools import read_until

Publish = Callable[[list[KafkaRecord]], Coroutine[Any, Any, None]]
RAV, IV = REGISTRY.by_id["rav"], REGISTRY.by_id["iv"]


def header(record: ConsumerRecord[bytes, bytes], name: str) -> str | None:
    value = dict(record.headers).get(name)
    return value.decode() if value is not None else None


def ids_of(records: list[KafkaRecord]) -> set[str]:
    return {r.header("ce_id").decode() for r in records}  # type: ignore[union-attr]


async def outcomes_of(
    settings: NotificationsSettings,
    start: Any,
    delivery_ids: set[str],
    done: Callable[[Counter[tuple[str, str]]], bool],
) -> list[dict[str, Any]]:
    def statuses(records: list[ConsumerRecord[bytes, bytes]]) -> Counter[tuple[str, str]]:
        found: Counter[tuple[str, str]] = Counter()
        for r in records:
            data = json.loads(r.value or b"{}")
            if data.get("delivery_id") in delivery_ids:
                found[(data["delivery_id"], data["status"])] += 1
        return found

    records = await read_until(settings, start, lambda rs: done(statuses(rs)))
    found = [json.loads(r.value or b"{}") for r in records]
    return [o for o in found if o.get("delivery_id") in delivery_ids]


async def test_partner_topics_get_the_ahv_number_opened_only_where_identity_was_authorised(
    notifications_settings: NotificationsSettings, deliveries_producer: Publish
) -> None:
    story = CaseStory(person_seed=4101)
    opened = story.rav(CaseOpened, project_code="IIZ-FALLKOORD")
    to_rav = authorised(opened, "rav")
    to_iv = authorised(opened, "iv", withheld=frozenset({"person.ahv_number", "person.sealed_ahv"}))
    start = await end_offsets(notifications_settings, [RAV.delivery_topic, IV.delivery_topic])
    outcomes_start = await end_offsets(notifications_settings, [DELIVERY_OUTCOMES])
    ours = ids_of([to_rav, to_iv])

    async with TestApp(create_app(notifications_settings, secrets=SECRETS)):
        await deliveries_producer([to_rav, to_iv])
        received = await read_until(
            notifications_settings,
            start,
            lambda rs: {header(r, "ce_id") for r in rs} >= ours,
        )
        outcomes = await outcomes_of(
            notifications_settings, outcomes_start, ours, lambda found: len(found) >= 2
        )

    mine = {header(r, "ce_recipient"): r for r in received if header(r, "ce_id") in ours}
    assert mine["rav"].topic == RAV.delivery_topic
    assert mine["iv"].topic == IV.delivery_topic
    rav_person = json.loads(mine["rav"].value or b"")["person"]
    iv_person = json.loads(mine["iv"].value or b"")["person"]
    assert rav_person["ahv_number"] == story.ahv.formatted()  # the real number, opened
    assert "sealed_ahv" not in rav_person
    assert "ahv_number" not in iv_person
    assert "sealed_ahv" not in iv_person
    for record in mine.values():
        assert record.key == story.pseudonym.encode()
        assert header(record, "ce_partitionkey") == story.pseudonym
        assert header(record, "ce_iizcase") == "IIZ-2026-000042"
        message = KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value)
        sdk = from_binary_event(message)
        assert sdk.get_id() == header(record, "ce_id")
        assert sdk.get_type() == CaseOpened.cloud_event_type()
    assert sorted((o["recipient"], o["channel"], o["status"]) for o in outcomes) == [
        ("iv", "kafka", "delivered"),
        ("rav", "kafka", "delivered"),
    ]


async def test_a_webhook_partner_gets_signed_cloudevents_and_the_outcome_is_reported(
    notifications_settings: NotificationsSettings,
    deliveries_producer: Publish,
    webhook_partner: WebhookServer,
) -> None:
    story = CaseStory(person_seed=4102)
    started = story.berufsbildung(MeasureStarted, kind=MeasureKind.BRIDGE_OFFER)
    opened = story.rav(CaseOpened, project_code="IIZ-FALLKOORD")
    records = [authorised(opened, "berufsbildung"), authorised(started, "berufsbildung")]
    outcomes_start = await end_offsets(notifications_settings, [DELIVERY_OUTCOMES])

    async with TestApp(create_app(notifications_settings, secrets=SECRETS)):
        await deliveries_producer(records)
        requests = await webhook_partner.wait_for_requests(2, timeout=30)
        outcomes = await outcomes_of(
            notifications_settings, outcomes_start, ids_of(records), lambda f: len(f) >= 2
        )

    assert [r.signature_valid for r in requests] == [True, True]
    bodies = [json.loads(r.body) for r in requests]
    # Same person, same partition: the partner gets them in the order coordination decided.
    assert [b["id"] for b in bodies] == [r.header("ce_id").decode() for r in records]  # type: ignore[union-attr]
    assert [r.headers["idempotency-key"] for r in requests] == [b["id"] for b in bodies]
    assert [r.headers["webhook-id"] for r in requests] == [b["id"] for b in bodies]
    assert bodies[0]["data"]["person"]["ahv_number"] == story.ahv.formatted()
    assert bodies[0]["recipient"] == "berufsbildung"
    assert bodies[0]["partitionkey"] == story.pseudonym
    assert requests[0].headers["content-type"].startswith("application/cloudevents+json")
    assert {(o["channel"], o["status"], o["attempt"]) for o in outcomes} == {
        ("webhook", "delivered", 1)
    }


async def test_a_partner_that_stays_down_gets_dead_letters_with_the_last_error_replayable(
    notifications_settings: NotificationsSettings,
    deliveries_producer: Publish,
    webhook_partner: WebhookServer,
) -> None:
    story = CaseStory(person_seed=4103)
    assessed = story.rav(CaseOpened, project_code="IIZ-FALLKOORD")
    record = authorised(assessed, "berufsbildung")
    ours = ids_of([record])
    dead_start = await end_offsets(
        notifications_settings, [notifications_settings.notifications_dead_letter_topic]
    )
    outcomes_start = await end_offsets(notifications_settings, [DELIVERY_OUTCOMES])
    webhook_partner.always(503)
    began = dt.datetime.now(dt.UTC)

    async with TestApp(create_app(notifications_settings, secrets=SECRETS)):
        await deliveries_producer([record])
        dead = await read_until(
            notifications_settings,
            dead_start,
            lambda rs: any(header(r, "ce_id") in ours for r in rs),
        )
        outcomes = await outcomes_of(
            notifications_settings,
            outcomes_start,
            ours,
            lambda f: any(status == "dead-lettered" for _, status in f),
        )
        letter = next(r for r in dead if header(r, "ce_id") in ours)
        assert webhook_partner.count == 3  # notifications_webhook_attempts
        assert header(letter, "iiz_reason") == "attempts-exhausted"
        assert header(letter, "iiz_last_error") == "HTTP 503"
        assert header(letter, "iiz_attempts") == "3"
        assert not contains_ahv_number((letter.value or b"").decode())  # still sealed
        assert sorted((o["status"], o["attempt"]) for o in outcomes) == [
            ("dead-lettered", 3),
            ("failed", 1),
            ("failed", 2),
            ("failed", 3),
        ]

        webhook_partner.always(200)
        replayed_count = await replay_dead_letters(
            notifications_settings,
            "berufsbildung",
            target=notifications_settings.notifications_deliveries_topic,
            source=notifications_settings.notifications_dead_letter_topic,
            since=began,
        )
        requests = await webhook_partner.wait_for_requests(4, timeout=30)
    assert replayed_count == 1
    replayed = requests[3]
    assert json.loads(replayed.body)["id"] == header(letter, "ce_id")
    assert replayed.signature_valid


async def test_coordinator_alerts_arrive_as_one_e_mail_digest_per_coordinator_and_hour(
    notifications_settings: NotificationsSettings,
    deliveries_producer: Publish,
    smtp: LocalSmtpServer,
) -> None:
    story = CaseStory(person_seed=4104)
    for_rav = [
        alert_for("rav", Audience.COORDINATOR, pseudonym=story.pseudonym, message=f"Hinweis {n}")
        for n in range(3)
    ]
    for_iv = alert_for("iv", Audience.COORDINATOR, pseudonym=story.pseudonym, message="IV-Hinweis")
    for_case_workers = alert_for(
        "rav", Audience.INSTITUTION, pseudonym=story.pseudonym, message="An die Fallführung"
    )
    outcomes_start = await end_offsets(notifications_settings, [DELIVERY_OUTCOMES])
    rav_start = await end_offsets(notifications_settings, [RAV.delivery_topic])
    clock = Clock()
    emailed = ids_of([*for_rav, for_iv])
    # Ten minutes' grace: the hour cannot end (plus grace) between queueing and the first check.
    settings = notifications_settings.model_copy(update={"notifications_digest_grace_seconds": 600})

    async with TestApp(create_app(settings, secrets=SECRETS, clock=clock)):
        await deliveries_producer([*for_rav, for_iv, for_case_workers])
        on_topic = await read_until(
            notifications_settings,
            rav_start,
            lambda rs: ids_of([for_case_workers]) <= {header(r, "ce_id") for r in rs},
        )
        assert smtp.received == []  # the hour (and its grace) is not over yet
        clock.ahead = dt.timedelta(hours=2)
        mails = await smtp.wait_for_messages(2, within=30)
        outcomes = await outcomes_of(
            notifications_settings, outcomes_start, emailed, lambda f: len(f) >= 4
        )

    by_address = {m.rcpt_tos[0]: m for m in mails}
    assert set(by_address) == {
        "iiz-koordination.rav@example.org",
        "iiz-koordination.iv@example.org",
    }
    rav_mail = by_address["iiz-koordination.rav@example.org"].message
    text = rav_mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert all(f"Hinweis {n}" in text for n in range(3))
    assert "IIZ-2026-000042" in text
    assert story.pseudonym not in text
    assert not contains_ahv_number(text)
    assert "An die Fallführung" not in text  # case workers' alert went to the topic instead
    assert any(header(r, "ce_id") in ids_of([for_case_workers]) for r in on_topic)
    assert {(o["channel"], o["status"]) for o in outcomes} == {("email", "delivered")}
    assert len(outcomes) == 4


async def test_two_instances_in_one_group_share_the_deliveries_and_lose_none_when_one_stops(
    notifications_settings: NotificationsSettings, deliveries_producer: Publish
) -> None:
    stories = [CaseStory(person_seed=4200 + n) for n in range(60)]
    waves = [
        [authorised(s.rav(CaseOpened, project_code="IIZ-FALLKOORD"), "rav") for s in stories]
        for _ in range(3)
    ]
    ours = ids_of([r for wave in waves for r in wave])
    start = await end_offsets(notifications_settings, [RAV.delivery_topic])

    def arrived(records: list[ConsumerRecord[bytes, bytes]]) -> set[str | None]:
        return {header(r, "ce_id") for r in records} & ours

    first_app, first = build(notifications_settings, secrets=SECRETS)
    second_app, second = build(notifications_settings, secrets=SECRETS)
    async with TestApp(first_app):
        await deliveries_producer(waves[0])
        async with TestApp(second_app):
            await deliveries_producer(waves[1])
            await read_until(
                notifications_settings, start, lambda rs: len(arrived(rs)) >= 2 * len(stories)
            )
        await deliveries_producer(waves[2])  # the second instance is gone: the first takes over
        received = await read_until(
            notifications_settings, start, lambda rs: arrived(rs) == ours, within=90
        )

    assert arrived(received) == ours
    assert first.lanes is not None
    assert second.lanes is not None
    assert first.lanes.handled["kafka"] > 0
    assert second.lanes.handled["kafka"] > 0
    copies = Counter(header(r, "ce_id") for r in received if header(r, "ce_id") in ours)
    assert set(copies.values()) <= {1, 2}  # a rebalance may repeat a delivery, same id
