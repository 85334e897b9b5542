"""The IIZ steering committee's figures per scope and period: a pure function of case facts.

One ``Row`` per scope x period. Scopes, in this order: each code in ``projects`` (the cases whose
``projects`` contain it), then ``"canton"`` (all cases). Periods: the calendar quarters
("2026-Q3") or years ("2026") that overlap [first, last], in calendar order; a period is always
the whole quarter or year, both ends inclusive. Definitions, for a scope and a period P:

- ``cases_opened``: opened_on in P. ``cases_active``: opened_on <= end of P and (closed_on is
  None or closed_on >= start of P).
- ``cases_closed``: closed_on in P; ``closed_by_outcome``: outcome -> count over those, every
  ``CaseOutcome`` value present; an outcome that is None or not in the vocabulary counts as
  "other", so ``cases_closed`` is always the sum of ``closed_by_outcome``.
- ``median_days_to_first_measure``: over the cases whose first measure (earliest engagement of
  kind "measure") started in P, counted on the later of its start and opened_on: days from
  opened_on to that start, floored at 0. (By the period of the measure, not of the opening, so
  that a period's figures no longer change once it has ended.)
- ``parallel_cases``: active cases in which, on at least one day inside P and inside
  [opened_on, closed_on or end of P], two or more distinct institutions have an engagement active
  (started_on <= day <= ended_on; ended_on None = still open). ``parallel_share`` =
  parallel_cases / cases_active.
- the same-day hand-off: an engagement a of institution A *hands over* to an engagement b of
  another institution when a ends on the day b starts and a started before that day. Both are
  active on that day, but the person went from one to the other: that day alone never makes a
  case parallel, and b is a sequential hand-off with a gap of 0 days. Two engagements that start
  on the same day, or share any day that is not such a hand-over day, run in parallel.
- hand-offs: an engagement e of institution B is a sequential hand-off when no engagement of
  another institution is active on e.started_on (one that hands over to e excepted) and some
  engagement of another institution ended before e.started_on or hands over to e; its gap =
  e.started_on - the latest such ended_on, in days. It belongs to the period of e.started_on.
  ``handoffs`` = their count; ``median_handoff_gap_days`` over them.
- ``sequential_cases``: active cases with at least one hand-off started in P that are not
  parallel in P (the sequential path ALV -> social assistance -> IV that IIZ wants to shorten).
- ``consented_cases``: active cases whose person had a consent in force (valid_from <= day <=
  its end, see ``ConsentFact``) on at least one day inside P and inside the case;
  ``consent_share`` = consented_cases / cases_active; ``sequential_share`` = sequential_cases /
  cases_active.
- ``institutions_per_case``: mean of len(institutions) over the active cases, 2 decimals.
- referrals answered in P (answered_on in P, so that an ended period stays as published):
  ``referrals_answered``, ``referral_acceptance_rate`` = accepted / answered,
  ``median_referral_answer_days`` = median of answered_on - requested_on.
- ``reentries_12m``: cases opened in P whose person had another case closed on or before this
  case's opened_on and at most 365 days before it (any scope counts for the earlier case).
- ``measure_costs_chf``: financed_by -> sum of chf of the cost facts with ended_on in P (only
  financers with at least one such fact appear), Decimal with 2 places.

Medians are ``statistics.median`` (mean of the two middle values) as a float rounded to 1
decimal; shares are rounded to 4 decimals. Every derived figure has its ``n`` in ``Row.n``
(cases_active for parallel_share, sequential_share, consent_share and institutions_per_case,
handoffs for the hand-off median, referrals_answered for the referral figures, the number of cost
facts per financer); a derived figure with n = 0 is None ("no data"). Rows hold scope, period and
figure names only.

``Row.private`` holds counts that are never published but that disclosure control must know:
the accepted and declined referrals and the institution links (sum of institutions over active
cases) behind the rate and the mean, and ``cases.<cell>``, the number of distinct cases behind
each count of events (hand-offs, referrals, cost records), since five records of one person
are one person, and ``largest.measure_costs_chf.<financer>``, the largest one case's part of a
cost sum in centimes. ``Row.cell_keys`` holds each count's cell key (``cell_key.py``): from the
record keys of the cases it counts, or the keys of the events it counts (a case's j-th
hand-off, referral, cost record or institution); an n that counts another cell's things has
that cell's key.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import combinations

from services.coordination.metrics.cell_key import cell_key, event_bits, key_bits
from services.coordination.metrics.facts import CaseFact, EngagementFact, ReferralFact
from services.coordination.metrics.periods import Period, PeriodKind, periods_overlapping
from services.coordination.metrics.rows import CANTON, CENT, N_ALIASES, OUTCOMES, Row


def compute(
    cases: Sequence[CaseFact],
    *,
    period: PeriodKind,
    first: dt.date,
    last: dt.date,
    projects: Sequence[str],
) -> list[Row]:
    """The unprotected figures of every scope x period (see the module docstring)."""
    closings = _closings_by_person(cases)
    scopes: list[tuple[str, list[CaseFact]]] = [
        (code, [case for case in cases if code in case.projects]) for code in projects
    ]
    scopes.append((CANTON, list(cases)))
    periods = periods_overlapping(period, first, last)
    return [_row(scope, in_scope, p, closings) for scope, in_scope in scopes for p in periods]


def _row(
    scope: str, cases: list[CaseFact], period: Period, closings: Mapping[int, list[dt.date]]
) -> Row:
    opened = [c for c in cases if period.contains(c.opened_on)]
    active = [c for c in cases if _is_active(c, period)]
    closed = [c for c in cases if c.closed_on is not None and period.contains(c.closed_on)]
    firsts = [(c, f) for c in cases if (f := _first_measure(c)) and period.contains(f)]
    to_measure = [(first - c.opened_on).days for c, first in firsts]
    in_parallel = {
        i for i, c in enumerate(cases) if _is_active(c, period) and _runs_in_parallel(c, period)
    }
    parallel = len(in_parallel)
    handoffs = [
        (i, gap) for i, c in enumerate(cases) for s, gap in _handoffs(c) if period.contains(s)
    ]
    sequential_cases = {i for i, _ in handoffs if _is_active(cases[i], period)} - in_parallel
    sequential = len(sequential_cases)
    consenting = [c for c in active if _has_consent_in(c, period)]
    consented = len(consenting)
    reentering = [c for c in opened if _is_reentry(c, closings)]
    gaps = [gap for _, gap in handoffs]
    referrals = _Referrals.answered_in(cases, period)
    costs = _Costs.ended_in(cases, period)
    links = sum(len(c.institutions) for c in active)
    n: dict[str, int | None] = {
        "median_days_to_first_measure": len(to_measure),
        "parallel_share": len(active),
        "consent_share": len(active),
        "sequential_share": len(active),
        "median_handoff_gap_days": len(gaps),
        "institutions_per_case": len(active),
        "referral_acceptance_rate": len(referrals.answered),
        "median_referral_answer_days": len(referrals.answered),
    }
    n.update({f"measure_costs_chf.{fin}": len(chfs) for fin, chfs in costs.by_financer.items()})
    return Row(
        scope=scope,
        period=period.label,
        cases_opened=len(opened),
        cases_active=len(active),
        cases_closed=len(closed),
        closed_by_outcome=_by_outcome(closed),
        median_days_to_first_measure=_median(to_measure),
        parallel_cases=parallel,
        parallel_share=_share(parallel, len(active)),
        sequential_cases=sequential,
        sequential_share=_share(sequential, len(active)),
        consented_cases=consented,
        consent_share=_share(consented, len(active)),
        handoffs=len(gaps),
        median_handoff_gap_days=_median(gaps),
        institutions_per_case=round(links / len(active), 2) if active else None,
        referrals_answered=len(referrals.answered),
        referral_acceptance_rate=_share(len(referrals.accepted), len(referrals.answered)),
        median_referral_answer_days=_median(referrals.answer_days),
        reentries_12m=len(reentering),
        measure_costs_chf={
            fin: sum(chfs, Decimal(0)).quantize(CENT) for fin, chfs in costs.by_financer.items()
        },
        n=n,
        private={
            "referrals_accepted": len(referrals.accepted),
            "referrals_declined": len(referrals.declined),
            "institution_links": links,
            "cases.handoffs": len({i for i, _ in handoffs}),
            **referrals.cases(),
            **costs.cases(),
            **_Costs.largest(cases, period),
        },
        cell_keys=_cell_keys(
            cases,
            period,
            {
                "cases_opened": opened,
                "cases_active": active,
                "cases_closed": closed,
                "parallel_cases": [cases[i] for i in in_parallel],
                "sequential_cases": [cases[i] for i in sequential_cases],
                "consented_cases": consenting,
                "reentries_12m": reentering,
                "n.median_days_to_first_measure": [c for c, _ in firsts],
                **{
                    f"closed_by_outcome.{o}": [c for c in closed if _outcome(c) == o]
                    for o in OUTCOMES
                },
            },
        ),
    )


def _cell_keys(
    cases: Sequence[CaseFact], period: Period, counted_cases: Mapping[str, Sequence[CaseFact]]
) -> dict[str, float]:
    """The cell key of every count of the row (cell_key.py): from the record keys of the cases
    it counts, or from the keys of the events (hand-offs, referrals, cost records, institutions
    of a case) it counts; an ``n`` that names another count has that count's key."""
    keys = {
        name: cell_key(key_bits(c.record_key) for c in group)
        for name, group in counted_cases.items()
    }
    events: dict[str, list[int]] = {}

    def count(name: str, case: CaseFact, index: int) -> None:
        events.setdefault(name, []).append(event_bits(key_bits(case.record_key), index))

    for c in cases:
        for j, (started, _) in enumerate(_handoffs(c)):
            if period.contains(started):
                count("handoffs", c, j)
        for j, r in enumerate(c.referrals):
            if r.answered_on is not None and period.contains(r.answered_on):
                count("referrals_answered", c, j)
                count("referrals_accepted" if r.accepted else "referrals_declined", c, j)
        for j, cost in enumerate(c.costs):
            if period.contains(cost.ended_on):
                count(f"n.measure_costs_chf.{cost.financed_by}", c, j)
                count(f"measure_costs_chf.{cost.financed_by}", c, j)
        if _is_active(c, period):
            for j in range(len(c.institutions)):
                count("institution_links", c, j)
    for name in ("handoffs", "referrals_answered", "referrals_accepted", "referrals_declined"):
        events.setdefault(name, [])
    keys.update({name: cell_key(bits) for name, bits in events.items()})
    for name, base in N_ALIASES.items():  # an n that counts what another cell counts
        keys[name] = keys[base]
    return keys


