"""The policy against a deliberately simple oracle, on random worlds.

The oracle below is written from the rules, not from ``policy.py``: plain loops over consents,
matrix entries and periods of interest, and its own Zurich calendar day. Only the dataclasses
are shared with the module under test. The last tests weaken one rule of the real policy at a
time and show that the comparison then finds a counterexample, so a green run means something.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from schemas.events import EVENT_DATA_CLASSES, AssessmentCompleted, MeasureEnded
from schemas.registry import load_institutions
from schemas.vocabulary import DataCategory, InstitutionKind
from services.coordination.domain import policy
from services.coordination.domain.fields import marked_fields
from services.coordination.domain.policy import (
    BasisKind,
    ConsentRecord,
    Decision,
    DenialReason,
    EventFacts,
    InterestPeriod,
    LegalBasisEntry,
    LegalBasisMatrix,
    World,
)

ZURICH = ZoneInfo("Europe/Zurich")
UTC = dt.UTC
REGISTRY = load_institutions()
INSTITUTIONS = ("rav", "iv", "assessmentcenter", "zif", "berufsbildung", "ksa", "sozialhilfe-2829")
KINDS: dict[str, InstitutionKind] = {i: REGISTRY.by_id[i].kind for i in INSTITUTIONS}
CATEGORIES = tuple(DataCategory)
HEALTH = DataCategory.HEALTH

# Base days: winter, both daylight-saving switches, summer, and a year's end.
BASE_DAYS = (
    dt.date(2025, 1, 15),
    dt.date(2025, 3, 30),
    dt.date(2025, 7, 1),
    dt.date(2025, 10, 26),
    dt.date(2024, 12, 31),
)
NEAR_MIDNIGHT = (
    dt.time(0, 0),
    dt.time(0, 30),
    dt.time(21, 59, 59),
    dt.time(22, 0),
    dt.time(22, 30),
    dt.time(23, 0),
    dt.time(23, 30),
    dt.time(23, 59, 59),
)
GRACES = tuple(dt.timedelta(hours=h) for h in (0, 1, 24, 48, 14 * 24))
ARTICLES = ("Art. 85f AVIG", "Art. 6a IVG", "Art. 50a AHVG", "§ 7 SHG")
RANDOM_PATHS = ("person.ahv_number", "cost_chf", "health_limitations", "a.b.c", "note")


@dataclass(frozen=True)
class Case:
    """One random world, the periods of interest in it, and one event on its bus."""

    world: World
    interest: tuple[InterestPeriod, ...]
    event: EventFacts


# --- Random worlds ------------------------------------------------------------------------------


def _moments(base: dt.date) -> st.SearchStrategy[dt.datetime]:
    """Times within three days of ``base`` (UTC), often close to midnight in Zurich or UTC."""
    midnight = dt.datetime.combine(base, dt.time(), tzinfo=UTC)
    time_of_day = st.one_of(st.sampled_from(NEAR_MIDNIGHT), st.times())
    return st.builds(
        lambda days, t: (
            midnight + dt.timedelta(days=days, hours=t.hour, minutes=t.minute, seconds=t.second)
        ),
        st.integers(-3, 3),
        time_of_day,
    )


@st.composite
def cases(draw: st.DrawFn) -> Case:
    ids = draw(st.lists(st.sampled_from(INSTITUTIONS), min_size=2, max_size=6, unique=True))
    kinds = {i: KINDS[i] for i in ids}
    base = draw(st.sampled_from(BASE_DAYS))
    moments = _moments(base)

    marked = draw(
        st.one_of(
            st.sampled_from([marked_fields(MeasureEnded), marked_fields(AssessmentCompleted)]),
            st.sampled_from([marked_fields(c) for c in EVENT_DATA_CLASSES]),
            st.dictionaries(st.sampled_from(RANDOM_PATHS), st.sampled_from(CATEGORIES), max_size=3),
        )
    )
    facts = EventFacts(
        position=draw(st.integers(0, 30)),
        origin=draw(st.sampled_from(ids)),
        time=draw(moments),
        categories=draw(st.frozensets(st.sampled_from(CATEGORIES), min_size=1, max_size=2)),
        marked_fields=marked,
    )
    # Legal-basis entries, biased towards the event's origin and categories so that they matter.
    origin_kind = kinds[facts.origin]
    present_kinds = st.sampled_from(sorted(set(kinds.values())))
    at_stake = sorted(facts.categories | set(facts.marked_fields.values()))
    entries = draw(
        st.lists(
            st.builds(
                LegalBasisEntry,
                from_kind=st.just(origin_kind) | present_kinds,
                to_kind=present_kinds,
                category=st.sampled_from(at_stake) | st.sampled_from(CATEGORIES),
                article=st.sampled_from(ARTICLES),
                inform_person=st.booleans(),
            ),
            max_size=4,
            unique_by=lambda e: (e.from_kind, e.to_kind, e.category),
        )
    )

    # Positions and members are biased towards the event, so that consents and periods matter.
    up_to_event = st.integers(0, facts.position)
    consents = []
    for number in range(draw(st.integers(0, 5))):
        members = draw(st.frozensets(st.sampled_from(ids), min_size=2))
        if draw(st.booleans()):
            members |= {facts.origin}
        valid_from = base + dt.timedelta(days=draw(st.integers(-3, 2)))
        length = draw(st.none() | st.integers(0, 6))
        granted_at = draw(up_to_event | st.integers(0, 30))
        consents.append(
            ConsentRecord(
                consent_id=uuid.UUID(int=number + 1),
                institutions=members,
                categories=draw(
                    st.frozensets(st.sampled_from(at_stake) | st.sampled_from(CATEGORIES))
                ),
                valid_from=valid_from,
                valid_until=None if length is None else valid_from + dt.timedelta(days=length),
                granted_at=granted_at,
                revoked_at=draw(st.none() | st.integers(granted_at, 31)),
            )
        )

    interest = []
    for institution in ids:
        for _ in range(draw(st.sampled_from((1, 2, 0)))):
            joined_at = draw(up_to_event | st.integers(0, 30))
            left_at = draw(st.none() | st.integers(joined_at, joined_at + 15))
            left_on = None if left_at is None else draw(st.none() | moments)
            interest.append(InterestPeriod(institution, joined_at, left_at, left_on))

    world = World(
        kinds=kinds,
        consents=tuple(consents),
        matrix=LegalBasisMatrix(version="random", entries=tuple(entries)),
        grace=draw(st.sampled_from(GRACES)),
    )
    return Case(world=world, interest=tuple(interest), event=facts)


# --- The oracle ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """What the rules say about one event for one recipient."""

    allowed: bool
    reason: DenialReason | None = None
    missing: frozenset[DataCategory] = frozenset()
    withheld: frozenset[str] = frozenset()
    categories: frozenset[DataCategory] = frozenset()
    # For each delivered category: the consents that cover it, and the law entries that do.
    consents_for: Mapping[DataCategory, list[ConsentRecord]] = field(default_factory=dict)
    laws_for: Mapping[DataCategory, list[LegalBasisEntry]] = field(default_factory=dict)


def zurich_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(ZURICH).date()


def oracle_involved(case: Case, recipient: str) -> bool:
    event = case.event
    for period in case.interest:
        if period.institution != recipient:
            continue
        if period.joined_at > event.position:
            continue
        if period.left_at is None:
            return True
        if event.position <= period.left_at:
            return True
        if period.left_on is not None and event.time <= period.left_on + case.world.grace:
            return True
    return False


def oracle_consents(case: Case, recipient: str, category: DataCategory) -> list[ConsentRecord]:
    event = case.event
    day = zurich_day(event.time)
    found = []
    for consent in case.world.consents:
        names_both = event.origin in consent.institutions and recipient in consent.institutions
        lists_it = category in consent.categories
        granted = consent.granted_at <= event.position
        not_revoked = consent.revoked_at is None or not consent.revoked_at < event.position
        after_start = consent.valid_from <= day
        before_end = consent.valid_until is None or day <= consent.valid_until
        if names_both and lists_it and granted and not_revoked and after_start and before_end:
            found.append(consent)
    return found


def oracle_laws(case: Case, recipient: str, category: DataCategory) -> list[LegalBasisEntry]:
    origin_kind = case.world.kinds.get(case.event.origin)
    recipient_kind = case.world.kinds.get(recipient)
    found = []
    for entry in case.world.matrix.entries:
        if (
            entry.from_kind == origin_kind
            and entry.to_kind == recipient_kind
            and entry.category == category
        ):
            found.append(entry)
    return found


def oracle(case: Case, recipient: str) -> Expected:
    event = case.event
    if recipient == event.origin:
        everything = set(event.categories)
        for category in event.marked_fields.values():
            everything.add(category)
        return Expected(allowed=True, categories=frozenset(everything))

    if not oracle_involved(case, recipient):
        return Expected(allowed=False, reason=DenialReason.NOT_INVOLVED)

    def covered(category: DataCategory) -> bool:
        return bool(oracle_consents(case, recipient, category)) or bool(
            oracle_laws(case, recipient, category)
        )

    missing = set()
    for category in event.categories:
        if not covered(category):
            missing.add(category)
    if missing:
        return Expected(allowed=False, reason=DenialReason.NO_BASIS, missing=frozenset(missing))

    withheld = set()
    delivered = set(event.categories)
    for path, category in event.marked_fields.items():
        if covered(category):
            delivered.add(category)
        else:
            withheld.add(path)
    return Expected(
        allowed=True,
        withheld=frozenset(withheld),
        categories=frozenset(delivered),
        consents_for={c: oracle_consents(case, recipient, c) for c in delivered},
        laws_for={c: oracle_laws(case, recipient, c) for c in delivered},
    )


def assert_agrees(case: Case, recipient: str, actual: Decision, expected: Expected) -> None:
    context = f"recipient={recipient}\nexpected={expected}\nactual={actual}\ncase={case}"
    assert actual.recipient == recipient, context
    assert actual.allowed == expected.allowed, context
    if not expected.allowed:
        assert actual.reason == expected.reason, context
        assert actual.missing == expected.missing, context
        return
    assert actual.reason is None, context
    assert actual.withheld == expected.withheld, context
    assert actual.categories == expected.categories, context
    basis = actual.basis
    assert basis is not None, context
    if recipient == case.event.origin:
        assert basis.kind is BasisKind.ORIGIN, context
        return

    # Consent preferred: the law is cited exactly for the categories no consent covers.
    by_consent = {c for c, found in expected.consents_for.items() if found}
    by_law_only = set(expected.categories) - by_consent
    used_entries = [e for c in by_law_only for e in expected.laws_for[c]]
    covering_ids = {k.consent_id for c in by_consent for k in expected.consents_for[c]}

    assert set(basis.consent_ids) <= covering_ids, context
    for category in by_consent:
        ids = {k.consent_id for k in expected.consents_for[category]}
        assert ids & set(basis.consent_ids), f"{category} is cited without its consent\n{context}"
    assert set(basis.articles) == {e.article for e in used_entries}, context
    assert basis.inform_person == any(e.inform_person for e in used_entries), context
    if by_consent and by_law_only:
        assert basis.kind is BasisKind.CONSENT_AND_LAW, context
    elif by_law_only:
        assert basis.kind is BasisKind.LAW, context
    else:
        assert basis.kind is BasisKind.CONSENT, context


def check_against_oracle(case: Case) -> None:
    for recipient in case.world.kinds:
        actual = policy.decide(case.event, recipient, case.world, case.interest)
        expected = oracle(case, recipient)
        assert_agrees(case, recipient, actual, expected)


# --- The property -------------------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(cases())
def test_no_decision_allows_what_the_oracle_forbids_or_denies_what_it_allows(case: Case) -> None:
    check_against_oracle(case)


def test_the_random_worlds_exercise_every_kind_of_decision() -> None:
    """The generator reaches allowed-by-consent, allowed-by-law, withheld fields, both denials."""
    seen: set[str] = set()

    def kinds_of_decision(case: Case) -> set[str]:
        found = set()
        for recipient in case.world.kinds:
            if recipient == case.event.origin:
                continue
            outcome = policy.decide(case.event, recipient, case.world, case.interest)
            if outcome.allowed and outcome.basis is not None:
                found.add(outcome.basis.kind.value)
                if outcome.withheld:
                    found.add("withheld")
            elif outcome.reason is not None:
                found.add(outcome.reason.value)
        return found

    wanted = {"consent", "law", "consent+law", "withheld", "not-involved", "no-basis"}

    @settings(max_examples=500, deadline=None, database=None, derandomize=True)
    @given(cases())
    def collect(case: Case) -> None:
        seen.update(kinds_of_decision(case))

    collect()
    assert seen >= wanted


# --- The property has teeth ---------------------------------------------------------------------


def _disagrees(case: Case) -> bool:
    try:
        check_against_oracle(case)
    except AssertionError:
        return True
    return False


def _counterexample() -> Case:
    """A world where the (weakened) policy and the oracle disagree (the first one found)."""
    return find(
        cases(),
        _disagrees,
        settings=settings(
            max_examples=5000,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.generate],
        ),
    )


def test_the_correct_policy_has_no_counterexample_in_the_same_search() -> None:
    with pytest.raises(NoSuchExample):
        find(
            cases(),
            _disagrees,
            settings=settings(max_examples=300, deadline=None, database=None, derandomize=True),
        )


def test_the_comparison_catches_a_policy_that_ignores_revocations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def active_ignoring_revocation(self: ConsentRecord, position: int, day: dt.date) -> bool:
        if self.granted_at > position:
            return False
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)

    monkeypatch.setattr(ConsentRecord, "active_at", active_ignoring_revocation)

    case = _counterexample()

    revoked_before = [
        c
        for c in case.world.consents
        if c.revoked_at is not None and c.revoked_at < case.event.position
    ]
    assert revoked_before, case


def test_the_comparison_catches_a_policy_that_implies_health(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_covers = ConsentRecord.covers

    def covers_implying_health(
        self: ConsentRecord, origin: str, recipient: str, category: DataCategory
    ) -> bool:
        if category is HEALTH:
            return any(real_covers(self, origin, recipient, c) for c in CATEGORIES)
        return real_covers(self, origin, recipient, category)

    monkeypatch.setattr(ConsentRecord, "covers", covers_implying_health)

    case = _counterexample()

    health_at_stake = HEALTH in case.event.categories or HEALTH in case.event.marked_fields.values()
    assert health_at_stake, case


def _revocation_also_stops_its_own_position(monkeypatch: pytest.MonkeyPatch) -> None:
    real_active_at = ConsentRecord.active_at

    def active(self: ConsentRecord, position: int, day: dt.date) -> bool:
        revoked_here = self.revoked_at is not None and self.revoked_at == position
        return not revoked_here and real_active_at(self, position, day)

    monkeypatch.setattr(ConsentRecord, "active_at", active)


def _business_date_in_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy, "business_date", lambda moment: moment.astimezone(UTC).date())


def _valid_until_exclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    real_active_at = ConsentRecord.active_at

    def active(self: ConsentRecord, position: int, day: dt.date) -> bool:
        last_day = self.valid_until is not None and day == self.valid_until
        return not last_day and real_active_at(self, position, day)

    monkeypatch.setattr(ConsentRecord, "active_at", active)


def _no_grace_after_leaving(monkeypatch: pytest.MonkeyPatch) -> None:
    def covers(
        self: InterestPeriod, position: int, moment: dt.datetime, grace: dt.timedelta
    ) -> bool:
        return self.joined_at <= position and (self.left_at is None or position <= self.left_at)

    monkeypatch.setattr(InterestPeriod, "covers", covers)


def _law_preferred_over_consent(monkeypatch: pytest.MonkeyPatch) -> None:
    real = policy.authorised_categories

    def law_first(
        event: EventFacts, recipient: str, world: World
    ) -> dict[DataCategory, policy.Ground]:
        grounds = real(event, recipient, world)
        origin_kind = world.kinds.get(event.origin)
        recipient_kind = world.kinds.get(recipient)
        if origin_kind is None or recipient_kind is None:
            return grounds
        for category in list(grounds):
            entry = world.matrix.entry_for(origin_kind, recipient_kind, category)
            if entry is not None:
                grounds[category] = entry
        return grounds

    monkeypatch.setattr(policy, "authorised_categories", law_first)


def _marked_fields_never_withheld(monkeypatch: pytest.MonkeyPatch) -> None:
    real_decide = policy.decide

    def decide_without_minimising(
        event: EventFacts, recipient: str, world: World, interest: Iterable[InterestPeriod]
    ) -> Decision:
        outcome = real_decide(event, recipient, world, interest)
        if not outcome.allowed:
            return outcome
        categories = outcome.categories | frozenset(event.marked_fields.values())
        return Decision(recipient, True, outcome.basis, categories, frozenset())

    monkeypatch.setattr(policy, "decide", decide_without_minimising)


@pytest.mark.parametrize(
    "weaken",
    [
        _revocation_also_stops_its_own_position,
        _business_date_in_utc,
        _valid_until_exclusive,
        _no_grace_after_leaving,
        _law_preferred_over_consent,
        _marked_fields_never_withheld,
    ],
    ids=lambda weaken: weaken.__name__.strip("_"),
)
def test_the_comparison_catches_other_weakened_rules(
    monkeypatch: pytest.MonkeyPatch, weaken: Callable[[pytest.MonkeyPatch], None]
) -> None:
    """Off-by-one revocation, UTC instead of Zurich days, an exclusive last day, no grace,
    law before consent, no minimisation: each one is found by the same random search."""
    weaken(monkeypatch)

    assert _disagrees(_counterexample())
