"""Case life cycle: an IIZ case opens, institutions join and leave, it closes."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from schemas.events.base import EventData, institution_id_field
from schemas.vocabulary import CaseOutcome, DataCategory, ParticipantRole


class CaseOpened(EventData):
    name: ClassVar[str] = "case.opened"
    default_category: ClassVar[DataCategory] = DataCategory.CASE_ADMIN
    summary: ClassVar[str] = "An institution opens an IIZ case for the person (IIZ-Fall eröffnet)."

    project_code: str | None = Field(
        default=None, max_length=32, description="IIZ project the case belongs to (IIZ-Projekt)."
    )
    reason: str | None = Field(
        default=None, max_length=500, description="Why IIZ is needed, without health details."
    )


class ParticipantJoined(EventData):
    name: ClassVar[str] = "case.participant.joined"
    default_category: ClassVar[DataCategory] = DataCategory.CASE_ADMIN
    summary: ClassVar[str] = "An institution takes part in the case (Beteiligung beginnt)."

    institution: str = institution_id_field("The institution that joins.")
    role: ParticipantRole = Field(description="lead (fallführend) or participant.")
    institution_case_ref: str | None = Field(
        default=None, max_length=64, description="The joining institution's own case reference."
    )


class ParticipantLeft(EventData):
    name: ClassVar[str] = "case.participant.left"
    default_category: ClassVar[DataCategory] = DataCategory.CASE_ADMIN
    summary: ClassVar[str] = "An institution stops taking part in the case (Beteiligung endet)."

    institution: str = institution_id_field("The institution that leaves.")
    reason: str | None = Field(default=None, max_length=500, description="Why it leaves.")


class ProjectAssigned(EventData):
    name: ClassVar[str] = "case.project.assigned"
    default_category: ClassVar[DataCategory] = DataCategory.CASE_ADMIN
    summary: ClassVar[str] = "The case is tagged with an IIZ project."

    project_code: str = Field(max_length=32, description="Code from the IIZ project registry.")


class CaseClosed(EventData):
    name: ClassVar[str] = "case.closed"
    default_category: ClassVar[DataCategory] = DataCategory.CASE_ADMIN
    summary: ClassVar[str] = "The IIZ case is closed with an outcome (Fallabschluss)."

    outcome: CaseOutcome = Field(description="Outcome of the case.")
