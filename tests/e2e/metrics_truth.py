"""The committee's facts from the simulation's own scripts: what happened to each person, read
from the submissions that reach the bus, without coordination's fold or its database."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from schemas.events import (
    BenefitEnded,
    BenefitGranted,
    CaseClosed,
    CaseOpened,
    ConsentGranted,
    ConsentRevoked,
    MeasureEnded,
    MeasureStarted,
    ParticipantJoined,
    ProjectAssigned,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralRequested,
)
from schemas.registry.institutions import load_institutions
from services.coordination.metrics.facts import (
    CaseFact,
    ConsentFact,
    CostFact,
    EngagementFact,
    ReferralFact,
)
from simulator.script import PersonScript

ZURICH = ZoneInfo("Europe/Zurich")
KINDS = {i.id: i.kind.value for i in load_institutions().institutions}


def day_of(moment: dt.datetime) -> dt.date:
    return moment.astimezone(ZURICH).date()


Span = list[dt.date | None]  # [started_on, ended_on]
EngagementKey = tuple[str, str, uuid.UUID]  # institution, kind, its own id


@dataclass
class OpenCase:
    opened_on: dt.date
    projects: list[str]
    institutions: set[str]
    referrals: dict[uuid.UUID, list[object]] = field(default_factory=dict)
    costs: list[CostFact] = field(default_factory=list)

    def fact(
        self,
        person: int,
        closed_on: dt.date | None,
        outcome: str | None,
        persons_engagements: dict[EngagementKey, Span],
        consents: Sequence[ConsentFact] = (),
    ) -> CaseFact:
        engagements = [
            clipped
            for (i, kind, _), (start, end) in persons_engagements.items()
            if (clipped := self._clip(i, kind, start, end, closed_on)) is not None
        ]
        referrals = [ReferralFact(*r) for r in self.referrals.values()]  # type: ignore[arg-type]
        return CaseFact(
            person=person,
            projects=tuple(self.projects),
            opened_on=self.opened_on,
            closed_on=closed_on,
            outcome=outcome,
            engagements=tuple(sorted(engagements, key=lambda e: (e.started_on, e.institution))),
            referrals=tuple(referrals),
            costs=tuple(self.costs),
            institutions=frozenset(self.institutions),
            consents=tuple(consents),
        )

    def _clip(
        self,
        institution: str,
        kind: str,
        start: dt.date | None,
        end: dt.date | None,
        closed_on: dt.date | None,
    ) -> EngagementFact | None:
        """The part of a person's engagement that falls within this case's days, if any."""
        assert start is not None
        if end is not None and end < self.opened_on:
            return None  # over before the case opened
        if closed_on is not None and start > closed_on:
            return None  # began after the case closed
        if closed_on is not None and (end is None or end > closed_on):
            end = closed_on
        return EngagementFact(institution, kind, max(start, self.opened_on), end)


def facts_from_scripts(persons: Sequence[PersonScript]) -> list[CaseFact]:
    """One fact per case; a person's engagements (measures, benefits, accepted referrals) are
    the person's, wherever they started, and count in each case whose days they overlap."""
    facts: list[CaseFact] = []
    for number, person in enumerate(persons):
        case: OpenCase | None = None
        cases: list[OpenCase] = []
        closing: dict[int, tuple[dt.date, str]] = {}
        engagements: dict[EngagementKey, Span] = {}
        consents: dict[uuid.UUID, Span] = {}  # [valid_from, last day in force]
        for step in (s for s in person.steps if s.on_bus):
            data, origin, day = step.event.data, step.origin, day_of(step.event.time)
            _follow_engagement(engagements, data, origin, day)
            _follow_consent(consents, data, day)
            if isinstance(data, CaseOpened):
                if case is None:
                    projects = [data.project_code] if data.project_code else []
                    case = OpenCase(day, projects, {origin})
                    cases.append(case)
                else:
                    case.institutions.add(origin)  # joins the open case
                continue
            if case is None:
                continue  # what happens outside a case is not in the committee's figures
            match data:
                case ProjectAssigned() if data.project_code not in case.projects:
                    case.projects.append(data.project_code)
                case ParticipantJoined():
                    case.institutions.add(data.institution)
                case ReferralRequested():
                    case.institutions.add(data.to_institution)
                    case.referrals.setdefault(
                        data.referral_id, [origin, data.to_institution, day, None, None]
                    )
                case ReferralAccepted() | ReferralDeclined():
                    referral = case.referrals.get(data.referral_id)
                    if referral is not None and referral[3] is None:
                        referral[3], referral[4] = day, isinstance(data, ReferralAccepted)
                case ReferralCompleted():
                    referral = case.referrals.get(data.referral_id)
                    if referral is not None and referral[3] is None:
                        referral[3], referral[4] = day, True
                case MeasureEnded() if data.cost_chf is not None:
                    financer = KINDS.get(data.financed_by or "", "unknown")
                    case.costs.append(CostFact(financer, Decimal(data.cost_chf), day))
                case CaseClosed():
                    closing[id(case)] = (day, data.outcome.value)
                    case = None
                case _:
                    pass
        for each in cases:
            closed_on, outcome = closing.get(id(each), (None, None))
            in_force = [
                ConsentFact(start, end)
                for start, end in consents.values()
                if start is not None and (end is None or end >= start)
            ]
            facts.append(each.fact(number, closed_on, outcome, engagements, in_force))
    return facts


def _follow_consent(consents: dict[uuid.UUID, Span], data: object, day: dt.date) -> None:
    """A consent is in force from valid_from to valid_until or the day before its revocation."""
    match data:
        case ConsentGranted():
            consents.setdefault(data.consent_id, [data.valid_from, data.valid_until])
        case ConsentRevoked() if data.consent_id in consents:
            span = consents[data.consent_id]
            before = day - dt.timedelta(days=1)
            span[1] = before if span[1] is None else min(span[1], before)
        case _:
            pass


def _follow_engagement(
    engagements: dict[EngagementKey, Span], data: object, origin: str, day: dt.date
) -> None:
    """Starts and ends of the person's engagements, in or outside a case."""
    match data:
        case ReferralAccepted():
            engagements.setdefault((origin, "referral", data.referral_id), [day, None])
        case ReferralCompleted():
            _end(engagements, (origin, "referral", data.referral_id), day)
        case MeasureStarted():
            engagements.setdefault((origin, "measure", data.measure_id), [day, None])
        case MeasureEnded():
            _end(engagements, (origin, "measure", data.measure_id), day)
        case BenefitGranted():
            engagements.setdefault((origin, "benefit", data.benefit_id), [data.start, None])
        case BenefitEnded():
            _end(engagements, (origin, "benefit", data.benefit_id), data.end)
        case _:
            pass


def _end(engagements: dict[EngagementKey, Span], key: EngagementKey, day: dt.date) -> None:
    """An end without a start on the bus is an engagement of that one day."""
    span = engagements.setdefault(key, [day, None])
    if span[1] is None:
        start = span[0]
        assert start is not None
        span[1] = max(day, start)
