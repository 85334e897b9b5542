"""A person's case file: the state coordination keeps per person pseudonym, and how to read it.

``folding.fold`` changes it, one event at a time in bus order; the policy, the alerts and the
summary read it. Pure: no clock, no I/O.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, Field, model_validator

from services.coordination.domain.case_parts import (
    Case,
    Consent,
    Engagement,
    EngagementKind,
    Participation,
    Referral,
    ReferralStatus,
)
from services.coordination.domain.policy import ConsentRecord, InterestPeriod


class CaseFile(BaseModel):
    pseudonym: str
    cases: list[Case] = Field(default_factory=list)
    participations: list[Participation] = Field(default_factory=list)
    consents: list[Consent] = Field(default_factory=list)
    # Revocations of a consent not yet on the bus: consent id → every (revoker, position).
    early_revocations: dict[str, list[tuple[str, int]]] = Field(default_factory=dict)
    engagements: list[Engagement] = Field(default_factory=list)
    referrals: list[Referral] = Field(default_factory=list)
    case_refs: dict[str, str] = Field(default_factory=dict)  # institution → its own case ref
    forecasts: dict[str, tuple[str, str]] = Field(default_factory=dict)  # benefit → origin, end
    last_position: int = -1

    # ----- reading -------------------------------------------------------------------------

    @model_validator(mode="before")
    @classmethod
    def _early_revocations_of_older_files(cls, stored: Any) -> Any:
        """A file stored before 1.4.0 kept only the first revoker of each consent."""
        if isinstance(stored, dict) and "revoked_by" in stored:
            stored = dict(stored)
            positions, revokers = stored.pop("revocations", {}), stored.pop("revoked_by")
            stored.setdefault(
                "early_revocations",
                {k: [(who, positions[k])] for k, who in revokers.items() if k in positions},
            )
        return stored

    @property
    def open_case(self) -> Case | None:
        for c in reversed(self.cases):  # (a loop, not ``next`` over a generator: cheaper)
            if c.is_open:
                return c
        return None

    @property
    def latest_case(self) -> Case | None:
        """The open case, else the one opened last."""
        return self.open_case or (self.cases[-1] if self.cases else None)

    def current_participants(self) -> list[Participation]:
        return [p for p in self.participations if p.is_current]

    def participates(self, institution: str) -> bool:
        return any(p.institution == institution for p in self.current_participants())

    def takes_part(self, institution: str) -> bool:
        """It opened the case, was added, or accepted a referral to it — not merely invited."""
        return any(
            p.institution == institution and (not p.via_referral or self._accepted(p))
            for p in self.current_participants()
        )

    def role_of(self, institution: str) -> str | None:
        """Its role in its current participation; None when it does not participate."""
        current = (p for p in self.current_participants() if p.institution == institution)
        return next((p.role for p in current), None)

    def leads(self, institution: str) -> bool:
        """It may act as the lead of the open case: it is the lead and takes part — or, once the
        lead no longer takes part, any institution that takes part (else nobody could)."""
        case = self.open_case
        if case is None or not self.takes_part(institution):
            return False
        return case.lead == institution or not self.takes_part(case.lead)

    def _accepted(self, participation: Participation) -> bool:
        return any(
            r.to_institution == participation.institution
            and r.status in (ReferralStatus.ACCEPTED, ReferralStatus.COMPLETED)
            and r.answered_at is not None
            and r.answered_at >= participation.joined_on
            for r in self.referrals
        )

    def consent(self, consent_id: uuid.UUID) -> Consent | None:
        return next((c for c in self.consents if c.consent_id == consent_id), None)

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
                recorded_by=c.recorded_by,
                confirmed_at=dict(c.confirmed_at),
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

    def engagement(
        self, institution: str, kind: EngagementKind, ref: uuid.UUID
    ) -> Engagement | None:
        return next(
            (
                e
                for e in self.engagements
                if e.institution == institution and e.kind == kind and e.ref_id == ref
            ),
            None,
        )

    # ----- changing (called by the fold) ---------------------------------------------------

    def join(self, institution: str, role: str, position: int, at: dt.datetime) -> None:
        """The institution takes part from ``position`` (again, or in a new role)."""
        for participation in self.current_participants():
            if participation.institution == institution:
                participation.via_referral = False
                participation.role = role
                return
        case = self.open_case
        self.participations.append(
            Participation(
                institution=institution,
                role=role,
                case_key=case.case_key if case else None,
                joined_at=position,
                joined_on=at,
            )
        )

    def leave(self, institution: str, position: int, at: dt.datetime) -> None:
        for participation in self.current_participants():
            if participation.institution == institution:
                participation.left_at, participation.left_on = position, at

    def start_engagement(
        self, institution: str, kind: EngagementKind, ref: uuid.UUID, day: dt.date
    ) -> Engagement | None:
        """The engagement begun on ``day``; None when it was already recorded."""
        if self.engagement(institution, kind, ref) is not None:
            return None
        return self._add_engagement(institution, kind, ref, day)

    def end_engagement(
        self, institution: str, kind: EngagementKind, ref: uuid.UUID, day: dt.date
    ) -> None:
        engagement = self.engagement(institution, kind, ref)
        if engagement is None:  # the start never reached the bus: record what we know
            engagement = self._add_engagement(institution, kind, ref, day)
        if engagement.ended_on is None:
            engagement.ended_on = max(day, engagement.started_on)

    def _add_engagement(
        self, institution: str, kind: EngagementKind, ref: uuid.UUID, day: dt.date
    ) -> Engagement:
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
