"""What a load run prints: a Markdown table for docs/benchmarks.md and one JSON line per rate.

Pure.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from simulator.load.lag import Judgement
from simulator.load.latency import Percentiles

FIELDS = ("p50_ms", "p99_ms", "max_ms")
SENDER_SLACK_SECONDS = 1.0  # a sender this far behind its schedule did not offer the rate


@dataclass(frozen=True)
class StepResult:
    """One offered rate: what was sent, what arrived, and how the groups kept up."""

    rate: float
    seconds: float
    offered: int
    sent: int
    send_errors: int
    sender_behind_s: float  # the most the sender was behind its schedule
    deliveries: Percentiles | None
    receipts: Percentiles | None
    refusals: int
    alerts: int
    repeated: int
    judgements: tuple[Judgement, ...]
    drained_s: float | None  # seconds after the step until every group caught up; None: not

    @property
    def lag_bounded(self) -> bool:
        return all(j.bounded for j in self.judgements)

    @property
    def sustained(self) -> bool:
        """The rate was offered in full, and every group kept up with it."""
        on_time = self.sender_behind_s <= SENDER_SLACK_SECONDS
        return self.lag_bounded and on_time and self.send_errors == 0


def highest_sustained(results: Sequence[StepResult]) -> float | None:
    return max((r.rate for r in results if r.sustained), default=None)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def markdown(results: Sequence[StepResult]) -> list[str]:
    groups = [j.group for j in results[0].judgements] if results else []
    lines = [
        "| offered events/s | seconds | offered | sender behind (ms) | deliveries"
        " | p50 (ms) | p99 (ms) | max (ms) | receipt p50 / p99 (ms) | refusals"
        + "".join(f" | lag at end: {g}" for g in groups)
        + " | lag bounded | drained after (s) |",
        "|---" * (11 + len(groups)) + "|---|",
    ]
    for r in results:
        d, q = r.deliveries, r.receipts
        lags = "".join(
            f" | {j.lag_at_end:,} of ≤ {j.allowance:,.0f} (peak {j.peak:,})" for j in r.judgements
        )
        drained = "no" if r.drained_s is None else f"{r.drained_s:.0f}"
        figures = [_ms(None if d is None else getattr(d, f)) for f in FIELDS]
        answers = " / ".join(_ms(None if q is None else getattr(q, f)) for f in FIELDS[:2])
        lines.append(
            f"| {r.rate:,.0f} | {r.seconds:.0f} | {r.offered:,} | {r.sender_behind_s * 1000:,.0f}"
            f" | {0 if d is None else d.count:,} | {' | '.join(figures)} | {answers}"
            f" | {r.refusals}{lags} | {'yes' if r.lag_bounded else 'no'} | {drained} |"
        )
    return lines


def json_line(r: StepResult) -> str:
    d, q = r.deliveries, r.receipts
    return json.dumps(
        {
            "figure": f"e2e latency at {r.rate:g}/s",
            "p50_ms": None if d is None else round(d.p50_ms, 1),
            "p99_ms": None if d is None else round(d.p99_ms, 1),
            "max_ms": None if d is None else round(d.max_ms, 1),
            "delivered": 0 if d is None else d.count,
            "offered": r.offered,
            "lag_bounded": r.lag_bounded,
            "sustained": r.sustained,
            "sent": r.sent,
            "sender_behind_ms": round(r.sender_behind_s * 1000, 1),
            "receipt_p50_ms": None if q is None else round(q.p50_ms, 1),
            "receipt_p99_ms": None if q is None else round(q.p99_ms, 1),
            "refusals": r.refusals,
            "lag_at_end": {j.group: j.lag_at_end for j in r.judgements},
            "lag_peak": {j.group: j.peak for j in r.judgements},
        }
    )


def sustained_line(results: Sequence[StepResult]) -> str:
    return json.dumps(
        {
            "figure": "highest sustained offered rate (lag bounded)",
            "value": highest_sustained(results),
            "unit": "events/s",
        }
    )


def memory_lines(peaks: dict[str, float]) -> list[str]:
    """One JSON line per service process: its peak resident memory over the whole run."""
    return [
        json.dumps({"figure": f"{name}: peak RSS under load", "value": mib, "unit": "MiB"})
        for name, mib in sorted(peaks.items())
    ]
