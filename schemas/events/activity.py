"""Assessments, appointments, shared documents and coordination notes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import ClassVar

from pydantic import Field

from schemas.events.base import EventData, category, institution_id_field, value_categories
from schemas.vocabulary import AppointmentKind, Barrier, DataCategory, Potential


class AssessmentCompleted(EventData):
    name: ClassVar[str] = "assessment.completed"
    default_category: ClassVar[DataCategory] = DataCategory.EMPLOYMENT
    summary: ClassVar[str] = "A structured assessment summary (Abklärung) — never a diagnosis."

    assessment_id: uuid.UUID = Field(description="Identifier of the assessment.")
    potential: Potential = Field(description="Assessed labour-market potential (Potenzial).")
    barriers: list[Barrier] = Field(
        default_factory=list,
        description=(
            "Barriers found (Hindernisse), without details. The value `health` is of category "
            "`health`: it is removed for a recipient without a health basis (since 1.4.0)."
        ),
        json_schema_extra=value_categories({Barrier.HEALTH.value: DataCategory.HEALTH}),
    )
    health_limitations: str | None = Field(
        default=None,
        max_length=500,
        description="Functional limitations relevant to work, no diagnosis (Einschränkungen).",
        json_schema_extra=category(DataCategory.HEALTH),
    )
    recommendation: str | None = Field(
        default=None, max_length=1000, description="Recommendation (Empfehlung)."
    )


class AppointmentScheduled(EventData):
    name: ClassVar[str] = "appointment.scheduled"
    default_category: ClassVar[DataCategory] = DataCategory.CASE_ADMIN
    summary: ClassVar[str] = "A case conference or round table is scheduled (Fallkonferenz)."

    appointment_id: uuid.UUID = Field(description="Identifier of the appointment.")
    kind: AppointmentKind = Field(description="Kind of appointment.")
    scheduled_for: dt.datetime = Field(description="Date and time.")
    institutions: list[str] = Field(default_factory=list, description="Invited institutions.")


class AppointmentHeld(EventData):
    name: ClassVar[str] = "appointment.held"
    default_category: ClassVar[DataCategory] = DataCategory.CASE_ADMIN
    summary: ClassVar[str] = "The appointment took place."

    appointment_id: uuid.UUID = Field(description="The appointment that was held.")
    held_on: dt.date = Field(description="Date it took place.")


class DocumentShared(EventData):
    name: ClassVar[str] = "document.shared"
    default_category: ClassVar[DataCategory] = DataCategory.DOCUMENTS
    summary: ClassVar[str] = "A document is announced: metadata and hash only; it stays with us."

    document_id: uuid.UUID = Field(description="Identifier of the document at its owner.")
    title: str = Field(min_length=1, max_length=200, description="Title (Titel).")
    media_type: str = Field(max_length=100, description="e.g. application/pdf.")
    size_bytes: int = Field(ge=0, description="Size in bytes.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the content.")
    held_by: str = institution_id_field("Institution that holds the document.")


class NoteAdded(EventData):
    name: ClassVar[str] = "coordination.note.added"
    default_category: ClassVar[DataCategory] = DataCategory.CASE_ADMIN
    summary: ClassVar[str] = "A coordinator adds a note to the shared case."

    note_id: uuid.UUID = Field(description="Identifier of the note.")
    text: str = Field(min_length=1, max_length=2000, description="Note, without health details.")
