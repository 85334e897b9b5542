"""The year mode's population (``make demo-year``): a calendar year of Basel-Landschaft at the
institutions' volumes, new persons every week, every project with cases opened and closed in
every quarter, deterministic by seed, and nothing coordination would refuse."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter

import pytest

from schemas.events import CaseClosed, CaseOpened, ProjectAssigned
from schemas.registry.projects import load_projects
from services.coordination.domain.authority import refusal_of
from services.coordination.domain.case_file import CaseFile
from services.coordination.domain.folding import fold, origin_of
from services.coordination.domain.rules import RuleSettings
from simulator import wire
from simulator.population import (
    FORM_SAMPLE,
    FORM_SAMPLE_DAYS,
    YEAR_VOLUMES,
    Population,
    bl_holidays,
    build_year_population,
)
from simulator.script import ZURICH, PersonScript

YEAR, SEED = 2025, 20251231
FORM_START = dt.datetime(2026, 12, 6, 9, 30, tzinfo=dt.UTC)
Quarterly = Counter[tuple[str, int]]


@pytest.fixture(scope="module")
def population() -> Population:
    return build_year_population(YEAR, SEED, form_start=FORM_START)


def of_the_year(population: Population) -> list[PersonScript]:
    """The year's persons (not the few registered through the web form at the real time)."""
    return [p for p in population.persons if p.steps[0].event.time.year == YEAR]


def day_of(moment: dt.datetime) -> dt.date:
    return moment.astimezone(ZURICH).date()


def quarter_of(day: dt.date) -> int:
    return (day.month - 1) // 3 + 1


def cases_by_project_and_quarter(persons: list[PersonScript]) -> tuple[Quarterly, Quarterly]:
    """Cases opened and closed per (project, quarter), from the scripts' own events: a case
    belongs to the project it was opened with or first assigned to (the ZIF registration opens
    the case without a project; the municipality assigns IAS-VAFL)."""
    opened: Quarterly = Counter()
    closed: Quarterly = Counter()
    for person in persons:
        project: str | None = None
        opened_in = 0
        is_open = False
        for step in (s for s in person.steps if s.on_bus):
            data, quarter = step.event.data, quarter_of(day_of(step.event.time))
            if isinstance(data, CaseOpened) and not is_open:
                is_open, project, opened_in = True, data.project_code, quarter
                if project is not None:
                    opened[(project, quarter)] += 1
            elif isinstance(data, ProjectAssigned) and is_open and project is None:
                project = data.project_code
                opened[(project, opened_in)] += 1
            elif isinstance(data, CaseClosed) and is_open:
                assert project is not None, person.person_id
                closed[(project, quarter)] += 1
                is_open, project = False, None
    return opened, closed


def test_the_same_seed_gives_the_same_year(population: Population) -> None:
    again = build_year_population(YEAR, SEED, form_start=FORM_START)

    def wired(p: Population) -> list[tuple[bytes | None, bytes]]:
        return [(r.key, r.value) for r in (wire.kafka_record(s) for s in p.steps)]

    assert wired(again) == wired(population)
    assert [p.tags for p in again.persons] == [p.tags for p in population.persons]
    other = build_year_population(YEAR, SEED + 1, form_start=FORM_START)
    assert wired(other) != wired(population)


def test_the_volumes_per_path_are_the_institutions_orders_of_magnitude(
    population: Population,
) -> None:
    persons = of_the_year(population)
    mix = Counter(p.path for p in persons)

    assert 1_000 <= len(persons) <= 1_500
    for path, volume in YEAR_VOLUMES.items():
        assert 0.8 * volume <= mix[path] <= 1.2 * volume, (path, mix[path])
    # The Assessmentcenter takes about seven new persons a week (seed 004): the accepted
    # referrals to it over the year's 52 weeks.
    taken = {
        (p.person_id, s.event.data.referral_id)
        for p in persons
        for s in p.steps
        if s.on_bus and s.origin == "assessmentcenter" and s.event.type.endswith("accepted.v1")
    }
    assert 5 <= len(taken) / 52 <= 9


def test_every_step_of_the_years_persons_lies_in_the_year(population: Population) -> None:
    for person in of_the_year(population):
        for step in person.steps:
            assert day_of(step.event.time).year == YEAR, (person.person_id, step.index)


def test_persons_arrive_every_week_on_office_days(population: Population) -> None:
    starts = [day_of(p.steps[0].event.time) for p in of_the_year(population)]
    holidays = bl_holidays(YEAR)

    assert all(day.weekday() < 5 and day not in holidays for day in starts)
    weeks = Counter(day.isocalendar().week for day in starts)
    assert set(weeks) >= set(range(2, 52)), "a week without new persons"
    assert max(weeks.values()) <= 45, "persons start in bursts, not week by week"
    assert starts == sorted(starts)  # numbered in the order they arrive


def test_the_years_zif_persons_are_registered_through_the_http_door_a_few_by_the_form(
    population: Population,
) -> None:
    zif = [p for p in population.persons if p.path == "zif-integration"]
    by_form = [p for p in zif if "zif-form" in p.tags]

    assert len(by_form) == FORM_SAMPLE
    for person in by_form:  # registered today (real time), written a few weeks on
        assert person.steps[0].door == "form"
        assert person.steps[0].event.time == FORM_START
        assert person.steps[-1].event.time <= FORM_START + dt.timedelta(days=FORM_SAMPLE_DAYS)
    for person in (p for p in zif if p not in by_form):
        assert "zif-http" in person.tags
        assert all(step.door != "form" for step in person.steps)
        assert person.steps[0].door == "http"


def test_every_project_has_cases_opened_and_closed_in_every_quarter(
    population: Population,
) -> None:
    opened, closed = cases_by_project_and_quarter(of_the_year(population))
    projects = [p.code for p in load_projects().projects]

    for project, quarter in itertools.product(projects, range(1, 5)):
        assert opened[(project, quarter)] >= 25, (project, quarter, opened[(project, quarter)])
        # Cases start empty on 1 January, so the first quarter closes the fewest.
        assert closed[(project, quarter)] >= 5, (project, quarter, closed[(project, quarter)])
    # A share of each project's cases closes within the year, with an outcome.
    for project in projects:
        year_opened = sum(opened[(project, q)] for q in range(1, 5))
        year_closed = sum(closed[(project, q)] for q in range(1, 5))
        assert 0.25 <= year_closed / year_opened <= 0.9, project


def test_stories_go_on_beyond_the_year_without_a_step_after_it(population: Population) -> None:
    going_on = [p for p in of_the_year(population) if "goes-on" in p.tags]
    late = [p for p in of_the_year(population) if day_of(p.steps[0].event.time).month == 12]

    assert going_on, "no case is still open at the end of the year"
    assert {p.person_id for p in late if "closed" not in p.tags} <= {
        p.person_id for p in going_on
    } | {p.person_id for p in late if "declined" in p.tags}


def test_no_event_of_the_year_is_one_coordination_would_refuse(population: Population) -> None:
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


def test_business_times_increase_along_each_persons_script(population: Population) -> None:
    """In UTC: two times in Zurich's zone compare by their wall clock (Python compares aware
    datetimes of one tzinfo naively), and the year's last Sunday of October has 02:xx twice."""
    for person in population.persons:
        on_bus = [
            s.event.time.astimezone(dt.UTC) for s in person.steps if s.on_bus and s.form_part == 0
        ]
        assert all(a < b for a, b in itertools.pairwise(on_bus)), person.person_id
