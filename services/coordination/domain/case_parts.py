"""The parts of a person's case file: cases, participations, consents, engagements, referrals.

Plain pydantic models (the file is stored as JSON); ``case_file.py`` folds events into them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

from pydantic import BaseModel, Field

from schemas.vocabulary import DataCategory


class EngagementKind(StrEnum):
    MEASURE = "measure"
    BENEFIT = "benefit"
    REFERRAL = "referral"


class ReferralStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    COMPLETED = "completed"


class Case(BaseModel):
    case_key: uuid.UUID  # the id of the event that opened it; the number is issued outside
    opened_by: str
    opened_at: dt.datetime
    opened_position: int
    lead: str
    closed_at: dt.datetime | None = None
    closed_position: int | None = None
    outcome: str | None = None
    projects: list[str] = Field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class Participation(BaseModel):
    institution: str
    role: str
    case_key: uuid.UUID | None
    joined_at: int
    joined_on: dt.datetime
    via_referral: bool = False
    left_at: int | None = None
    left_on: dt.datetime | None = None

    @property
    def is_current(self) -> bool:
        return self.left_at is None


class Consent(BaseModel):
    consent_id: uuid.UUID
    recorded_by: str
    institutions: list[str]
    categories: list[DataCategory]
    valid_from: dt.date
    valid_until: dt.date | None
    document_ref: str
    granted_at: int
    revoked_at: int | None = None
    confirmed_at: dict[str, int] = Field(default_factory=dict)  # named institution → position


class Engagement(BaseModel):
    institution: str
    kind: EngagementKind
    ref_id: uuid.UUID
    case_key: uuid.UUID | None
    started_on: dt.date
    ended_on: dt.date | None = None

    def active_on(self, day: dt.date) -> bool:
        return self.started_on <= day and (self.ended_on is None or day <= self.ended_on)


class Referral(BaseModel):
    referral_id: uuid.UUID
    case_key: uuid.UUID | None
    from_institution: str
    to_institution: str
    purpose: str
    requested_at: dt.datetime
    answer_due: dt.date
    status: ReferralStatus = ReferralStatus.OPEN
    answered_at: dt.datetime | None = None
