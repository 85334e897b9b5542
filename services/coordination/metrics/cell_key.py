"""The cell-key method's keys and its public perturbation table (ABS; Germany's 2022 census).

Record keys. Every case has a secret record key, uniform in [0, 1): the first 8 bytes of
HMAC-SHA-256(``IIZ_COORDINATION_CELL_KEY_SECRET``, the case key's 16 bytes) / 2**64, kept to
``BITS`` = 53 bits (what a float holds exactly). A counted event of a case (a hand-off, a
referral, a cost record, an institution of the case) has the key frac(record key +
``GOLDEN`` * (j + 1)), j its index within its kind in the case.

Cell keys. A count's cell key is frac(sum of the keys of what it counts), summed as 53-bit
integers modulo 2**53 so that the order of summing never changes it: the same contributors give
the same key, hence the same published value, in every table, download, CSV and the PDF.

The perturbation table (``PerturbationTable``; threshold t, maximal deviation D = 2). A true
count x is published as x + e, e drawn by the cell key from the row of x:

====================  =========================================================
true x                published value (probability)
====================  =========================================================
0                     0 (1)
1 .. t-1              0 (1 - x/t), t (x/t)
t, t+1, ...           x + e, e = clamp(E, -d, d), d = min(D, x - t), with E:
                      -2 (1/10), -1 (2/10), 0 (4/10), +1 (2/10), +2 (1/10)
====================  =========================================================

So zeros stay zero, no published count is in 1..t-1, a count >= t stays >= t and moves by at
most D, and every row is unbiased: x/t * t = x for the small counts; E is symmetric and so is
its clamp to [-d, d] (t -> t always, t+1 -> t, t+1, t+2 with 3/10, 4/10, 3/10). The row is
chosen by the cell key's position in the row's cumulative probabilities, published values in
increasing order. Exact fractions: the tests check the table with no rounding.

Cost sums (magnitudes) are published rounded to CHF 100 after a noise of
s * L * (1/20 + frac(2k)/10), L the largest one case's contribution to the sum, k the amount key
and s = -1 if k < 1/2 else +1: between 5 % and 15 % of the largest contribution, either way with
equal chance (unbiased), so that no single case's amount can be read off a difference of two
sums. The amount key is drawn from a hash of the cost records' cell key (``amount_key``), not the
cell key itself: the record count is perturbed by that cell key, and a count shown below or
above its true value would otherwise tell the sign of the amount's noise.

Why no library: sdcTable/cellKey/ptable are R; the ONS's Python ``cell-key-perturbation``
tabulates pandas microdata by group-by with its own 0..255 record keys and ptable files, which
fits none of these figures (stocks, parallel cases, hand-offs) and has no small-count rule.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

BITS = 53
MODULUS = 1 << BITS
GOLDEN = 0.6180339887
_GOLDEN_BITS = int(GOLDEN * MODULUS)
MAX_DEVIATION = 2
# P(E = -2), ..., P(E = +2): symmetric, so unbiased, and clamped symmetrically near t.
NOISE: tuple[Fraction, ...] = (
    Fraction(1, 10),
    Fraction(2, 10),
    Fraction(4, 10),
    Fraction(2, 10),
    Fraction(1, 10),
)
HUNDRED = Decimal(100)

Distribution = tuple[tuple[int, Fraction], ...]  # (published value, probability), increasing


def record_key(secret: bytes, case_key: uuid.UUID | bytes) -> float:
    """The case's secret record key in [0, 1)."""
    raw = case_key.bytes if isinstance(case_key, uuid.UUID) else case_key
    digest = hmac.new(secret, raw, hashlib.sha256).digest()
    return (int.from_bytes(digest[:8], "big") >> (64 - BITS)) / MODULUS


def key_bits(key: float) -> int:
    """A key in [0, 1) as a 53-bit integer (exact for the keys made here)."""
    return int(key * MODULUS) % MODULUS


