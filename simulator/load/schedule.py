"""The open-loop schedule: which person's step goes in which slot, and when a slot is due.

Pure. Slot ``i`` of a step at ``rate`` events/s is due at ``i / rate`` seconds after the step
began, whatever the answers: measuring from that time keeps queueing visible (no coordinated
omission). Persons are interleaved round-robin over ``active`` lanes, so a person's next step
comes exactly ``active`` slots after the previous one: at ``active = rate * gap`` their steps are
``gap`` seconds apart, in their script's order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Slot:
    """One send: the ``step``-th step of the ``person``-th person."""

    person: int
    step: int


def lanes_for(rate: float, gap_seconds: float) -> int:
    """How many persons are under way at once for their steps to be ``gap_seconds`` apart."""
    return max(1, math.ceil(rate * gap_seconds))


def interleave(
    step_counts: Sequence[int], slots: int, active: int, *, first: int = 0
) -> tuple[list[Slot], int]:
    """Up to ``slots`` sends from the persons ``first``, ``first + 1``, … (``step_counts`` gives
    each person's number of steps), round-robin over ``active`` lanes; a lane whose person is
    done takes the next person. Returns the slots and the first person not begun (the next
    load step starts there). Fewer slots when the persons run out (the caller gives enough)."""
    if active < 1:
        raise ValueError("at least one lane")
    following = first
    lanes: list[list[int] | None] = []  # [person, next step] per lane; None: no one left

    def next_person() -> list[int] | None:
        nonlocal following
        while following < len(step_counts) and step_counts[following] == 0:
            following += 1
        if following >= len(step_counts):
            return None
        found, following = [following, 0], following + 1
        return found

    for _ in range(active):
        lanes.append(next_person())
    found: list[Slot] = []
    index = 0
    # Once a lane has no one left the rounds would shrink, and with them the others' gaps: stop.
    while len(found) < slots:
        lane = lanes[index % active]
        if lane is None:
            break
        found.append(Slot(lane[0], lane[1]))
        lane[1] += 1
        if lane[1] >= step_counts[lane[0]]:
            lanes[index % active] = next_person()
        index += 1
    return found, following


def due_at(index: int, rate: float) -> float:
    """Seconds after the step began at which slot ``index`` is to be sent."""
    return index / rate


def due_by(elapsed: float, rate: float, total: int) -> int:
    """How many of ``total`` slots are due ``elapsed`` seconds after the step began."""
    if elapsed < 0:
        return 0
    return min(total, math.floor(elapsed * rate) + 1)
