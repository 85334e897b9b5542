"""A person's case file: the state coordination folds from that person's events, in bus order.

One file per person pseudonym. ``apply`` takes the next event and its bus position, updates the
file and returns what follows from it: the policy decision for every institution that could be
concerned, the alerts and deadlines. It reads no clock and does no I/O; everything it needs
(registry kinds, consents, the legal-basis matrix, rule settings) is in the file or passed in.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from schemas.envelope import CloudEvent
from schemas.events import (
    BenefitEnded,
    BenefitExhaustionExpected,
    BenefitGranted,
    CaseClosed,
    CaseOpened,
    ConsentGranted,
    ConsentRevoked,
    MeasureEnded,
    MeasureStarted,
    ParticipantJoined,
    ParticipantLeft,
    ProjectAssigned,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralRequested,
)
from schemas.vocabulary import DataCategory, ParticipantRole
from services.coordination.domain.fields import marked_fields
from services.coordination.domain.policy import (
    ConsentRecord,
    Decision,
    EventFacts,
    InterestPeriod,
    World,
    business_date,
    decide,
)


class EngagementKind(StrEnum):
    MEASURE = "measure"
    BENEFIT = "benefit"
    REFERRAL = "referral"


class ReferralStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    COMPLETED = "completed"


class Case(BaseModel):
    case_key: uuid.UUID  # the id of the event that opened it; the number is issued outside
    opened_by: str
    opened_at: dt.datetime
    opened_position: int
    lead: str
    closed_at: dt.datetime | None = None
    closed_position: int | None = None
    outcome: str | None = None
    projects: list[str] = Field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class Participation(BaseModel):
    institution: str
    role: str
    case_key: uuid.UUID | None
    joined_at: int
    joined_on: dt.datetime
    via_referral: bool = False
    left_at: int | None = None
    left_on: dt.datetime | None = None

    @property
    def is_current(self) -> bool:
        return self.left_at is None


class Consent(BaseModel):
    consent_id: uuid.UUID
    recorded_by: str
    institutions: list[str]
    categories: list[DataCategory]
    valid_from: dt.date
    valid_until: dt.date | None
    document_ref: str
    granted_at: int
    revoked_at: int | None = None


class Engagement(BaseModel):
    institution: str
    kind: EngagementKind
    ref_id: uuid.UUID
    case_key: uuid.UUID | None
    started_on: dt.date
    ended_on: dt.date | None = None

    def active_on(self, day: dt.date) -> bool:
        return self.started_on <= day and (self.ended_on is None or day <= self.ended_on)


class Referral(BaseModel):
    referral_id: uuid.UUID
    case_key: uuid.UUID | None
    from_institution: str
    to_institution: str
    purpose: str
    requested_at: dt.datetime
    answer_due: dt.date
    status: ReferralStatus = ReferralStatus.OPEN
    answered_at: dt.datetime | None = None


@dataclass(frozen=True)
class RuleSettings:
    """The configurable numbers of the rules (days)."""

    grace_days: int = 30
    exhaustion_window_days: int = 90
    referral_answer_working_days: int = 10
    referral_escalation_working_days: int = 5
    handoff_gap_days: int = 30

    @property
    def grace(self) -> dt.timedelta:
        return dt.timedelta(days=self.grace_days)


@dataclass
class Applied:
    """What follows from one event."""

    case_key: uuid.UUID | None
    facts: EventFacts
    decisions: list[Decision]
    alerts: list[Any] = field(default_factory=list)  # AlertIntent (domain.alerts)
    deadlines: list[Any] = field(default_factory=list)  # Deadline (domain.alerts)


class CaseFile(BaseModel):
    pseudonym: str
    cases: list[Case] = Field(default_factory=list)
    participations: list[Participation] = Field(default_factory=list)
    consents: list[Consent] = Field(default_factory=list)
    revocations: dict[str, int] = Field(default_factory=dict)  # consent id → first revocation
    engagements: list[Engagement] = Field(default_factory=list)
    referrals: list[Referral] = Field(default_factory=list)
    case_refs: dict[str, str] = Field(default_factory=dict)  # institution → its own case ref
    forecasts: dict[str, tuple[str, str]] = Field(default_factory=dict)  # benefit → origin, end
    last_position: int = -1

    # ----- reading -------------------------------------------------------------------------

    @property
    def open_case(self) -> Case | None:
        return next((c for c in reversed(self.cases) if c.is_open), None)

    def current_participants(self) -> list[Participation]:
        return [p for p in self.participations if p.is_current]

    def interest(self) -> list[InterestPeriod]:
        return [
            InterestPeriod(p.institution, p.joined_at, p.left_at, p.left_on)
            for p in self.participations
        ]

    def consent_records(self) -> list[ConsentRecord]:
        return [
            ConsentRecord(
                consent_id=c.consent_id,
                institutions=frozenset(c.institutions),
                categories=frozenset(c.categories),
                valid_from=c.valid_from,
                valid_until=c.valid_until,
                granted_at=c.granted_at,
                revoked_at=c.revoked_at,
            )
            for c in self.consents
        ]

    def candidates(self, origin: str) -> list[str]:
        """Institutions that could be concerned: everyone ever involved or named in a consent."""
        named = {origin} | {p.institution for p in self.participations}
        for consent in self.consents:
            named.update(consent.institutions)
        return sorted(named)

    def referral(self, referral_id: uuid.UUID) -> Referral | None:
        return next((r for r in self.referrals if r.referral_id == referral_id), None)

    def engaged_on(self, day: dt.date) -> set[str]:
        return {e.institution for e in self.engagements if e.active_on(day)}

    # ----- folding -------------------------------------------------------------------------

    def apply(
        self, event: CloudEvent[Any], position: int, world: World, rules: RuleSettings
    ) -> Applied:
        """Fold one event (at its bus position) into the file; decide who may receive it."""
        from services.coordination.domain import alerts  # alerts read the file; no cycle at load

        origin = origin_of(event)
        if event.data.person.case_ref:
            self.case_refs.setdefault(origin, event.data.person.case_ref)
        case_before = self.open_case
        started = self._fold(event, origin, position)
        self.last_position = position
        facts = facts_of(event, position)
        world = World(
            kinds=world.kinds,
            consents=self.consent_records(),
            matrix=world.matrix,
            grace=world.grace,
        )
        interest = self.interest()
        decisions = [decide(facts, r, world, interest) for r in self.candidates(origin)]
        case = self.open_case or case_before  # a closing event still belongs to its case
        applied = Applied(
            case_key=case.case_key if case else None, facts=facts, decisions=decisions
        )
        alerts.follow_event(self, event, facts, world, rules, started, applied)
        return applied

    def _fold(self, event: CloudEvent[Any], origin: str, position: int) -> Engagement | None:
        """Update the file; returns the engagement this event started, if any."""
        data, at = event.data, event.time
        day = business_date(at)
        case = self.open_case
        case_key = case.case_key if case else None
        match data:
            case CaseOpened():
                if case is None:
                    self.cases.append(
                        Case(
                            case_key=event.id,
                            opened_by=origin,
                            opened_at=at,
                            opened_position=position,
                            lead=origin,
                            projects=[data.project_code] if data.project_code else [],
                        )
                    )
                self._join(origin, ParticipantRole.LEAD.value, position, at)
            case ParticipantJoined():
                if data.institution_case_ref:
                    self.case_refs[data.institution] = data.institution_case_ref
                self._join(data.institution, data.role.value, position, at)
                if case is not None and data.role == ParticipantRole.LEAD:
                    case.lead = data.institution
            case ParticipantLeft():
                self._leave(data.institution, position, at)
            case ProjectAssigned():
                if case is not None and data.project_code not in case.projects:
                    case.projects.append(data.project_code)
            case CaseClosed():
                if case is not None:
                    case.closed_at, case.closed_position = at, position
                    case.outcome = data.outcome.value
                for participation in self.current_participants():
                    participation.left_at, participation.left_on = position, at
            case ConsentGranted():
                self.consents.append(
                    Consent(
                        consent_id=data.consent_id,
                        recorded_by=origin,
                        institutions=sorted(set(data.institutions)),
                        categories=sorted(set(data.categories)),
                        valid_from=data.valid_from,
                        valid_until=data.valid_until,
                        document_ref=data.document_ref,
                        granted_at=position,
                        revoked_at=self.revocations.get(str(data.consent_id)),
                    )
                )
            case ConsentRevoked():
                self.revocations.setdefault(str(data.consent_id), position)
                for consent in self.consents:
                    if consent.consent_id == data.consent_id and consent.revoked_at is None:
                        consent.revoked_at = position
            case ReferralRequested():
                if self.referral(data.referral_id) is None:
                    self.referrals.append(
                        Referral(
                            referral_id=data.referral_id,
                            case_key=case_key,
                            from_institution=origin,
                            to_institution=data.to_institution,
                            purpose=data.purpose.value,
                            requested_at=at,
                            answer_due=data.answer_due or day,  # replaced by alerts' rule
                        )
                    )
                if not self._participates(data.to_institution):
                    self.participations.append(
                        Participation(
                            institution=data.to_institution,
                            role=ParticipantRole.PARTICIPANT.value,
                            case_key=case_key,
                            joined_at=position,
                            joined_on=at,
                            via_referral=True,
                        )
                    )
            case ReferralAccepted():
                referral = self.referral(data.referral_id)
                if referral is not None and referral.status == ReferralStatus.OPEN:
                    referral.status, referral.answered_at = ReferralStatus.ACCEPTED, at
                return self._start(origin, EngagementKind.REFERRAL, data.referral_id, day)
            case ReferralDeclined():
                referral = self.referral(data.referral_id)
                if referral is not None and referral.status == ReferralStatus.OPEN:
                    referral.status, referral.answered_at = ReferralStatus.DECLINED, at
                for participation in self.current_participants():
                    if participation.institution == origin and participation.via_referral:
                        participation.left_at, participation.left_on = position, at
            case ReferralCompleted():
                referral = self.referral(data.referral_id)
                if referral is not None:
                    referral.status = ReferralStatus.COMPLETED
                    referral.answered_at = referral.answered_at or at
                self._end(origin, EngagementKind.REFERRAL, data.referral_id, day)
            case MeasureStarted():
                return self._start(origin, EngagementKind.MEASURE, data.measure_id, day)
            case MeasureEnded():
                self._end(origin, EngagementKind.MEASURE, data.measure_id, day)
            case BenefitGranted():
                return self._start(origin, EngagementKind.BENEFIT, data.benefit_id, data.start)
            case BenefitExhaustionExpected():
                self.forecasts[str(data.benefit_id)] = (origin, data.expected_end.isoformat())
            case BenefitEnded():
                self._end(origin, EngagementKind.BENEFIT, data.benefit_id, data.end)
            case _:
                pass
        return None

    def _participates(self, institution: str) -> bool:
        return any(p.institution == institution for p in self.current_participants())

    def _join(self, institution: str, role: str, position: int, at: dt.datetime) -> None:
        case = self.open_case
        for participation in self.current_participants():
            if participation.institution == institution:
                participation.via_referral = False
                participation.role = role
                return
        self.participations.append(
            Participation(
                institution=institution,
                role=role,
                case_key=case.case_key if case else None,
                joined_at=position,
                joined_on=at,
            )
        )

    def _leave(self, institution: str, position: int, at: dt.datetime) -> None:
        for participation in self.current_participants():
            if participation.institution == institution:
                participation.left_at, participation.left_on = position, at

    def _find(self, institution: str, kind: EngagementKind, ref: uuid.UUID) -> Engagement | None:
        return next(
            (
                e
                for e in self.engagements
                if e.institution == institution and e.kind == kind and e.ref_id == ref
            ),
            None,
        )

    def _start(
        self, institution: str, kind: EngagementKind, ref: uuid.UUID, day: dt.date
    ) -> Engagement | None:
        if self._find(institution, kind, ref) is not None:
            return None
        case = self.open_case
        engagement = Engagement(
            institution=institution,
            kind=kind,
            ref_id=ref,
            case_key=case.case_key if case else None,
            started_on=day,
        )
        self.engagements.append(engagement)
        return engagement

    def _end(self, institution: str, kind: EngagementKind, ref: uuid.UUID, day: dt.date) -> None:
        engagement = self._find(institution, kind, ref)
        if engagement is None:  # the start never reached the bus: record what we know
            case = self.open_case
            engagement = Engagement(
                institution=institution,
                kind=kind,
                ref_id=ref,
                case_key=case.case_key if case else None,
                started_on=day,
            )
            self.engagements.append(engagement)
        if engagement.ended_on is None:
            engagement.ended_on = max(day, engagement.started_on)


def origin_of(event: CloudEvent[Any]) -> str:
    """The registry id of the institution an event comes from (its ``source``)."""
    parts = event.source.removeprefix("/iiz/bl/").split("/")
    return f"{parts[0]}-{parts[1]}" if len(parts) == 2 else parts[0]


def facts_of(event: CloudEvent[Any], position: int) -> EventFacts:
    """The categories an event carries: its type's default plus a declared (stricter) one."""
    data_class = type(event.data)
    return EventFacts(
        position=position,
        origin=origin_of(event),
        time=event.time,
        categories=frozenset({data_class.default_category, event.datacategory}),
        marked_fields=marked_fields(data_class),  # type: ignore[arg-type]
    )
