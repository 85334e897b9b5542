"""Disclosure control for the committee's figures: the cell-key method (``cell_key.py``), so that
no published cell shows a count from 1 to threshold-1 or lets anyone work one out.

Rules (threshold t, ``PerturbationTable``, maximal deviation 2):

1. Every count (the published ones, the n of the medians and cost sums, and the accepted
   referrals and institution links behind a rate and a mean) is published as the table's value
   for its true count and its cell key. The same contributors give the same cell key, so the same
   count shows the same value in the quarters, the years, the CSV and the PDF, in every
   download: no ledger is needed. An n that counts what another cell counts is that cell.
2. A share or mean is computed from the published parts (``PARTS``): parallel cases / active
   cases, sequential / active, consented / active, accepted / answered (clipped to [0, 1],
   4 decimals), institution links / active cases (2 decimals); none when the published
   denominator is 0.
3. A median is published when its published n is above t (which no true n below t + 1 can
   give); the rule reads published values only, so a blank median tells nothing more.
4. A cost sum is published when at least t distinct cases are behind it, with the magnitude
   noise of ``cell_key.perturb_amount`` (rounded to CHF 100).
5. Audit: an attacker who knows the table (so, for each published count, the true counts that
   can give it), every identity and inequality between the true cells (``identities.py``), the
   nestings (a count whose contributors are part of another's is at most that count, and at
   least 1 less where the two are published differently: the same contributors would show the
   same value), the rules above and the cases carried into the first periods, bounds every
   true count by linear programming (``pinning.py``). He is lucky with blanks: a blank count
   whose true value is from 1 to t-1 is in [1, t-1] to him, every other blank in [0, inf).
   Where he would pin a count from 1 to t-1 to one value, the counts that share an identity,
   inequality or nesting with it are left blank, one ring more per round, until nothing is
   pinned: counts whose true value is 0 or at least t only (a blank small count tells him more
   than its published value), the small ones too only when nothing else is left (a blank count
   blanks what is computed from it).
6. A financer whose n is published as 0 is not named in the row (the name would say n >= 1).

A blank cell is None and named in ``Row.suppressed``; a figure whose published n is 0 is None
without being named (no data).

Downloads over time (``publish_over_time``). Only ended periods are published, so the API's
publication changes once a quarter; an attacker holds one download of each. Audited
independently, a later table (more periods linked to the earlier ones: stocks carried over, a
year and its quarters) would blank other cells of the ended periods than the earlier one did,
and the two merged would show what neither audit saw. So the publication as of a date is made
in turn, one quarter end after the other: each step keeps every ended period exactly as the step
before published it (the same cells blank, the same values shown: ``publish``'s ``earlier``) and
audits the whole table, blanking in the new periods only. Every earlier download is then the
later one restricted to its periods, and the audit of the later one sees all of them at once. A
step that cannot be protected is withheld whole; the next one builds on the last one published.
(Late facts in an ended period change its true counts, and so its cell keys: out of scope here.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import structlog

from services.coordination.metrics.cell_key import PerturbationTable, perturb_amount
from services.coordination.metrics.identities import (
    COUNTS,
    PRIVATE,
    Identity,
    Key,
    Nesting,
    identities,
    inequalities,
    nestings,
)
from services.coordination.metrics.periods import quarters_of_year
from services.coordination.metrics.pinning import Knowledge, pinned
from services.coordination.metrics.rows import N_ALIASES, Cell, Row, row_from_cells

LOG = structlog.get_logger(__name__)

# A share or mean and the counts it is computed from (part, whole).
PARTS: Mapping[str, tuple[str, str]] = {
    "parallel_share": ("parallel_cases", "cases_active"),
    "consent_share": ("consented_cases", "cases_active"),
    "sequential_share": ("sequential_cases", "cases_active"),
    "referral_acceptance_rate": ("referrals_accepted", "referrals_answered"),
    "institutions_per_case": ("institution_links", "cases_active"),
}
SHARE_PLACES = {"institutions_per_case": 2}
# Counts whose perturbed value the published figures show (the others are never published).
SHOWN_PRIVATE = ("referrals_accepted", "institution_links")
MAX_RINGS = 64

_Count = Callable[[str], int | None]
Where = tuple[str, str, str]  # (scope, period, count name)


@dataclass(frozen=True)
class Publication:
    """The published rows, how many cells they hold, how many were perturbed, how many blank;
    the counts the audit left blank (``hidden``, by scope, period and name: what a later
    publication keeps, see ``publish``) and whether the whole publication was withheld."""

    rows: list[Row]
    cells: int
    perturbed: int
    blank: int
    threshold: int
    max_deviation: int
    hidden: frozenset[Where] = frozenset()
    withheld: bool = False


def is_count(name: str) -> bool:
    return name in COUNTS or name.startswith(("closed_by_outcome.", "n.measure_costs_chf."))


def n_of(name: str) -> str | None:
    """The cell holding the n of a figure that is not a count; None for counts."""
    if name.startswith("measure_costs_chf."):
        return f"n.{name}"
    if is_count(name) or name.startswith("n."):
        return None
    return N_ALIASES.get(f"n.{name}", f"n.{name}")


def publish(
    rows: Sequence[Row], *, threshold: int = 5, earlier: Publication | None = None
) -> Publication:
    """The rows as the committee may see them (rules of the module docstring). ``earlier``: a
    publication (not withheld) of some of the same rows, with the same true values; those rows
    are published exactly as there (the same counts blank, so the same cells shown), and the
    audit blanks in the other rows only (or withholds the whole publication)."""
    table = PerturbationTable(threshold)
    if len({(r.scope, r.period) for r in rows}) != len(rows):
        raise ValueError("two rows have the same scope and period")
    values = cell_values(rows)
    noisy: dict[Key, int] = {}
    for (i, name), v in values.items():
        if isinstance(v, int) and is_count(name) and name not in N_ALIASES:
            noisy[(i, name)] = table.perturb(v, rows[i].cell_keys.get(name, 0.0))
    blank: set[Key] = set()
    fixed: set[Key] = set()  # the counts of the rows ``earlier`` published: kept as they were
    if earlier is not None:
        if earlier.withheld or earlier.threshold != threshold:
            raise ValueError("the earlier publication is withheld or has another threshold")
        kept = {(r.scope, r.period) for r in earlier.rows}
        fixed = {key for key in noisy if (rows[key[0]].scope, rows[key[0]].period) in kept}
        blank = {key for key in fixed if _where(rows, key) in earlier.hidden}
    equations = [eq for eq in identities(rows, values) if all(is_count(n) for _, n in eq)]
    at_most = inequalities(rows, values)
    nested = nestings(rows, values)
    # The nestings as inequalities (smaller - larger <= 0); the direct ones make the rings.
    at_most += [
        {smaller: 1, larger: -1} for larger, smaller in nestings(rows, values, closed=False)
    ]
    known = carried_in(rows)
    targets: dict[Key, int] = {}
    for key in noisy:
        true = values[key]
        if key not in known and isinstance(true, int) and 1 <= true < threshold:
            targets[key] = true
    rings: dict[Key, int] = {}
    withheld = False
    try:
        while True:
            shown = [_shown(i, row, noisy, blank, threshold) for i, row in enumerate(rows)]
            knowledge = _knowledge(
                values, shown, noisy, blank, known, equations, at_most, nested, table
            )
            found = pinned(knowledge, targets)
            if not found:
                break
            relations = [*equations, *at_most]
            blank |= _to_blank(found, rings, noisy, blank, targets, relations, fixed)
    except UnprotectableError as error:
        # Blanking cannot free a count that only small counts pin (the attacker reads a blank
        # small count as 1 to t-1): the whole publication is withheld instead. Every cell blank,
        # whatever its value, tells nothing; an error answer would tell the committee nothing
        # either, and be a fault of the service.
        LOG.error("disclosure.withheld", reason=str(error), rows=len(rows))
        shown = [_withheld(row) for row in rows]
        withheld = True
    return Publication(
        rows=shown,
        cells=sum(len(r.cells()) for r in rows),
        perturbed=perturbed_counts(rows, shown),
        blank=sum(len(r.suppressed) for r in shown),
        threshold=threshold,
        max_deviation=table.max_deviation,
        hidden=frozenset() if withheld else frozenset(_where(rows, key) for key in blank),
        withheld=withheld,
    )


def _where(rows: Sequence[Row], key: Key) -> Where:
    i, name = key
    return (rows[i].scope, rows[i].period, name)


def publish_over_time(rows: Sequence[Row], *, threshold: int = 5) -> Publication:
    """The rows as the committee may see them on the day after the last of them ended, made in
    turn over the quarter ends (module docstring, "Downloads over time"): the publication of the
    rows ended by the first quarter end, then each later quarter end's with ``earlier`` the last
    one published. The rows must be a whole publication (every quarter and year of each scope
    from the first one on, ``api_data.publishable_rows``).

    Where the audit of all the rows at once blanks no count, that is the answer: an earlier
    step's table is part of the later one (its cells, identities, nestings and published values;
    no blank either way), so the attacker's range of each of its counts is at least as wide, and
    its audit blanks nothing either. Only where blanking is needed are the steps audited in
    turn. Each publication is kept (``_STEPS``) by a digest of its inputs, so that the API
    audits again only the steps whose rows changed (a test that patches the audit must clear it)."""
    ends = sorted({_ends_on(r.period) for r in rows})
    chain = hashlib.sha256(str(threshold).encode())
    digests: list[str] = []
    for end in ends:
        # The digest of a step covers its rows and every earlier step's (the repr of a row
        # holds its private counts and cell keys too).
        chain.update(repr([r for r in rows if _ends_on(r.period) == end]).encode())
        digests.append(chain.hexdigest())
    if not digests:
        return publish(rows, threshold=threshold)
    alone = _STEPS.get(f"alone:{digests[-1]}", rows, threshold, None)
    if not alone.withheld and not alone.hidden:
        return alone
    reference: Publication | None = None
    published = alone
    for end, digest in zip(ends, digests, strict=True):
        step = [r for r in rows if _ends_on(r.period) <= end]
        published = _STEPS.get(digest, step, threshold, reference)
        if not published.withheld:
            reference = published
    return published


def _ends_on(period: str) -> dt.date:
    """The last day of a quarter ("2026-Q3") or year ("2026"): a year ends with its Q4."""
    quarter = period if "Q" in period else quarters_of_year(period)[3]
    year, number = (int(x) for x in quarter.split("-Q"))
    return dt.date(year, 12, 31) if number == 4 else dt.date(year, 3 * number + 1, 1) - _DAY


_DAY = dt.timedelta(days=1)


class _Steps:
    """The last publications ``publish_over_time`` made, by a digest of everything they depend
    on (the rows of every step up to theirs, with private counts and cell keys, and the
    threshold): most of a chain's steps are ended quarters, whose rows stay the same."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._made: OrderedDict[str, Publication] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, digest: str, rows: Sequence[Row], threshold: int, earlier: Publication | None
    ) -> Publication:
        with self._lock:
            if digest in self._made:
                self._made.move_to_end(digest)
                return self._made[digest]
        made = publish(rows, threshold=threshold, earlier=earlier)
        with self._lock:
            self._made[digest] = made
            while len(self._made) > self._size:
                self._made.popitem(last=False)
        return made

    def clear(self) -> None:
        with self._lock:
            self._made.clear()


