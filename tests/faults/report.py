"""The results: one Markdown table row and one JSON line per run, printed and written to the
suite's run folder (``results.md``, ``results.jsonl``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.faults.counting import Counts


@dataclass
class RunResult:
    infra: str
    name: str
    fault: str
    seed: int
    folder: Path
    counts: Counts
    reconcile_differences: int | None
    reconcile_summary: str
    duration: float
    traffic_seconds: float
    settle_seconds: float
    lag: int | None
    unexpected_exits: dict[str, list[int]] = field(default_factory=dict)
    kills: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def judge(self) -> None:
        """Lost 0, duplicated 0, every poison answered, reconcile 0 differences."""
        c = self.counts
        if c.lost_total:
            self.problems.append(f"lost {c.lost_total}: {c.lost}")
        if c.duplicated_total:
            self.problems.append(f"duplicated {c.duplicated_total}: {c.duplicated}")
        if c.poison_answered != c.poison_sent:
            self.problems.append(
                f"poison unanswered {c.poison_sent - c.poison_answered}: {c.poison_unanswered}"
            )
        if c.partner_mistakes_answered != c.partner_mistakes:
            self.problems.append("a partner mistake was not answered")
        if any(c.phantoms.values()):
            self.problems.append(f"phantoms: {c.phantoms}")
        if self.reconcile_differences != 0:
            self.problems.append(f"reconcile differences: {self.reconcile_differences}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "infra": self.infra,
            "run": self.name,
            "fault": self.fault,
            "seed": self.seed,
            "passed": self.passed,
            "problems": self.problems,
            "sent": self.counts.sent,
            "accepted": self.counts.accepted,
            "timeline": self.counts.timeline,
            "authorised": self.counts.authorised,
            "published": self.counts.published,
            "delivered": self.counts.delivered,
            "lost": self.counts.lost_total,
            "duplicated": self.counts.duplicated_total,
            "repeated_deliveries": self.counts.repeated_deliveries,
            "poison_sent": self.counts.poison_sent,
            "poison_answered": self.counts.poison_answered,
            "reconcile_differences": self.reconcile_differences,
            "reconcile": self.reconcile_summary,
            "duration_s": round(self.duration, 1),
            "traffic_s": round(self.traffic_seconds, 1),
            "settle_s": round(self.settle_seconds, 1),
            "group_lag_at_end": self.lag,
            "kills": self.kills,
            "unexpected_exits": self.unexpected_exits,
            "folder": str(self.folder),
            "detail": self.counts.as_dict(),
        }


HEADER = (
    "| infra | run | fault | sent | accepted | on timeline | authorised | published | delivered"
    " | lost | duplicated | repeated deliveries | poison sent/answered | reconcile differences"
    " | duration | result |"
)


def table(results: list[RunResult]) -> str:
    lines = [HEADER, "|" + "---|" * HEADER.count(" | ") + "---|"]
    for r in results:
        c = r.counts
        differences = "—" if r.reconcile_differences is None else str(r.reconcile_differences)
        lines.append(
            f"| {r.infra} | {r.name} | {r.fault} | {c.sent} | {c.accepted} | {c.timeline}"
            f" | {c.authorised} | {c.published} | {c.delivered} | {c.lost_total}"
            f" | {c.duplicated_total} | {c.repeated_deliveries}"
            f" | {c.poison_sent}/{c.poison_answered} | {differences}"
            f" | {r.duration:.0f} s | {'pass' if r.passed else 'FAIL'} |"
        )
    return "\n".join(lines)


def write(results: list[RunResult], folder: Path) -> None:
    (folder / "results.md").write_text(table(results) + "\n", encoding="utf-8")
    with (folder / "results.jsonl").open("w", encoding="utf-8") as sink:
        for r in results:
            sink.write(json.dumps(r.as_dict(), ensure_ascii=False) + "\n")
