"""Disclosure control for the committee's figures: no count from 1 to threshold-1 is published
or can be worked out from what is published, now or in any earlier download.

A cell is *sensitive* when it is a count from 1 to threshold-1, or counts events (hand-offs,
referrals, cost records) of 1 to threshold-1 distinct cases, or is a cost sum whose n is
sensitive; the private counts behind the acceptance rate (accepted, declined) and the mean
institutions per case (institution links) are cells too. Primary suppression hides every
sensitive cell and every median, share or mean whose n is sensitive.

Complementary suppression: the attacker knows every published cell, every cell published
before with the value it has now (``known``, the ledger of earlier downloads), and the linear
identities of ``identities.py`` (totals, year = quarters, canton = projects where that holds,
cases carried over between periods). While a suppressed cell (sensitive, or suppressed to
protect one) is pinned to one value by those
(exact rank test, ``linear.py``), one more cell is suppressed: of the cells that share an
identity with it and were never published with their current value, the one that frees the
most pinned cells, the smallest nonzero first, zeros last. Cells published before stay
published. Bounds from non-negativity are not defended beyond this: an identity whose
published cells leave 0 for its suppressed cells shows them to be 0, which is no disclosure of
a value from 1 to threshold-1.

A share or mean is published only with both of its parts (``parallel_share`` with
``parallel_cases`` and ``cases_active``; the acceptance rate with accepted and answered; the
institutions per case with the links and ``cases_active``), and an n that names another cell
follows that cell. Suppressed cells become None and are named in ``Row.suppressed``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

import numpy as np
import structlog

from services.coordination.metrics.identities import Identity, Key, identities
from services.coordination.metrics.linear import Flags, Reduction, reduce
from services.coordination.metrics.rows import Cell, Row, row_from_cells

LOG = structlog.get_logger(__name__)
Published = tuple[str, str, str, str]  # (scope, period, cell, value as text): the ledger
PRIVATE = (
    "referrals_accepted",
    "referrals_declined",
    "institution_links",
    "cases_open_at_start",
    "cases_open_at_end",
)
NEVER_PUBLISHED = frozenset({"referrals_declined", "cases_open_at_start", "cases_open_at_end"})

# n cells that are another published cell under a second name.
N_ALIASES: Mapping[str, str] = {
    "n.parallel_share": "cases_active",
    "n.consent_share": "cases_active",
    "n.institutions_per_case": "cases_active",
    "n.median_handoff_gap_days": "handoffs",
    "n.referral_acceptance_rate": "referrals_answered",
    "n.median_referral_answer_days": "referrals_answered",
}
# A share or mean and the cells it is published with.
PARTS: Mapping[str, tuple[str, str]] = {
    "parallel_share": ("parallel_cases", "cases_active"),
    "consent_share": ("consented_cases", "cases_active"),
    "referral_acceptance_rate": ("referrals_accepted", "referrals_answered"),
    "institutions_per_case": ("institution_links", "cases_active"),
}
COUNTS = frozenset(
    {
        "cases_opened",
        "cases_active",
        "cases_closed",
        "parallel_cases",
        "sequential_cases",
        "consented_cases",
        "handoffs",
        "referrals_answered",
        "reentries_12m",
        "n.median_days_to_first_measure",
        *PRIVATE,
    }
)


def is_count(name: str) -> bool:
    return name in COUNTS or name.startswith(("closed_by_outcome.", "n.measure_costs_chf."))


def n_of(name: str) -> str | None:
    """The cell holding the n of a figure that is not a count; None for counts."""
    if name.startswith("measure_costs_chf."):
        return f"n.{name}"
    if is_count(name) or name.startswith("n."):
        return None
    return N_ALIASES.get(f"n.{name}", f"n.{name}")


def protect(
    rows: Sequence[Row], *, threshold: int = 5, known: Collection[Published] = ()
) -> list[Row]:
    """The rows with every cell suppressed that would disclose a sensitive cell."""
    if threshold < 1:
        raise ValueError("threshold must be at least 1")
    values = cell_values(rows)
    sensitive = sensitive_cells(rows, values, threshold, known)
    locked = {k for k, v in values.items() if _published(rows, k, v) in known}
    carried = carried_in(rows)
    locked |= carried
    # A sensitive cell published before (under a lower threshold) stays hidden from now on,
    # but the attacker knows it: the check treats it as known.
    unknown = (sensitive - locked) | {k for k in values if k[1] in NEVER_PUBLISHED}
    unknown -= carried
    suppress_complementary(identities(rows, values), values, unknown, sensitive, locked)
    hidden = unknown | sensitive
    return [_protected_row(i, row, hidden, sensitive) for i, row in enumerate(rows)]


def carried_in(rows: Sequence[Row]) -> set[Key]:
    """The cases open at the start of each scope's first quarter and first year: taken as known
    to the attacker (they are the cases opened before the figures begin, usually none)."""
    first: dict[tuple[str, bool], tuple[str, int]] = {}
    for i, row in enumerate(rows):
        kind = (row.scope, "Q" in row.period)
        first[kind] = min(first.get(kind, (row.period, i)), (row.period, i))
    return {(i, "cases_open_at_start") for _, i in first.values()}


def cell_values(rows: Sequence[Row]) -> dict[Key, Cell]:
    """Every published cell and the private counts, by (row index, name)."""
    values: dict[Key, Cell] = {}
    for i, row in enumerate(rows):
        values.update({(i, name): v for name, v in row.cells().items()})
        values.update({(i, name): v for name, v in _private(row).items()})
    return values


def sensitive_cells(
    rows: Sequence[Row],
    values: Mapping[Key, Cell],
    threshold: int,
    known: Collection[Published] = (),
) -> set[Key]:
    """Counts from 1 to threshold-1, event counts of that few cases, counts that differ by that
    few from a value published before (a revision: a late fact, a case moved to another
    project), and cost sums with such an n."""

    def small(v: Cell) -> bool:
        return v is not None and 1 <= abs(float(v)) < threshold

    found = {k for k, v in values.items() if is_count(k[1]) and small(v)}
    earlier: dict[tuple[str, str, str], list[int]] = {}
    for scope, period, name, text in known:
        if is_count(name) and text.lstrip("-").isdigit():
            earlier.setdefault((scope, period, name), []).append(int(text))
    for (i, name), v in values.items():
        before = earlier.get((rows[i].scope, rows[i].period, name), ())
        if isinstance(v, int) and any(small(v - old) for old in before):
            found.add((i, name))
    for i, row in enumerate(rows):
        found.update(
            (i, n[6:]) for n, v in row.private.items() if n.startswith("cases.") and small(v)
        )
    found.update(
        (i, name)
        for i, name in values
        if name.startswith("measure_costs_chf.") and (i, f"n.{name}") in found
    )
    return {k for k in found if k in values}


def suppress_complementary(
    equations: Sequence[Identity],
    values: Mapping[Key, Cell],
    unknown: set[Key],
    sensitive: Collection[Key],
    locked: Collection[Key],
) -> None:
    """Add cells to ``unknown`` until none is pinned by the equations and the known cells: no
    sensitive cell, and no cell suppressed to protect one (the never published declined
    referrals excepted). Cells known from earlier downloads are neither moved nor protected."""
    containing: dict[Key, list[int]] = {}
    for e, eq in enumerate(equations):
        for key in eq:
            containing.setdefault(key, []).append(e)
    cache: dict[frozenset[Key], Reduction[Key]] = {}

    already_known: set[Key] = set()

    def protected(key: Key) -> bool:
        if key in locked or key in already_known:
            return False
        return key[1] not in NEVER_PUBLISHED or key in sensitive

    while pinned := _pinned_targets(equations, containing, unknown, protected, cache):
        # One round suppresses a cell for every pinned cell not freed by an earlier choice of
        # the round; the next round checks the combination (a round per cell would reduce the
        # same large system hundreds of times).
        chosen: set[Key] = set()
        for reduction in {id(r): r for _, r in pinned}.values():
            mine = [t for t, r in pinned if r is reduction]
            wide = _available(
                {k for eq in reduction.equations for k in eq}, values, unknown, locked
            )
            frees = reduction.freeing(mine, wide)
            row = {t: i for i, t in enumerate(mine)}
            column = {c: j for j, c in enumerate(wide)}
            still_pinned = np.ones(len(mine), dtype=bool)
            for target in mine:
                if not still_pinned[row[target]]:
                    continue
                near = {k for e in containing[target] for k in equations[e]}
                cell = _choose(
                    target, [c for c in wide if c in near], wide, frees, row, column, still_pinned
                )
                if cell is None:  # every cell around it is hidden or was published before
                    already_known.add(target)
                    LOG.warning("disclosure.pinned_by_earlier_downloads", cell=target[1])
                    continue
                chosen.add(cell)
                if cell in column:
                    still_pinned &= ~frees[:, column[cell]]
                still_pinned[row[target]] = False
        unknown |= chosen


def _available(
    keys: Collection[Key], values: Mapping[Key, Cell], unknown: set[Key], locked: Collection[Key]
) -> list[Key]:
    """Cells that may still be suppressed, smallest nonzero first, zeros last."""
    usable = (k for k in keys if k in values and k not in unknown and k not in locked)
    return sorted(usable, key=lambda k: _order(values[k], k))


def _choose(
    target: Key,
    near: list[Key],
    wide: list[Key],
    frees: Flags,
    row: Mapping[Key, int],
    column: Mapping[Key, int],
    still_pinned: Flags,
) -> Key | None:
    """The cell that frees the target and most other pinned cells, nearby first, smallest
    first; else the smallest nearby cell (the next round looks again); None when no cell is
    left: then earlier downloads alone pin the target (a threshold raised since), and
    suppressing more cannot take that back."""
    for candidates in (near, wide):
        useful = [c for c in candidates if frees[row[target], column[c]]]
        if useful:
            return max(useful, key=lambda c: int((frees[:, column[c]] & still_pinned).sum()))
    remaining = near or wide
    return remaining[0] if remaining else None


def disclosed(truth: Sequence[Row], published: Sequence[Row]) -> set[Published]:
    """What a download of ``published`` makes known, for the ledger of earlier downloads."""
    found: set[Published] = set()
    for row, shown in zip(truth, published, strict=True):
        cells = shown.cells()
        found.update(
            (row.scope, row.period, name, _text(v)) for name, v in cells.items() if v is not None
        )
        for figure, (part, _) in PARTS.items():
            if part in PRIVATE and cells[figure] is not None:
                found.add((row.scope, row.period, part, _text(_private(row)[part])))
    return found


def _pinned_targets(
    equations: Sequence[Identity],
    containing: Mapping[Key, list[int]],
    unknown: set[Key],
    protected: Callable[[Key], bool],
    cache: dict[frozenset[Key], Reduction[Key]],
) -> list[tuple[Key, Reduction[Key]]]:
    pinned: list[tuple[Key, Reduction[Key]]] = []
    groups = _components(equations, containing, unknown)
    for stale in set(cache) - set(groups):
        del cache[stale]
    for group in groups:
        if not any(protected(k) for k in group):
            continue
        reduction = cache.get(group)
        if reduction is None:
            eqs = [equations[e] for e in sorted({e for k in group for e in containing[k]})]
            reduction = cache[group] = reduce(eqs, sorted(group))
        pinned.extend((k, reduction) for k in reduction.pinned if protected(k))
    return sorted(pinned, key=lambda p: p[0])


def _components(
    equations: Sequence[Identity], containing: Mapping[Key, list[int]], unknown: set[Key]
) -> list[frozenset[Key]]:
    """The unknown cells in an identity, grouped so that no identity links two groups."""
    parent: dict[Key, Key] = {}

    def root(key: Key) -> Key:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    linked = [k for k in unknown if k in containing]
    for key in linked:
        for e in containing[key]:
            for other in equations[e]:
                if other in unknown:
                    parent[root(other)] = root(key)
    groups: dict[Key, set[Key]] = {}
    for key in linked:
        groups.setdefault(root(key), set()).add(key)
    return [frozenset(g) for g in groups.values()]


def _protected_row(i: int, row: Row, unknown: set[Key], sensitive: set[Key]) -> Row:
    cells = row.cells()
    hidden = {name for name in cells if (i, name) in unknown}
    for name in cells:
        n_name = n_of(name)
        if n_name is not None and (i, n_name) in sensitive:
            hidden.add(name)
        if name in PARTS and any((i, part) in unknown for part in PARTS[name]):
            hidden.add(name)
        if N_ALIASES.get(name) in hidden:
            hidden.add(name)
    hidden = {name for name in hidden if cells[name] is not None}
    return row_from_cells(
        row.scope,
        row.period,
        {name: None if name in hidden else v for name, v in cells.items()},
        [name for name in cells if name in hidden],
    )


def _private(row: Row) -> dict[str, int]:
    """The private counts ``compute`` keeps in the row, and the stocks of open cases."""
    active = row.cases_active or 0
    return {
        **{name: row.private[name] for name in PRIVATE if name in row.private},
        "cases_open_at_start": active - (row.cases_opened or 0),
        "cases_open_at_end": active - (row.cases_closed or 0),
    }


def _published(rows: Sequence[Row], key: Key, value: Cell) -> Published:
    row = rows[key[0]]
    return (row.scope, row.period, key[1], _text(value))


def _text(value: Cell | int) -> str:
    return "" if value is None else str(value)


def _order(value: Cell, key: Key) -> tuple[bool, float, Key]:
    amount = float(value or 0)
    return (amount == 0, amount, key)
