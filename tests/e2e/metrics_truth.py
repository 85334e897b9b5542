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
from services.coordination.metrics.facts import CaseFact, CostFact, EngagementFact, ReferralFact
from services.simulator.script import PersonScript

ZURICH = ZoneInfo("Europe/Zurich")
KINDS = {i.id: i.kind.value for i in load_institutions().institutions}


def day_of(moment: dt.datetime) -> dt.date:
    return moment.astimezone(ZURICH).date()


@dataclass
class OpenCase:
    opened_on: dt.date
    projects: list[str]
    institutions: set[str]
    engagements: dict[tuple[str, str, uuid.UUID], list[dt.date | None]] = field(
        default_factory=dict
    )
    referrals: dict[uuid.UUID, list[object]] = field(default_factory=dict)
    costs: list[CostFact] = field(default_factory=list)

    def fact(self, person: int, closed_on: dt.date | None, outcome: str | None) -> CaseFact:
        engagements = [
            EngagementFact(i, kind, start, end)  # type: ignore[arg-type]
            for (i, kind, _), (start, end) in self.engagements.items()
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
        )


def facts_from_scripts(persons: Sequence[PersonScript]) -> list[CaseFact]:
    facts: list[CaseFact] = []
    for number, person in enumerate(persons):
        case: OpenCase | None = None
        cases: list[OpenCase] = []
        closing: dict[int, tuple[dt.date, str]] = {}
        for step in (s for s in person.steps if s.on_bus):
            data, origin, day = step.event.data, step.origin, day_of(step.event.time)
            if isinstance(data, CaseOpened):
                if case is None:
                    projects = [data.project_code] if data.project_code else []
                    case = OpenCase(day, projects, {origin})
                    cases.append(case)
                else:
                    case.institutions.add(origin)  # joins the open case
                continue
            if isinstance(data, MeasureEnded | BenefitEnded | ReferralCompleted):
                # An end reaches the engagement wherever it started (also in a closed case).
                kind = {MeasureEnded: "measure", BenefitEnded: "benefit"}.get(
                    type(data), "referral"
                )
                ref = getattr(data, "measure_id", None) or getattr(data, "benefit_id", None)
                key = (origin, kind, ref or data.referral_id)  # type: ignore[union-attr]
                end = data.end if isinstance(data, BenefitEnded) else day
                started = next((c for c in cases if key in c.engagements), None)
                if started is not None and started is not case:
                    _end(started, key, end)
            if case is None:
                continue  # what starts outside a case is not in the committee's figures
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
                    if isinstance(data, ReferralAccepted):
                        case.engagements.setdefault(
                            (origin, "referral", data.referral_id), [day, None]
                        )
                case ReferralCompleted():
                    referral = case.referrals.get(data.referral_id)
                    if referral is not None and referral[3] is None:
                        referral[3], referral[4] = day, True
                    _end(case, (origin, "referral", data.referral_id), day)
                case MeasureStarted():
                    case.engagements.setdefault((origin, "measure", data.measure_id), [day, None])
                case MeasureEnded():
                    _end(case, (origin, "measure", data.measure_id), day)
                    if data.cost_chf is not None:
                        financer = KINDS.get(data.financed_by or "", "unknown")
                        case.costs.append(CostFact(financer, Decimal(data.cost_chf), day))
                case BenefitGranted():
                    key = (origin, "benefit", data.benefit_id)
                    case.engagements.setdefault(key, [data.start, None])
                case BenefitEnded():
                    _end(case, (origin, "benefit", data.benefit_id), data.end)
                case CaseClosed():
                    closing[id(case)] = (day, data.outcome.value)
                    case = None
                case _:
                    pass
        for each in cases:
            closed_on, outcome = closing.get(id(each), (None, None))
            facts.append(each.fact(number, closed_on, outcome))
    return facts


def _end(case: OpenCase, key: tuple[str, str, uuid.UUID], day: dt.date) -> None:
    span = case.engagements.setdefault(key, [day, None])
    if span[1] is None:
        start = span[0]
        assert start is not None
        span[1] = max(day, start)
