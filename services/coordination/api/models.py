"""Request and response bodies of the timeline API (English names, documented fields)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.ahv import AhvNumber
from services.coordination.api.input_checks import StorableText

DEFAULT_PURPOSE = "case-coordination"
PURPOSE_FIELD = Field(
    default=DEFAULT_PURPOSE,
    min_length=3,
    max_length=200,
    description="Why the data is needed; recorded in the audit log.",
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseSearch(_Body):
    """Find a person's case by AHV number (in the body: never in a URL or a log line)."""

    ahv_number: AhvNumber = Field(description="AHV-Nummer, 756.xxxx.xxxx.xc.")
    purpose: StorableText = PURPOSE_FIELD


class CaseFound(BaseModel):
    case_number: str = Field(description="IIZ case number, e.g. IIZ-2026-000001.")
    open: bool = Field(description="False when the person's latest case is closed.")


class NoteRequest(_Body):
    text: StorableText = Field(
        min_length=1, max_length=2000, description="The note; no health details, no AHV number."
    )
    purpose: StorableText = PURPOSE_FIELD
    note_id: uuid.UUID | None = Field(
        default=None,
        description="Set it to make a retry safe: the same note id gives the same event id.",
    )


class NoteAccepted(BaseModel):
    event_id: uuid.UUID = Field(description="Id of the coordination.note.added event.")
    note_id: uuid.UUID


class AuditRow(BaseModel):
    seq: int
    at: dt.datetime
    actor: str = Field(
        description="coordination, or <institution>/<role>/<user>; another institution's"
        " users as <institution>/<role> only."
    )
    action: str
    purpose: str | None
    object: str | None = Field(description="Event id, case number, delivery ...")
    basis: str | None = Field(description="Consent ids, articles or involvement.")
    detail: dict[str, Any]


class AuditPage(BaseModel):
    case_number: str
    rows: list[AuditRow]
    next_after: int | None
