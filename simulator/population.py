"""Synthetic persons on realistic Basel-Landschaft IIZ paths, deterministic from a seed.

Every AHV number made here is synthetic (random digits after 756, correct EAN-13 check digit)
and unique within the population. Pure: no I/O; the same seed gives the same population.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from schemas.ahv import ean13_check_digit
from schemas.registry.institutions import InstitutionRegistry, load_institutions
from schemas.vocabulary import InstitutionKind
from simulator import paths_integration, paths_iv, paths_rav, paths_social, reentry
from simulator.script import ZURICH, Fault, PersonScript, ScriptWriter, Step
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
    municipalities = sorted(
        i.id for i in registry.institutions if i.kind is InstitutionKind.SOCIAL_SERVICES
    )
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
        traits = _draw_traits(rng, municipalities)
        _plan_mistakes(writer, rng)
        PATHS[path][0](writer, traits)
        writer.confirm_pending()  # those who have not confirmed yet do so as the story ends
        if traits.close:
            writer.tags.add("closed")
        if reentry.comes_back(writer):
            reentry.return_later(writer, traits)
        scripts.append(writer.script())
    return Population(seed=seed, persons=tuple(scripts))


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
