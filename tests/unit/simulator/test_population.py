"""The synthetic population: deterministic from its seed, valid as partners would send it, and
rich enough (every path kind and variant) to exercise the bus."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import pytest

from schemas.ahv import AhvNumber
from schemas.codec import from_kafka
from schemas.errors import ContractError
from schemas.events import CaseClosed, CaseOpened, ConsentConfirmed, ConsentGranted
from schemas.origin import check_origin
from schemas.registry import load_institutions
from schemas.vocabulary import DataCategory
from services.coordination.domain.authority import refusal_of
from services.coordination.domain.case_file import CaseFile
from services.coordination.domain.folding import fold, origin_of
from services.coordination.domain.rules import RuleSettings
from simulator import wire
from simulator.population import PATHS, Population, build_population
from simulator.script import ZURICH, Expect, Fault, Step

REGISTRY = load_institutions()
VARIANTS = (
    "parallel",
    "sequential",
    "consent-without-health",
    "consent-with-identity",
    "revoked",
    "declined",
    "closed",
    "bad-submission",
    "consent-from-tomorrow",
    "consent-expires",
    "re-entry",
    "consent-confirmed",
)


@pytest.fixture(scope="module")
def population() -> Population:
    return build_population(200, seed=20260901)


def _wire(
    population: Population,
) -> list[tuple[bytes | None, bytes, tuple[tuple[str, bytes], ...]]]:
    return [(r.key, r.value, r.headers) for r in (wire.kafka_record(s) for s in population.steps)]


def test_the_same_seed_gives_the_same_population(population: Population) -> None:
    again = build_population(200, seed=20260901)

    assert _wire(again) == _wire(population)
    assert [p.participations for p in again.persons] == [
        p.participations for p in population.persons
    ]
    assert [p.consents for p in again.persons] == [p.consents for p in population.persons]


def test_another_seed_gives_another_population(population: Population) -> None:
    other = build_population(200, seed=1)

    assert {p.ahv for p in other.persons}.isdisjoint({p.ahv for p in population.persons})


def test_every_person_has_a_valid_unique_synthetic_ahv_number(population: Population) -> None:
    numbers = [p.ahv for p in population.persons]

    assert len(set(numbers)) == len(numbers)
    for number in numbers:
        assert number.startswith("756.")
        assert AhvNumber(number).formatted() == number


def test_partners_send_the_persons_ahv_number_in_clear(population: Population) -> None:
    for person in population.persons:
        for step in person.steps:
            sent = wire.data(step)["person"]["ahv_number"]
            if step.fault is Fault.MISTYPED_CHECK_DIGIT:
                assert sent != person.ahv
            else:
                assert sent == person.ahv


def test_every_path_kind_and_variant_occurs_in_200_persons(population: Population) -> None:
    assert set(population.path_mix()) == set(PATHS)
    assert set(VARIANTS) <= set(population.tag_mix())


def test_business_times_increase_along_each_persons_script(population: Population) -> None:
    for person in population.persons:
        # The events of one web form submission share its time.
        on_bus = [s.event.time for s in person.steps if s.on_bus and s.form_part == 0]
        every = [s.event.time for s in person.steps]
        assert all(a < b for a, b in itertools.pairwise(on_bus)), person.person_id
        assert all(a <= b for a, b in itertools.pairwise(every)), person.person_id


def test_persons_start_on_office_days_in_september(
    population: Population,
) -> None:
    starts = [p.steps[0].event.time.astimezone(ZURICH).date() for p in population.persons]

    assert min(starts) >= dt.date(2026, 9, 1)
    assert max(starts) < dt.date(2026, 10, 1)
    assert all(day.weekday() < 5 for day in starts)


def test_every_good_step_passes_the_contract_and_every_bad_one_fails_as_planned(
    population: Population,
) -> None:
    for step in population.steps:
        record = wire.kafka_record(step)
        try:
            event = from_kafka(record.key, record.value, record.headers)
            check_origin(event, REGISTRY, expected_institution_id=step.origin)
            outcome = "ok"
        except ContractError as error:
            outcome = error.reason.value
        assert outcome == (step.fault.value if step.fault else "ok")
        assert (step.expect is Expect.REJECTED) == (step.fault is not None)


def test_social_services_use_the_http_door_and_everyone_else_kafka(population: Population) -> None:
    for step in population.steps:
        municipal = step.origin.startswith("sozialhilfe-")
        assert step.door in (("http", "form") if municipal else ("kafka",))
        body = wire.structured(step)
        assert body["source"] == REGISTRY.by_id[step.origin].source
        assert json.dumps(body)  # plain JSON, as the HTTP door takes it


def test_municipalities_register_zif_persons_through_the_web_form_in_its_order(
    population: Population,
) -> None:
    """case.opened (with the first registration) → consent.granted → referral.requested to
    ZIF → document.shared (the signed consent form), one submission, one time."""
    forms = [s for s in population.steps if s.door == "form"]
    assert forms
    by_form: dict[int, list[Step]] = {}
    for step in forms:
        assert step.form is not None
        by_form.setdefault(id(step.form), []).append(step)
    for steps in by_form.values():
        form = steps[0].form
        assert form is not None
        opening = ["CaseOpened"] if form.open_case else []
        assert [type(s.event.data).__name__ for s in steps] == [
            *opening, "ConsentGranted", "ReferralRequested", "DocumentShared"
        ]  # fmt: skip
        assert [s.form_part for s in steps] == list(range(len(steps)))
        assert len({s.event.time for s in steps}) == 1
        consent, referral, document = (s.event.data for s in steps[-3:])
        assert referral.to_institution == "zif"
        assert consent.document_ref == str(document.document_id)
        assert form.document.startswith(b"%PDF-1.")
        assert b"%%EOF" in form.document[-1024:]


def test_a_form_start_begins_the_zif_persons_then() -> None:
    start = dt.datetime(2027, 3, 2, 10, 30, tzinfo=ZURICH)
    population = build_population(60, seed=20260901, form_start=start)
    zif = [p for p in population.persons if p.path == "zif-integration"]
    assert zif
    assert all(p.steps[0].event.time == start and p.steps[0].door == "form" for p in zif)


def test_a_resent_step_repeats_the_accepted_event_and_must_be_a_duplicate(
    population: Population,
) -> None:
    resent = [(p, s) for p in population.persons for s in p.steps if s.expect is Expect.DUPLICATE]

    assert resent
    for person, step in resent:
        assert person.steps[step.index - 1].event.id == step.event.id


def test_the_ground_truth_names_every_consent_granted_on_the_bus(population: Population) -> None:
    for person in population.persons:
        granted = {
            s.event.data.consent_id
            for s in person.steps
            if s.on_bus and isinstance(s.event.data, ConsentGranted)
        }
        assert {c.consent_id for c in person.consents} == granted
        for participation in person.participations:
            assert person.steps[participation.since_step].on_bus


def test_a_few_persons_return_weeks_after_their_case_closed_with_a_new_case(
    population: Population,
) -> None:
    returning = [p for p in population.persons if "re-entry" in p.tags]

    assert 0 < len(returning) <= len(population.persons) // 10
    for person in returning:
        turns = [
            (s.event.data, s.event.time)
            for s in person.steps
            if s.on_bus and isinstance(s.event.data, CaseOpened | CaseClosed)
        ]
        kinds = [type(data) for data, _ in turns]
        assert kinds == [CaseOpened, CaseClosed, CaseOpened], person.person_id
        (_, _), (_, closed_at), (reopened, reopened_at) = turns
        assert dt.timedelta(days=31) < reopened_at - closed_at < dt.timedelta(days=365)
        assert reopened.person.ahv_number is not None
        assert reopened.person.ahv_number.formatted() == person.ahv


def test_no_event_of_the_population_is_one_coordination_would_refuse(
    population: Population,
) -> None:
    """Cross-checked with coordination's own authority rules: no institution adds itself,
    records a consent it is not named in or before it takes part, or confirms another's."""
    refused = []
    for person in population.persons:
        file = CaseFile(pseudonym=person.person_id)
        for position, step in enumerate(s for s in person.steps if s.on_bus):
            reason = refusal_of(file, step.event.data, origin_of(step.event))
            if reason is not None:
                refused.append((person.person_id, step.index, step.event.type, reason))
                continue
            fold(file, step.event, position, RuleSettings())

    assert refused == []


def test_every_other_named_institution_confirms_a_consent_with_health_or_identity(
    population: Population,
) -> None:
    vouched = {DataCategory.HEALTH, DataCategory.IDENTITY}
    later = 0
    for person in population.persons:
        confirmations = {
            (s.event.data.consent_id, s.origin): s.index
            for s in person.steps
            if s.on_bus and isinstance(s.event.data, ConsentConfirmed)
        }
        for consent in person.consents:
            others = consent.institutions - {consent.recorded_by}
            confirmed = {i: n for (c, i), n in confirmations.items() if c == consent.consent_id}
            assert dict(consent.confirmed) == confirmed, person.person_id
            assert all(consent.granted_step < n for n in confirmed.values())
            if not consent.categories & vouched:
                assert confirmed == {}
            elif consent.revoked_step is None:
                assert set(confirmed) == others, person.person_id
            else:  # nobody confirms a consent once it is being revoked
                assert set(confirmed) <= others
                assert all(n < consent.revoked_step for n in confirmed.values())
            later += sum(n > consent.granted_step + len(others) + 1 for n in confirmed.values())
    assert later > 0, "every confirmation came at once: the delay was not exercised"
