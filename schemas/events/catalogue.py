"""The v1 event catalogue: every event type, looked up by its CloudEvent ``type``."""

from __future__ import annotations

from schemas.events.activity import (
    AppointmentHeld,
    AppointmentScheduled,
    AssessmentCompleted,
    DocumentShared,
    NoteAdded,
)
from schemas.events.base import EventData
from schemas.events.case import (
    CaseClosed,
    CaseOpened,
    ParticipantJoined,
    ParticipantLeft,
    ProjectAssigned,
)
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

EVENT_DATA_CLASSES: tuple[type[EventData], ...] = (
    CaseOpened,
    ParticipantJoined,
    ParticipantLeft,
    ProjectAssigned,
    CaseClosed,
    ConsentGranted,
    ConsentRevoked,
    ConsentConfirmed,
    ReferralRequested,
    ReferralAccepted,
    ReferralDeclined,
    ReferralCompleted,
    MeasureStarted,
    MeasureEnded,
    BenefitGranted,
    BenefitEnded,
    BenefitExhaustionExpected,
    AssessmentCompleted,
    AppointmentScheduled,
    AppointmentHeld,
    DocumentShared,
    NoteAdded,
)

DATA_CLASS_BY_TYPE: dict[str, type[EventData]] = {
    cls.cloud_event_type(): cls for cls in EVENT_DATA_CLASSES
}