def _outcome(case: CaseFact) -> str:
    return case.outcome if case.outcome in OUTCOMES else "other"


def _by_outcome(closed: Sequence[CaseFact]) -> dict[str, int]:
    by_outcome = dict.fromkeys(OUTCOMES, 0)
    for case in closed:
        by_outcome[_outcome(case)] += 1
    return by_outcome


@dataclass(frozen=True)
class _Referrals:
    """The referrals answered in a period, each with the index of its case."""

    answered: list[tuple[int, ReferralFact]]

    @classmethod
    def answered_in(cls, cases: Sequence[CaseFact], period: Period) -> _Referrals:
        return cls(
            [
                (i, r)
                for i, c in enumerate(cases)
                for r in c.referrals
                if r.answered_on is not None and period.contains(r.answered_on)
            ]
        )

    @property
    def accepted(self) -> list[int]:
        return [i for i, r in self.answered if r.accepted]

    @property
    def declined(self) -> list[int]:
        return [i for i, r in self.answered if not r.accepted]

    @property
    def answer_days(self) -> list[int]:
        return [(r.answered_on - r.requested_on).days for _, r in self.answered if r.answered_on]

    def cases(self) -> dict[str, int]:
        """How many distinct cases are behind each count of referrals."""
        return {
            "cases.referrals_answered": len({i for i, _ in self.answered}),
            "cases.referrals_accepted": len(set(self.accepted)),
            "cases.referrals_declined": len(set(self.declined)),
        }


