"""Write canonical case events the way intake would publish them, as a readable story.

    story = CaseStory(person_seed=7)
    story.rav(CaseOpened, project_code="IIZ-FALLKOORD")
    story.rav(ConsentGranted, institutions=["rav", "iv"], categories=[...])
    story.iv(AssessmentCompleted, datacategory=DataCategory.HEALTH, ...)

Each call appends a canonical CloudEvent (subject = pseudonym, sealed AHV, a day later than the
previous one) and returns it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from schemas.ahv import AhvNumber, pseudonymise
from schemas.codec import to_kafka
from schemas.envelope import CloudEvent, new_event
from schemas.events import EventData, PersonRef
from schemas.registry import load_institutions
from services.common.identity_seal import IdentitySeal
from services.common.settings import CommonSettings
from tests.factories import valid_ahv

REGISTRY = load_institutions()
START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


class CaseStory:
    def __init__(self, person_seed: int, *, start: dt.datetime = START) -> None:
        common = CommonSettings(environment="test")
        self.ahv = AhvNumber(valid_ahv(person_seed))
        self.pseudonym = pseudonymise(
            self.ahv, common.pseudonym_key.get_secret_value().encode(), common.pseudonym_key_id
        )
        seal = IdentitySeal.from_settings(common)
        self.sealed_ahv = seal.seal(self.ahv)
        self.events: list[CloudEvent[Any]] = []
        self.clock = start

    def by(self, origin: str, cls: type[EventData], /, **fields: Any) -> CloudEvent[Any]:
        attrs = {k: fields.pop(k) for k in ("datacategory", "time") if k in fields}
        self.clock = attrs.pop("time", self.clock + dt.timedelta(days=1))
        person = PersonRef(
            case_ref=f"{origin.upper()}-{self.pseudonym[-6:]}", sealed_ahv=self.sealed_ahv
        )
        for name, info in cls.model_fields.items():
            if name.endswith("_id") and name not in fields and info.annotation is uuid.UUID:
                fields[name] = uuid.uuid4()
        event = new_event(
            cls(person=person, **fields),
            source=REGISTRY.by_id[origin].source,
            time=self.clock,
            subject=self.pseudonym,
            partitionkey=self.pseudonym,
            **attrs,
        )
        self.events.append(event)
        return event

    def __getattr__(self, institution: str) -> Any:
        ident = institution.replace("_", "-")
        if ident not in REGISTRY.by_id:
            raise AttributeError(institution)
        return lambda cls, **fields: self.by(ident, cls, **fields)

    def records(self) -> list[Any]:
        return [to_kafka(e) for e in self.events]


HEALTH_TEXT = "Keine Lasten über 10 kg"


def iv_in_parallel(
    story: CaseStory, *, project_code: str | None = None, planned_end: dt.date | None = None
) -> None:
    """rav opens the case with a consent (rav+iv, no health), grants the ALV allowance, refers
    to iv (accepted: parallel), iv reports an assessment with health limitations, rav refers to
    the Assessmentcenter (unanswered, due before the last event) and starts a coaching."""
    from schemas.events import (
        AssessmentCompleted,
        BenefitGranted,
        CaseOpened,
        ConsentGranted,
        MeasureStarted,
        ReferralAccepted,
        ReferralRequested,
    )
    from schemas.vocabulary import (
        Barrier,
        BenefitKind,
        DataCategory,
        MeasureKind,
        Potential,
        ReferralPurpose,
    )

    story.rav(CaseOpened, reason="Aussteuerung absehbar", project_code=project_code)
    story.rav(
        ConsentGranted,
        institutions=["rav", "iv"],
        categories=[DataCategory.CASE_ADMIN, DataCategory.EMPLOYMENT, DataCategory.BENEFITS],
        valid_from=dt.date(2026, 1, 1),
        document_ref="RAV-VOLLMACHT-1",
    )
    story.rav(
        BenefitGranted,
        kind=BenefitKind.ALV_DAILY_ALLOWANCE,
        start=dt.date(2026, 3, 1),
        datacategory=DataCategory.BENEFITS,
    )
    referral = story.rav(
        ReferralRequested,
        to_institution="iv",
        purpose=ReferralPurpose.IV_EARLY_DETECTION,
        answer_due=dt.date(2026, 3, 20),
    )
    story.iv(ReferralAccepted, referral_id=referral.data.referral_id)
    story.iv(
        AssessmentCompleted,
        potential=Potential.MEDIUM,
        barriers=[Barrier.HEALTH],
        health_limitations=HEALTH_TEXT,
        recommendation="Teilzeitpensum prüfen",
    )
    story.rav(
        ReferralRequested,
        to_institution="assessmentcenter",
        purpose=ReferralPurpose.ASSESSMENTCENTER_INTAKE,
        answer_due=dt.date(2026, 3, 9),
    )
    story.rav(MeasureStarted, kind=MeasureKind.COACHING, planned_end=planned_end)
