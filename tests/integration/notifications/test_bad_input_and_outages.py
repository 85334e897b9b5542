"""Bad records and partner outages: each goes to the dead letters with a clear reason, the lanes
go on, and nothing is dropped without a trace."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Coroutine
from typing import Any

from aiokafka.structs import ConsumerRecord
from faststream import TestApp

from schemas.alerts import Audience
from schemas.codec import KafkaRecord
from schemas.events import CaseOpened
from schemas.topics import DELIVERY_OUTCOMES
from services.common.kafka_clients import end_offsets
from services.notifications.app import create_app
from services.notifications.replay import replay_dead_letters
from services.notifications.settings import NotificationsSettings
from simulator.mailbox import LocalSmtpServer
from simulator.webhook_partner import WebhookServer
from tests.case_story import REGISTRY, CaseStory
from tests.integration.notifications.conftest import SECRETS, Clock, alert_for, authorised
from tests.kafka_tools import read_until

Publish = Callable[[list[KafkaRecord]], Coroutine[Any, Any, None]]
RAV = REGISTRY.by_id["rav"]


def header(record: ConsumerRecord[bytes, bytes], name: str) -> str | None:
    value = dict(record.headers).get(name)
    return value.decode() if value is not None else None


def with_header(record: KafkaRecord, name: str, value: str) -> KafkaRecord:
    headers = tuple((k, value.encode() if k == name else v) for k, v in record.headers)
    return KafkaRecord(record.key, record.value, headers)


def without_header(record: KafkaRecord, name: str) -> KafkaRecord:
    return KafkaRecord(record.key, record.value, tuple(h for h in record.headers if h[0] != name))


def with_data(record: KafkaRecord, change: Callable[[dict[str, Any]], None]) -> KafkaRecord:
    data = json.loads(record.value)
    change(data)
    return KafkaRecord(record.key, json.dumps(data).encode(), record.headers)


def marked(record: KafkaRecord, label: str) -> KafkaRecord:
    """A test-only header, to find each record's dead letter."""
    return KafkaRecord(record.key, record.value, (*record.headers, ("test_label", label.encode())))


async def dead_letters(
    settings: NotificationsSettings, start: Any, count: int
) -> list[ConsumerRecord[bytes, bytes]]:
    return await read_until(settings, start, lambda rs: len(rs) >= count)


async def test_malformed_deliveries_are_dead_lettered_with_their_reason_and_the_lane_goes_on(
    notifications_settings: NotificationsSettings, deliveries_producer: Publish
) -> None:
    story = CaseStory(person_seed=4301)
    good = authorised(story.rav(CaseOpened, project_code="IIZ-FALLKOORD"), "rav")
    bad = {
        "missing-attribute": without_header(good, "ce_recipient"),
        "invalid-attribute": with_header(good, "ce_subject", "756.1234.5678.97"),
        "unknown-recipient": with_header(good, "ce_recipient", "nobody-here"),
        "undeliverable": with_data(good, lambda d: d["person"].update(sealed_ahv="i1:broken")),
        "malformed": KafkaRecord(good.key, b"{not json", good.headers),
    }
    dead_topic = notifications_settings.notifications_dead_letter_topic
    start = await end_offsets(notifications_settings, [dead_topic, RAV.delivery_topic])

    async with TestApp(create_app(notifications_settings, secrets=SECRETS)):
        await deliveries_producer([marked(r, reason) for reason, r in bad.items()] + [good])
        records = await read_until(
            notifications_settings,
            start,
            lambda rs: (
                sum(r.topic == dead_topic for r in rs) >= len(bad)
                and any(header(r, "ce_id") == good.header("ce_id").decode() for r in rs)  # type: ignore[union-attr]
                and any(r.topic == RAV.delivery_topic for r in rs)
            ),
        )

    letters = {header(r, "test_label"): r for r in records if r.topic == dead_topic}
    assert {label: header(r, "iiz_reason") for label, r in letters.items()} == {
        reason: reason for reason in bad
    }
    assert all(header(r, "iiz_attempts") == "0" for r in letters.values())
    delivered = [r for r in records if r.topic == RAV.delivery_topic]
    assert [header(r, "ce_id") for r in delivered] == [good.header("ce_id").decode()]  # type: ignore[union-attr]


