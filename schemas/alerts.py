"""Alerts coordination raises (what and to whom); notifications chooses the channel."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from schemas.events.base import MessageData, institution_id_field
from schemas.vocabulary import DataCategory


class AlertKind(StrEnum):
    """Why coordination speaks up."""

    PARALLEL_PLANNING = "parallel-planning"  # Aussteuerung absehbar: parallel planen
    REFERRAL_REMINDER = "referral-reminder"  # Anmeldung unbeantwortet: Erinnerung
    REFERRAL_ESCALATION = "referral-escalation"  # weiter unbeantwortet: an die Fallführung
    SEQUENTIAL_HANDOFF = "sequential-handoff"  # Übergabe mit Lücke statt parallel


class Audience(StrEnum):
    """Who at the recipient institution the alert is for."""

    INSTITUTION = "institution"  # the institution's case workers (its delivery channel)
    COORDINATOR = "coordinator"  # the IIZ coordinator (e-mail digest)


class Alert(MessageData):
    name: ClassVar[str] = "alert"
    default_category: ClassVar[DataCategory] = DataCategory.CASE_ADMIN
    summary: ClassVar[str] = "An alert or deadline reminder from IIZ coordination (Hinweis)."

    # No person reference: the envelope's subject, iizcase and recipientcaseref say whom it
    # concerns, in the terms the recipient may see.
    alert_id: uuid.UUID = Field(description="Stable id: a repeated alert has the same id.")
    kind: AlertKind = Field(description="What the alert is about.")
    audience: Audience = Field(description="Case workers of the institution or its coordinator.")
    message: str = Field(max_length=1000, description="German text for the reader (Hinweis).")
    due: dt.date | None = Field(default=None, description="Date the alert is about (Frist).")
    about: uuid.UUID | None = Field(
        default=None, description="The referral, benefit or event the alert refers to."
    )
    institutions: list[str] = Field(
        default_factory=list, description="Institutions the alert mentions (registry ids)."
    )
    recipient_institution: str = institution_id_field("Institution the alert is addressed to.")