_STEPS = _Steps(64)


class UnprotectableError(Exception):
    """Blanking cannot keep a small count from being pinned (see ``publish``)."""


def _withheld(row: Row) -> Row:
    """The row with every cell blank, whatever its value."""
    cells = row.cells()
    return row_from_cells(
        row.scope,
        row.period,
        dict.fromkeys(cells),
        [name for name, value in cells.items() if value is not None],
    )


def perturbed_counts(truth: Sequence[Row], shown: Sequence[Row]) -> int:
    """How many published counts differ from the true ones."""
    return sum(
        1
        for row, view in zip(truth, shown, strict=True)
        for name, v in view.cells().items()
        if v is not None and (is_count(name) or name in N_ALIASES) and v != row.cells()[name]
    )


def carried_in(rows: Sequence[Row]) -> set[Key]:
    """The cases open at the start of each scope's first quarter and first year: taken as known
    to the attacker (they are the cases opened before the figures begin, usually none)."""
    first: dict[tuple[str, bool], tuple[str, int]] = {}
    for i, row in enumerate(rows):
        kind = (row.scope, "Q" in row.period)
        first[kind] = min(first.get(kind, (row.period, i)), (row.period, i))
    return {(i, "cases_open_at_start") for _, i in first.values()}


def cell_values(rows: Sequence[Row]) -> dict[Key, Cell]:
    """Every cell and the private counts, by (row index, name)."""
    values: dict[Key, Cell] = {}
    for i, row in enumerate(rows):
        values.update({(i, name): v for name, v in row.cells().items()})
        values.update({(i, name): v for name, v in _private(row).items()})
    return values


