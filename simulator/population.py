"""Synthetic persons on realistic Basel-Landschaft IIZ paths, deterministic from a seed.

Two populations: ``build_population`` (the quick demo: a few hundred persons over a few weeks)
and ``build_year_population`` (``make demo-year``: a calendar year at the canton's volume, see
``YEAR_VOLUMES``). Every AHV number made here is synthetic (random digits after 756, correct
EAN-13 check digit) and unique within the population. Pure: no I/O; the same seed gives the
same population.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from schemas.ahv import ean13_check_digit
from schemas.events import CaseClosed
from schemas.registry.institutions import InstitutionRegistry, load_institutions
from schemas.vocabulary import InstitutionKind
from simulator import paths_integration, paths_iv, paths_rav, paths_social, reentry
from simulator.script import ZURICH, Fault, PersonScript, ScriptWriter, Step, StoryGoesOnError
from simulator.traits import Traits

FIRST_DAY = dt.date(2026, 9, 1)
PathWriter = Callable[[ScriptWriter, Traits], None]

# Path kind → (how it is written, its share of the population).
PATHS: dict[str, tuple[PathWriter, int]] = {
    "rav-job-seeker": (paths_rav.rav_job_seeker, 30),
    "iv-early-detection": (paths_iv.iv_early_detection, 20),
    "social-assistance-entry": (paths_social.social_assistance_entry, 18),
    "zif-integration": (paths_integration.zif_integration, 16),
    "vocational-case-management": (paths_integration.vocational_case_management, 16),
}

# Paths whose first step is a web form registration (see ``form_start``).
FORM_PATHS = frozenset({"zif-integration"})

# The year mode: new persons a year per path, in the institutions' real orders of magnitude.
# Only the Assessmentcenter's figure is published in the project's sources; the others are
# estimates of the part of each institution's caseload that is an IIZ case (several
# institutions at once), stated here so that they can be corrected.
#
# | path                       | /year | project       | basis                                   |
# |----------------------------|-------|---------------|-----------------------------------------|
# | social-assistance-entry    |   240 | AC-PILOT      | seed 004: the Assessmentcenter takes    |
# | rav-job-seeker             |   280 | IIZ-FALLKOORD |   "rund sieben neue Personen pro Woche" |
# |                            |       |               |   (~360/yr). Both paths refer to it;    |
# |                            |       |               |   accepted within the year (12 % are    |
# |                            |       |               |   declined, 20 % of the job seekers     |
# |                            |       |               |   find work first, late stories go on   |
# |                            |       |               |   into the next year): ~6-7 a week      |
# | iv-early-detection         |   220 | IIZ-FALLKOORD | estimate: early detection cases the RAV |
# |                            |       |               |   or a social service refers to the     |
# |                            |       |               |   IV-Stelle as an IIZ case (a fraction  |
# |                            |       |               |   of its yearly Früherfassung reports)  |
# | zif-integration            |   320 | IAS-VAFL      | estimate: BL's share (~3.4 % of the     |
# |                            |       |               |   Swiss population) of the newly        |
# |                            |       |               |   provisionally admitted persons and    |
# |                            |       |               |   refugees, each registered with ZIF    |
# |                            |       |               |   (seed 003: first interview, potential |
# |                            |       |               |   assessment)                           |
# | vocational-case-management |   190 | CM-BB         | estimate: Case Management Berufsbildung |
# |                            |       |               |   intakes of young adults a year        |
#
# About 1 250 persons a year, plus the few who come back (re-entry, ~3 %).
YEAR_VOLUMES: dict[str, int] = {
    "rav-job-seeker": 280,
    "iv-early-detection": 220,
    "social-assistance-entry": 240,
    "zif-integration": 320,
    "vocational-case-management": 190,
}
# Weeks with fewer new persons (summer holidays, the turn of the year): this share of a week's.
QUIET_WEEKS = {**dict.fromkeys(range(28, 33), 0.6), 1: 0.5, 52: 0.6}
FORM_SAMPLE = 6  # ZIF persons the year mode registers through the web form, at the real time
FORM_SAMPLE_DAYS = 10  # … whose stories are written that many days on


@dataclass(frozen=True)
class Population:
    seed: int
    persons: tuple[PersonScript, ...]

    @property
    def steps(self) -> list[Step]:
        return [step for person in self.persons for step in person.steps]

    def path_mix(self) -> Counter[str]:
        return Counter(person.path for person in self.persons)

    def tag_mix(self) -> Counter[str]:
        return Counter(tag for person in self.persons for tag in person.tags)

    def http_senders(self) -> set[str]:
        """Institutions that submit over the HTTP door or the web form (they need an access
        token; the form's login takes the same key)."""
        return {step.origin for step in self.steps if step.door in ("http", "form")}


def build_population(
    persons: int,
    seed: int,
    *,
    first_day: dt.date = FIRST_DAY,
    weeks: int = 4,
    registry: InstitutionRegistry | None = None,
    form_start: dt.datetime | None = None,
) -> Population:
    """``persons`` scripts, starting on office days spread over ``weeks`` from ``first_day``.

    The municipalities register ZIF persons through intake's web form, which stamps its events
    with the real time: with ``form_start`` (the time the run begins) those persons' stories
    begin then, so that what follows the registration comes after it; without it they begin
    in the simulated weeks like the others (the form's events then carry the real time
    nonetheless)."""
    registry = registry or load_institutions()
    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not secrets
    municipalities = _municipalities(registry)
    kinds = list(PATHS)
    weights = [share for _, share in PATHS.values()]
    seen: set[str] = set()
    scripts = []
    for number in range(persons):
        path = rng.choices(kinds, weights)[0]
        day = first_day + dt.timedelta(days=rng.randrange(weeks * 7))
        while day.weekday() >= 5:  # offices are open Monday to Friday
            day += dt.timedelta(days=1)
        start = dt.datetime.combine(
            day, dt.time(rng.randrange(7, 17), rng.randrange(60)), tzinfo=ZURICH
        )
        if form_start is not None and path in FORM_PATHS:
            start = form_start.astimezone(ZURICH)
        writer = ScriptWriter(
            person_id=f"P{number:05d}",
            path=path,
            ahv=_unique_ahv(rng, seen),
            start=start,
            registry=registry,
            rng=random.Random(rng.getrandbits(64)),  # noqa: S311 - as above
        )
        scripts.append(_write(writer, rng, municipalities))
    return Population(seed=seed, persons=tuple(scripts))


def build_year_population(
    year: int,
    seed: int,
    *,
    volumes: dict[str, int] | None = None,
    registry: InstitutionRegistry | None = None,
    form_start: dt.datetime | None = None,
    form_sample: int = FORM_SAMPLE,
) -> Population:
    """A calendar year of new persons at the canton's volume (``YEAR_VOLUMES``): each week's
    new persons per path are drawn (Poisson, fewer in holiday weeks) and start on that week's
    office days (Monday to Friday but BL's public holidays), between 7 and 17 o'clock. Their
    stories take the months they take (``ScriptWriter.paced``) and are written up to the end of
    the year: a case still open on 31 December goes on beyond the simulated window, its later
    submissions are not written (every step of the year's persons lies in ``year``).

    The municipalities register the year's ZIF persons through the HTTP door, with the
    registration's simulated time (``ScriptWriter.by_form``). With ``form_start`` (the time the
    run begins), ``form_sample`` more ZIF persons are registered through the web form then, so
    that the form is used as well; their stories begin at that real time, outside the year, and
    are written ``FORM_SAMPLE_DAYS`` days on."""
    registry = registry or load_institutions()
    volumes = YEAR_VOLUMES if volumes is None else volumes
    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not secrets
    municipalities = _municipalities(registry)
    days = office_days(year)
    weight = {day: QUIET_WEEKS.get(day.isocalendar().week, 1.0) for day in days}
    total = sum(weight.values())
    by_week: dict[dt.date, list[dt.date]] = {}  # by the week's Monday
    for day in days:
        by_week.setdefault(day - dt.timedelta(days=day.weekday()), []).append(day)
    arrivals: list[tuple[dt.datetime, str]] = []
    for monday in sorted(by_week):
        week_days = by_week[monday]
        share = sum(weight[day] for day in week_days) / total
        for path in sorted(volumes):
            for _ in range(_poisson(rng, volumes[path] * share)):
                day = rng.choice(week_days)
                moment = dt.time(rng.randrange(7, 17), rng.randrange(60))
                arrivals.append((dt.datetime.combine(day, moment, tzinfo=ZURICH), path))
    arrivals.sort()
    horizon = dt.datetime.combine(dt.date(year, 12, 31), dt.time(23, 59), tzinfo=ZURICH)
    if form_start is not None:
        arrivals += [(form_start.astimezone(ZURICH), "zif-integration")] * form_sample
    seen: set[str] = set()
    scripts = []
    for number, (start, path) in enumerate(arrivals):
        in_year = start.year == year
        writer = ScriptWriter(
            person_id=f"P{number:05d}",
            path=path,
            ahv=_unique_ahv(rng, seen),
            start=start,
            registry=registry,
            rng=random.Random(rng.getrandbits(64)),  # noqa: S311 - as above
            horizon=horizon if in_year else start + dt.timedelta(days=FORM_SAMPLE_DAYS),
            by_form=not in_year,
            paced=True,
            ref_year=start.year,
        )
        scripts.append(_write(writer, rng, municipalities))
    return Population(seed=seed, persons=tuple(scripts))


def office_days(year: int) -> list[dt.date]:
    """Monday to Friday of ``year`` without the public holidays of Basel-Landschaft."""
    day, days, holidays = dt.date(year, 1, 1), [], bl_holidays(year)
    while day.year == year:
        if day.weekday() < 5 and day not in holidays:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def bl_holidays(year: int) -> frozenset[dt.date]:
    """Neujahr, Karfreitag, Ostermontag, 1. Mai, Auffahrt, Pfingstmontag, Bundesfeiertag,
    Weihnachten, Stephanstag (the public holidays of Basel-Landschaft)."""
    easter = _easter(year)
    return frozenset(
        {
            dt.date(year, 1, 1),
            easter - dt.timedelta(days=2),
            easter + dt.timedelta(days=1),
            dt.date(year, 5, 1),
            easter + dt.timedelta(days=39),
            easter + dt.timedelta(days=50),
            dt.date(year, 8, 1),
            dt.date(year, 12, 25),
            dt.date(year, 12, 26),
        }
    )


def _easter(year: int) -> dt.date:
    """Easter Sunday (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth; the means here are a few persons a week)."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _municipalities(registry: InstitutionRegistry) -> list[str]:
    return sorted(i.id for i in registry.institutions if i.kind is InstitutionKind.SOCIAL_SERVICES)


def _write(writer: ScriptWriter, rng: random.Random, municipalities: list[str]) -> PersonScript:
    """The person's story on the writer's path, with the person's traits and mistakes drawn from
    the population's ``rng`` (in this order: the quick demo's populations stay as they were)."""
    traits = _draw_traits(rng, municipalities)
    _plan_mistakes(writer, rng)
    try:
        PATHS[writer.path][0](writer, traits)
        writer.confirm_pending()  # those who have not confirmed yet do so as the story ends
        if traits.close:
            writer.tags.add("closed")
        if reentry.comes_back(writer):
            reentry.return_later(writer, traits)
    except StoryGoesOnError:  # the rest of the story lies beyond the simulated window
        writer.tags.add("goes-on")
    if writer.paced:  # closed: the case was closed within the window (paced stories may close
        writer.tags.discard("closed")  # early, or not reach their closing)
        if any(s.on_bus and isinstance(s.event.data, CaseClosed) for s in writer.steps):
            writer.tags.add("closed")
    return writer.script()


def _draw_traits(rng: random.Random, municipalities: list[str]) -> Traits:
    return Traits(
        municipality=rng.choice(municipalities),
        parallel=rng.random() < 0.6,
        health=rng.random() < 0.45,
        identity=rng.random() < 0.5,
        revoke=rng.random() < 0.12,
        decline=rng.random() < 0.12,
        close=rng.random() < 0.55,
        night_edge=rng.random() < 0.08,
        expiring=rng.random() < 0.08,
        gap_days=rng.choice((12, 20, 45, 60)),
    )


def _plan_mistakes(writer: ScriptWriter, rng: random.Random) -> None:
    """A few partners mistype an AHV check digit or a field name; a few resend an event."""
    if rng.random() < 0.06:
        writer.fault_plan = (rng.randrange(1, 6), rng.choice(list(Fault)))
    if rng.random() < 0.04:
        writer.resend_plan = rng.randrange(1, 6)


def _unique_ahv(rng: random.Random, seen: set[str]) -> str:
    while True:
        first = "756" + "".join(str(rng.randrange(10)) for _ in range(9))
        digits = f"{first}{ean13_check_digit(first)}"
        if digits not in seen:
            seen.add(digits)
            return f"{digits[:3]}.{digits[3:7]}.{digits[7:11]}.{digits[11:]}"
