"""A person's ground truth in plain terms: who takes part in the case from which step until
when, and which consents exist (granted and revoked at which step).

Kept while a script is written, from the meaning of each event as the contract describes it —
not through coordination code — so that an independent model can say who must receive what:

- the institution that opens a case takes part from then on; so does one that joins;
- an institution a referral is addressed to is invited from the referral on; declining the
  referral ends that invitation (not a participation it joined on its own);
- leaving ends an institution's participation, closing the case ends everyone's;
- a consent holds from the step that grants it; a revocation marks the step it takes effect.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from schemas.envelope import CloudEvent
from schemas.events import (
    CaseClosed,
    CaseOpened,
    ConsentGranted,
    ConsentRevoked,
    ParticipantJoined,
    ParticipantLeft,
    ReferralDeclined,
    ReferralRequested,
)
from schemas.vocabulary import DataCategory


@dataclass(frozen=True)
class Participation:
    """An institution takes part (or is invited) from a step until a step (and its time)."""

    institution: str
    since_step: int
    via: str  # "opened" | "joined" | "referral"
    until_step: int | None = None
    until_time: dt.datetime | None = None
    ended_by: str | None = None  # "left" | "declined" | "closed"


@dataclass(frozen=True)
class ConsentFact:
    consent_id: uuid.UUID
    recorded_by: str
    institutions: frozenset[str]
    categories: frozenset[DataCategory]
    valid_from: dt.date
    valid_until: dt.date | None
    granted_step: int
    revoked_step: int | None = None


@dataclass
class GroundTruth:
    participations: list[Participation] = field(default_factory=list)
    consents: dict[uuid.UUID, ConsentFact] = field(default_factory=dict)

    def follow(self, index: int, origin: str, event: CloudEvent[Any]) -> None:
        """What an accepted event on the bus means for who takes part and which consents hold."""
        data, at = event.data, event.time
        match data:
            case CaseOpened():
                self._take_part(origin, index, "opened")
            case ParticipantJoined():
                self._take_part(data.institution, index, "joined")
            case ReferralRequested():
                if self._current(data.to_institution) is None:
                    self.participations.append(
                        Participation(data.to_institution, index, "referral")
                    )
            case ReferralDeclined():
                current = self._current(origin)
                if current is not None and current.via == "referral":
                    self._end(current, index, at, "declined")
            case ParticipantLeft():
                current = self._current(data.institution)
                if current is not None:
                    self._end(current, index, at, "left")
            case CaseClosed():
                for current in [p for p in self.participations if p.until_step is None]:
                    self._end(current, index, at, "closed")
            case ConsentGranted():
                self.consents[data.consent_id] = ConsentFact(
                    consent_id=data.consent_id,
                    recorded_by=origin,
                    institutions=frozenset(data.institutions),
                    categories=frozenset(data.categories),
                    valid_from=data.valid_from,
                    valid_until=data.valid_until,
                    granted_step=index,
                )
            case ConsentRevoked():
                fact = self.consents.get(data.consent_id)
                if fact is not None and fact.revoked_step is None:
                    self.consents[data.consent_id] = replace(fact, revoked_step=index)
            case _:
                pass

    def _current(self, institution: str) -> Participation | None:
        return next(
            (
                p
                for p in self.participations
                if p.institution == institution and p.until_step is None
            ),
            None,
        )

    def _take_part(self, institution: str, index: int, via: str) -> None:
        current = self._current(institution)
        if current is None:
            self.participations.append(Participation(institution, index, via))
        elif current.via == "referral":  # an invitee that joins is a full participant now
            self.participations[self.participations.index(current)] = replace(current, via=via)

    def _end(self, current: Participation, index: int, at: dt.datetime, why: str) -> None:
        ended = replace(current, until_step=index, until_time=at, ended_by=why)
        self.participations[self.participations.index(current)] = ended