def _shown(i: int, row: Row, noisy: Mapping[Key, int], blank: set[Key], threshold: int) -> Row:
    """One row as published, given the perturbed counts and the blank ones."""
    cells = row.cells()
    out: dict[str, Cell] = {}
    hidden: list[str] = []

    def count(name: str) -> int | None:
        key = (i, N_ALIASES.get(name, name))
        return None if key in blank or key not in noisy else noisy[key]

    # A financer whose n is published as 0 is not named: its name would tell of a record.
    unnamed = {f for f in row.measure_costs_chf if count(f"n.measure_costs_chf.{f}") == 0}
    for f in unnamed:
        del cells[f"measure_costs_chf.{f}"], cells[f"n.measure_costs_chf.{f}"]
    for name, true in cells.items():
        value: Cell = None
        n_name = n_of(name)
        if is_count(name) or name in N_ALIASES:
            value = count(name)
        elif name in PARTS:
            value = _share(name, count(PARTS[name][0]), count(PARTS[name][1]))
        elif name.startswith("measure_costs_chf.") and true is not None:
            enough = row.private.get(f"cases.{name}", 0) >= threshold
            if enough and count(f"n.{name}") is not None:
                largest = Decimal(row.private.get(f"largest.{name}", 0)) / 100
                value = perturb_amount(Decimal(str(true)), largest, row.cell_keys.get(name, 0.0))
        elif n_name is not None and true is not None:
            n = count(n_name)
            value = true if n is not None and n > threshold else None
        out[name] = value
        if value is None and true is not None and not _no_data(name, n_name, count):
            hidden.append(name)
    return row_from_cells(row.scope, row.period, out, hidden)


