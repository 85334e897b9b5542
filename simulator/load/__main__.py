"""``python -m simulator.load [--rates 100,1000,5000] [--seconds 30]`` (``make load``).

Starts intake's Kafka door, the coordination worker and notifications as processes on the local
infrastructure (``infra/local up``; the one IIZ_INFRA_HOME names), offers each rate in turn
(ascending) and stops after the first rate the bus does not sustain (``--keep-going``: all).
Prints a progress line per step, then a Markdown table and one JSON line per rate. Measures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

from schemas.registry import load_institutions
from schemas.topics import CASE_EVENTS, DELIVERIES
from services.coordination.settings import CoordinationSettings
from services.intake.settings import IntakeSettings
from services.notifications.settings import NotificationsSettings
from simulator.credentials import partner_settings
from simulator.demo.processes import check_infrastructure, migrate_schemas
from simulator.demo.run import connect_to_local_infra
from simulator.load.generator import LoadPlan, LoadRun, OpenLoopSender
from simulator.load.report import StepResult, json_line, markdown, memory_lines, sustained_line
from simulator.load.services import LoadServices
from simulator.load.watch import DeliveryWatch, LagWatch
from simulator.mailbox import LocalSmtpServer

REPO = Path(__file__).resolve().parents[2]


def parse_plan(argv: list[str]) -> LoadPlan:
    parser = argparse.ArgumentParser(prog="python -m simulator.load", description=__doc__)
    parser.add_argument(
        "--rates", default="100,1000,5000", help="offered events/s, comma-separated"
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each step")
    parser.add_argument("--gap", type=float, default=2.0, help="seconds between a person's steps")
    parser.add_argument("--drain", type=float, default=90.0, help="most seconds to catch up")
    parser.add_argument("--seed", type=int, default=time.time_ns() % 1_000_000)
    parser.add_argument("--keep-going", action="store_true", help="every rate, sustained or not")
    parser.add_argument("--instances", type=int, default=1, help="copies of each service (1-4)")
    args = parser.parse_args(argv)
    if not 1 <= args.instances <= 4:
        parser.error("--instances: 1 to 4")
    rates = tuple(sorted(float(r) for r in args.rates.split(",") if r.strip()))
    if not rates or min(rates) <= 0:
        parser.error("--rates: positive numbers")
    return LoadPlan(
        rates, args.seconds, args.gap, args.drain, args.seed, args.keep_going, args.instances
    )


def progress(result: StepResult) -> None:
    d = result.deliveries
    shown = "no deliveries" if d is None else f"p50 {d.p50_ms:,.0f} ms, p99 {d.p99_ms:,.0f} ms"
    lags = ", ".join(f"{j.group} {j.lag_at_end:,}" for j in result.judgements)
    print(
        f"  {result.rate:>7,.0f}/s: {result.sent:,} sent, {0 if d is None else d.count:,}"
        f" deliveries, {shown}; lag at end {lags};"
        f" {'sustained' if result.sustained else 'NOT sustained'}",
        flush=True,
    )


async def run(plan: LoadPlan) -> tuple[list[StepResult], dict[str, float]]:
    connect_to_local_infra()
    intake = IntakeSettings()
    await check_infrastructure(intake)
    await migrate_schemas(intake)
    registry = load_institutions()
    print(
        f"\nLoad: seed {plan.seed}, steps of {plan.seconds:g} s,"
        f" a person's steps {plan.gap_seconds:g} s apart, {plan.instances} instance(s) per service"
    )
    groups = {
        intake.intake_group_id: [i.intake_topic for i in registry.institutions],
        CoordinationSettings().coordination_group_id: [CASE_EVENTS],
        f"{NotificationsSettings().notifications_group_id}-router": [DELIVERIES],
    }
    logs = Path(os.environ.get("IIZ_INFRA_HOME") or REPO / ".infra") / "logs"
    results: list[StepResult] = []
    peaks: dict[str, float] = {}
    async with LocalSmtpServer() as mailbox:
        services = LoadServices(intake, logs, mailbox.port, instances=plan.instances)
        deliveries = DeliveryWatch(intake, [i.delivery_topic for i in registry.institutions])
        lags = LagWatch(intake, groups)
        sender = OpenLoopSender(registry, partner_settings(intake))
        try:
            services.start()
            await services.wait_until_ready()
            await deliveries.start()
            await lags.start()
            await sender.start([i.id for i in registry.institutions])
            load = LoadRun(plan, sender, deliveries, lags)
            await load.drain(time.time())  # whatever an earlier run left, before the first step
            for rate in plan.rates:
                result = await load.step(rate)
                results.append(result)
                progress(result)
                services.fail_if_one_died()
                if not result.sustained and not plan.keep_going:
                    break
        finally:
            peaks = services.peak_rss_mib()
            await sender.stop()
            await lags.stop()
            await deliveries.stop()
            services.stop()
    curve = logs / "load-lag.jsonl"  # the groups' lag over time, a line a second
    curve.write_text(
        "".join(json.dumps({"at": round(s.at, 3), "lag": dict(s.lag)}) + "\n" for s in lags.samples)
    )
    print(f"  service logs: {logs}/load-*.log; lag over time: {curve}\n")
    return results, peaks


def main() -> None:
    # Ctrl-C or a SIGTERM still runs the `finally` that stops the services started here.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    plan = parse_plan(sys.argv[1:])
    results, peaks = asyncio.run(run(plan))
    for line in markdown(results):
        print(line)
    print()
    for result in results:
        print(json_line(result))
    print(sustained_line(results))
    for line in memory_lines(peaks):
        print(line)


if __name__ == "__main__":
    main()
