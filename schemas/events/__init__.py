"""Event data models of the v1 catalogue (ARCHITECTURE §6)."""

from schemas.events.activity import (
    AppointmentHeld,
    AppointmentScheduled,
    AssessmentCompleted,
    DocumentShared,
    NoteAdded,
)
from schemas.events.base import EventData, PersonRef
from schemas.events.case import (
    CaseClosed,
    CaseOpened,
    ParticipantJoined,
    ParticipantLeft,
    ProjectAssigned,
)
from schemas.events.catalogue import DATA_CLASS_BY_TYPE, EVENT_DATA_CLASSES
from schemas.events.consent import ConsentConfirmed, ConsentGranted, ConsentRevoked
from schemas.events.measure import (
    BenefitEnded,
    BenefitExhaustionExpected,
    BenefitGranted,
    MeasureEnded,
    MeasureStarted,
)
from schemas.events.referral import (
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralRequested,
)

__all__ = [
    "DATA_CLASS_BY_TYPE",
    "EVENT_DATA_CLASSES",
    "AppointmentHeld",
    "AppointmentScheduled",
    "AssessmentCompleted",
    "BenefitEnded",
    "BenefitExhaustionExpected",
    "BenefitGranted",
    "CaseClosed",
    "CaseOpened",
    "ConsentConfirmed",
    "ConsentGranted",
    "ConsentRevoked",
    "DocumentShared",
    "EventData",
    "MeasureEnded",
    "MeasureStarted",
    "NoteAdded",
    "ParticipantJoined",
    "ParticipantLeft",
    "PersonRef",
    "ProjectAssigned",
    "ReferralAccepted",
    "ReferralCompleted",
    "ReferralDeclined",
    "ReferralRequested",
]
