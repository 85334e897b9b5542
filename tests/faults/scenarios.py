"""The faults, one per run, each injected while the traffic flows (at shares of the valid
submissions sent, so "mid-stream" holds however fast the machine is).

Every run carries poison at 1 in 50 on every consumed topic; ``poison`` is the run with no
other fault. Faults that stop a process or a server bring it back as an operator would.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from schemas.topics import CASE_EVENTS
from services.common.database import asyncpg_dsn, checked_schema
from tests.faults.infra_control import SuiteInfra
from tests.faults.processes import RunIdentity, Services
from tests.faults.traffic import Traffic

LEDGER_FAILURE_SECONDS = 6.0


@dataclass
class FaultContext:
    infra: SuiteInfra
    identity: RunIdentity
    services: Services
    traffic: Traffic
    rng: random.Random
    note: Callable[[str], None]
    infra_log: Path


Inject = Callable[[FaultContext], Awaitable[None]]


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: str
    inject: Inject
    workers: int = 1


def moments(rng: random.Random, times: int, first: float = 0.08, last: float = 0.9) -> list[float]:
    """``times`` random shares of the traffic, one in each of ``times`` equal stretches."""
    width = (last - first) / times
    return [first + width * (i + rng.uniform(0.15, 0.85)) for i in range(times)]


async def no_fault(ctx: FaultContext) -> None:
    return None


def kill_process(name: str, times: int, *, pause: tuple[float, float] = (0.5, 3.0)) -> Inject:
    """SIGKILL ``name`` at random moments; start it again after a short pause."""

    async def inject(ctx: FaultContext) -> None:
        for share in moments(ctx.rng, times):
            await ctx.traffic.reached(share)
            await asyncio.sleep(ctx.rng.uniform(0.0, 1.5))
            ctx.services.kill(name)
            await asyncio.sleep(ctx.rng.uniform(*pause))
            await ctx.services.restart(name)

    return inject


def kill_processes(plan: list[str]) -> Inject:
    """SIGKILL each named process in turn, at random moments; each comes back."""

    async def inject(ctx: FaultContext) -> None:
        for share, name in zip(moments(ctx.rng, len(plan)), plan, strict=True):
            await ctx.traffic.reached(share)
            ctx.services.kill(name)
            await asyncio.sleep(ctx.rng.uniform(0.5, 2.5))
            await ctx.services.restart(name)

    return inject


def kill_broker(times: int, *, down: float = 3.0) -> Inject:
    """SIGKILL a Kafka node (the only one, or a random one of the cluster); start it again."""

    async def inject(ctx: FaultContext) -> None:
        for share in moments(ctx.rng, times, 0.15, 0.8):
            await ctx.traffic.reached(share)
            node = ctx.rng.randint(1, ctx.infra.brokers)
            await asyncio.to_thread(ctx.infra.kill_broker, node, ctx.infra_log)
            ctx.note(f"SIGKILL kafka-{node}")
            await asyncio.sleep(down)
            await asyncio.to_thread(ctx.infra.start_broker, node, ctx.infra_log)
            ctx.note(f"kafka-{node} started again and serving")

    return inject


def kill_canonical_leader(times: int, *, down: float = 6.0) -> Inject:
    """SIGKILL the node leading most partitions of iiz.case-events.v1; start it again."""

    async def inject(ctx: FaultContext) -> None:
        for share in moments(ctx.rng, times, 0.2, 0.75):
            await ctx.traffic.reached(share)
            leaders = await ctx.infra.leaders(CASE_EVENTS)
            node = await ctx.infra.busiest_leader(CASE_EVENTS)
            led = sorted(p for p, n in leaders.items() if n == node)
            await asyncio.to_thread(ctx.infra.kill_broker, node, ctx.infra_log)
            ctx.note(f"SIGKILL kafka-{node}, leader of {CASE_EVENTS} partitions {led}")
            await asyncio.sleep(down)
            await asyncio.to_thread(ctx.infra.start_broker, node, ctx.infra_log)
            after = await ctx.infra.leaders(CASE_EVENTS)
            ctx.note(f"kafka-{node} back and in sync; leaders now {after}")

    return inject


def stop_postgres(times: int, *, down: float = 5.0) -> Inject:
    """``pg_ctl stop -m immediate`` (a crash: no checkpoint), start again after ``down`` s."""

    async def inject(ctx: FaultContext) -> None:
        for share in moments(ctx.rng, times, 0.2, 0.8):
            await ctx.traffic.reached(share)
            await asyncio.to_thread(ctx.infra.stop_postgres_immediately, ctx.infra_log)
            ctx.note("PostgreSQL stopped -m immediate")
            await asyncio.sleep(down)
            await asyncio.to_thread(ctx.infra.start_postgres, ctx.infra_log)
            ctx.note("PostgreSQL started again")

    return inject


def fail_ledger(times: int, *, seconds: float = LEDGER_FAILURE_SECONDS) -> Inject:
    """Every INSERT into intake's ``submission_ledger`` raises for ``seconds`` (a trigger), as a
    ledger that fails after intake's Kafka commit: intake must retry it and never republish."""

    async def inject(ctx: FaultContext) -> None:
        schema = checked_schema(ctx.identity.intake_schema)
        for share in moments(ctx.rng, times, 0.25, 0.75):
            await ctx.traffic.reached(share)
            conn = await asyncpg.connect(asyncpg_dsn(ctx.infra.migration_database_url))
            try:
                await conn.execute(
                    f"""
                    CREATE OR REPLACE FUNCTION "{schema}".faults_ledger_fails() RETURNS trigger
                    LANGUAGE plpgsql AS $$
                    BEGIN RAISE EXCEPTION 'submission ledger unavailable (fault injection)';
                    END $$;
                    CREATE TRIGGER faults_ledger_fails BEFORE INSERT
                    ON "{schema}".submission_ledger
                    FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".faults_ledger_fails();
                    """
                )
                ctx.note(f"ledger INSERTs fail from now for {seconds:.0f} s")
                await asyncio.sleep(seconds)
                await conn.execute(
                    f'DROP TRIGGER faults_ledger_fails ON "{schema}".submission_ledger'
                )
                ctx.note("ledger INSERTs work again")
            finally:
                await conn.close()

    return inject


