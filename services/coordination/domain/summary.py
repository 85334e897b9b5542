"""What a case looks like to one institution: who takes part, who is active, what runs in
parallel, which consents name it, which referrals wait for an answer.

Minimisation: every involved institution sees who takes part (without the others' own case
references) and whether institutions work in parallel; the engagements, open referrals and
expected benefit exhaustions it sees are its own or those of institutions whose category
(benefits for a benefit, employment for a measure, case-admin for a referral) a consent or the
law lets it see after the file's newest position on the day of reading — the same rule as for
deliveries, without the period of interest.

Judged when: a summary is read on a day (``read_on``: today for the current state, the business
date of the newest event for a state refolded up to a past bus position). Consents' status and
what the reader may see are judged on that day. Who is active, whether institutions work in
parallel and what is overdue are judged on it too — unless the case shown is closed: then on
its closing date (what was active at closing), and nothing is overdue.

Pure: the file (current, or refolded up to a past bus position), the business date of its
newest event, the day of reading and the legal-basis world are passed in. The case number is
issued outside the domain; the caller fills it.
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
    overdue: bool = Field(
        description="Unanswered after its due date, judged on judged_on; never in a closed case."
    )


class ExhaustionView(BaseModel):
    benefit_id: uuid.UUID
    institution: str = Field(description="The institution paying the benefit.")
    expected_on: dt.date = Field(description="The forecast date of benefit exhaustion.")
    overdue: bool = Field(
        description="The date has passed (judged on judged_on) and the benefit has not ended;"
        " never in a closed case."
    )


class CaseSummary(BaseModel):
    case_number: str | None = Field(default=None, description="Filled in by the caller.")
    case: CaseView | None = Field(default=None, description="None before the case was opened.")
    as_of_position: int | None = Field(
        default=None, description="The bus position asked for; None for the current state."
    )
    position: int = Field(description="Bus position of the newest event folded in.")
    last_event_on: dt.date | None = Field(description="Business date of the newest event.")
    read_on: dt.date | None = Field(
        default=None,
        description="The day of reading: today (Europe/Zurich) for the current state, the newest"
        " event's date for a past state. Consents' status and visibility are judged on it.",
    )
    judged_on: dt.date | None = Field(
        default=None,
        description="The day active, parallel and overdue are judged on: read_on, or the closing"
        " date when the case shown is closed.",
    )
    participants: list[ParticipantView]
    current_engagements: list[EngagementView] = Field(
        description="Active on judged_on: own ones and those a consent or the law shows."
    )
    parallel: bool = Field(
        description="Two or more institutions active on judged_on (all are counted)."
    )
    consents: list[ConsentView] = Field(description="Only consents naming the reader.")
    open_referrals: list[ReferralView] = Field(
        description="Unanswered referrals to the reader, or from an institution it may see."
    )
    expected_exhaustions: list[ExhaustionView] = Field(
        default_factory=list,
        description="Forecasts of benefit exhaustion of benefits not ended, of the reader or of"
        " an institution whose benefits it may see.",
    )

    @property
    def closed(self) -> bool:
        return self.case is not None and not self.case.open


def summarise(
    file: CaseFile,
    as_of_position: int | None,
    visible_to: str,
    *,
    case_key: uuid.UUID | None = None,
    last_event_on: dt.date | None = None,
    today: dt.date | None = None,
    world: World = NO_LAW,
) -> CaseSummary:
    """The summary of ``file`` for institution ``visible_to``.

    ``case_key`` picks the case shown (default: the open one, else the latest);
    ``last_event_on`` is the business date of the newest event (default: the newest date the
    file itself knows); ``today`` is the day of reading (default: ``last_event_on``, as for a
    past state); ``world`` brings registry kinds and the legal-basis matrix (default: none, so
    only consents authorise).
    """
    newest = last_event_on or latest_date(file)
    read_on = today or newest
    case = _pick_case(file, case_key)
    judged_on = _judged_on(case, read_on)
    closed = case is not None and not case.is_open
    may_see = visibility(file, visible_to, read_on, world)
    return CaseSummary(
        case=_case_view(case),
        as_of_position=as_of_position,
        position=file.last_position,
        last_event_on=newest,
        read_on=read_on,
        judged_on=judged_on,
        participants=_participants(file, visible_to),
        current_engagements=_engagements(file, judged_on, may_see) if judged_on else [],
        parallel=judged_on is not None and len(file.engaged_on(judged_on)) >= 2,
        consents=[
            _consent_view(c, file.last_position, read_on)
            for c in file.consents
            if visible_to in c.institutions
        ],
        open_referrals=_open_referrals(file, visible_to, None if closed else judged_on, may_see),
        expected_exhaustions=_exhaustions(file, None if closed else judged_on, may_see),
    )


def _judged_on(case: Case | None, read_on: dt.date | None) -> dt.date | None:
    """The day of reading, or the closing date of a closed case (if that was earlier)."""
    if case is None or case.closed_at is None:
        return read_on
    closed_on = business_date(case.closed_at)
    return closed_on if read_on is None else min(read_on, closed_on)


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


def _exhaustions(file: CaseFile, today: dt.date | None, may_see: MaySee) -> list[ExhaustionView]:
    """The newest forecast of each benefit that has not ended (``today`` None: none overdue)."""
    ended = {
        str(e.ref_id)
        for e in file.engagements
        if e.kind is EngagementKind.BENEFIT and e.ended_on is not None
    }
    shown = [
        ExhaustionView(
            benefit_id=uuid.UUID(benefit),
            institution=origin,
            expected_on=dt.date.fromisoformat(expected),
            overdue=today is not None and dt.date.fromisoformat(expected) < today,
        )
        for benefit, (origin, expected) in file.forecasts.items()
        if benefit not in ended and may_see(origin, DataCategory.BENEFITS)
    ]
    return sorted(shown, key=lambda e: (e.expected_on, e.institution))


def visibility(file: CaseFile, reader: str, today: dt.date | None, world: World) -> MaySee:
    """Whether ``reader`` may see facts of ``origin``'s ``category`` on ``today``: after the
    newest event, so a revocation that was the newest event already counts."""
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
