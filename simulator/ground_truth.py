"""A person's ground truth in plain terms: who takes part in the case from which step until
when, and which consents exist (granted and revoked at which step).

Kept while a script is written, from the meaning of each event as the contract describes it —
not through coordination code — so that an independent model can say who must receive what:

- the institution that opens a case takes part from then on; so does one that joins;
- an institution a referral is addressed to is invited from the referral on; declining the
  referral ends that invitation (not a participation it joined on its own);
- leaving ends an institution's participation, closing the case ends everyone's;
- a consent holds from the step that grants it; a revocation marks the step it takes effect;
  an institution it names confirms it at a step (``consent.confirmed``, since 1.4.0).

It also knows what coordination refuses (the contract's authority rules, docs/contract.md
§7.4), so that a script cannot send an event that the bus would not take by mistake:

- an institution *takes part* if it opened the case, was added by ``case.participant.joined``
  from one that takes part, or answered a referral addressed to it (accepted or completed);
  merely being invited by a referral is not taking part;
- ``case.participant.joined`` only from one that takes part, and only as a participant for an
  institution that is not taking part or is a participant already, unless the sender leads the
  case; ``case.opened`` only when no case is open or from one that takes part (then it changes
  nothing); ``referral.requested`` only from one that takes part;
- the case is *led* by the institution that opened it, or the last one given the role lead; it
  leads while it takes part, and once it no longer does, any that takes part may act as lead;
- ``case.participant.left`` naming another institution, and ``case.closed``, only from the lead;
- ``consent.granted`` only from a named institution that takes part, once per consent id;
  ``consent.revoked`` and ``consent.confirmed`` only from a named one (a confirmation only of a
  known consent); of the revocations sent before a consent's grant, the earliest from an
  institution the grant names counts.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from schemas.envelope import CloudEvent
from schemas.events import (
    CaseClosed,
    CaseOpened,
    ConsentConfirmed,
    ConsentGranted,
    ConsentRevoked,
    ParticipantJoined,
    ParticipantLeft,
    ReferralAccepted,
    ReferralCompleted,
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
    answered: bool = False  # an invitee that answered a referral to it takes part
    role: str = "participant"  # "lead" | "participant"


# The reason codes of coordination's refusals (docs/contract.md §7.4), as partners see them.
PARTICIPATION_NOT_AUTHORISED = "participation_not_authorised"
CONSENT_RECORDER_NOT_NAMED = "consent_recorder_not_named"
CONSENT_RECORDER_NOT_TAKING_PART = "consent_recorder_not_taking_part"
CONSENT_NOT_NAMING_SENDER = "consent_not_naming_sender"
CONSENT_ALREADY_RECORDED = "consent_already_recorded"


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
    confirmed: Mapping[str, int] = field(default_factory=dict, hash=False)  # by whom → step

    def vouched_by(self, institution: str, step: int) -> bool:
        """The institution recorded this consent, or confirmed it at or before ``step``."""
        confirmed = self.confirmed.get(institution)
        return institution == self.recorded_by or (confirmed is not None and confirmed <= step)


@dataclass
class GroundTruth:
    participations: list[Participation] = field(default_factory=list)
    consents: dict[uuid.UUID, ConsentFact] = field(default_factory=dict)
    referrals: dict[uuid.UUID, str] = field(default_factory=dict)  # referral → addressed to
    case_open: bool = False
    lead: str | None = None  # who leads the open case
    # Revocations of a consent not granted yet: consent → every (revoker, step).
    early_revocations: dict[uuid.UUID, list[tuple[str, int]]] = field(default_factory=dict)

    def refusal(self, origin: str, data: Any) -> str | None:
        """The reason coordination refuses this event from ``origin`` now; None if it takes it."""
        match data:
            case ParticipantJoined():
                current = self._current(data.institution)
                as_participant = data.role.value == "participant" and (
                    current is None or current.role == "participant"
                )
                allowed = self.takes_part(origin) and (as_participant or self.leads(origin))
                return None if allowed else PARTICIPATION_NOT_AUTHORISED
            case ParticipantLeft():
                allowed = data.institution == origin or self.leads(origin)
                return None if allowed else PARTICIPATION_NOT_AUTHORISED
            case CaseClosed():
                return None if self.leads(origin) else PARTICIPATION_NOT_AUTHORISED
            case CaseOpened():
                allowed = not self.case_open or self.takes_part(origin)
                return None if allowed else PARTICIPATION_NOT_AUTHORISED
            case ReferralRequested():
                return None if self.takes_part(origin) else PARTICIPATION_NOT_AUTHORISED
            case ConsentGranted():
                if origin not in data.institutions:
                    return CONSENT_RECORDER_NOT_NAMED
                if not self.takes_part(origin):
                    return CONSENT_RECORDER_NOT_TAKING_PART
                return CONSENT_ALREADY_RECORDED if data.consent_id in self.consents else None
            case ConsentRevoked():
                fact = self.consents.get(data.consent_id)
                allowed = fact is None or origin in fact.institutions
                return None if allowed else CONSENT_NOT_NAMING_SENDER
            case ConsentConfirmed():
                fact = self.consents.get(data.consent_id)
                allowed = fact is not None and origin in fact.institutions
                return None if allowed else CONSENT_NOT_NAMING_SENDER
        return None

    def takes_part(self, institution: str) -> bool:
        """It opened the case, was added, or answered a referral to it — not merely invited."""
        current = self._current(institution)
        return current is not None and (current.via != "referral" or current.answered)

    def leads(self, institution: str) -> bool:
        """It may act as the lead: the case is open and it takes part, and it is the lead or the
        lead no longer takes part."""
        if not self.case_open or not self.takes_part(institution):
            return False
        return self.lead == institution or self.lead is None or not self.takes_part(self.lead)

    def follow(self, index: int, origin: str, event: CloudEvent[Any]) -> None:
        """What an accepted event on the bus means for who takes part and which consents hold."""
        data, at = event.data, event.time
        match data:
            case CaseOpened():
                if not self.case_open:  # opening the open case again changes nothing
                    self.case_open, self.lead = True, origin
                    self._take_part(origin, index, "opened", "lead")
            case ParticipantJoined():
                self._take_part(data.institution, index, "joined", data.role.value)
                if self.case_open and data.role.value == "lead":
                    self.lead = data.institution
            case ReferralRequested():
                self.referrals.setdefault(data.referral_id, data.to_institution)
                if self._current(data.to_institution) is None:
                    self.participations.append(
                        Participation(data.to_institution, index, "referral")
                    )
            case ReferralAccepted() | ReferralCompleted():
                current = self._current(origin)
                if self.referrals.get(data.referral_id) == origin and current is not None:
                    self.participations[self.participations.index(current)] = replace(
                        current, answered=True
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
                self.case_open, self.lead = False, None
                for current in [p for p in self.participations if p.until_step is None]:
                    self._end(current, index, at, "closed")
            case ConsentGranted():
                early = self.early_revocations.pop(data.consent_id, [])
                named = [step for who, step in early if who in data.institutions]
                self.consents[data.consent_id] = ConsentFact(
                    consent_id=data.consent_id,
                    recorded_by=origin,
                    institutions=frozenset(data.institutions),
                    categories=frozenset(data.categories),
                    valid_from=data.valid_from,
                    valid_until=data.valid_until,
                    granted_step=index,
                    revoked_step=min(named, default=None),
                )
            case ConsentRevoked():
                fact = self.consents.get(data.consent_id)
                if fact is None:
                    self.early_revocations.setdefault(data.consent_id, []).append((origin, index))
                elif fact.revoked_step is None:
                    self.consents[data.consent_id] = replace(fact, revoked_step=index)
            case ConsentConfirmed():
                fact = self.consents.get(data.consent_id)
                if fact is not None and origin not in fact.confirmed:
                    confirmed = {**fact.confirmed, origin: index}
                    self.consents[data.consent_id] = replace(fact, confirmed=confirmed)
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

    def _take_part(self, institution: str, index: int, via: str, role: str) -> None:
        current = self._current(institution)
        if current is None:
            self.participations.append(Participation(institution, index, via, role=role))
            return
        # An invitee that joins is a full participant now; one that takes part takes the role.
        joined = replace(current, via=via) if current.via == "referral" else current
        self.participations[self.participations.index(current)] = replace(joined, role=role)

    def _end(self, current: Participation, index: int, at: dt.datetime, why: str) -> None:
        ended = replace(current, until_step=index, until_time=at, ended_by=why)
        self.participations[self.participations.index(current)] = ended
