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
        seal = IdentitySeal(common.identity_key.get_secret_value(), common.identity_key_id)
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
