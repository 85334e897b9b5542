"""The two consumer lanes over ``iiz.deliveries.v1`` and what each does with a batch.

- The **router** (group ``<prefix>-router``) publishes Kafka-channel deliveries to the recipient's
  ``iiz.deliver.<id>.v1``, queues coordinator alerts for the e-mail digest (keyed by the
  coordinator's address, so one address is always on one partition), queues a Posteingang notice
  for an institution with ``inbox_notice_email`` (``inbox_notice``; any lane) and dead-letters
  what it cannot route. It skips webhook deliveries otherwise.
- The **webhook lane** (group ``<prefix>-webhooks``) POSTs webhook deliveries, in order per
  recipient and concurrently across recipients, so a slow partner never delays Kafka deliveries.

Each lane's batch returns only after every effect (partner record, digest-queue record, dead
letter, outcome report) is acknowledged by Kafka; the caller commits offsets after that. A crash
before the commit repeats effects under the same delivery id and outcome ids (idempotent).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import structlog
from aiokafka import AIOKafkaProducer
from cryptography.fernet import InvalidToken

from schemas.codec import KafkaRecord
from schemas.outcomes import DeliveryChannel, OutcomeStatus
from schemas.registry.institutions import Institution, InstitutionRegistry
from schemas.topics import DELIVERY_OUTCOMES, DIGEST_QUEUE, NOTIFICATIONS_DEAD_LETTERS
from services.common.identity_seal import IdentitySeal
from services.notifications.breaker import BreakerState, CircuitBreakers
from services.notifications.inbox_notice import notice_record, wants_notice
from services.notifications.reports import dead_letter, outcome_record
from services.notifications.shaping import (
    Delivery,
    Lane,
    UnroutableError,
    may_be_webhook,
    partner_record,
    read_delivery,
    route,
    structured_body,
    webhook_recipients,
)
from services.notifications.webhook import Attempt, WebhookEndpoint, WebhookSender

log = structlog.get_logger(__name__)
Outgoing = tuple[str, KafkaRecord]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Lanes:
    registry: InstitutionRegistry
    seal: IdentitySeal
    producer: AIOKafkaProducer
    webhooks: WebhookSender | None = None
    breakers: CircuitBreakers | None = None  # the ones the sender uses
    secrets: Mapping[str, str] = field(default_factory=dict)  # environment: secret_env → secret
    clock: Callable[[], dt.datetime] = _now
    outcomes_topic: str = DELIVERY_OUTCOMES
    digest_topic: str = DIGEST_QUEUE
    dead_letter_topic: str = NOTIFICATIONS_DEAD_LETTERS
    handled: Counter[str] = field(default_factory=Counter)  # lane → deliveries this instance took

    # ----- router ------------------------------------------------------------------------------

    async def route_batch(self, records: Sequence[KafkaRecord]) -> None:
        effects: list[Outgoing] = []
        reports: list[Outgoing] = []
        for record in records:
            try:
                delivery = read_delivery(record)
            except UnroutableError as error:
                effects.append(self._dead(record, error.reason, str(error), attempts=0))
                continue
            try:
                lane = route(delivery, self.registry)
                if lane.lane is Lane.KAFKA:
                    topic = lane.institution.delivery_topic
                    effects.append((topic, partner_record(delivery, self.seal)))
                    reports.append(self._report(delivery, DeliveryChannel.KAFKA, 1))
                    self.handled[Lane.KAFKA] += 1
                elif lane.lane is Lane.DIGEST:
                    queued = queued_for_digest(delivery, lane.institution)
                    effects.append((self.digest_topic, queued))
                    self.handled[Lane.DIGEST] += 1
                if wants_notice(delivery, lane.institution):  # Posteingang notice, any lane
                    effects.append((self.digest_topic, notice_record(delivery, lane.institution)))
            except Exception as error:  # one poison record must not stop the lane
                reason = error.reason if isinstance(error, UnroutableError) else "undeliverable"
                effects.append(self._dead(record, reason, type(error).__name__, attempts=0))
                reports.append(
                    self._report(
                        delivery, DeliveryChannel.KAFKA, 1, OutcomeStatus.DEAD_LETTERED, reason
                    )
                )
        await self._publish(effects)
        await self._publish(reports)

    # ----- webhooks ----------------------------------------------------------------------------

    async def webhook_batch(self, records: Sequence[KafkaRecord]) -> None:
        """Deliver this batch's webhook deliveries; the router handles everything else."""
        webhook_ids = webhook_recipients(self.registry)
        per_recipient: dict[str, list[Delivery]] = {}
        for record in records:
            if not may_be_webhook(record, webhook_ids):
                continue  # for another lane, or unroutable: not parsed here at all
            try:
                delivery = read_delivery(record)
                if route(delivery, self.registry).lane is not Lane.WEBHOOK:
                    continue
            except UnroutableError:
                continue  # the router dead-letters it
            per_recipient.setdefault(delivery.recipient, []).append(delivery)
        async with asyncio.TaskGroup() as group:  # one failing recipient cancels the others
            for recipient, deliveries in per_recipient.items():
                group.create_task(self._post_in_order(self.registry.by_id[recipient], deliveries))

    async def _post_in_order(self, institution: Institution, deliveries: list[Delivery]) -> None:
        channel = institution.channel
        assert channel.kind == "webhook"
        assert self.webhooks is not None, "a webhook lane needs a sender"
        assert self.breakers is not None, "and the sender's breakers"
        try:
            endpoint = WebhookEndpoint(str(channel.url), self.secrets.get(channel.secret_env, ""))
        except ValueError as error:  # no or a bad secret configured: nothing can be signed
            await self._give_up(deliveries, "webhook-misconfigured", str(error), attempts=0)
            return
        breaker = self.breakers.for_url(endpoint.url)
        for number, delivery in enumerate(deliveries):
            if number and breaker.state is BreakerState.OPEN:
                # The partner is down: the rest of this batch goes to the dead letters at once
                # (replayable) instead of holding every other recipient's deliveries back.
                rest = deliveries[number:]
                await self._give_up(rest, "circuit-open", "circuit open", attempts=0)
                return
            await self._post(endpoint, delivery)
            self.handled[Lane.WEBHOOK] += 1

    async def _post(self, endpoint: WebhookEndpoint, delivery: Delivery) -> None:
        assert self.webhooks is not None

        async def report_failure(attempt: Attempt) -> None:
            failed = self._report(
                delivery,
                DeliveryChannel.WEBHOOK,
                attempt.number,
                OutcomeStatus.FAILED,
                attempt.error,
            )
            await self._publish([failed])

        try:
            body = structured_body(delivery, self.seal)
        except (InvalidToken, ValueError) as error:  # cannot be opened with our key: give up
            await self._give_up([delivery], "undeliverable", type(error).__name__, attempts=0)
            return
        result = await self.webhooks.send(
            endpoint, str(delivery.delivery_id), body, on_failed_attempt=report_failure
        )
        attempts = len(result.attempts)
        if result.delivered:
            await self._publish([self._report(delivery, DeliveryChannel.WEBHOOK, attempts)])
            return
        reason = "refused" if result.permanent else "attempts-exhausted"
        await self._give_up([delivery], reason, result.last_error, attempts=attempts)

    async def _give_up(
        self, deliveries: Sequence[Delivery], reason: str, error: str | None, *, attempts: int
    ) -> None:
        await self._publish(
            [self._dead(d.record, reason, error, attempts=attempts) for d in deliveries]
        )
        await self._publish(
            [
                self._report(
                    d,
                    DeliveryChannel.WEBHOOK,
                    max(attempts, 1),
                    OutcomeStatus.DEAD_LETTERED,
                    error or reason,
                )
                for d in deliveries
            ]
        )
        log.warning("webhook deliveries dead-lettered", count=len(deliveries), reason=reason)

    async def reject(self, record: KafkaRecord, reason: str, detail: str) -> None:
        """Dead-letter a record that failed on its own (found by the consumer edge)."""
        await self._publish([self._dead(record, reason, detail, attempts=0)])

    # ----- helpers -----------------------------------------------------------------------------

    def _report(
        self,
        delivery: Delivery,
        channel: DeliveryChannel,
        attempt: int,
        status: OutcomeStatus = OutcomeStatus.DELIVERED,
        error: str | None = None,
    ) -> Outgoing:
        record = outcome_record(
            delivery, channel, status, attempt=attempt, at=self.clock(), error=error
        )
        return (self.outcomes_topic, record)

    def _dead(
        self, record: KafkaRecord, reason: str, error: str | None, *, attempts: int
    ) -> Outgoing:
        return (self.dead_letter_topic, dead_letter(record, reason, error=error, attempts=attempts))

    async def _publish(self, outgoing: Sequence[Outgoing]) -> None:
        futures = [
            await self.producer.send(topic, r.value, key=r.key, headers=list(r.headers))
            for topic, r in outgoing
        ]
        for future in futures:
            await future


def queued_for_digest(delivery: Delivery, institution: Institution) -> KafkaRecord:
    """The alert as it was, keyed by the coordinator's address (one address, one partition)."""
    address = institution.coordinator_email
    assert address is not None
    headers = (*delivery.record.headers, ("iiz_digest_address", address.encode()))
    return KafkaRecord(key=address.encode(), value=delivery.record.value, headers=headers)
