"""Small, deterministic factories for contract objects, shared by unit and integration tests.

All AHV numbers made here are synthetic: valid by the EAN-13 rule, derived from a seed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from schemas.ahv import ean13_check_digit
from schemas.envelope import CloudEvent, new_event
from schemas.events import (
    EVENT_DATA_CLASSES,
    AppointmentHeld,
    AppointmentScheduled,
    AssessmentCompleted,
    BenefitEnded,
    BenefitExhaustionExpected,
    BenefitGranted,
    CaseClosed,
    CaseOpened,
    ConsentConfirmed,
    ConsentGranted,
    ConsentRevoked,
    DocumentShared,
    EventData,
    MeasureEnded,
    MeasureStarted,
    NoteAdded,
    ParticipantJoined,
    ParticipantLeft,
    ProjectAssigned,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralRequested,
)

OFFICIAL_SAMPLE_AHV = "756.9217.0769.85"
"""The sample number published by the ZAS/BSV; valid, and nobody's."""

DEFAULT_SOURCE = "/iiz/bl/rav"
DEFAULT_TIME = dt.datetime(2025, 3, 14, 9, 30, tzinfo=dt.UTC)


def format_ahv(digits: str) -> str:
    """13 digits in the official dotted form ``756.xxxx.xxxx.xc``."""
    return f"{digits[:3]}.{digits[3:7]}.{digits[7:11]}.{digits[11:]}"


def ahv_from_nine_digits(nine: str) -> str:
    """756 + the nine given digits + the EAN-13 check digit (undotted)."""
    first_twelve = f"756{nine}"
    return f"{first_twelve}{ean13_check_digit(first_twelve)}"


def valid_ahv(seed: int) -> str:
    """A deterministic synthetic valid AHV number (dotted), different for each seed < 10**9."""
    nine = f"{(seed * 104_729 + 12_345) % 10**9:09d}"
    return format_ahv(ahv_from_nine_digits(nine))


def _uuid(n: int) -> str:
    return str(uuid.UUID(int=0x1122_3344_5566_4778_8899_0000_0000_0000 + n))


def _person(seed: int = 1) -> dict[str, Any]:
    return {"ahv_number": valid_ahv(seed), "case_ref": f"CASE-{seed:05d}"}


# Hand-written, fully populated sample data per event type (optional fields set too, so the
# samples exercise every field). Keys are field names, values JSON-compatible.
SAMPLE_DATA: dict[type[EventData], dict[str, Any]] = {
    CaseOpened: {
        "project_code": "IIZ-FALLKOORD",
        "reason": "Langzeitarbeitslosigkeit, Aussteuerung absehbar",
    },
    ParticipantJoined: {
        "institution": "sozialhilfe-2829",
        "role": "participant",
        "institution_case_ref": "SH-2025-0042",
    },
    ParticipantLeft: {"institution": "iv", "reason": "Abklärung abgeschlossen"},
    ProjectAssigned: {"project_code": "AC-PILOT"},
    CaseClosed: {"outcome": "employment"},
    ConsentGranted: {
        "consent_id": _uuid(1),
        "institutions": ["rav", "iv", "sozialhilfe-2829"],
        "categories": ["case-admin", "employment", "benefits"],
        "valid_from": "2025-03-01",
        "valid_until": "2026-02-28",
        "document_ref": "VOLLMACHT-2025-17",
    },
    ConsentRevoked: {"consent_id": _uuid(1), "document_ref": "WIDERRUF-2025-03"},
    ConsentConfirmed: {"consent_id": _uuid(1), "document_ref": "VOLLMACHT-KOPIE-2025-17"},
    ReferralRequested: {
        "referral_id": _uuid(2),
        "to_institution": "assessmentcenter",
        "purpose": "assessmentcenter-intake",
        "answer_due": "2025-04-01",
        "note": "Bitte um Potenzialabklärung",
    },
    ReferralAccepted: {"referral_id": _uuid(2), "first_appointment": "2025-04-07"},
    ReferralDeclined: {"referral_id": _uuid(2), "reason": "no-capacity"},
    ReferralCompleted: {"referral_id": _uuid(2), "result": "Potenzial vorhanden"},
    MeasureStarted: {
        "measure_id": _uuid(3),
        "kind": "labour-market-measure",
        "title": "Einsatzprogramm Gastro",
        "planned_end": "2025-09-30",
    },
    MeasureEnded: {
        "measure_id": _uuid(3),
        "kind": "labour-market-measure",
        "result": "completed",
        "cost_chf": "4850.50",
        "financed_by": "rav",
    },
    BenefitGranted: {"benefit_id": _uuid(4), "kind": "alv-daily-allowance", "start": "2024-06-01"},
    BenefitEnded: {
        "benefit_id": _uuid(4),
        "kind": "alv-daily-allowance",
        "end": "2025-05-31",
        "reason": "exhausted",
    },
    BenefitExhaustionExpected: {
        "benefit_id": _uuid(4),
        "kind": "alv-daily-allowance",
        "expected_end": "2025-05-31",
    },
    AssessmentCompleted: {
        "assessment_id": _uuid(5),
        "potential": "medium",
        "barriers": ["language", "childcare"],
        "health_limitations": "keine schweren Lasten",
        "recommendation": "Sprachkurs B1, danach Einsatzprogramm",
    },
    AppointmentScheduled: {
        "appointment_id": _uuid(6),
        "kind": "case-conference",
        "scheduled_for": "2025-04-10T14:00:00+02:00",
        "institutions": ["rav", "iv", "sozialhilfe-2829"],
    },
    AppointmentHeld: {"appointment_id": _uuid(6), "held_on": "2025-04-10"},
    DocumentShared: {
        "document_id": _uuid(7),
        "title": "Abklärungsbericht Assessmentcenter",
        "media_type": "application/pdf",
        "size_bytes": 183_402,
        "sha256": "a" * 64,
        "held_by": "assessmentcenter",
    },
    NoteAdded: {"note_id": _uuid(8), "text": "Runder Tisch vereinbart."},
}

assert set(SAMPLE_DATA) == set(EVENT_DATA_CLASSES), "every event type needs sample data"


def sample_data(cls: type[EventData], **overrides: Any) -> EventData:
    """Valid data of the given event type; keyword arguments replace fields."""
    values: dict[str, Any] = {"person": _person(), **SAMPLE_DATA[cls], **overrides}
    return cls.model_validate(values)


def sample_event(cls: type[EventData], **overrides: Any) -> CloudEvent[Any]:
    """A valid CloudEvent of the given event type.

    Keyword arguments naming a data field of ``cls`` (e.g. ``person``, ``kind``) replace that
    field of ``data``; the others are envelope attributes (``source``, ``time``, ``event_id``,
    ``subject``, ``partitionkey``, ``datacategory``, ``correlationid``, ...). The id is a
    fresh UUID unless ``event_id`` is given.
    """
    data_overrides = {k: v for k, v in overrides.items() if k in cls.model_fields}
    attrs = {k: v for k, v in overrides.items() if k not in cls.model_fields}
    attrs.setdefault("source", DEFAULT_SOURCE)
    attrs.setdefault("time", DEFAULT_TIME)
    return new_event(sample_data(cls, **data_overrides), **attrs)
