"""Delivery outcomes: what notifications did with each authorised delivery, for the audit trail."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from schemas.events.base import MessageData, institution_id_field
from schemas.vocabulary import DataCategory

OUTCOME_NAMESPACE = uuid.UUID("5f0c2b7e-3a9d-4c61-8e2f-7b1d9a4c3e50")


class OutcomeStatus(StrEnum):
    """Where a delivery stands."""

    DELIVERED = "delivered"  # the channel accepted it (topic ack, HTTP 2xx, SMTP accepted)
    FAILED = "failed"  # one attempt failed; another follows
    DEAD_LETTERED = "dead-lettered"  # given up: on the dead-letter topic with the last error


class DeliveryChannel(StrEnum):
    """How a delivery reached (or did not reach) its recipient."""

    KAFKA = "kafka"
    WEBHOOK = "webhook"
    EMAIL = "email"


class DeliveryOutcome(MessageData):
    name: ClassVar[str] = "delivery.outcome"
    default_category: ClassVar[DataCategory] = DataCategory.CASE_ADMIN
    summary: ClassVar[str] = "What became of one authorised delivery (Zustellstatus)."

    # No person reference: the envelope's subject (pseudonym) says whom the delivery concerned.
    delivery_id: uuid.UUID = Field(description="ce_id of the delivery on iiz.deliveries.v1.")
    recipient: str = institution_id_field("Institution the delivery was for.")
    channel: DeliveryChannel = Field(description="kafka, webhook or email.")
    status: OutcomeStatus = Field(description="delivered, failed or dead-lettered.")
    attempt: int = Field(ge=1, description="Number of the attempt this outcome reports.")
    message_type: str = Field(
        max_length=200,
        pattern=r"^[a-z0-9][a-z0-9.\-]*$",
        description="ce_type of the delivered message.",
    )
    error: str | None = Field(
        default=None,
        max_length=300,
        pattern=r"^[^\x00-\x1f\x7f]*$",
        description="Short reason of a failure (no control characters); never content.",
    )

    @classmethod
    def id_for(cls, delivery_id: uuid.UUID, status: OutcomeStatus, attempt: int) -> uuid.UUID:
        """Stable: the same outcome reported twice has one id (coordination audits it once)."""
        return uuid.uuid5(OUTCOME_NAMESPACE, f"{delivery_id}|{status.value}|{attempt}")
