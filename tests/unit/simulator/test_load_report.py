"""What a load run prints: a JSON line per rate with the agreed keys, a Markdown row per rate,
and the highest rate that was offered in full and kept up with."""

from __future__ import annotations

import json

from simulator.load.lag import Judgement
from simulator.load.latency import Percentiles
from simulator.load.report import (
    StepResult,
    highest_sustained,
    json_line,
    markdown,
    sustained_line,
)


def result(rate: float, *, bounded: bool = True, behind: float = 0.01) -> StepResult:
    return StepResult(
        rate=rate,
        seconds=30,
        offered=int(rate * 30),
        sent=int(rate * 30),
        send_errors=0,
        sender_behind_s=behind,
        deliveries=Percentiles(count=100, p50_ms=20.0, p99_ms=140.0, max_ms=300.0),
        receipts=None,
        refusals=0,
        alerts=0,
        repeated=0,
        judgements=(Judgement("iiz-intake", rate, rate, 3, 40, bounded),),
        drained_s=2.0,
    )


def test_the_json_line_has_the_figure_and_the_agreed_keys() -> None:
    found = json.loads(json_line(result(1000)))

    assert found["figure"] == "e2e latency at 1000/s"
    assert {k: found[k] for k in ("p50_ms", "p99_ms", "max_ms", "delivered", "offered")} == {
        "p50_ms": 20.0,
        "p99_ms": 140.0,
        "max_ms": 300.0,
        "delivered": 100,
        "offered": 30000,
    }
    assert found["lag_bounded"] is True


def test_a_rate_the_sender_could_not_keep_is_not_sustained_though_lag_stayed_bounded() -> None:
    late = result(5000, behind=4.0)

    assert late.lag_bounded
    assert not late.sustained


def test_the_highest_sustained_rate_skips_the_unbounded_ones() -> None:
    results = [result(100), result(1000), result(2000, bounded=False), result(5000, behind=9)]

    assert highest_sustained(results) == 1000
    assert json.loads(sustained_line(results))["value"] == 1000
    assert highest_sustained([result(100, bounded=False)]) is None


def test_the_table_has_a_row_per_rate_and_as_many_cells_as_headers() -> None:
    lines = markdown([result(100), result(1000, bounded=False)])

    assert len(lines) == 4
    assert {line.count("|") for line in lines} == {lines[0].count("|")}
    assert "| 1,000 |" in lines[3]
    assert "| no |" in lines[3]
