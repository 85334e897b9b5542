"""`IIZ_BENCH=metrics`: the committee's figures and their disclosure control (the cell-key
method, ``disclosure.publish``) on synthetic populations sized in cases per year (no broker or
database): seconds to compute and to publish quarters and years of three calendar years for five
projects and the canton, the share of cells left blank and the share of counts perturbed."""

from __future__ import annotations

import datetime as dt
import random
import resource
import time
from decimal import Decimal

from services.coordination.metrics.api_data import publishable_rows
from services.coordination.metrics.disclosure import publish
from services.coordination.metrics.facts import CaseFact, CostFact, EngagementFact, ReferralFact
from services.coordination.metrics.rows import OUTCOMES

PROJECTS = ("p1", "p2", "p3", "p4", "p5")
INSTITUTIONS = ("rav", "iv", "sozialhilfe", "berufsbildung", "zif", "assessment")
FINANCERS = ("alv", "iv", "social-services", "canton")
FIRST = dt.date(2024, 1, 1)
AS_OF = dt.date(2027, 1, 1)


YEARS = 3


def population(per_year: int, seed: int = 7) -> list[CaseFact]:
    """``per_year`` cases opened in each of three years (uniformly over the days), each in one
    project (the projects partition the canton)."""
    rnd = random.Random(seed)
    cases = per_year * YEARS

    def day(start: dt.date, within: int) -> dt.date:
        return start + dt.timedelta(days=rnd.randrange(within))

    facts = []
    for _ in range(cases):
        opened = day(FIRST, 1095)
        closed = day(opened, 400) if rnd.random() < 0.7 else None
        engagements = []
        for _ in range(rnd.randrange(4)):
            start = day(opened, 200)
            end = day(start, 200) if rnd.random() < 0.7 else None
            kind = rnd.choice(("measure", "benefit"))
            engagements.append(EngagementFact(rnd.choice(INSTITUTIONS), kind, start, end))
        referrals = []
        for _ in range(rnd.randrange(3)):
            asked = day(opened, 100)
            answered = day(asked, 30) if rnd.random() < 0.8 else None
            accepted = rnd.random() < 0.7 if answered else None
            referrals.append(ReferralFact("rav", "iv", asked, answered, accepted))
        costs = [
            CostFact(
                rnd.choice(FINANCERS),
                Decimal(rnd.randrange(10_000, 900_000)) / 100,
                day(opened, 300),
            )
            for _ in range(rnd.randrange(3))
        ]
        facts.append(
            CaseFact(
                person=rnd.randrange(int(cases * 0.95) or 1),
                projects=(rnd.choice(PROJECTS),),
                opened_on=opened,
                closed_on=closed,
                outcome=rnd.choice(OUTCOMES) if closed else None,
                engagements=tuple(sorted(engagements, key=lambda e: e.started_on)),
                referrals=tuple(referrals),
                costs=tuple(costs),
                institutions=frozenset(e.institution for e in engagements),
                record_key=rnd.random(),
            )
        )
    return facts


def bench_metrics(per_year: int) -> dict[str, float]:
    facts = population(per_year)
    started = time.perf_counter()
    rows = publishable_rows(facts, as_of=AS_OF, projects=PROJECTS)
    computed = time.perf_counter()
    publication = publish(rows)
    finished = time.perf_counter()
    return {
        "per_year": per_year,
        "cases": len(facts),
        "rows": len(rows),
        "cells": publication.cells,
        "compute_seconds": computed - started,
        "publish_seconds": finished - computed,
        "blank_share": publication.blank / publication.cells,
        "perturbed_share": publication.perturbed / publication.cells,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
