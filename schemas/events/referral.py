"""Referrals (Anmeldung / Zuweisung) from one institution to another, with their answers."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import ClassVar

from pydantic import Field

from schemas.events.base import EventData, institution_id_field
from schemas.vocabulary import DataCategory, DeclineReason, ReferralPurpose


class _ReferralEvent(EventData):
    default_category: ClassVar[DataCategory] = DataCategory.CASE_ADMIN

    referral_id: uuid.UUID = Field(description="Identifier of the referral (Anmeldung).")


class ReferralRequested(_ReferralEvent):
    name: ClassVar[str] = "referral.requested"
    summary: ClassVar[str] = "An institution refers the person to another (Anmeldung)."

    to_institution: str = institution_id_field("The institution asked to take the person on.")
    purpose: ReferralPurpose = Field(description="What is asked for.")
    answer_due: dt.date | None = Field(
        default=None, description="Date by which an answer is expected."
    )
    note: str | None = Field(
        default=None, max_length=1000, description="Short note, without health details."
    )


class ReferralAccepted(_ReferralEvent):
    name: ClassVar[str] = "referral.accepted"
    summary: ClassVar[str] = "The receiving institution accepts the referral."

    first_appointment: dt.date | None = Field(default=None, description="Planned first meeting.")


class ReferralDeclined(_ReferralEvent):
    name: ClassVar[str] = "referral.declined"
    summary: ClassVar[str] = "The receiving institution declines the referral."

    reason: DeclineReason = Field(description="Why it was declined.")


class ReferralCompleted(_ReferralEvent):
    name: ClassVar[str] = "referral.completed"
    summary: ClassVar[str] = "The referred service is done (e.g. assessment finished)."

    result: str | None = Field(default=None, max_length=500, description="Short result.")
