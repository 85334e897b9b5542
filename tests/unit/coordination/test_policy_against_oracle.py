"""The policy against a deliberately simple oracle, on random worlds.

The oracle below is written from the rules, not from ``policy.py``: plain loops over consents,
matrix entries and periods of interest, and its own Zurich calendar day. Only the dataclasses
are shared with the module under test. The last tests weaken one rule of the real policy at a
time and show that the comparison then finds a counterexample, so a green run means something.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from schemas.envelope import new_event
from schemas.events import (
    EVENT_DATA_CLASSES,
    AssessmentCompleted,
    CaseClosed,
    CaseOpened,
    ConsentConfirmed,
    ConsentGranted,
    ConsentRevoked,
    MeasureEnded,
    ParticipantJoined,
    ParticipantLeft,
    PersonRef,
    ReferralAccepted,
    ReferralDeclined,
    ReferralRequested,
)
from schemas.refusals import RefusalReason
from schemas.registry import load_institutions
from schemas.vocabulary import (
    CaseOutcome,
    DataCategory,
    InstitutionKind,
    ParticipantRole,
    ReferralPurpose,
)
from services.coordination.domain import event_step, policy
from services.coordination.domain.case_file import CaseFile
from services.coordination.domain.event_step import Refused
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
from services.coordination.domain.rules import RuleSettings
from simulator.ground_truth import GroundTruth

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
                # Who recorded it, and who confirmed it where: often the event's origin.
                recorded_by=draw(st.just(facts.origin) | st.sampled_from(ids)),
                confirmed_at=draw(
                    st.dictionaries(
                        st.just(facts.origin) | st.sampled_from(ids),
                        up_to_event | st.integers(0, 30),
                        max_size=3,
                    )
                ),
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


def oracle_vouches(case: Case, consent: ConsentRecord, category: DataCategory) -> bool:
    """Health and identity leave their origin only under a consent the origin recorded or had
    confirmed by the event's position; other categories under any consent naming it."""
    if category not in (DataCategory.HEALTH, DataCategory.IDENTITY):
        return True
    origin = case.event.origin
    if consent.recorded_by == origin:
        return True
    confirmed = consent.confirmed_at.get(origin)
    return confirmed is not None and confirmed <= case.event.position


def oracle_consents(case: Case, recipient: str, category: DataCategory) -> list[ConsentRecord]:
    event = case.event
    day = zurich_day(event.time)
    found = []
    for consent in case.world.consents:
        if not oracle_vouches(case, consent, category):
            continue
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


# ``IIZ_ORACLE_EXAMPLES=10000`` for the long run (docs: ≥ 10,000 worlds without a difference).
@settings(max_examples=int(os.environ.get("IIZ_ORACLE_EXAMPLES", "500")), deadline=None)
@given(cases())
def test_no_decision_allows_what_the_oracle_forbids_or_denies_what_it_allows(case: Case) -> None:
    check_against_oracle(case)


def test_the_random_worlds_exercise_every_kind_of_decision() -> None:
    """The generator reaches allowed-by-consent, allowed-by-law, withheld fields, both denials."""

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

    # Each kind is searched for on its own: the rarest (consent and law in one delivery) came up
    # twice in 500 shared examples, and a shared sample that misses it by chance says nothing.
    for wanted in ("consent", "law", "consent+law", "withheld", "not-involved", "no-basis"):
        find(
            cases(),
            lambda case, wanted=wanted: wanted in kinds_of_decision(case),
            settings=settings(
                max_examples=5000,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.generate],
            ),
        )


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


def _any_named_institution_vouches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Health and identity flow on anybody's word: the self-authorisation of issue 15."""
    monkeypatch.setattr(ConsentRecord, "vouched_by", lambda self, origin, position: True)


def _a_confirmation_counts_before_it_is_on_the_bus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        ConsentRecord,
        "vouched_by",
        lambda self, origin, position: origin == self.recorded_by or origin in self.confirmed_at,
    )


