"""Folding one event into a person's case file, in bus order.

``fold`` updates the file — including each referral's answer due date, from the working-day
calendar — and returns what the event's consequences depend on (its case, its facts for the
policy, the engagement it started). It reads no clock and does no I/O.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from schemas.envelope import CloudEvent
from schemas.events import (
    BenefitEnded,
    BenefitExhaustionExpected,
    BenefitGranted,
    CaseClosed,
    CaseOpened,
    ConsentConfirmed,
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
from schemas.vocabulary import ParticipantRole
from services.coordination.domain.case_file import CaseFile
from services.coordination.domain.case_parts import (
    Case,
    Consent,
    Engagement,
    EngagementKind,
    Participation,
    Referral,
    ReferralStatus,
)
from services.coordination.domain.fields import marked_fields
from services.coordination.domain.policy import EventFacts
from services.coordination.domain.rules import RuleSettings
from services.coordination.domain.working_days import add_working_days, business_date


@dataclass(frozen=True)
class Folded:
    """What one folded event's consequences depend on."""

    case_key: uuid.UUID | None  # the case it belongs to (a closing event still to its case)
    facts: EventFacts
    started: Engagement | None  # the engagement this event started, if any


@dataclass(frozen=True)
class Step:
    """One event as the fold sees it."""

    event_id: uuid.UUID
    origin: str
    position: int
    at: dt.datetime
    rules: RuleSettings

    @property
    def day(self) -> dt.date:
        return business_date(self.at)


def fold(file: CaseFile, event: CloudEvent[Any], position: int, rules: RuleSettings) -> Folded:
    """Fold one event (at its bus position) into ``file``."""
    origin = origin_of(event)
    if event.data.person.case_ref:  # an institution's own word on its reference always wins
        file.case_refs[origin] = event.data.person.case_ref
    case_before = file.open_case
    started = _fold_data(file, event.data, Step(event.id, origin, position, event.time, rules))
    file.last_position = position
    case = file.open_case or case_before
    return Folded(case.case_key if case else None, facts_of(event, position, origin), started)


def _fold_data(file: CaseFile, data: Any, s: Step) -> Engagement | None:
    """Update the file; returns the engagement this event started, if any."""
    match data:
        case CaseOpened():
            _open_case(file, data, s)
        case ParticipantJoined():
            _participant_joined(file, data, s)
        case ParticipantLeft():
            file.leave(data.institution, s.position, s.at)
        case ProjectAssigned():
            case = file.open_case
            if case is not None and data.project_code not in case.projects:
                case.projects.append(data.project_code)
        case CaseClosed():
            _close_case(file, data, s)
        case ConsentGranted():
            _grant_consent(file, data, s)
        case ConsentRevoked():
            _revoke_consent(file, data, s)
        case ConsentConfirmed():
            _confirm_consent(file, data, s)
        case ReferralRequested():
            _request_referral(file, data, s)
        case ReferralAccepted():
            _answer_referral(file, data.referral_id, ReferralStatus.ACCEPTED, s)
            return file.start_engagement(s.origin, EngagementKind.REFERRAL, data.referral_id, s.day)
        case ReferralDeclined():
            _decline_referral(file, data, s)
        case ReferralCompleted():
            _complete_referral(file, data, s)
        case MeasureStarted():
            return file.start_engagement(s.origin, EngagementKind.MEASURE, data.measure_id, s.day)
        case MeasureEnded():
            file.end_engagement(s.origin, EngagementKind.MEASURE, data.measure_id, s.day)
        case BenefitGranted():
            return file.start_engagement(
                s.origin, EngagementKind.BENEFIT, data.benefit_id, data.start
            )
        case BenefitExhaustionExpected():
            file.forecasts[str(data.benefit_id)] = (s.origin, data.expected_end.isoformat())
        case BenefitEnded():
            file.end_engagement(s.origin, EngagementKind.BENEFIT, data.benefit_id, data.end)
        case _:
            pass
    return None


def _open_case(file: CaseFile, data: CaseOpened, s: Step) -> None:
    """The opener leads the new case; a participant's opening of the open case changes nothing
    (it would make it lead beside the lead)."""
    if file.open_case is not None:
        return
    file.cases.append(
        Case(
            case_key=s.event_id,
            opened_by=s.origin,
            opened_at=s.at,
            opened_position=s.position,
            lead=s.origin,
            projects=[data.project_code] if data.project_code else [],
        )
    )
    file.join(s.origin, ParticipantRole.LEAD.value, s.position, s.at)


def _participant_joined(file: CaseFile, data: ParticipantJoined, s: Step) -> None:
    """The institution takes part (in the role the lead gave it: ``authority``). The case
    reference named for it is taken only if it has none yet or names its own."""
    case = file.open_case
    own = data.institution == s.origin
    if data.institution_case_ref and (own or data.institution not in file.case_refs):
        file.case_refs[data.institution] = data.institution_case_ref
    file.join(data.institution, data.role.value, s.position, s.at)
    if case is not None and data.role == ParticipantRole.LEAD:
        case.lead = data.institution