def _no_data(name: str, n_name: str | None, count: _Count) -> bool:
    """A blank that the reader takes for "no data": the published n (or denominator) is 0."""
    if is_count(name) or name in N_ALIASES:
        return False
    if name in PARTS:
        return count(PARTS[name][1]) == 0
    return n_name is not None and count(n_name) == 0


def _share(name: str, part: int | None, whole: int | None) -> float | None:
    if part is None or whole is None or whole == 0:
        return None
    places = SHARE_PLACES.get(name, 4)
    ratio = part / whole
    return round(ratio if places == 2 else min(max(ratio, 0.0), 1.0), places)


def _knowledge(
    values: Mapping[Key, Cell],
    shown: Sequence[Row],
    noisy: Mapping[Key, int],
    blank: set[Key],
    known: set[Key],
    equations: Sequence[Identity],
    at_most: Sequence[Identity],
    nested: Sequence[Nesting],
    table: PerturbationTable,
) -> Knowledge[Key]:
    """What the attacker knows of the true counts, given what is published. He is lucky with
    blanks: a blank count whose true value is from 1 to t-1 is in [1, t-1] to him (he knows the
    audit blanks small counts first), every other blank in [0, inf)."""
    t = table.threshold
    bounds: dict[Key, tuple[float, float | None]] = {}
    published: dict[Key, int] = {}
    for key, true in values.items():
        i, name = key
        if not is_count(name) or name in N_ALIASES or true is None:
            continue
        low: float = 0
        high: float | None = None
        if _visible(key, shown[i], blank):
            published[key] = noisy[key]
            low, high = table.possible(noisy[key])
        elif key in blank and publishable(name) and isinstance(true, int) and 1 <= true < t:
            low, high = 1, t - 1
        if name.startswith("n.measure_costs_chf.") and name in shown[i].cells():
            low = max(low, 1)  # the financer is named: it has a cost record
            if shown[i].measure_costs_chf.get(name[len("n.measure_costs_chf.") :]) is not None:
                low = max(low, t)  # t distinct cases, so t records
        if key in known:
            low = high = float(true)
        bounds[key] = (low, high)
    for eq in [*equations, *at_most]:
        for key in eq:
            bounds.setdefault(key, (0, 0))  # a financer absent from a row: known 0
    # Same contributors, same published value: nested counts shown differently differ by >= 1.
    gaps = [
        (larger, smaller)
        for larger, smaller in nested
        if larger in published and smaller in published and published[larger] != published[smaller]
    ]
    return Knowledge(bounds, equations, at_most, gaps)