@dataclass(frozen=True)
class _Costs:
    """The cost records ended in a period, per financer (sorted), with their cases."""

    by_financer: dict[str, list[Decimal]]
    case_indexes: dict[str, set[int]]

    @classmethod
    def ended_in(cls, cases: Sequence[CaseFact], period: Period) -> _Costs:
        costs: dict[str, list[Decimal]] = {}
        owners: dict[str, set[int]] = {}
        for i, cost in ((i, k) for i, c in enumerate(cases) for k in c.costs):
            if period.contains(cost.ended_on):
                costs.setdefault(cost.financed_by, []).append(cost.chf)
                owners.setdefault(cost.financed_by, set()).add(i)
        return cls(dict(sorted(costs.items())), dict(sorted(owners.items())))

    @staticmethod
    def largest(cases: Sequence[CaseFact], period: Period) -> dict[str, int]:
        """Per financer, the largest one case's part of its sum, in centimes (for its noise)."""
        largest: dict[str, int] = {}
        for case in cases:
            parts: dict[str, Decimal] = {}
            for k in case.costs:
                if period.contains(k.ended_on):
                    parts[k.financed_by] = parts.get(k.financed_by, Decimal(0)) + k.chf
            for fin, chf in parts.items():
                name = f"largest.measure_costs_chf.{fin}"
                largest[name] = max(largest.get(name, 0), int(chf * 100))
        return largest

    def cases(self) -> dict[str, int]:
        """How many distinct cases are behind each financer's cost sum and its n."""
        counts: dict[str, int] = {}
        for fin, owners in self.case_indexes.items():
            counts[f"cases.measure_costs_chf.{fin}"] = len(owners)
            counts[f"cases.n.measure_costs_chf.{fin}"] = len(owners)
        return counts


