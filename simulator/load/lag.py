"""Consumer lag over a load step, and whether it stayed bounded.

Pure. A group's lag is what its topics hold beyond what it has committed. A step's lag is
bounded when, at the step's end, each group is behind by no more than ``allowance`` seconds of
what arrived on its topics during the step (at least ``floor`` records: a transaction marker
per partition and the batch in hand are not a backlog). The smallest of the last few samples
is judged, so that one sample taken while a batch was in flight does not decide; a lag that
grows is above the allowance in all of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Partition = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True)
class LagSample:
    """At ``at`` (seconds): each group's lag and the sum of its topics' end offsets."""

    at: float
    lag: Mapping[str, int]
    ends: Mapping[str, int]


def group_lag(
    ends: Mapping[Partition, int],
    committed: Mapping[Partition, int],
    start: Mapping[Partition, int],
) -> int:
    """How far a group is behind the end of its partitions (``ends``); a partition it has never
    committed counts from ``start`` (where it stood when the measurement began)."""
    behind = 0
    for partition, end in ends.items():
        at = committed.get(partition, start.get(partition, end))
        behind += max(0, end - at)
    return behind


@dataclass(frozen=True)
class Judgement:
    group: str
    input_per_second: float
    allowance: float
    lag_at_end: int  # the smallest of the last samples
    peak: int  # the largest sample during the step
    bounded: bool


def judge(
    samples: Sequence[LagSample],
    group: str,
    *,
    allowance_seconds: float = 1.0,
    floor: int = 0,
    tail: int = 3,
) -> Judgement:
    """Whether ``group``'s lag stayed bounded over ``samples`` (one load step, in time order)."""
    if len(samples) < 2:
        raise ValueError("at least two samples")
    first, last = samples[0], samples[-1]
    span = last.at - first.at
    arrived = last.ends[group] - first.ends[group]
    per_second = arrived / span if span > 0 else 0.0
    allowance = max(float(floor), per_second * allowance_seconds)
    at_end = min(s.lag[group] for s in samples[-tail:])
    peak = max(s.lag[group] for s in samples)
    return Judgement(group, per_second, allowance, at_end, peak, at_end <= allowance)
