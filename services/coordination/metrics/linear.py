"""Which unknowns of a system of linear equations the known values pin down to one value.

The attacker of the committee's figures knows linear identities between cells (a total is the
sum of its parts, a year the sum of its quarters, ...). With the published cells moved to the
right-hand side, a suppressed cell is pinned exactly when its unit vector lies in the row space
of the equations restricted to the suppressed cells. One reduced row echelon form answers that
for every unknown at once: a cell is pinned when it is a pivot whose row has no other entry.

Arithmetic is modulo primes just below 2**31 (numpy int64 holds every product), in two primes:
a rank over the rationals differs from a rank modulo p only where p divides a minor of the
system, so a cell pinned over the rationals is missed only if both primes divide one; a cell
pinned modulo a prime but not over the rationals is merely suppressed once more than needed.

The same reduction gives, per pinned cell, a certificate ``y`` (``y @ A = e_cell``) and the
left null space of ``A``, which tell without a new reduction whether making one more cell
unknown (a column ``a``) frees a pinned one: it does exactly when ``a`` lies in the column space
of ``A`` (the left null space is orthogonal to it) and ``y @ a != 0``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

K = TypeVar("K", bound=Hashable)
Matrix = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]
PRIMES = (2_147_483_647, 2_147_483_629)


@dataclass(frozen=True)
class Reduction(Generic[K]):
    """The equations over ``unknowns`` in reduced form, modulo ``PRIMES[0]``."""

    unknowns: tuple[K, ...]
    equations: tuple[Mapping[K, int], ...]  # those with an unknown, in the order of the rows
    pinned: tuple[K, ...]
    certificates: Mapping[K, Matrix]
    left_null: Matrix

    def freeing(self, cells: Sequence[K], candidates: Sequence[K]) -> Flags:
        """A boolean matrix: whether making ``candidates[j]`` unknown too would leave
        ``cells[i]`` unpinned (a cell without a certificate is never freed here).

        Only this reduction's equations count: an equation elsewhere that holds the candidate
        with no other unknown pins the candidate, so callers check the choice by reducing again.
        Products are taken in float64, exact here (every sum is below 2**53)."""
        index = {candidate: j for j, candidate in enumerate(candidates)}
        width = len(self.equations)
        columns = np.zeros((width, len(candidates)), dtype=np.float64)
        for r, eq in enumerate(self.equations):
            for key, coefficient in eq.items():
                if key in index:
                    columns[r, index[key]] = coefficient
        blank = np.zeros(width, dtype=np.int64)
        certificates = np.array(
            [self.certificates.get(c, blank) for c in cells], dtype=np.float64
        ).reshape(len(cells), width)
        consistent: Flags = np.logical_not(_modulo(self.left_null.astype(np.float64) @ columns))
        moved: Flags = _modulo(certificates @ columns) != 0
        in_column_space = np.asarray(consistent.all(axis=0), dtype=np.bool_)
        result: Flags = moved & in_column_space[np.newaxis, :]
        return result


def reduce(equations: Sequence[Mapping[K, int]], unknowns: Sequence[K]) -> Reduction[K]:
    """Reduce the equations (cell -> coefficient, = a known constant) over the unknowns."""
    unknowns = tuple(unknowns)
    index = {key: c for c, key in enumerate(unknowns)}
    relevant = tuple(eq for eq in equations if any(k in index for k in eq))
    matrix = np.zeros((len(relevant), len(unknowns)), dtype=np.int64)
    for r, eq in enumerate(relevant):
        for key, coefficient in eq.items():
            if key in index:
                matrix[r, index[key]] += coefficient
    first, transform, pivots = _rref(matrix, PRIMES[0])
    pinned = {c: r for r, c in enumerate(pivots) if np.count_nonzero(first[r]) == 1}
    for p in PRIMES[1:]:
        again, _, pivots_again = _rref(matrix, p)
        for r, c in enumerate(pivots_again):
            if c not in pinned and np.count_nonzero(again[r]) == 1:
                pinned[c] = -1  # pinned modulo this prime only: no certificate
    rank = len(pivots)
    return Reduction(
        unknowns=unknowns,
        equations=relevant,
        pinned=tuple(unknowns[c] for c in sorted(pinned)),
        certificates={unknowns[c]: transform[r] for c, r in pinned.items() if r >= 0},
        left_null=transform[rank:],
    )


def _modulo(product: npt.NDArray[np.float64]) -> Matrix:
    return np.rint(product).astype(np.int64) % PRIMES[0]


def _rref(matrix: Matrix, p: int) -> tuple[Matrix, Matrix, list[int]]:
    """Reduced row echelon form R of ``matrix`` mod p, T with T @ matrix = R, pivot columns."""
    rows, width = matrix.shape
    work = np.concatenate([matrix % p, np.eye(rows, dtype=np.int64)], axis=1)
    pivots: list[int] = []
    for c in range(width):
        r = len(pivots)
        if r == rows:
            break
        candidates = np.flatnonzero(work[r:, c])
        if candidates.size == 0:
            continue
        lead = r + int(candidates[0])
        if lead != r:
            work[[r, lead]] = work[[lead, r]]
        work[r] = (work[r] * pow(int(work[r, c]), p - 2, p)) % p
        factors = work[:, c].copy()
        factors[r] = 0
        touched = np.flatnonzero(factors)
        if touched.size:
            work[touched] = (work[touched] - (factors[touched, None] * work[r]) % p) % p
        pivots.append(c)
    return work[:, :width], work[:, width:], pivots
