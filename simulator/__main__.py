"""Run a synthetic population against running services and print what happened.

    python -m simulator --persons 200 --seed 7 [--concurrency 32]

Needs intake (Kafka door and HTTP door with its web form, where the municipalities register
ZIF persons) and the coordination worker running; settings come from
the environment (``IIZ_*``, see ``services.intake.settings.IntakeSettings``). The same seed gives
the same population — and, against the same services, the same event ids, which intake then
answers as duplicates; use a new seed for a new run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
from collections import Counter

import httpx

from schemas.registry import load_institutions
from schemas.topics import DELIVERIES
from services.intake.settings import IntakeSettings
from simulator.credentials import partner_settings
from simulator.driver import SimulationDriver, SubmissionRecord, issue_http_tokens
from simulator.partners import PartnerInboxes, ReceivedDelivery
from simulator.population import Population, build_population

ALERT_TYPE = "ch.bl.iiz.alert.v1"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--persons", type=int, default=100, help="persons to simulate")
    parser.add_argument("--seed", type=int, default=None, help="default: from the clock")
    parser.add_argument("--concurrency", type=int, default=32, help="persons at once")
    parser.add_argument("--http-url", default=None, help="HTTP door (default: local port)")
    parser.add_argument(
        "--deliveries",
        choices=("partner", "bus"),
        default="partner",
        help="read deliveries from the partners' topics (notifications) or iiz.deliveries.v1",
    )
    parser.add_argument(
        "--settle", type=float, default=5.0, help="stop reading after this many quiet seconds"
    )
    return parser


async def simulate(args: argparse.Namespace, settings: IntakeSettings) -> int:
    registry = load_institutions()
    seed = args.seed if args.seed is not None else time.time_ns() % 1_000_000
    population = build_population(args.persons, seed, form_start=dt.datetime.now(dt.UTC))
    print(f"Population: {len(population.persons)} persons, seed {seed}")
    for path, count in sorted(population.path_mix().items()):
        print(f"  {path:<28} {count:>5}")
    tokens = await issue_http_tokens(
        settings.database_url, settings.intake_db_schema, registry, population.http_senders()
    )
    topics = [DELIVERIES] if args.deliveries == "bus" else None
    base = args.http_url or f"http://127.0.0.1:{settings.intake_http_port}"
    # Reading the partners' topics, each institution connects as its own principal (on a secured
    # broker); reading the bus's own topic takes a principal that may (admin).
    as_partner = partner_settings(settings) if topics is None else None
    inbox = PartnerInboxes(settings, registry, delivery_topics=topics, as_partner=as_partner)
    async with inbox, httpx.AsyncClient(base_url=base, timeout=30) as http:
        driver = SimulationDriver(
            settings,
            registry,
            inbox,
            http,
            tokens,
            concurrency=args.concurrency,
            as_partner=as_partner,
        )
        records = await driver.run(population, _show_progress)
        if sys.stdout.isatty():
            print()
        await _settle(inbox, args.settle)
    summarise(population, records, inbox.deliveries)
    answered = sum(r.status in ("accepted", "duplicate", "rejected") for r in records)
    return 0 if answered == len(records) else 1


async def _settle(inbox: PartnerInboxes, quiet: float, within: float = 120.0) -> None:
    """Read on until no delivery arrived for ``quiet`` seconds (or ``within`` passed)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        before = len(inbox.deliveries)

        def grew(found: list[ReceivedDelivery], before: int = before) -> bool:
            return len(found) > before

        if not await inbox.wait_until(grew, within=quiet):
            return


def _show_progress(done: int, total: int) -> None:
    """A bar that moves on a terminal; a line per quarter in a log."""
    bar = int(30 * done / max(total, 1))
    if sys.stdout.isatty():
        if done == total or done % 10 == 0:
            print(f"\r  submissions [{'#' * bar}{'.' * (30 - bar)}] {done}/{total}", end="")
    elif done == total or done * 4 // total != (done - 1) * 4 // total:
        print(f"  submissions {done}/{total}")


def summarise(
    population: Population, records: list[SubmissionRecord], deliveries: list[ReceivedDelivery]
) -> None:
    by_door = Counter((r.door, r.institution) for r in records)
    print("Submissions per door and institution")
    for (door, institution), count in sorted(by_door.items()):
        print(f"  {door:<6} {institution:<20} {count:>6}")
    statuses = Counter(r.status for r in records)
    reasons = Counter(r.reason for r in records if r.reason)
    print(f"Receipts by status: {dict(statuses)}; reasons: {dict(reasons) or '-'}")
    latencies = sorted(
        (r.answered_at - r.submitted_at).total_seconds() for r in records if r.answered_at
    )
    if latencies:
        median, p95 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.95)]
        print(f"Answer time: median {median * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")
    per_recipient: Counter[tuple[str, bool]] = Counter(
        (d.header("ce_recipient") or d.topic, d.header("ce_type") == ALERT_TYPE) for d in deliveries
    )
    print(f"Deliveries read: {len(deliveries)} (including other runs' and alerts)")
    for recipient in sorted({r for r, _ in per_recipient}):
        events, alerts = per_recipient[(recipient, False)], per_recipient[(recipient, True)]
        print(f"  to {recipient:<20} {events:>6} deliveries {alerts:>5} alerts")
    print(f"Persons by variant: {dict(sorted(population.tag_mix().items()))}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return asyncio.run(simulate(args, IntakeSettings()))


if __name__ == "__main__":
    sys.exit(main())
