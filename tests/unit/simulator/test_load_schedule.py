"""The open-loop schedule: every person's steps in order and ``active`` slots apart, slots due at
``i / rate`` whatever happened before."""

from __future__ import annotations

import itertools

import pytest

from simulator.load.schedule import Slot, due_at, due_by, interleave, lanes_for


def by_person(slots: list[Slot]) -> dict[int, list[tuple[int, int]]]:
    """person → [(slot index, step)] in slot order."""
    found: dict[int, list[tuple[int, int]]] = {}
    for index, slot in enumerate(slots):
        found.setdefault(slot.person, []).append((index, slot.step))
    return found


def test_each_persons_steps_go_in_script_order_and_exactly_active_slots_apart() -> None:
    counts = [3, 1, 5, 2, 4, 4, 1, 6, 2, 3]

    slots, _ = interleave(counts, 25, 3)

    assert len(slots) == 25
    for sends in by_person(slots).values():
        assert [step for _, step in sends] == list(range(len(sends)))
        assert all(b - a == 3 for (a, _), (b, _) in itertools.pairwise(sends))


def test_a_finished_person_hands_the_lane_to_the_next_one() -> None:
    slots, following = interleave([1, 2, 1], 10, 2)

    assert slots == [Slot(0, 0), Slot(1, 0), Slot(2, 0), Slot(1, 1)]
    assert following == 3


def test_the_next_load_step_begins_with_the_first_person_not_begun() -> None:
    counts = [2, 2, 2, 2, 2]

    first, following = interleave(counts, 6, 2)
    second, _ = interleave(counts, 4, 2, first=following)

    assert {s.person for s in first} == {0, 1, 2, 3}
    assert following == 4
    assert {s.person for s in second} == {4}  # one lane is empty at once: it stops there


def test_persons_without_steps_are_passed_over() -> None:
    slots, _ = interleave([0, 2, 0, 1], 10, 1)

    assert slots == [Slot(1, 0), Slot(1, 1), Slot(3, 0)]


def test_it_stops_rather_than_let_the_gaps_shrink_when_persons_run_out() -> None:
    slots, _ = interleave([5, 1], 10, 2)

    assert slots == [Slot(0, 0), Slot(1, 0), Slot(0, 1)]


def test_the_lanes_keep_a_persons_steps_gap_seconds_apart() -> None:
    assert lanes_for(1000, 2.0) == 2000
    assert lanes_for(100, 0.015) == 2  # rounded up: never closer than the gap
    assert lanes_for(1, 0.0) == 1


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [(-0.1, 0), (0.0, 1), (0.0099, 1), (0.01, 2), (0.5, 51), (100.0, 200)],
)
def test_slots_fall_due_on_the_schedule_not_on_the_answers(elapsed: float, expected: int) -> None:
    assert due_by(elapsed, 100.0, 200) == expected


def test_slot_i_is_due_i_over_rate_seconds_after_the_start() -> None:
    assert due_at(0, 500.0) == 0.0
    assert due_at(250, 500.0) == pytest.approx(0.5)