def hide_ledger(times: int, *, seconds: float = LEDGER_FAILURE_SECONDS) -> Inject:
    """Intake's ``submission_ledger`` renamed away for ``seconds`` and back: its reads (the
    duplicate check before publishing) fail as well as its writes."""

    async def inject(ctx: FaultContext) -> None:
        schema = checked_schema(ctx.identity.intake_schema)
        for share in moments(ctx.rng, times, 0.25, 0.75):
            await ctx.traffic.reached(share)
            conn = await asyncpg.connect(asyncpg_dsn(ctx.infra.migration_database_url))
            try:
                await conn.execute(
                    f'ALTER TABLE "{schema}".submission_ledger RENAME TO faults_hidden_ledger'
                )
                ctx.note(f"ledger table renamed away for {seconds:.0f} s")
                await asyncio.sleep(seconds)
                await conn.execute(
                    f'ALTER TABLE "{schema}".faults_hidden_ledger RENAME TO submission_ledger'
                )
                ctx.note("ledger table back")
            finally:
                await conn.close()

    return inject


def scenarios(*, short: bool, cluster: bool) -> list[Scenario]:
    if short:  # poison is in every run, so no run of its own here
        return [
            Scenario(
                "coordination-kill", "coordination SIGKILL x2", kill_process("coordination-1", 2)
            ),
            Scenario("postgres-stop", "PostgreSQL stop -m immediate x1", stop_postgres(1)),
            Scenario("broker-kill", "broker SIGKILL x1", kill_broker(1)),
        ]
    found = [
        Scenario("poison", "poison only (1 in 50 on every consumed topic)", no_fault),
        Scenario(
            "broker-kill",
            "broker SIGKILL x3" + (" (a random node each time)" if cluster else ""),
            kill_broker(3),
        ),
        Scenario("coordination-kill", "coordination SIGKILL x6", kill_process("coordination-1", 6)),
        Scenario(
            "two-workers",
            "two coordination workers, one SIGKILLed x5",
            kill_process("coordination-2", 5),
            workers=2,
        ),
        Scenario("postgres-stop", "PostgreSQL stop -m immediate x2 (5 s down)", stop_postgres(2)),
        Scenario(
            "ledger-failing",
            f"intake ledger INSERT failing {LEDGER_FAILURE_SECONDS:.0f} s x2",
            fail_ledger(2),
        ),
        Scenario(
            "ledger-missing",
            f"intake ledger table renamed away {LEDGER_FAILURE_SECONDS:.0f} s x2 (reads fail too)",
            hide_ledger(2),
        ),
        Scenario(
            "intake-notifications-kill",
            "intake SIGKILL x2, notifications SIGKILL x2",
            kill_processes(["intake", "notifications", "intake", "notifications"]),
        ),
    ]
    if cluster:
        found.append(
            Scenario(
                "leader-kill",
                "leader of iiz.case-events.v1 partitions SIGKILLed x2 (6 s down)",
                kill_canonical_leader(2),
            )
        )
    return found