def event_bits(record: int, index: int) -> int:
    """The key bits of the ``index``-th counted event of a kind in a case."""
    return (record + _GOLDEN_BITS * (index + 1)) % MODULUS


def cell_key(contributors: Iterable[int]) -> float:
    """frac(sum of the contributors' keys), from their key bits; 0.0 for no contributor."""
    return (sum(contributors) % MODULUS) / MODULUS


@dataclass(frozen=True)
class PerturbationTable:
    """The public table of the module docstring: true count, cell key -> published count."""

    threshold: int = 5
    max_deviation: int = MAX_DEVIATION

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise ValueError("threshold must be at least 1")
        if self.max_deviation != (len(NOISE) - 1) // 2:
            raise ValueError(f"the noise table has a maximal deviation of {len(NOISE) // 2}")

    def row(self, true: int) -> Distribution:
        """The published values a true count can get, with their probabilities."""
        return _row(self.threshold, self.max_deviation, true)

    def perturb(self, true: int, key: float) -> int:
        """The published value of a count with this true value and cell key."""
        row = self.row(true)
        if type(self).row is PerturbationTable.row:  # the cumulative sums of the table's rows
            for value, below in _cumulative(self.threshold, self.max_deviation, true):
                if key < below:
                    return value
            return row[-1][0]
        below = Fraction(0)
        for value, p in row:
            below += p
            if key < below:
                return value
        return row[-1][0]

    def possible(self, published: int) -> tuple[int, int]:
        """The least and the greatest true count that can be published as ``published``."""
        t, big = self.threshold, self.max_deviation
        if published == 0:
            return (0, t - 1)
        if 0 < published < t:
            raise ValueError(f"{published} is never published")
        low = 1 if published == t else max(t, published - big)
        while low < published and all(v != published for v, _ in self.row(low)):
            low += 1
        high = published + big
        while all(v != published for v, _ in self.row(high)):
            high -= 1
        return (low, high)


@functools.cache
def _row(threshold: int, max_deviation: int, true: int) -> Distribution:
    """``PerturbationTable.row`` (the audit asks for the same rows many thousand times)."""
    t = threshold
    if true < 0:
        raise ValueError("a count is never negative")
    if true == 0:
        return ((0, Fraction(1)),)
    if true < t:
        return ((0, 1 - Fraction(true, t)), (t, Fraction(true, t)))
    d = min(max_deviation, true - t)
    by_value: dict[int, Fraction] = {}
    for e, p in zip(range(-max_deviation, max_deviation + 1), NOISE, strict=True):
        value = true + max(-d, min(d, e))
        by_value[value] = by_value.get(value, Fraction(0)) + p
    return tuple(sorted(by_value.items()))


@functools.cache
def _cumulative(threshold: int, max_deviation: int, true: int) -> tuple[tuple[int, Fraction], ...]:
    """Each published value of a row with the sum of the probabilities up to it, included."""
    below, sums = Fraction(0), []
    for value, p in _row(threshold, max_deviation, true):
        below += p
        sums.append((value, below))
    return tuple(sums)


def amount_key(cell: float) -> float:
    """A key for a cost sum's noise, independent of its record count's (module docstring)."""
    digest = hashlib.sha256(b"iiz-amount-key:" + key_bits(cell).to_bytes(8, "big")).digest()
    return (int.from_bytes(digest[:8], "big") >> (64 - BITS)) / MODULUS


def perturb_amount(total: Decimal, largest: Decimal, cell: float) -> Decimal:
    """A cost sum with the magnitude noise of the module docstring, rounded to CHF 100;
    ``cell`` is the cell key of its cost records."""
    key = amount_key(cell)
    sign = -1 if key < 0.5 else 1
    share = Decimal(1) / 20 + Decimal(repr((2 * key) % 1)) / 10
    noisy = total + sign * largest * share
    rounded = (noisy / HUNDRED).quantize(Decimal(1), rounding=ROUND_HALF_EVEN) * HUNDRED
    return max(rounded, Decimal(0)).quantize(Decimal("0.01"))
