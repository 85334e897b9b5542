"""What a case looks like to one institution: who takes part, who is active, what runs in
parallel, which consents name it, which referrals wait for an answer.

Minimisation: every involved institution sees who takes part (without the others' own case
references) and whether institutions work in parallel; the engagements and open referrals it
sees are its own or those of institutions whose category (benefits for a benefit, employment
for a measure, case-admin for a referral) a consent or the law lets it see at the file's newest
position — the same rule as for deliveries, without the period of interest.

Pure: the file (current, or refolded up to a past bus position), the business date of its
newest event and the legal-basis world are passed in. The case number is issued outside the
domain; the caller fills it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from enum import StrEnum

from pydantic import BaseModel, Field

from schemas.vocabulary import DataCategory
from services.coordination.domain.case_file import CaseFile
from services.coordination.domain.case_parts import Case, Consent, EngagementKind, ReferralStatus
from services.coordination.domain.policy import (
    EventFacts,
    LegalBasisMatrix,
    World,
    authorised_categories,
)
from services.coordination.domain.working_days import business_date

CATEGORY_OF_ENGAGEMENT = {
    EngagementKind.BENEFIT: DataCategory.BENEFITS,
    EngagementKind.MEASURE: DataCategory.EMPLOYMENT,
    EngagementKind.REFERRAL: DataCategory.CASE_ADMIN,
}
MaySee = Callable[[str, DataCategory], bool]
NO_LAW = World(kinds={}, consents=(), matrix=LegalBasisMatrix(), grace=dt.timedelta(0))


class ConsentStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"  # past valid_until
    NOT_YET_VALID = "not-yet-valid"  # before valid_from


class CaseView(BaseModel):
    opened_at: dt.datetime = Field(description="Business time the case was opened.")
    opened_by: str = Field(description="Institution that opened it.")
    lead: str = Field(description="Institution leading the case (fallführend).")
    open: bool
    closed_at: dt.datetime | None = None
    outcome: str | None = None
    projects: list[str] = Field(default_factory=list, description="IIZ project codes.")


class ParticipantView(BaseModel):
    institution: str
    role: str = Field(description="lead or participant")
    since: dt.datetime = Field(description="Business time it joined (or was referred to).")
    until: dt.datetime | None = Field(default=None, description="Business time it left.")
    via_referral: bool = Field(description="Invited by a referral it has not answered yet.")
    case_ref: str | None = Field(
        default=None, description="Its own case reference; shown to that institution only."
    )


class EngagementView(BaseModel):
    institution: str
    kind: str = Field(description="measure, benefit or referral")
    since: dt.date


class ConsentView(BaseModel):
    consent_id: uuid.UUID
    recorded_by: str
    institutions: list[str]
    categories: list[str]
    valid_from: dt.date
    valid_until: dt.date | None = None
    status: ConsentStatus


class ReferralView(BaseModel):
    referral_id: uuid.UUID
    from_institution: str
    to_institution: str
    purpose: str
    requested_at: dt.datetime
    answer_due: dt.date
    overdue: bool = Field(description="Unanswered after its due date (by the newest event).")


class CaseSummary(BaseModel):
    case_number: str | None = Field(default=None, description="Filled in by the caller.")
    case: CaseView | None = Field(default=None, description="None before the case was opened.")
    as_of_position: int | None = Field(
        default=None, description="The bus position asked for; None for the current state."
    )
    position: int = Field(description="Bus position of the newest event folded in.")
    last_event_on: dt.date | None = Field(description="Business date of the newest event.")
    participants: list[ParticipantView]
    current_engagements: list[EngagementView] = Field(
        description="Active on last_event_on: own ones and those a consent or the law shows."
    )
    parallel: bool = Field(
        description="Two or more institutions active on last_event_on (all are counted)."
    )
    consents: list[ConsentView] = Field(description="Only consents naming the reader.")
    open_referrals: list[ReferralView] = Field(
        description="Unanswered referrals to the reader, or from an institution it may see."
    )


def summarise(
    file: CaseFile,
    as_of_position: int | None,
    visible_to: str,
    *,
    case_key: uuid.UUID | None = None,
    last_event_on: dt.date | None = None,
    world: World = NO_LAW,
) -> CaseSummary:
    """The summary of ``file`` for institution ``visible_to``.

    ``case_key`` picks the case shown (default: the open one, else the latest);
    ``last_event_on`` is the business date of the newest event (default: the newest date the
    file itself knows); ``world`` brings registry kinds and the legal-basis matrix (default:
    none, so only consents authorise).
    """
    today = last_event_on or latest_date(file)
    may_see = _visibility(file, visible_to, today, world)
    return CaseSummary(
        case=_case_view(_pick_case(file, case_key)),
        as_of_position=as_of_position,
        position=file.last_position,
        last_event_on=today,
        participants=_participants(file, visible_to),
        current_engagements=_engagements(file, today, may_see) if today else [],
        parallel=today is not None and len(file.engaged_on(today)) >= 2,
        consents=[
            _consent_view(c, file.last_position, today)
            for c in file.consents
            if visible_to in c.institutions
        ],
        open_referrals=_open_referrals(file, visible_to, today, may_see),
    )


def _participants(file: CaseFile, reader: str) -> list[ParticipantView]:
    return [
        ParticipantView(
            institution=p.institution,
            role=p.role,
            since=p.joined_on,
            until=p.left_on,
            via_referral=p.via_referral,
            case_ref=file.case_refs.get(p.institution) if p.institution == reader else None,
        )
        for p in file.participations
    ]


def _engagements(file: CaseFile, today: dt.date, may_see: MaySee) -> list[EngagementView]:
    shown = [
        EngagementView(institution=e.institution, kind=e.kind.value, since=e.started_on)
        for e in file.engagements
        if e.active_on(today) and may_see(e.institution, CATEGORY_OF_ENGAGEMENT[e.kind])
    ]
    return sorted(shown, key=lambda e: (e.institution, e.since, e.kind))


def _open_referrals(
    file: CaseFile, reader: str, today: dt.date | None, may_see: MaySee
) -> list[ReferralView]:
    return [
        ReferralView(
            referral_id=r.referral_id,
            from_institution=r.from_institution,
            to_institution=r.to_institution,
            purpose=r.purpose,
            requested_at=r.requested_at,
            answer_due=r.answer_due,
            overdue=today is not None and r.answer_due < today,
        )
        for r in file.referrals
        if r.status == ReferralStatus.OPEN
        and (reader == r.to_institution or may_see(r.from_institution, DataCategory.CASE_ADMIN))
    ]


def _visibility(file: CaseFile, reader: str, today: dt.date | None, world: World) -> MaySee:
    """Whether ``reader`` may see facts of ``origin``'s ``category`` now: after the newest
    event, so a revocation that was the newest event already counts."""
    consents = World(
        kinds=world.kinds, consents=file.consent_records(), matrix=world.matrix, grace=world.grace
    )
    moment = dt.datetime.combine(today or dt.date.min, dt.time(12), tzinfo=dt.UTC)

    def may_see(origin: str, category: DataCategory) -> bool:
        if origin == reader:
            return True
        facts = EventFacts(
            position=file.last_position + 1,
            origin=origin,
            time=moment,
            categories=frozenset({category}),
        )
        return category in authorised_categories(facts, reader, consents)

    return may_see


def latest_date(file: CaseFile) -> dt.date | None:
    """The newest business date recorded anywhere in the file."""
    moments = [c.opened_at for c in file.cases] + [c.closed_at for c in file.cases if c.closed_at]
    moments += [p.joined_on for p in file.participations]
    moments += [p.left_on for p in file.participations if p.left_on]
    moments += [r.requested_at for r in file.referrals]
    moments += [r.answered_at for r in file.referrals if r.answered_at]
    days = [business_date(m) for m in moments]
    days += [e.started_on for e in file.engagements]
    days += [e.ended_on for e in file.engagements if e.ended_on]
    return max(days, default=None)


def _pick_case(file: CaseFile, case_key: uuid.UUID | None) -> Case | None:
    if case_key is not None:
        return next((c for c in file.cases if c.case_key == case_key), None)
    return file.latest_case


def _case_view(case: Case | None) -> CaseView | None:
    if case is None:
        return None
    return CaseView(
        opened_at=case.opened_at,
        opened_by=case.opened_by,
        lead=case.lead,
        open=case.is_open,
        closed_at=case.closed_at,
        outcome=case.outcome,
        projects=list(case.projects),
    )


def _consent_view(consent: Consent, position: int, today: dt.date | None) -> ConsentView:
    if consent.revoked_at is not None and consent.revoked_at <= position:
        status = ConsentStatus.REVOKED
    elif today is not None and consent.valid_until is not None and today > consent.valid_until:
        status = ConsentStatus.EXPIRED
    elif today is not None and today < consent.valid_from:
        status = ConsentStatus.NOT_YET_VALID
    else:
        status = ConsentStatus.ACTIVE
    return ConsentView(
        consent_id=consent.consent_id,
        recorded_by=consent.recorded_by,
        institutions=list(consent.institutions),
        categories=[c.value for c in consent.categories],
        valid_from=consent.valid_from,
        valid_until=consent.valid_until,
        status=status,
    )