def publishable(name: str) -> bool:
    """Whether a count's published value can show (itself, or through a share or mean)."""
    return name not in PRIVATE or name in SHOWN_PRIVATE


def _visible(key: Key, shown: Row, blank: set[Key]) -> bool:
    """Whether the published row shows this count's perturbed value (directly or through a
    share or mean computed from it; a financer not named has a published n of 0)."""
    _, name = key
    if name in SHOWN_PRIVATE:
        figure = next(f for f, (part, _) in PARTS.items() if part == name)
        return shown.cells()[figure] is not None
    if name in PRIVATE:
        return False
    if name.startswith("n.measure_costs_chf."):
        return key not in blank
    return shown.cells().get(name) is not None


def _to_blank(
    found: Iterable[Key],
    rings: dict[Key, int],
    noisy: Mapping[Key, int],
    blank: set[Key],
    small: Mapping[Key, int],
    relations: Sequence[Identity],
    fixed: Collection[Key] = (),
) -> set[Key]:
    """The counts to blank for the pinned ones: the counts that share an identity, inequality
    or nesting with it, one ring more each time it stays pinned, and of those only the counts
    whose true value is 0 or at least t (never a ``fixed`` one: an earlier publication showed
    it or left it blank). A blank small count is in [1, t-1] to the (lucky)
    attacker, which is no wider than what its published value says: blanking it tells him
    more, not less. Only when its rings reach no further and blanking the large counts did not
    help are the small ones blanked too (which can still remove a "differ by >= 1" of two nested
    counts). A count that is never published is never blanked (that would change nothing)."""
    chosen: set[Key] = set()
    for key in found:
        ring = rings.get(key, 1)
        around, saturated = {key}, False
        for _ in range(ring):
            wider = around | {k for eq in relations if around & eq.keys() for k in eq}
            saturated = wider == around
            if saturated:
                break
            around = wider
        rings[key] = ring + 1
        publishable_ones = {
            k for k in around if k in noisy and publishable(k[1]) and k not in fixed
        }
        new = {k for k in publishable_ones if k not in small}
        if saturated and new <= blank:
            new = publishable_ones
            if ring > MAX_RINGS or new <= blank:
                raise UnprotectableError(f"{key[1]} stays pinned with everything around it blank")
        chosen |= new
    return chosen


def _private(row: Row) -> dict[str, int]:
    """The private counts ``compute`` keeps in the row, and the stocks of open cases."""
    active = row.cases_active or 0
    return {
        **{name: row.private[name] for name in PRIVATE if name in row.private},
        "cases_open_at_start": active - (row.cases_opened or 0),
        "cases_open_at_end": active - (row.cases_closed or 0),
    }
