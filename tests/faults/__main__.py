"""``python -m tests.faults [--short] [--cluster] [--only NAME[,NAME]]``: the fault suite.

Starts its own Kafka and PostgreSQL (``infra/local`` with its own state folder and ports, never
the developer's), runs each fault as its own run against the real services, prints a table row
and a JSON line per run, writes them to the suite's run folder, stops its infrastructure and
exits 1 if any run lost or duplicated an effect, left poison unanswered or did not reconcile.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import signal
import sys
import time

from schemas.registry import load_institutions
from tests.faults.infra_control import SuiteInfra
from tests.faults.report import RunResult, table, write
from tests.faults.runner import run_one
from tests.faults.scenarios import scenarios


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.faults", description=__doc__)
    parser.add_argument("--short", action="store_true", help="the CI subset, less traffic")
    parser.add_argument(
        "--cluster", action="store_true", help="on a three-broker cluster (RF 3, min ISR 2)"
    )
    parser.add_argument("--only", help="comma-separated run names (see --list)")
    parser.add_argument("--list", action="store_true", help="list the runs and exit")
    parser.add_argument("--seed", type=int, default=2026, help="traffic and fault moments")
    parser.add_argument("--persons", type=int, help="persons per run (default 100, short 24)")
    parser.add_argument(
        "--seconds", type=float, help="target traffic duration per run (default 75, short 20)"
    )
    parser.add_argument(
        "--keep-infra", action="store_true", help="leave the suite's Kafka and PostgreSQL up"
    )
    parser.add_argument(
        "--keep-schemas", action="store_true", help="keep the schemas of passed runs too"
    )
    return parser.parse_args(argv)


async def suite(args: argparse.Namespace) -> int:
    chosen = scenarios(short=args.short, cluster=args.cluster)
    if args.only:
        wanted = {name.strip() for name in args.only.split(",")}
        unknown = wanted - {s.name for s in chosen}
        if unknown:
            raise SystemExit(f"unknown run(s): {', '.join(sorted(unknown))}; see --list")
        chosen = [s for s in chosen if s.name in wanted]
    if args.list:
        for s in chosen:
            print(f"{s.name:<28} {s.fault}")
        return 0
    infra = SuiteInfra.cluster() if args.cluster else SuiteInfra.single()
    persons = args.persons or (24 if args.short else 100)
    seconds = args.seconds or (20.0 if args.short else 75.0)
    settle_within = 300.0 if args.cluster else 240.0
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
    folder = infra.home / "runs" / stamp
    folder.mkdir(parents=True, exist_ok=True)
    infra_log = folder / "infra.log"
    # The suite's own clients (aiokafka, asyncpg) complain loudly while a fault lasts: to a file.
    logging.basicConfig(
        filename=folder / "suite.log",
        level=logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    print(f"fault suite: {len(chosen)} run(s) on {infra.label} ({infra.bootstrap_servers},")
    print(f"  PostgreSQL 127.0.0.1:{infra.pg_port}, state {infra.home}); results in {folder}")
    began = time.monotonic()
    results: list[RunResult] = []
    registry = load_institutions()
    await asyncio.to_thread(infra.up, infra_log)
    print(f"  infrastructure up in {time.monotonic() - began:.0f} s", flush=True)
    try:
        for index, scenario in enumerate(chosen):
            tag = f"{stamp[2:]}_{index}"
            result = await run_one(
                scenario,
                infra,
                registry,
                folder=folder / f"{index + 1:02d}-{scenario.name}",
                tag=tag,
                seed=args.seed + index,
                persons=persons,
                traffic_seconds=seconds,
                settle_within=settle_within,
                keep_schemas=args.keep_schemas,
            )
            results.append(result)
            print(json.dumps(result.as_dict(), ensure_ascii=False), flush=True)
            write(results, folder)
    finally:
        if not args.keep_infra:
            await asyncio.to_thread(infra.down, infra_log)
    print()
    print(table(results))
    failed = [r for r in results if not r.passed]
    print(
        f"\n{len(results) - len(failed)} passed, {len(failed)} failed"
        f" ({infra.label}, {time.monotonic() - began:.0f} s); results in {folder}"
    )
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    # A SIGTERM (CI's timeout, an operator) still stops the services and the infrastructure.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return asyncio.run(suite(parse(argv)))


if __name__ == "__main__":
    sys.exit(main())
