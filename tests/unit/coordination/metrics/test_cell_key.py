"""The cell-key method's keys and its perturbation table (exact fractions, no rounding)."""

from __future__ import annotations

import uuid
from fractions import Fraction

import pytest
from pydantic import SecretStr

from services.coordination.metrics.cell_key import (
    MAX_DEVIATION,
    PerturbationTable,
    amount_key,
    cell_key,
    event_bits,
    key_bits,
    perturb_amount,
    record_key,
)

TABLES = [PerturbationTable(t) for t in (1, 2, 3, 5, 8, 12)]
VALUES = range(0, 40)


@pytest.mark.parametrize("table", TABLES, ids=lambda t: f"t={t.threshold}")
def test_every_row_sums_to_one_and_is_unbiased(table: PerturbationTable) -> None:
    for x in VALUES:
        row = table.row(x)
        assert sum(p for _, p in row) == 1
        assert sum(v * p for v, p in row) == x, x
        assert all(p > 0 for _, p in row)


@pytest.mark.parametrize("table", TABLES, ids=lambda t: f"t={t.threshold}")
def test_no_count_from_1_to_threshold_minus_1_is_ever_published(table: PerturbationTable) -> None:
    for x in VALUES:
        assert all(not 1 <= v < table.threshold for v, _ in table.row(x)), x


@pytest.mark.parametrize("table", TABLES, ids=lambda t: f"t={t.threshold}")
def test_zero_stays_zero_and_a_large_count_stays_large_and_near(table: PerturbationTable) -> None:
    assert table.row(0) == ((0, Fraction(1)),)
    for x in range(table.threshold, 40):
        assert all(v >= table.threshold and abs(v - x) <= MAX_DEVIATION for v, _ in table.row(x))


def test_the_table_of_threshold_5_reads_as_documented() -> None:
    table = PerturbationTable(5)
    assert table.row(3) == ((0, Fraction(2, 5)), (5, Fraction(3, 5)))
    assert table.row(5) == ((5, Fraction(1)),)
    assert table.row(6) == ((5, Fraction(3, 10)), (6, Fraction(4, 10)), (7, Fraction(3, 10)))
    assert table.row(20) == tuple(
        (20 + e, p)
        for e, p in zip(
            range(-2, 3), map(Fraction, ("1/10", "2/10", "4/10", "2/10", "1/10")), strict=True
        )
    )


def test_the_cell_key_picks_the_value_by_the_cumulative_probabilities() -> None:
    table = PerturbationTable(5)
    assert [table.perturb(3, k) for k in (0.0, 0.3999, 0.4, 0.9999)] == [0, 0, 5, 5]
    assert [table.perturb(20, k) for k in (0.05, 0.15, 0.5, 0.85, 0.95)] == [18, 19, 20, 21, 22]
    assert table.perturb(0, 0.99) == 0
    assert table.perturb(20, 0.5) == table.perturb(20, 0.5)  # a lookup, not a draw


def test_uniform_keys_give_the_rows_probabilities() -> None:
    table = PerturbationTable(5)
    keys = [(i + 0.5) / 1000 for i in range(1000)]
    for x in (1, 4, 6, 13):
        counts: dict[int, int] = {}
        for k in keys:
            v = table.perturb(x, k)
            counts[v] = counts.get(v, 0) + 1
        assert {v: Fraction(c, 1000) for v, c in counts.items()} == dict(table.row(x))


def test_possible_names_every_true_count_that_gives_a_published_value() -> None:
    table = PerturbationTable(5)
    for v in (0, 5, 6, 7, 8, 20):
        can = [x for x in range(40) if any(value == v for value, _ in table.row(x))]
        assert table.possible(v) == (min(can), max(can))
        assert can == list(range(min(can), max(can) + 1))
    with pytest.raises(ValueError, match="never published"):
        table.possible(3)


def test_record_keys_are_secret_uniform_and_stable() -> None:
    case = uuid.UUID("12345678-1234-5678-1234-567812345678")
    one = record_key(b"secret-one", case)
    assert one == record_key(b"secret-one", case)
    assert one != record_key(b"secret-two", case)
    keys = [record_key(b"s", uuid.uuid4()) for _ in range(2000)]
    assert all(0 <= k < 1 for k in keys)
    assert 0.45 < sum(keys) / len(keys) < 0.55


def test_a_cell_key_does_not_depend_on_the_order_of_its_contributors() -> None:
    bits = [key_bits(record_key(b"s", uuid.uuid4())) for _ in range(50)]
    bits += [event_bits(bits[0], j) for j in range(5)]
    assert cell_key(bits) == cell_key(reversed(bits)) == cell_key(sorted(bits))
    assert 0 <= cell_key(bits) < 1
    assert cell_key([]) == 0.0


def test_a_cost_sum_moves_by_5_to_15_percent_of_its_largest_part_then_to_chf_100() -> None:
    from decimal import Decimal

    for k in (0.0, 0.2, 0.49, 0.5, 0.7, 0.99):
        shown = perturb_amount(Decimal("10000.00"), Decimal("4000.00"), k)
        assert shown % 100 == 0
        low, high = (9400, 9800) if amount_key(k) < 0.5 else (10200, 10600)
        assert low <= shown <= high, (k, shown)


def test_a_cost_sum_s_noise_does_not_follow_its_record_count_s() -> None:
    """The record count moves down for low cell keys and up for high ones; the amount's sign
    must not tell which (the review's M3): over many cell keys, the amount's sign is up about
    half the time whichever way the count moved."""
    table = PerturbationTable(5)
    keys = [i / 4001 for i in range(4000)]
    for moved in (lambda v: v < 20, lambda v: v > 20):
        signs = [amount_key(k) >= 0.5 for k in keys if moved(table.perturb(20, k))]
        assert 0.4 < sum(signs) / len(signs) < 0.6


def test_production_refuses_the_development_cell_key_secret() -> None:
    from services.coordination.settings import DEVELOPMENT_CELL_KEY_SECRET, CoordinationSettings

    base = CoordinationSettings(environment="test")
    for secret in (DEVELOPMENT_CELL_KEY_SECRET, "short"):
        production = base.model_copy(
            update={"environment": "production", "coordination_cell_key_secret": SecretStr(secret)}
        )
        with pytest.raises(ValueError, match="IIZ_COORDINATION_CELL_KEY_SECRET"):
            _ = production.cell_key_secret
    real = base.model_copy(
        update={"environment": "production", "coordination_cell_key_secret": SecretStr("r" * 40)}
    )
    assert real.cell_key_secret == b"r" * 40
    assert base.cell_key_secret == DEVELOPMENT_CELL_KEY_SECRET.encode()