def _close_case(file: CaseFile, data: CaseClosed, s: Step) -> None:
    case = file.open_case
    if case is not None:
        case.closed_at, case.closed_position = s.at, s.position
        case.outcome = data.outcome.value
    for participation in file.current_participants():
        participation.left_at, participation.left_on = s.position, s.at


def _grant_consent(file: CaseFile, data: ConsentGranted, s: Step) -> None:
    """Record the consent (``authority``: once per id); the earliest revocation that came first
    from an institution it names counts."""
    early = file.early_revocations.pop(str(data.consent_id), [])
    named = [position for revoker, position in early if revoker in data.institutions]
    file.consents.append(
        Consent(
            consent_id=data.consent_id,
            recorded_by=s.origin,
            institutions=sorted(set(data.institutions)),
            categories=sorted(set(data.categories)),
            valid_from=data.valid_from,
            valid_until=data.valid_until,
            document_ref=data.document_ref,
            granted_at=s.position,
            revoked_at=min(named, default=None),
        )
    )


def _revoke_consent(file: CaseFile, data: ConsentRevoked, s: Step) -> None:
    """Revoke the consent; one not on the bus yet keeps every revoker until its grant."""
    consent = file.consent(data.consent_id)
    if consent is None:
        file.early_revocations.setdefault(str(data.consent_id), []).append((s.origin, s.position))
    elif consent.revoked_at is None:
        consent.revoked_at = s.position


def _confirm_consent(file: CaseFile, data: ConsentConfirmed, s: Step) -> None:
    """The named institution vouches for the consent from here on (its first confirmation)."""
    consent = file.consent(data.consent_id)
    if consent is not None and s.origin in consent.institutions:
        consent.confirmed_at.setdefault(s.origin, s.position)


def _request_referral(file: CaseFile, data: ReferralRequested, s: Step) -> None:
    """A referral waits for its answer until ``answer_due``: the partner's date, else N working
    days after the request (a repeated request sets it again)."""
    case = file.open_case
    case_key = case.case_key if case else None
    due = data.answer_due or add_working_days(s.day, s.rules.referral_answer_working_days)
    referral = file.referral(data.referral_id)
    if referral is None:
        file.referrals.append(
            Referral(
                referral_id=data.referral_id,
                case_key=case_key,
                from_institution=s.origin,
                to_institution=data.to_institution,
                purpose=data.purpose.value,
                requested_at=s.at,
                answer_due=due,
            )
        )
    else:
        referral.answer_due = due
    if not file.participates(data.to_institution):
        file.participations.append(
            Participation(
                institution=data.to_institution,
                role=ParticipantRole.PARTICIPANT.value,
                case_key=case_key,
                joined_at=s.position,
                joined_on=s.at,
                via_referral=True,
            )
        )


def _answer_referral(
    file: CaseFile, referral_id: uuid.UUID, status: ReferralStatus, s: Step
) -> None:
    """Only the institution a referral is addressed to answers it."""
    referral = file.referral(referral_id)
    if (
        referral is not None
        and referral.status == ReferralStatus.OPEN
        and referral.to_institution == s.origin
    ):
        referral.status, referral.answered_at = status, s.at


def _decline_referral(file: CaseFile, data: ReferralDeclined, s: Step) -> None:
    _answer_referral(file, data.referral_id, ReferralStatus.DECLINED, s)
    for participation in file.current_participants():
        if participation.institution == s.origin and participation.via_referral:
            participation.left_at, participation.left_on = s.position, s.at


def _complete_referral(file: CaseFile, data: ReferralCompleted, s: Step) -> None:
    """Only the addressee completes a referral (its completion answers it, as an acceptance
    would); anyone else's completion changes nothing, or it could make the addressee take part."""
    referral = file.referral(data.referral_id)
    if referral is not None and referral.to_institution == s.origin:
        referral.status = ReferralStatus.COMPLETED
        referral.answered_at = referral.answered_at or s.at
    file.end_engagement(s.origin, EngagementKind.REFERRAL, data.referral_id, s.day)


def origin_of(event: CloudEvent[Any]) -> str:
    """The registry id of the institution an event comes from (its ``source``)."""
    parts = event.source.removeprefix("/iiz/bl/").split("/")
    return f"{parts[0]}-{parts[1]}" if len(parts) == 2 else parts[0]


def facts_of(event: CloudEvent[Any], position: int, origin: str | None = None) -> EventFacts:
    """The categories an event carries: its type's default plus a declared (stricter) one.
    ``origin``: ``origin_of(event)``, if known already."""
    data_class = type(event.data)
    return EventFacts(
        position=position,
        origin=origin_of(event) if origin is None else origin,
        time=event.time,
        categories=frozenset({data_class.default_category, event.datacategory}),
        marked_fields=marked_fields(data_class),  # type: ignore[arg-type]
    )