def _is_active(case: CaseFact, period: Period) -> bool:
    return case.opened_on <= period.end and (
        case.closed_on is None or case.closed_on >= period.start
    )


def _median(values: Sequence[int]) -> float | None:
    return round(float(statistics.median(values)), 1) if values else None


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _first_measure(case: CaseFact) -> dt.date | None:
    """The day the case's first measure started, at the earliest the day the case opened."""
    starts = [e.started_on for e in case.engagements if e.kind == "measure"]
    return max(min(starts), case.opened_on) if starts else None


def _runs_in_parallel(case: CaseFact, period: Period) -> bool:
    """Two distinct institutions have an engagement active on one day of the case in ``period``
    that is not a same-day hand-over between them."""
    window_start, window_end = _window(case, period)
    for a, b in combinations(case.engagements, 2):
        if a.institution == b.institution:
            continue
        start = max(a.started_on, b.started_on, window_start)
        end = min(_end(a, window_end), _end(b, window_end), window_end)
        if start < end or (start == end and not (_hands_over(a, b) or _hands_over(b, a))):
            return True
    return False


def _hands_over(a: EngagementFact, b: EngagementFact) -> bool:
    """``a`` ends on the day ``b`` starts, having started before: a same-day hand-off."""
    return a.ended_on == b.started_on and a.started_on < b.started_on


def _window(case: CaseFact, period: Period) -> tuple[dt.date, dt.date]:
    """The days of ``period`` on which the case is open."""
    return max(period.start, case.opened_on), min(period.end, case.closed_on or period.end)


def _has_consent_in(case: CaseFact, period: Period) -> bool:
    start, end = _window(case, period)
    return any(
        c.valid_from <= end and (c.ended_on is None or c.ended_on >= start) for c in case.consents
    )


def _end(engagement: EngagementFact, default: dt.date) -> dt.date:
    return default if engagement.ended_on is None else engagement.ended_on


def _is_active_on(engagement: EngagementFact, day: dt.date) -> bool:
    return engagement.started_on <= day and (
        engagement.ended_on is None or day <= engagement.ended_on
    )


def _handoffs(case: CaseFact) -> list[tuple[dt.date, int]]:
    """(started_on, gap in days) of each sequential hand-off in the case."""
    handoffs: list[tuple[dt.date, int]] = []
    for e in case.engagements:
        others = [o for o in case.engagements if o.institution != e.institution]
        if any(_is_active_on(o, e.started_on) and not _hands_over(o, e) for o in others):
            continue
        ended = [
            o.ended_on
            for o in others
            if o.ended_on and (o.ended_on < e.started_on or _hands_over(o, e))
        ]
        if ended:
            handoffs.append((e.started_on, (e.started_on - max(ended)).days))
    return handoffs


def _closings_by_person(cases: Sequence[CaseFact]) -> dict[int, list[dt.date]]:
    closings: dict[int, list[dt.date]] = {}
    for case in cases:
        if case.closed_on is not None:
            closings.setdefault(case.person, []).append(case.closed_on)
    return closings


def _is_reentry(case: CaseFact, closings: Mapping[int, list[dt.date]]) -> bool:
    # A case closed on its own opening day is not an earlier case of itself.
    own = case.closed_on if case.closed_on == case.opened_on else None
    earlier = list(closings.get(case.person, ()))
    if own is not None:
        earlier.remove(own)
    return any(0 <= (case.opened_on - closed).days <= 365 for closed in earlier)
