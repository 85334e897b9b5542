"""Bodies of ``POST /v1/cases/{case_number}/referrals/{referral_id}/answer``."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.vocabulary import DeclineReason
from services.coordination.api.input_checks import StorableText
from services.coordination.api.models import PURPOSE_FIELD

RESULT_MAX_CHARS = 500  # ``ReferralCompleted.result``


class AnswerKind(StrEnum):
    ACCEPT = "accept"  # referral.accepted, with the first appointment
    DECLINE = "decline"  # referral.declined, with a reason
    COMPLETE = "complete"  # referral.completed, with the result (ZIF: its recommendation)


class ReferralAnswer(BaseModel):
    """The addressee's answer to a referral; exactly the fields of its kind."""

    model_config = ConfigDict(extra="forbid")

    answer: AnswerKind
    first_appointment: dt.date | None = Field(
        default=None, description="accept: the planned first meeting (required)."
    )
    reason: DeclineReason | None = Field(default=None, description="decline: why (required).")
    result: StorableText | None = Field(
        default=None,
        min_length=1,
        max_length=RESULT_MAX_CHARS,
        description=(
            "complete: the short result, e.g. ZIF's binding recommendation (required). No "
            "health details, no AHV number."
        ),
    )
    purpose: StorableText = PURPOSE_FIELD

    @model_validator(mode="after")
    def _fields_of_the_kind(self) -> Self:
        given = {
            "first_appointment": self.first_appointment is not None,
            "reason": self.reason is not None,
            "result": self.result is not None,
        }
        needed = {
            AnswerKind.ACCEPT: "first_appointment",
            AnswerKind.DECLINE: "reason",
            AnswerKind.COMPLETE: "result",
        }[self.answer]
        if not given[needed]:
            raise ValueError(f"answer '{self.answer.value}' needs {needed}")
        extra = sorted(name for name, there in given.items() if there and name != needed)
        if extra:
            raise ValueError(f"answer '{self.answer.value}' takes no {', '.join(extra)}")
        return self


class AnswerAccepted(BaseModel):
    event_id: uuid.UUID = Field(
        description="Id of the referral.accepted/declined/completed event (derived from "
        "institution, referral and answer: a retry gives the same id)."
    )
    referral_id: uuid.UUID
    answer: AnswerKind
    repeated: bool = Field(
        description="True when this answer was on the timeline already (nothing new sent)."
    )
