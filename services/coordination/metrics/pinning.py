"""Which small true counts an attacker pins to one value from what is published (linear
programming, HiGHS through scipy).

He knows, for every cell, an interval that holds its true value (from the perturbation table and the
published value; for a blank cell what the audit grants him, ``disclosure.py``), linear identities
and inequalities between the true cells, and gaps: pairs of cells one of which is at least 1 larger
than the other (nested cells published with different values). The least and greatest value a cell
can take under all of them bound what he can learn; the cell is *pinned* when that range holds one
integer only (its true value). A feasible point in which a cell is at least 1 away from its true
value shows that it is not pinned; every solution is checked against all targets at once, so most of
them are cleared by a few programs, and a target is declared pinned only after its own minimum and
maximum.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    import numpy as np
    from scipy.sparse import csr_array  # type: ignore[import-untyped]

# numpy and SciPy (about 60 MiB) are imported when the first publication is audited, not with
# the API: most of its processes never serve the committee's figures. scipy ships no type hints
# (scipy-stubs is a separate project): its two entry points are typed by their use here.

K = TypeVar("K", bound=Hashable)
MOVED = 1 - 1e-6  # a solution this far from the true value counts as a second value


@dataclass(frozen=True)
class Knowledge(Generic[K]):
    """What the attacker knows: true value in [low, high] (high None: unbounded), sums of
    coefficient x true value that are 0 (``equalities``) or at most 0 (``at_most``), and
    (larger, smaller) pairs with larger - smaller >= 1 (``gaps``)."""

    bounds: Mapping[K, tuple[float, float | None]]
    equalities: Sequence[Mapping[K, int]]
    at_most: Sequence[Mapping[K, int]] = ()
    gaps: Sequence[tuple[K, K]] = ()


def pinned(knowledge: Knowledge[K], targets: Mapping[K, int]) -> set[K]:
    """The targets (cell -> true value) whose range under ``knowledge`` holds one integer."""
    if not targets:
        return set()
    import numpy as np

    cells = sorted(knowledge.bounds, key=repr)
    index = {k: c for c, k in enumerate(cells)}
    gaps = [{smaller: 1, larger: -1} for larger, smaller in knowledge.gaps]
    system = _System(
        _matrix(knowledge.equalities, index),
        _matrix([*knowledge.at_most, *gaps], index),
        [knowledge.bounds[k] for k in cells],
        np.array([0.0] * len(knowledge.at_most) + [-1.0] * len(gaps)),
    )
    truth = {index[k]: v for k, v in targets.items()}
    open_ = set(truth)

    def clear(point: np.ndarray) -> None:
        open_.difference_update([c for c in list(open_) if abs(point[c] - truth[c]) >= MOVED])

    for direction in (1.0, -1.0):  # everything up, then everything down
        clear(system.optimum({c: direction for c in open_}))
    found: set[K] = set()
    for c in sorted(truth):
        for direction in (1.0, -1.0):
            if c in open_:
                clear(system.optimum({c: direction}))
        if c in open_:
            found.add(cells[c])
            open_.discard(c)
    return found


@dataclass(frozen=True)
class _System:
    equal: csr_array | None
    at_most: csr_array | None
    bounds: list[tuple[float, float | None]]
    at_most_rhs: np.ndarray

    def optimum(self, up: Mapping[int, float]) -> np.ndarray:
        """A vertex that maximises sum(weight x cell) (the true values are feasible)."""
        import numpy as np
        from scipy.optimize import linprog  # type: ignore[import-untyped]

        cost = np.zeros(len(self.bounds))
        for c, weight in up.items():
            cost[c] = -weight
        result = linprog(
            cost,
            A_ub=self.at_most,
            b_ub=None if self.at_most is None else self.at_most_rhs,
            A_eq=self.equal,
            b_eq=None if self.equal is None else np.zeros(self.equal.shape[0]),
            bounds=self.bounds,
            method="highs",
        )
        if result.status == 3:  # unbounded: the direction has no maximum, take any point
            return self._unbounded_witness(up)
        if result.x is None:
            raise RuntimeError(f"the attacker's program failed: {result.message}")
        return np.asarray(result.x)

    def _unbounded_witness(self, up: Mapping[int, float]) -> np.ndarray:
        """A feasible point with each cell of ``up`` moved far (the program is unbounded)."""
        bounds = list(self.bounds)
        for c, weight in up.items():
            low, high = bounds[c]
            if weight > 0:
                bounds[c] = (low, high if high is not None else 1e6)
        capped = _System(self.equal, self.at_most, bounds, self.at_most_rhs)
        return capped.optimum(up)


def _matrix(rows: Sequence[Mapping[K, int]], index: Mapping[K, int]) -> csr_array | None:
    if not rows:
        return None
    from scipy.sparse import csr_array

    data: list[float] = []
    row_ids: list[int] = []
    col_ids: list[int] = []
    for r, row in enumerate(rows):
        for key, coefficient in row.items():
            data.append(float(coefficient))
            row_ids.append(r)
            col_ids.append(index[key])
    return csr_array((data, (row_ids, col_ids)), shape=(len(rows), len(index)))