async def test_while_a_partners_circuit_is_open_the_rest_of_its_batch_is_dead_lettered_uncalled(
    notifications_settings: NotificationsSettings,
    deliveries_producer: Publish,
    webhook_partner: WebhookServer,
) -> None:
    settings = notifications_settings.model_copy(update={"notifications_breaker_failures": 2})
    story = CaseStory(person_seed=4302)
    records = [
        authorised(story.rav(CaseOpened, project_code="IIZ-FALLKOORD"), "berufsbildung")
        for _ in range(5)
    ]
    dead_topic = settings.notifications_dead_letter_topic
    start = await end_offsets(settings, [dead_topic])
    webhook_partner.always(503)

    async with TestApp(create_app(settings, secrets=SECRETS)):
        await deliveries_producer(records)
        letters = await dead_letters(settings, start, len(records))

    reasons = [header(r, "iiz_reason") for r in letters]
    assert sorted(header(r, "ce_id") for r in letters) == sorted(
        r.header("ce_id").decode()  # type: ignore[union-attr]
        for r in records
    )
    assert webhook_partner.count == 2  # the breaker opened after two failed requests
    assert reasons[0] == "attempts-exhausted"
    assert "circuit-open" in reasons


async def test_a_webhook_without_its_secret_is_dead_lettered_as_misconfigured(
    notifications_settings: NotificationsSettings,
    deliveries_producer: Publish,
    webhook_partner: WebhookServer,
) -> None:
    story = CaseStory(person_seed=4303)
    record = authorised(story.rav(CaseOpened, project_code="IIZ-FALLKOORD"), "berufsbildung")
    start = await end_offsets(
        notifications_settings, [notifications_settings.notifications_dead_letter_topic]
    )

    async with TestApp(create_app(notifications_settings, secrets={})):
        await deliveries_producer([record])
        (letter,) = await dead_letters(notifications_settings, start, 1)

    assert header(letter, "iiz_reason") == "webhook-misconfigured"
    assert webhook_partner.count == 0


async def test_a_refused_digest_is_dead_lettered_and_reported_and_a_replay_mails_it(
    notifications_settings: NotificationsSettings,
    deliveries_producer: Publish,
    smtp: LocalSmtpServer,
) -> None:
    story = CaseStory(person_seed=4304)
    alert = alert_for("rav", Audience.COORDINATOR, pseudonym=story.pseudonym, message="Hinweis")
    alert_id = alert.header("ce_id").decode()  # type: ignore[union-attr]
    dead_topic = notifications_settings.notifications_dead_letter_topic
    start = await end_offsets(notifications_settings, [dead_topic, DELIVERY_OUTCOMES])
    clock = Clock()
    clock.ahead = dt.timedelta(hours=2)

    async with LocalSmtpServer(rcpt_reply="550 5.1.1 Mailbox unavailable") as refusing:
        refused = notifications_settings.model_copy(
            update={"notifications_smtp_port": refusing.port}
        )
        async with TestApp(create_app(refused, secrets=SECRETS, clock=clock)):
            await deliveries_producer([alert])
            records = await read_until(
                notifications_settings,
                start,
                lambda rs: (
                    any(r.topic == dead_topic for r in rs)
                    and any(b"dead-lettered" in (r.value or b"") for r in rs)
                ),
            )
    letter = next(r for r in records if r.topic == dead_topic)
    assert header(letter, "iiz_reason") == "mail-not-sent"
    assert header(letter, "ce_id") == alert_id
    outcome = next(
        json.loads(r.value or b"")
        for r in records
        if r.topic == DELIVERY_OUTCOMES and b"dead-lettered" in (r.value or b"")
    )
    assert (outcome["delivery_id"], outcome["channel"]) == (alert_id, "email")
    assert "550" in outcome["error"]

    async with TestApp(create_app(notifications_settings, secrets=SECRETS, clock=clock)):
        replayed = await replay_dead_letters(
            notifications_settings,
            "rav",
            source=dead_topic,
            target=notifications_settings.notifications_deliveries_topic,
        )
        (mail,) = await smtp.wait_for_messages(1, within=30)
    assert replayed == 1
    assert "Hinweis" in str(mail.message)
