"""Receipts (Quittungen): every submission is answered, in the spirit of sedex status codes."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from schemas.events.base import MessageData
from schemas.vocabulary import DataCategory


class ReceiptStatus(StrEnum):
    """Outcome of a submission. Rejections reuse the contract's reason codes."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


class Receipt(MessageData):
    """Answer to one submission, sent to the sender's delivery topic or HTTP response."""

    name: ClassVar[str] = "receipt"
    default_category: ClassVar[DataCategory] = DataCategory.CASE_ADMIN
    summary: ClassVar[str] = "Receipt for a submission: accepted, duplicate or rejected."

    # No person: a receipt may answer a message so broken that no person could be read from it.
    status: ReceiptStatus = Field(description="accepted, duplicate or rejected.")
    original_id: str | None = Field(
        default=None, max_length=200, description="ce_id of the submission, when it had one."
    )
    canonical_id: uuid.UUID | None = Field(
        default=None, description="Id of the canonical event (accepted and duplicate)."
    )
    reason: str | None = Field(
        default=None, description="Reason code of a rejection (see docs/contract.md)."
    )
    message: str | None = Field(
        default=None, max_length=1000, description="Human explanation; never personal data."
    )
    channel: str = Field(description="kafka:<topic>/<partition>/<offset> or http.")