@pytest.mark.parametrize(
    "weaken",
    [
        _any_named_institution_vouches,
        _a_confirmation_counts_before_it_is_on_the_bus,
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
    """Health or identity on anybody's word, a confirmation counted before it happened,
    off-by-one revocation, UTC instead of Zurich days, an exclusive last day, no grace, law
    before consent, no minimisation: each one is found by the same random search."""
    weaken(monkeypatch)

    assert _disagrees(_counterexample())


# --- Who may change the case: random stories through authority and fold -------------------------
#
# The consents and periods of interest the policy sees come from the file that the authority
# rules and the fold build. Random stories of opening, joining (as participant or lead), leaving
# (oneself or another), closing, referring, answering, recording (also with an id already on the
# bus), revoking (also before the grant) and confirming, sent by random institutions — most of
# them not allowed to — go through ``apply_event``; the simulator's ground truth
# (``simulator/ground_truth.py``, written from the contract without coordination code) follows
# the same story. Each event must be refused by both, with the same reason, or taken by both;
# then the policy on the file must agree with the oracle above on the ground truth's world.

STORY_INSTITUTIONS = ("rav", "iv", "zif", "ksa")
STORY_START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
CONSENT_POOL = tuple(uuid.UUID(int=n) for n in range(1, 4))
REFERRAL_POOL = tuple(uuid.UUID(int=100 + n) for n in range(3))


def _story_event(draw: st.DrawFn) -> tuple[str, object]:
    sender = draw(st.sampled_from(STORY_INSTITUTIONS))
    someone = st.sampled_from(STORY_INSTITUTIONS)
    kind = draw(st.integers(0, 9))
    fields: dict[str, object]
    match kind:
        case 0:
            cls, fields = CaseOpened, {}
        case 1:
            role = draw(st.sampled_from(ParticipantRole))
            cls, fields = ParticipantJoined, {"institution": draw(someone), "role": role}
        case 2:
            cls, fields = ParticipantLeft, {"institution": draw(someone)}
        case 3:
            cls, fields = CaseClosed, {"outcome": CaseOutcome.OTHER}
        case 4:
            cls = ReferralRequested
            fields = {
                "referral_id": draw(st.sampled_from(REFERRAL_POOL)),
                "to_institution": draw(someone),
                "purpose": ReferralPurpose.OTHER,
            }
        case 5:
            cls, fields = ReferralAccepted, {"referral_id": draw(st.sampled_from(REFERRAL_POOL))}
        case 6:
            cls = ReferralDeclined
            fields = {"referral_id": draw(st.sampled_from(REFERRAL_POOL)), "reason": "other"}
        case 7:
            cls = ConsentGranted
            fields = {
                "consent_id": draw(st.sampled_from(CONSENT_POOL)),
                "institutions": sorted(draw(st.frozensets(someone, min_size=2))),
                "categories": sorted(draw(st.frozensets(st.sampled_from(CATEGORIES), min_size=1))),
                "valid_from": dt.date(2026, 1, 1),
                "document_ref": "EINW",
            }
        case 8:
            cls, fields = ConsentRevoked, {"consent_id": draw(st.sampled_from(CONSENT_POOL))}
        case _:
            cls, fields = ConsentConfirmed, {"consent_id": draw(st.sampled_from(CONSENT_POOL))}
    return sender, (cls, fields)


@st.composite
def stories(draw: st.DrawFn) -> list[tuple[str, object]]:
    return [_story_event(draw) for _ in range(draw(st.integers(1, 25)))]


@dataclass(frozen=True)
class StoryRun:
    refusals: list[tuple[str | None, str | None]]  # (coordination, ground truth) per event
    decisions: dict[str, Decision]  # the policy on coordination's file, for the final event
    case: Case  # the same question on the ground truth's world, for the oracle


def run_story(story: list[tuple[str, object]], final: EventFacts) -> StoryRun:
    rules = RuleSettings()
    world = World({i: KINDS[i] for i in STORY_INSTITUTIONS}, (), LegalBasisMatrix(), rules.grace)
    file, truth = CaseFile(pseudonym="story"), GroundTruth()
    refusals: list[tuple[str | None, str | None]] = []
    for index, (origin, (cls, fields)) in enumerate(story):  # type: ignore[misc]
        person = PersonRef(ahv_number="756.9217.0769.85", case_ref=f"{origin.upper()}-1")
        event = new_event(
            cls(person=person, **fields),
            source=REGISTRY.by_id[origin].source,
            time=STORY_START + dt.timedelta(hours=index),
            event_id=uuid.UUID(int=10_000 + index),
        )
        outcome = event_step.apply_event(file, event, index, world, rules)
        ours = outcome.reason.value if isinstance(outcome, Refused) else None
        theirs = truth.refusal(origin, event.data)
        refusals.append((ours, theirs))
        if theirs is None:
            truth.follow(index, origin, event)
    on_file = World(world.kinds, tuple(file.consent_records()), world.matrix, world.grace)
    decisions = {r: policy.decide(final, r, on_file, file.interest()) for r in world.kinds}
    consents = tuple(
        ConsentRecord(
            consent_id=c.consent_id,
            institutions=c.institutions,
            categories=c.categories,
            valid_from=c.valid_from,
            valid_until=c.valid_until,
            granted_at=c.granted_step,
            revoked_at=c.revoked_step,
            recorded_by=c.recorded_by,
            confirmed_at=dict(c.confirmed),
        )
        for c in truth.consents.values()
    )
    interest = tuple(
        InterestPeriod(p.institution, p.since_step, p.until_step, p.until_time)
        for p in truth.participations
    )
    truth_world = World(world.kinds, consents, world.matrix, world.grace)
    return StoryRun(refusals, decisions, Case(truth_world, interest, final))


@st.composite
def told_stories(draw: st.DrawFn) -> tuple[list[tuple[str, object]], EventFacts]:
    story = draw(stories())
    final = EventFacts(
        position=len(story),
        origin=draw(st.sampled_from(STORY_INSTITUTIONS)),
        time=STORY_START + dt.timedelta(hours=len(story)),
        categories=draw(st.frozensets(st.sampled_from(CATEGORIES), min_size=1, max_size=2)),
        marked_fields=marked_fields(AssessmentCompleted),
    )
    return story, final


def check_story(story: list[tuple[str, object]], final: EventFacts) -> None:
    run = run_story(story, final)
    for index, (ours, theirs) in enumerate(run.refusals):
        assert ours == theirs, f"event {index} {story[index]}: {ours} != {theirs}\n{story}"
    for recipient, actual in run.decisions.items():
        assert_agrees(run.case, recipient, actual, oracle(run.case, recipient))


@settings(max_examples=int(os.environ.get("IIZ_ORACLE_EXAMPLES", "500")), deadline=None)
@given(told_stories())
def test_no_story_makes_coordination_take_refuse_or_decide_other_than_the_rules(
    told: tuple[list[tuple[str, object]], EventFacts],
) -> None:
    check_story(*told)


def test_the_stories_reach_every_refusal_and_the_lead_only_changes() -> None:
    """The random stories are refused for every reason, and a close, a removal and a lead
    change are taken too (so both sides of each new rule are compared)."""
    seen: set[str] = set()

    @settings(max_examples=500, deadline=None, database=None, derandomize=True)
    @given(told_stories())
    def collect(told: tuple[list[tuple[str, object]], EventFacts]) -> None:
        story, final = told
        for (origin, (cls, fields)), (ours, _) in zip(  # type: ignore[misc]
            story, run_story(story, final).refusals, strict=True
        ):
            seen.add(ours or f"taken {cls.name}")
            if ours is None and cls is ParticipantLeft and fields["institution"] != origin:
                seen.add("taken removal of another")

    collect()
    assert seen >= {r.value for r in RefusalReason} | {
        "taken case.closed",
        "taken removal of another",
        "taken case.participant.joined",
        "taken consent.granted",
    }


def _closing_by_anyone(monkeypatch: pytest.MonkeyPatch) -> None:
    real = event_step.refusal_of

    def refusal_of(file: CaseFile, data: object, origin: str) -> RefusalReason | None:
        return None if isinstance(data, CaseClosed) else real(file, data, origin)

    monkeypatch.setattr(event_step, "refusal_of", refusal_of)


def _removal_by_anyone(monkeypatch: pytest.MonkeyPatch) -> None:
    real = event_step.refusal_of

    def refusal_of(file: CaseFile, data: object, origin: str) -> RefusalReason | None:
        return None if isinstance(data, ParticipantLeft) else real(file, data, origin)

    monkeypatch.setattr(event_step, "refusal_of", refusal_of)


def _consent_ids_recorded_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    real = event_step.refusal_of

    def refusal_of(file: CaseFile, data: object, origin: str) -> RefusalReason | None:
        reason = real(file, data, origin)
        return None if reason is RefusalReason.CONSENT_ALREADY_RECORDED else reason

    monkeypatch.setattr(event_step, "refusal_of", refusal_of)


@pytest.mark.parametrize(
    "weaken",
    [_closing_by_anyone, _removal_by_anyone, _consent_ids_recorded_twice],
    ids=lambda weaken: weaken.__name__.strip("_"),
)
def test_the_story_comparison_catches_weakened_authority(
    monkeypatch: pytest.MonkeyPatch, weaken: Callable[[pytest.MonkeyPatch], None]
) -> None:
    """A close or a removal by anyone, a consent id recorded twice: each is found."""
    weaken(monkeypatch)

    def disagrees(told: tuple[list[tuple[str, object]], EventFacts]) -> bool:
        try:
            check_story(*told)
        except AssertionError:
            return True
        return False

    find(
        told_stories(),
        disagrees,
        settings=settings(
            max_examples=5000, deadline=None, database=None, derandomize=True,
            phases=[Phase.generate],
        ),
    )  # fmt: skip
