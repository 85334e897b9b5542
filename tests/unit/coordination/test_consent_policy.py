"""The consent and legal-basis policy, one rule at a time, on hand-made worlds.

Every test builds the smallest world that shows one rule: a consent, a legal-basis entry, a
period of interest, and an event at a bus position and a business time.
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from collections.abc import Iterable, Mapping

import pytest

from schemas.events import AssessmentCompleted, MeasureEnded
from schemas.registry import load_institutions
from schemas.vocabulary import DataCategory, InstitutionKind
from services.coordination.domain.fields import marked_fields, without_fields
from services.coordination.domain.policy import (
    Basis,
    BasisKind,
    ConsentRecord,
    Decision,
    DenialReason,
    EventFacts,
    InterestPeriod,
    LegalBasisEntry,
    LegalBasisMatrix,
    World,
    authorised_categories,
    business_date,
    decide,
)

UTC = dt.UTC
REGISTRY = load_institutions()
KINDS: dict[str, InstitutionKind] = {
    i: REGISTRY.by_id[i].kind
    for i in ("rav", "iv", "assessmentcenter", "zif", "berufsbildung", "ksa", "sozialhilfe-2829")
}
GRACE = dt.timedelta(days=14)
NOON = dt.datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
TODAY = dt.date(2025, 3, 10)

EMPLOYMENT = DataCategory.EMPLOYMENT
BENEFITS = DataCategory.BENEFITS
HEALTH = DataCategory.HEALTH
IDENTITY = DataCategory.IDENTITY
CASE_ADMIN = DataCategory.CASE_ADMIN

MEASURE_ENDED_FIELDS = marked_fields(MeasureEnded)
ASSESSMENT_FIELDS = marked_fields(AssessmentCompleted)
IDENTITY_PATHS = frozenset({"person.ahv_number", "person.sealed_ahv"})


def consent(
    *institutions: str,
    categories: Iterable[DataCategory] = (EMPLOYMENT,),
    valid_from: dt.date = dt.date(2025, 1, 1),
    valid_until: dt.date | None = None,
    granted_at: int = 0,
    revoked_at: int | None = None,
    recorded_by: str = "rav",
    confirmed_at: Mapping[str, int] | None = None,
) -> ConsentRecord:
    """A consent; recorded by RAV (the origin of most events here) unless said otherwise."""
    return ConsentRecord(
        consent_id=uuid.uuid4(),
        institutions=frozenset(institutions or ("rav", "iv")),
        categories=frozenset(categories),
        valid_from=valid_from,
        valid_until=valid_until,
        granted_at=granted_at,
        revoked_at=revoked_at,
        recorded_by=recorded_by,
        confirmed_at=dict(confirmed_at or {}),
    )


def law(
    from_kind: InstitutionKind,
    to_kind: InstitutionKind,
    category: DataCategory,
    article: str = "Art. 85f AVIG",
    *,
    inform_person: bool = False,
) -> LegalBasisEntry:
    return LegalBasisEntry(from_kind, to_kind, category, article, inform_person)


def event(
    *,
    origin: str = "rav",
    position: int = 10,
    time: dt.datetime = NOON,
    categories: Iterable[DataCategory] = (EMPLOYMENT,),
    marked: Mapping[str, DataCategory] | None = None,
) -> EventFacts:
    return EventFacts(
        position=position,
        origin=origin,
        time=time,
        categories=frozenset(categories),
        marked_fields=dict(marked or {}),
    )


def involved(
    institution: str = "iv",
    *,
    joined_at: int = 0,
    left_at: int | None = None,
    left_on: dt.datetime | None = None,
) -> InterestPeriod:
    return InterestPeriod(institution, joined_at, left_at, left_on)


def world(
    *consents: ConsentRecord,
    entries: Iterable[LegalBasisEntry] = (),
    kinds: Mapping[str, InstitutionKind] = KINDS,
) -> World:
    return World(
        kinds=kinds,
        consents=consents,
        matrix=LegalBasisMatrix(version="2025-1", entries=tuple(entries)),
        grace=GRACE,
    )


def decision(
    facts: EventFacts,
    *consents: ConsentRecord,
    recipient: str = "iv",
    entries: Iterable[LegalBasisEntry] = (),
    interest: Iterable[InterestPeriod] | None = None,
) -> Decision:
    periods = [involved(recipient)] if interest is None else list(interest)
    return decide(facts, recipient, world(*consents, entries=entries), periods)


def assert_denied_for_no_basis(outcome: Decision, *missing: DataCategory) -> None:
    assert not outcome.allowed
    assert outcome.reason is DenialReason.NO_BASIS
    assert outcome.missing == frozenset(missing)


def assert_not_involved(outcome: Decision) -> None:
    assert not outcome.allowed
    assert outcome.reason is DenialReason.NOT_INVOLVED


def basis_of(outcome: Decision) -> Basis:
    assert outcome.allowed, outcome
    assert outcome.basis is not None
    return outcome.basis


# --- The origin -------------------------------------------------------------------------------


def test_the_origin_always_sees_its_own_events() -> None:
    facts = event(origin="assessmentcenter", categories={EMPLOYMENT}, marked=ASSESSMENT_FIELDS)

    outcome = decide(facts, "assessmentcenter", world(), interest=[])

    assert outcome.allowed
    assert outcome.basis == Basis(BasisKind.ORIGIN)
    assert outcome.categories == {EMPLOYMENT, IDENTITY, HEALTH}
    assert outcome.withheld == frozenset()
    assert outcome.reason is None


def test_the_origin_sees_its_own_events_even_with_a_revoked_consent_and_after_leaving() -> None:
    revoked = consent("rav", "iv", categories=set(DataCategory), revoked_at=1)
    gone = involved("rav", joined_at=0, left_at=1, left_on=NOON - dt.timedelta(days=365))

    outcome = decide(event(origin="rav", position=10), "rav", world(revoked), [gone])

    assert outcome.allowed
    assert basis_of(outcome).kind is BasisKind.ORIGIN


# --- Periods of interest ------------------------------------------------------------------------


def test_a_recipient_without_a_period_of_interest_gets_nothing_even_with_consent() -> None:
    outcome = decision(event(), consent("rav", "iv"), interest=[])

    assert_not_involved(outcome)


def test_there_is_no_broadcast_to_every_institution_with_a_consent() -> None:
    everyone = consent(*KINDS, categories=set(DataCategory))

    for recipient in set(KINDS) - {"rav"}:
        assert_not_involved(decision(event(), everyone, recipient=recipient, interest=[]))


def test_another_institutions_period_of_interest_does_not_involve_the_recipient() -> None:
    outcome = decision(event(), consent("rav", "iv"), interest=[involved("zif")])

    assert_not_involved(outcome)


def test_not_being_involved_is_reported_before_a_missing_basis() -> None:
    outcome = decision(event(categories={HEALTH}), interest=[])

    assert_not_involved(outcome)
    assert outcome.missing == frozenset()


def test_an_event_before_joining_is_not_delivered() -> None:
    outcome = decision(event(position=9), consent(), interest=[involved(joined_at=10)])

    assert_not_involved(outcome)


def test_an_event_at_the_joining_position_is_delivered() -> None:
    outcome = decision(event(position=10), consent(), interest=[involved(joined_at=10)])

    assert outcome.allowed


def test_an_event_after_joining_without_leaving_is_delivered_however_late() -> None:
    later = NOON + dt.timedelta(days=3650)
    outcome = decision(
        event(position=10_000, time=later), consent(), interest=[involved(joined_at=10)]
    )

    assert outcome.allowed


def test_an_event_at_the_leaving_position_is_still_delivered() -> None:
    long_ago = NOON - dt.timedelta(days=365)
    period = involved(joined_at=0, left_at=10, left_on=long_ago)

    assert decision(event(position=10), consent(), interest=[period]).allowed


def test_an_event_within_the_grace_period_after_leaving_is_delivered() -> None:
    period = involved(joined_at=0, left_at=5, left_on=NOON - GRACE + dt.timedelta(hours=1))

    assert decision(event(position=10), consent(), interest=[period]).allowed


def test_an_event_at_the_very_end_of_the_grace_period_is_delivered() -> None:
    period = involved(joined_at=0, left_at=5, left_on=NOON - GRACE)

    assert decision(event(position=10), consent(), interest=[period]).allowed


def test_an_event_after_the_grace_period_is_not_delivered() -> None:
    period = involved(joined_at=0, left_at=5, left_on=NOON - GRACE - dt.timedelta(seconds=1))

    assert_not_involved(decision(event(position=10), consent(), interest=[period]))


def test_leaving_without_a_recorded_time_grants_no_grace() -> None:
    period = involved(joined_at=0, left_at=5, left_on=None)

    assert_not_involved(decision(event(position=10), consent(), interest=[period]))


def test_the_grace_period_does_not_reach_back_before_joining() -> None:
    period = involved(joined_at=20, left_at=30, left_on=NOON)

    assert_not_involved(decision(event(position=10), consent(), interest=[period]))


def test_any_one_of_several_periods_of_interest_suffices() -> None:
    long_ago = NOON - dt.timedelta(days=365)
    left_then_rejoined = [involved(joined_at=0, left_at=3, left_on=long_ago), involved(joined_at=8)]

    assert decision(event(position=10), consent(), interest=left_then_rejoined).allowed
    assert_not_involved(decision(event(position=5), consent(), interest=left_then_rejoined))


# --- Consents -----------------------------------------------------------------------------------


def test_without_consent_or_law_the_event_is_denied_for_no_basis() -> None:
    outcome = decision(event(categories={EMPLOYMENT}))

    assert_denied_for_no_basis(outcome, EMPLOYMENT)
    assert outcome.basis is None


def test_a_consent_naming_origin_and_recipient_for_the_category_allows_the_event() -> None:
    granted = consent("rav", "iv", categories={EMPLOYMENT})

    outcome = decision(event(), granted)

    assert outcome.allowed
    assert outcome.reason is None
    assert outcome.categories == {EMPLOYMENT}
    assert outcome.withheld == frozenset()
    assert basis_of(outcome) == Basis(BasisKind.CONSENT, consent_ids=(granted.consent_id,))


def test_a_consent_among_several_institutions_covers_each_pair_of_them() -> None:
    granted = consent("rav", "iv", "zif", "sozialhilfe-2829", categories={EMPLOYMENT})

    assert decision(event(origin="zif"), granted, recipient="sozialhilfe-2829").allowed
    assert decision(event(origin="sozialhilfe-2829"), granted, recipient="rav").allowed


def test_a_consent_naming_only_the_origin_does_not_allow_the_event() -> None:
    outcome = decision(event(origin="rav"), consent("rav", "zif"), recipient="iv")

    assert_denied_for_no_basis(outcome, EMPLOYMENT)


def test_a_consent_naming_only_the_recipient_does_not_allow_the_event() -> None:
    outcome = decision(event(origin="rav"), consent("zif", "iv"), recipient="iv")

    assert_denied_for_no_basis(outcome, EMPLOYMENT)


def test_a_consent_between_two_other_institutions_does_not_allow_the_event() -> None:
    outcome = decision(event(origin="rav"), consent("zif", "ksa"), recipient="iv")

    assert_denied_for_no_basis(outcome, EMPLOYMENT)


def test_a_consent_for_another_category_does_not_allow_the_event() -> None:
    outcome = decision(event(categories={EMPLOYMENT}), consent(categories={BENEFITS, CASE_ADMIN}))

    assert_denied_for_no_basis(outcome, EMPLOYMENT)


def test_the_basis_names_every_consent_that_was_used() -> None:
    for_employment = consent(categories={EMPLOYMENT})
    for_benefits = consent(categories={BENEFITS})

    outcome = decision(event(categories={EMPLOYMENT, BENEFITS}), for_employment, for_benefits)

    basis = basis_of(outcome)
    assert basis.kind is BasisKind.CONSENT
    assert set(basis.consent_ids) == {for_employment.consent_id, for_benefits.consent_id}
    assert basis.articles == ()
    assert basis.legal_basis_version is None


def test_a_consent_that_covers_nothing_delivered_is_not_cited() -> None:
    used = consent(categories={EMPLOYMENT})
    unrelated = consent(categories={BENEFITS})

    assert basis_of(decision(event(), used, unrelated)).consent_ids == (used.consent_id,)


# --- Health -------------------------------------------------------------------------------------


def test_health_is_never_implied_by_a_consent_for_every_other_category() -> None:
    everything_but_health = consent(categories=set(DataCategory) - {HEALTH})

    outcome = decision(event(categories={HEALTH}), everything_but_health)

    assert_denied_for_no_basis(outcome, HEALTH)


def test_health_is_never_implied_by_the_law_for_every_other_category() -> None:
    entries = [
        law(InstitutionKind.ALV_RAV, InstitutionKind.IV, c) for c in DataCategory if c is not HEALTH
    ]

    outcome = decision(event(categories={HEALTH}), entries=entries)

    assert_denied_for_no_basis(outcome, HEALTH)


def test_health_is_covered_by_a_consent_that_names_it_explicitly() -> None:
    granted = consent(categories={HEALTH})

    outcome = decision(event(categories={HEALTH}), granted)

    assert outcome.allowed
    assert outcome.categories == {HEALTH}
    assert basis_of(outcome).consent_ids == (granted.consent_id,)


def test_health_is_covered_by_a_legal_basis_entry_that_names_it_explicitly() -> None:
    entry = law(InstitutionKind.IV, InstitutionKind.ASSESSMENTCENTER, HEALTH, "Art. 68bis IVG")

    outcome = decision(
        event(origin="iv", categories={HEALTH}), recipient="assessmentcenter", entries=[entry]
    )

    assert outcome.allowed
    assert basis_of(outcome).articles == ("Art. 68bis IVG",)


def test_a_declared_stricter_category_needs_both_categories() -> None:
    declared = event(categories={EMPLOYMENT, HEALTH})

    assert_denied_for_no_basis(decision(declared, consent(categories={EMPLOYMENT})), HEALTH)
    assert_denied_for_no_basis(decision(declared, consent(categories={HEALTH})), EMPLOYMENT)
    assert_denied_for_no_basis(decision(declared), EMPLOYMENT, HEALTH)
    both = decision(declared, consent(categories={EMPLOYMENT, HEALTH}))
    assert both.allowed
    assert both.categories == {EMPLOYMENT, HEALTH}


def test_a_declared_stricter_category_may_be_covered_by_two_separate_consents() -> None:
    declared = event(categories={EMPLOYMENT, HEALTH})

    outcome = decision(declared, consent(categories={EMPLOYMENT}), consent(categories={HEALTH}))

    assert outcome.allowed
    assert len(basis_of(outcome).consent_ids) == 2


# --- When a consent is active -------------------------------------------------------------------


def test_a_consent_granted_after_the_event_does_not_cover_it() -> None:
    outcome = decision(event(position=10), consent(granted_at=11))

    assert_denied_for_no_basis(outcome, EMPLOYMENT)


def test_a_consent_granted_at_the_events_own_position_covers_it() -> None:
    assert decision(event(position=10), consent(granted_at=10)).allowed


@pytest.mark.parametrize(
    ("event_position", "delivered"),
    [(9, True), (10, True), (11, False), (500, False)],
    ids=["before", "at-the-revocation", "just-after", "long-after"],
)
def test_a_revocation_stops_every_later_event_but_not_the_revocation_itself(
    event_position: int, delivered: bool
) -> None:
    revoked = consent(granted_at=0, revoked_at=10)

    outcome = decision(event(position=event_position), revoked)

    assert outcome.allowed is delivered
    if not delivered:
        assert_denied_for_no_basis(outcome, EMPLOYMENT)


def test_a_revocation_of_one_consent_leaves_another_active_consent_in_force() -> None:
    revoked = consent(granted_at=0, revoked_at=3)
    renewed = consent(granted_at=5)

    outcome = decision(event(position=10), revoked, renewed)

    assert basis_of(outcome).consent_ids == (renewed.consent_id,)


@pytest.mark.parametrize(
    ("day", "delivered"),
    [
        (dt.date(2025, 2, 28), False),
        (dt.date(2025, 3, 1), True),
        (dt.date(2025, 3, 15), True),
        (dt.date(2025, 3, 31), True),
        (dt.date(2025, 4, 1), False),
    ],
    ids=["day-before-first", "first-day", "middle", "last-day", "day-after-last"],
)
def test_a_consent_is_valid_from_its_first_to_its_last_day_inclusive(
    day: dt.date, delivered: bool
) -> None:
    march = consent(valid_from=dt.date(2025, 3, 1), valid_until=dt.date(2025, 3, 31))
    noon_in_zurich = dt.datetime.combine(day, dt.time(12), tzinfo=UTC)

    outcome = decision(event(time=noon_in_zurich), march)

    assert outcome.allowed is delivered
    if not delivered:
        assert_denied_for_no_basis(outcome, EMPLOYMENT)


def test_an_open_ended_consent_is_valid_for_ever_after_its_first_day() -> None:
    open_ended = consent(valid_from=dt.date(2025, 3, 1), valid_until=None)
    far_future = dt.datetime(2099, 12, 31, 12, tzinfo=UTC)

    assert decision(event(time=far_future), open_ended).allowed


def test_a_time_at_23_30_utc_on_the_last_valid_day_is_already_the_next_day_in_zurich() -> None:
    until_march = consent(valid_from=dt.date(2025, 1, 1), valid_until=dt.date(2025, 3, 31))
    late_evening_utc = dt.datetime(2025, 3, 31, 23, 30, tzinfo=UTC)  # 1 April, 01:30 in Zurich

    outcome = decision(event(time=late_evening_utc), until_march)

    assert_denied_for_no_basis(outcome, EMPLOYMENT)


def test_a_time_at_23_30_utc_the_day_before_the_first_valid_day_is_already_valid_in_zurich() -> (
    None
):
    from_march = consent(valid_from=dt.date(2025, 3, 1))
    late_evening_utc = dt.datetime(2025, 2, 28, 23, 30, tzinfo=UTC)  # 1 March, 00:30 in Zurich

    assert decision(event(time=late_evening_utc), from_march).allowed


def test_in_summer_zurich_is_two_hours_ahead_of_utc() -> None:
    until_june = consent(valid_from=dt.date(2025, 1, 1), valid_until=dt.date(2025, 6, 30))

    still_june = decision(event(time=dt.datetime(2025, 6, 30, 21, 59, tzinfo=UTC)), until_june)
    already_july = decision(event(time=dt.datetime(2025, 6, 30, 22, 0, tzinfo=UTC)), until_june)

    assert still_june.allowed
    assert_denied_for_no_basis(already_july, EMPLOYMENT)


def test_a_consent_is_judged_on_the_event_business_time_not_the_time_of_deciding() -> None:
    last_year = consent(valid_from=dt.date(2024, 1, 1), valid_until=dt.date(2024, 12, 31))

    assert decision(event(time=dt.datetime(2024, 6, 1, 12, tzinfo=UTC)), last_year).allowed


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        (dt.datetime(2025, 1, 15, 22, 59, tzinfo=UTC), dt.date(2025, 1, 15)),
        (dt.datetime(2025, 1, 15, 23, 0, tzinfo=UTC), dt.date(2025, 1, 16)),
        (dt.datetime(2025, 1, 15, 23, 30, tzinfo=UTC), dt.date(2025, 1, 16)),
        (dt.datetime(2025, 7, 15, 21, 59, tzinfo=UTC), dt.date(2025, 7, 15)),
        (dt.datetime(2025, 7, 15, 22, 0, tzinfo=UTC), dt.date(2025, 7, 16)),
        (dt.datetime(2025, 3, 30, 0, 30, tzinfo=UTC), dt.date(2025, 3, 30)),
        (dt.datetime(2025, 10, 25, 22, 30, tzinfo=UTC), dt.date(2025, 10, 26)),
        (
            dt.datetime(2025, 1, 16, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
            dt.date(2025, 1, 16),
        ),
    ],
)
def test_the_business_date_is_the_calendar_day_in_zurich(moment: dt.datetime, day: dt.date) -> None:
    assert business_date(moment) == day


# --- The legal-basis matrix ---------------------------------------------------------------------


def test_a_legal_basis_entry_allows_without_consent_and_sets_inform_person() -> None:
    entry = law(InstitutionKind.ALV_RAV, InstitutionKind.IV, EMPLOYMENT, inform_person=True)

    outcome = decision(event(origin="rav"), recipient="iv", entries=[entry])

    assert outcome.allowed
    assert outcome.categories == {EMPLOYMENT}
    assert basis_of(outcome) == Basis(
        BasisKind.LAW,
        articles=("Art. 85f AVIG",),
        legal_basis_version="2025-1",
        inform_person=True,
        informed_categories=frozenset({EMPLOYMENT}),
    )


def test_a_legal_basis_entry_without_a_duty_to_inform_does_not_set_inform_person() -> None:
    entry = law(InstitutionKind.ALV_RAV, InstitutionKind.IV, EMPLOYMENT, inform_person=False)

    basis = basis_of(decision(event(origin="rav"), recipient="iv", entries=[entry]))

    assert basis.kind is BasisKind.LAW
    assert basis.inform_person is False


def test_a_legal_basis_entry_goes_in_one_direction_only() -> None:
    rav_to_iv = law(InstitutionKind.ALV_RAV, InstitutionKind.IV, EMPLOYMENT)

    outcome = decision(event(origin="iv"), recipient="rav", entries=[rav_to_iv])

    assert_denied_for_no_basis(outcome, EMPLOYMENT)


def test_a_legal_basis_entry_for_other_kinds_or_another_category_does_not_allow() -> None:
    entries = [
        law(InstitutionKind.ALV_RAV, InstitutionKind.KSA, EMPLOYMENT),
        law(InstitutionKind.INTEGRATION, InstitutionKind.IV, EMPLOYMENT),
        law(InstitutionKind.ALV_RAV, InstitutionKind.IV, BENEFITS),
    ]

    outcome = decision(event(origin="rav", categories={EMPLOYMENT}), entries=entries)

    assert_denied_for_no_basis(outcome, EMPLOYMENT)


def test_the_law_applies_to_every_institution_of_the_kind() -> None:
    entry = law(InstitutionKind.SOCIAL_SERVICES, InstitutionKind.KSA, BENEFITS, "§ 7 SHG")

    outcome = decision(
        event(origin="sozialhilfe-2829", categories={BENEFITS}), recipient="ksa", entries=[entry]
    )

    assert basis_of(outcome).articles == ("§ 7 SHG",)


def test_an_institution_of_unknown_kind_is_covered_by_no_legal_basis() -> None:
    entry = law(InstitutionKind.ALV_RAV, InstitutionKind.IV, EMPLOYMENT)
    unknown_recipient = {k: v for k, v in KINDS.items() if k != "iv"}

    outcome = decide(
        event(origin="rav"),
        "iv",
        world(entries=[entry], kinds=unknown_recipient),
        [involved("iv")],
    )

    assert_denied_for_no_basis(outcome, EMPLOYMENT)


def test_a_consent_is_preferred_over_the_law_when_both_cover_a_category() -> None:
    granted = consent(categories={EMPLOYMENT})
    entry = law(InstitutionKind.ALV_RAV, InstitutionKind.IV, EMPLOYMENT, inform_person=True)

    outcome = decision(event(), granted, entries=[entry])

    assert basis_of(outcome) == Basis(BasisKind.CONSENT, consent_ids=(granted.consent_id,))


def test_the_law_takes_over_where_the_consent_is_no_longer_active() -> None:
    revoked = consent(categories={EMPLOYMENT}, revoked_at=3)
    entry = law(InstitutionKind.ALV_RAV, InstitutionKind.IV, EMPLOYMENT, inform_person=True)

    basis = basis_of(decision(event(position=10), revoked, entries=[entry]))

    assert basis.kind is BasisKind.LAW
    assert basis.consent_ids == ()
    assert basis.inform_person is True


def test_consent_and_law_together_cover_an_event_with_two_categories() -> None:
    granted = consent(categories={EMPLOYMENT})
    entry = law(
        InstitutionKind.ALV_RAV, InstitutionKind.IV, HEALTH, "Art. 6a IVG", inform_person=True
    )

    outcome = decision(event(categories={EMPLOYMENT, HEALTH}), granted, entries=[entry])

    assert outcome.categories == {EMPLOYMENT, HEALTH}
    assert basis_of(outcome) == Basis(
        BasisKind.CONSENT_AND_LAW,
        consent_ids=(granted.consent_id,),
        articles=("Art. 6a IVG",),
        legal_basis_version="2025-1",
        inform_person=True,
        informed_categories=frozenset({HEALTH}),  # the person is told of what the law carried
    )


# --- Marked fields ------------------------------------------------------------------------------


def test_the_realistic_events_mark_identity_cost_and_health_fields() -> None:
    assert MEASURE_ENDED_FIELDS == {
        "person.ahv_number": IDENTITY,
        "person.sealed_ahv": IDENTITY,
        "cost_chf": BENEFITS,
    }
    assert ASSESSMENT_FIELDS == {
        "person.ahv_number": IDENTITY,
        "person.sealed_ahv": IDENTITY,
        "health_limitations": HEALTH,
        "barriers[health]": HEALTH,
    }


def test_identity_is_withheld_without_the_identity_category() -> None:
    measure_ended = event(categories={EMPLOYMENT}, marked=MEASURE_ENDED_FIELDS)

    outcome = decision(measure_ended, consent(categories={EMPLOYMENT, BENEFITS}))

    assert outcome.allowed
    assert outcome.withheld == IDENTITY_PATHS
    assert outcome.categories == {EMPLOYMENT, BENEFITS}


def test_the_cost_is_withheld_without_benefits() -> None:
    measure_ended = event(categories={EMPLOYMENT}, marked=MEASURE_ENDED_FIELDS)

    outcome = decision(measure_ended, consent(categories={EMPLOYMENT, IDENTITY}))

    assert outcome.allowed
    assert outcome.withheld == {"cost_chf"}
    assert outcome.categories == {EMPLOYMENT, IDENTITY}


def test_every_marked_field_is_withheld_when_only_the_event_category_is_covered() -> None:
    measure_ended = event(categories={EMPLOYMENT}, marked=MEASURE_ENDED_FIELDS)

    outcome = decision(measure_ended, consent(categories={EMPLOYMENT}))

    assert outcome.withheld == IDENTITY_PATHS | {"cost_chf"}
    assert outcome.categories == {EMPLOYMENT}
    assert basis_of(outcome).kind is BasisKind.CONSENT


def test_marked_fields_are_delivered_when_their_categories_are_covered() -> None:
    measure_ended = event(categories={EMPLOYMENT}, marked=MEASURE_ENDED_FIELDS)

    outcome = decision(measure_ended, consent(categories={EMPLOYMENT, BENEFITS, IDENTITY}))

    assert outcome.withheld == frozenset()
    assert outcome.categories == {EMPLOYMENT, BENEFITS, IDENTITY}


def test_health_limitations_are_withheld_without_health_while_the_assessment_is_delivered() -> None:
    assessment = event(origin="assessmentcenter", categories={EMPLOYMENT}, marked=ASSESSMENT_FIELDS)
    everything_but_health = consent(
        "assessmentcenter",
        "iv",
        categories=set(DataCategory) - {HEALTH},
        recorded_by="assessmentcenter",
    )

    outcome = decision(assessment, everything_but_health)

    assert outcome.allowed
    assert outcome.withheld == {"health_limitations", "barriers[health]"}
    assert EMPLOYMENT in outcome.categories
    assert HEALTH not in outcome.categories


def test_health_limitations_are_delivered_with_an_explicit_health_consent() -> None:
    assessment = event(origin="assessmentcenter", categories={EMPLOYMENT}, marked=ASSESSMENT_FIELDS)
    with_health = consent(
        "assessmentcenter",
        "iv",
        categories={EMPLOYMENT, HEALTH, IDENTITY},
        recorded_by="assessmentcenter",
    )

    outcome = decision(assessment, with_health)

    assert outcome.withheld == frozenset()
    assert outcome.categories == {EMPLOYMENT, HEALTH, IDENTITY}


def test_a_marked_field_can_be_released_by_the_law_alone() -> None:
    measure_ended = event(categories={EMPLOYMENT}, marked=MEASURE_ENDED_FIELDS)
    granted = consent(categories={EMPLOYMENT})
    identity_by_law = law(
        InstitutionKind.ALV_RAV, InstitutionKind.IV, IDENTITY, "Art. 50a AHVG", inform_person=True
    )

    outcome = decision(measure_ended, granted, entries=[identity_by_law])

    assert outcome.withheld == {"cost_chf"}
    assert outcome.categories == {EMPLOYMENT, IDENTITY}
    basis = basis_of(outcome)
    assert basis.kind is BasisKind.CONSENT_AND_LAW
    assert basis.articles == ("Art. 50a AHVG",)
    assert basis.inform_person is True


def test_a_legal_basis_for_a_category_that_is_not_delivered_is_not_cited() -> None:
    measure_ended = event(categories={EMPLOYMENT}, marked=MEASURE_ENDED_FIELDS)
    granted = consent(categories={EMPLOYMENT, IDENTITY})
    unused = law(InstitutionKind.ALV_RAV, InstitutionKind.IV, CASE_ADMIN, inform_person=True)

    outcome = decision(measure_ended, granted, entries=[unused])

    assert outcome.withheld == {"cost_chf"}
    assert basis_of(outcome) == Basis(BasisKind.CONSENT, consent_ids=(granted.consent_id,))


def test_a_revoked_consent_no_longer_releases_a_marked_field() -> None:
    measure_ended = event(position=10, categories={EMPLOYMENT}, marked=MEASURE_ENDED_FIELDS)
    employment = consent(categories={EMPLOYMENT, BENEFITS})
    identity_revoked = consent(categories={IDENTITY}, revoked_at=9)

    outcome = decision(measure_ended, employment, identity_revoked)

    assert outcome.withheld == IDENTITY_PATHS
    assert basis_of(outcome).consent_ids == (employment.consent_id,)


def test_a_consent_outside_its_validity_no_longer_releases_a_marked_field() -> None:
    measure_ended = event(categories={EMPLOYMENT}, marked=MEASURE_ENDED_FIELDS)
    employment = consent(categories={EMPLOYMENT, IDENTITY})
    benefits_expired = consent(categories={BENEFITS}, valid_until=TODAY - dt.timedelta(days=1))

    outcome = decision(measure_ended, employment, benefits_expired)

    assert outcome.withheld == {"cost_chf"}


def test_a_denied_event_withholds_nothing_and_delivers_no_category() -> None:
    outcome = decision(event(marked=MEASURE_ENDED_FIELDS), consent(categories={IDENTITY}))

    assert_denied_for_no_basis(outcome, EMPLOYMENT)
    assert outcome.categories == frozenset()
    assert outcome.withheld == frozenset()


# --- authorised_categories ----------------------------------------------------------------------


def test_authorised_categories_ignore_the_period_of_interest() -> None:
    granted = consent(categories={EMPLOYMENT, CASE_ADMIN})
    entry = law(InstitutionKind.ALV_RAV, InstitutionKind.IV, BENEFITS)

    grounds = authorised_categories(event(), "iv", world(granted, entries=[entry]))

    assert grounds == {EMPLOYMENT: granted, CASE_ADMIN: granted, BENEFITS: entry}


def test_authorised_categories_never_include_health_unless_named() -> None:
    everything_but_health = consent(categories=set(DataCategory) - {HEALTH})

    grounds = authorised_categories(event(), "iv", world(everything_but_health))

    assert set(grounds) == set(DataCategory) - {HEALTH}


def test_authorised_categories_prefer_a_consent_over_the_law() -> None:
    granted = consent(categories={EMPLOYMENT})
    entry = law(InstitutionKind.ALV_RAV, InstitutionKind.IV, EMPLOYMENT)

    grounds = authorised_categories(event(), "iv", world(granted, entries=[entry]))

    assert grounds == {EMPLOYMENT: granted}


# --- without_fields -----------------------------------------------------------------------------


def _assessment_data() -> dict[str, object]:
    return {
        "person": {"ahv_number": "756.1234.5678.97", "sealed_ahv": "k1:abc", "case_ref": "AC-1"},
        "assessment_id": "5f0c2c1e-0000-4000-8000-000000000001",
        "potential": "medium",
        "barriers": ["health", "language"],
        "health_limitations": "no heavy lifting",
        "recommendation": "coaching",
    }


def test_without_fields_removes_nested_and_top_level_paths_and_keeps_the_rest() -> None:
    data = _assessment_data()

    minimised = without_fields(data, IDENTITY_PATHS | {"health_limitations"})

    assert minimised == {
        "person": {"case_ref": "AC-1"},
        "assessment_id": "5f0c2c1e-0000-4000-8000-000000000001",
        "potential": "medium",
        "barriers": ["health", "language"],
        "recommendation": "coaching",
    }


def test_without_fields_does_not_mutate_its_input() -> None:
    data = _assessment_data()
    before = copy.deepcopy(data)

    without_fields(data, IDENTITY_PATHS | {"health_limitations"})

    assert data == before


def test_without_fields_ignores_paths_that_are_absent_or_lead_through_a_non_object() -> None:
    data = _assessment_data()

    minimised = without_fields(
        data, {"cost_chf", "person.nothing", "potential.deeper", "missing.path"}
    )

    assert minimised == data


def test_without_fields_removes_only_the_named_nested_field() -> None:
    data: dict[str, object] = {"a": {"b": {"c": 1, "d": 2}, "e": 3}, "f": 4}

    assert without_fields(data, {"a.b.c"}) == {"a": {"b": {"d": 2}, "e": 3}, "f": 4}
    assert data == {"a": {"b": {"c": 1, "d": 2}, "e": 3}, "f": 4}


def test_without_no_fields_the_data_is_unchanged() -> None:
    data = _assessment_data()

    assert without_fields(data, frozenset()) == _assessment_data()


def test_minimising_with_the_withheld_paths_of_a_decision_removes_exactly_those_fields() -> None:
    measure_ended = event(categories={EMPLOYMENT}, marked=MEASURE_ENDED_FIELDS)
    outcome = decision(measure_ended, consent(categories={EMPLOYMENT, IDENTITY}))
    data = {
        "person": {"ahv_number": "756.1234.5678.97", "sealed_ahv": "k1:x", "case_ref": "R-1"},
        "measure_id": "m",
        "kind": "coaching",
        "result": "completed",
        "cost_chf": "1200.00",
    }

    minimised = without_fields(data, outcome.withheld)

    assert "cost_chf" not in minimised
    assert minimised["person"] == data["person"]
