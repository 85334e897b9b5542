"""README command 1: the whole bus, driven by the partner simulator.

Starts intake (Kafka door, HTTP door), coordination (worker, timeline API) and notifications as
their own processes, with two partner endpoints in this process: Berufsbildung's signed webhook
and the coordinators' mailbox. Then a synthetic Basel-Landschaft population submits through the
real doors, every partner reads its own delivery topic, and the run ends with a reconciliation
and where to look.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import os
import signal
import sys
import time
import uuid
from pathlib import Path

import httpx

from schemas.registry import load_institutions
from services.common.database import create_pool
from services.coordination.domain.working_days import SWISS_TIME
from services.coordination.legal_basis import BL_PROFILE
from services.coordination.ops.reconcile import reconcile
from services.coordination.ops.reconciliation import Reconciliation
from services.coordination.settings import CoordinationSettings
from services.intake.settings import IntakeSettings
from simulator.credentials import local_environment, partner_settings, principal_environment
from simulator.demo.letters import write_example_letters
from simulator.demo.processes import (
    LEGAL_BASIS,
    SCHEDULER_SECONDS,
    Services,
    check_infrastructure,
    migrate_schemas,
    registry_with_webhook,
    service_environment,
)
from simulator.demo.reading import print_reading, simulated_reading
from simulator.demo.report import persons_of, progress, rights_and_lifecycle, summary
from simulator.demo.year import (
    annual_report,
    chosen_year,
    committee_figures,
    concurrency,
    publish_as_of,
)
from simulator.driver import SimulationDriver, issue_http_tokens
from simulator.mailbox import LocalSmtpServer
from simulator.partners import PartnerInboxes
from simulator.population import FORM_SAMPLE, build_population, build_year_population
from simulator.webhook_partner import serve_webhooks

REPO = Path(__file__).resolve().parents[2]
LOGS = Path(os.environ.get("IIZ_INFRA_HOME") or REPO / ".infra") / "logs"
LETTERS = LOGS.parent / "demo-letters"  # example PDFs: an access report and a notice
WEBHOOK_SECRET = base64.b64encode(b"demo-only-secret-of-berufsbildung!!").decode()


def connect_to_local_infra() -> None:
    """Without IIZ_KAFKA_BOOTSTRAP_SERVERS: the instance `infra/local up` started (the one
    IIZ_INFRA_HOME names, default .infra), as its `infra/local env` prints it (admin)."""
    if not os.environ.get("IIZ_KAFKA_BOOTSTRAP_SERVERS"):
        os.environ.update(local_environment())


async def run_demo(persons: int, seed: int, year: int | None = None) -> None:
    """The quick demo (``persons`` over a few weeks), or with ``year`` that calendar year at the
    canton's volume (``simulator.demo.year``)."""
    started = time.monotonic()
    connect_to_local_infra()
    if year is not None:
        publish_as_of(year)  # before the settings are read: the API publishes the year's periods
    intake, coordination = IntakeSettings(), CoordinationSettings()
    await check_infrastructure(intake)
    await migrate_schemas(intake)  # the services never migrate on start-up
    registry = load_institutions()
    # The municipalities register ZIF persons through the web form, which stamps the real time:
    # those persons' stories begin now (the others in the simulated weeks). In the year mode
    # they register the year's persons through the HTTP door, and a few through the form now.
    now = dt.datetime.now(dt.UTC)
    if year is None:
        population = build_population(persons, seed, form_start=now)
        print(
            f"\nSimulation: {len(population.persons)} persons, seed {seed} (IIZ_DEMO_SEED={seed})"
        )
    else:
        population = build_year_population(year, seed, form_start=now)
        print(
            f"\nSimulation of {year}: {len(population.persons)} persons"
            f" ({FORM_SAMPLE} of them registered with ZIF through the web form today),"
            f" {len(population.steps)} submissions, seed {seed} (IIZ_DEMO_SEED={seed})"
        )
    for path, count in sorted(population.path_mix().items()):
        print(f"  {path:<30} {count:>4}")
    # The committee publishes ended periods only; in simulated time they end after the story.
    last = max((step.event.time for step in population.steps), default=None)
    if last is not None:
        as_of = dt.date(last.year + 1, 1, 1).isoformat()
        os.environ.setdefault("IIZ_COORDINATION_METRICS_AS_OF", as_of)
        print(f"  committee figures as of {os.environ['IIZ_COORDINATION_METRICS_AS_OF']}")
    today = last.astimezone(SWISS_TIME).date() if last is not None else None
    if today is not None:
        print(f"  overdue and active judged on {today:%d.%m.%Y} (the last simulated day)")
    async with serve_webhooks(WEBHOOK_SECRET) as berufsbildung, LocalSmtpServer() as mailbox:
        services = Services(intake, coordination, LOGS, today=today)
        services.start(
            registry_file=registry_with_webhook(LOGS / "demo-registry.yaml", berufsbildung.url),
            webhook_secret=WEBHOOK_SECRET,
            smtp_port=mailbox.port,
        )
        try:
            await services.wait_until_ready()
            tokens = await issue_http_tokens(
                intake.database_url, intake.intake_db_schema, registry, population.http_senders()
            )
            base = f"http://127.0.0.1:{intake.intake_http_port}"
            as_partner = partner_settings(intake)  # each institution as its own principal
            async with (
                PartnerInboxes(intake, registry, as_partner=as_partner) as inboxes,
                httpx.AsyncClient(base_url=base, timeout=30) as http,
            ):
                driver = SimulationDriver(
                    intake,
                    registry,
                    inboxes,
                    http,
                    tokens,
                    as_partner=as_partner,
                    concurrency=concurrency(year),
                )
                # Case workers read after each delivery, coordinators open their worklist:
                # normal reading, in simulated office hours (simulator/demo/reading.py).
                # The in-process API reads on the legal basis the API process has.
                as_api = coordination.model_copy(
                    update={
                        "coordination_legal_basis_file": BL_PROFILE,
                        "coordination_today": today,
                    }
                )
                figures: list[str] = []
                async with simulated_reading(as_api) as reading:
                    done_reading = asyncio.Event()
                    follower = asyncio.create_task(reading.follow(inboxes.deliveries, done_reading))
                    records = await driver.run(population, progress("submissions"))
                    print()
                    accepted = [r.canonical_id for r in records if r.status == "accepted"]
                    within = 150.0 if year is None else 900.0
                    report = await settle(coordination, [a for a in accepted if a], within)
                    done_reading.set()
                    await follower
                    letters = await write_example_letters(reading, population, LETTERS)
                    if year is not None:  # the committee reads the year's figures
                        figures = await committee_figures(reading, year)
                print_reading(reading)
                pseudonyms = await persons_of(coordination, [a for a in accepted if a])
                await summary(
                    records,
                    inboxes.deliveries,
                    berufsbildung,
                    mailbox,
                    report,
                    coordination,
                    pseudonyms,
                )
                await rights_and_lifecycle(as_api, reading.period, letters)
                if year is not None:
                    await the_yearly_report(coordination, intake, year, figures)
        except BaseException:
            services.stop()
            raise
        # The pages, the web form and the worker between them keep running, so that a person
        # can walk the ZIF flow by hand after the demo.
        services.stop(keep=("coordination-api", "coordination", "intake-http"))
    print(f"\n  logs: {LOGS}")
    print(f"  web form for municipal social services (running): {base}/formular")
    print("    (sign in as koordination-sozialhilfe-2829; ZIF reads it as koordination-zif)")
    print("  the pages, the timeline API, the web form and the coordination worker keep running")
    print("  for you to look around; stop them and the infrastructure with: make infra-down")
    minutes, seconds = divmod(int(time.monotonic() - started), 60)
    print(f"  the demo took {minutes} min {seconds:02d} s")


async def the_yearly_report(
    coordination: CoordinationSettings, intake: IntakeSettings, year: int, figures: list[str]
) -> None:
    """The committee's figures as its API gave them, its page, and the yearly IIZ report (PDF)
    of the simulated year."""
    api = f"http://127.0.0.1:{coordination.coordination_api_port}"
    print()
    for line in figures:
        print(line)
    print(f"  committee page (running): {api}/ausschuss   (sign in as ausschuss)")
    env = service_environment(intake, **principal_environment(intake, "service-coordination"))
    env.update(LEGAL_BASIS)
    out = LETTERS / f"iiz-bericht-{year}.pdf"
    written = await annual_report(year, out, env, REPO)
    if written is not None:
        print(f"  yearly IIZ report {year}: {written}")
        print(f"    (the committee downloads it from {api}/ausschuss/bericht/{year}.pdf)")


async def settle(
    settings: CoordinationSettings, accepted: list[str], within: float = 150.0
) -> Reconciliation:
    """Until every accepted event is delivered and reported, and the deadline scheduler has had
    a turn to raise what fell due (or until ``within`` seconds have passed)."""
    ids = [uuid.UUID(a) for a in accepted]
    pool = await create_pool(settings.database_url, settings.coordination_db_schema)
    show = progress("deliveries settled")
    deadline = time.monotonic() + within
    quiet_since: float | None = None
    try:
        while True:
            report = await reconcile(pool, ids, source="the canonical ids of this run's receipts")
            wanted = report.accepted + report.authorised + report.alerts
            done = report.in_timeline + report.settled + report.alerts_settled
            show(done, max(wanted, 1))
            if report.differences == 0 and quiet_since is None:
                quiet_since = time.monotonic()
            elif report.differences:
                quiet_since = None
            settled_long_enough = (
                quiet_since is not None and time.monotonic() - quiet_since > SCHEDULER_SECONDS + 2
            )
            if settled_long_enough or time.monotonic() > deadline:
                print()
                return report
            await asyncio.sleep(0.5)
    finally:
        await pool.close()


def main() -> None:
    # Ctrl-C or a SIGTERM still runs the `finally` that stops the services started here.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    persons = int(os.environ.get("IIZ_DEMO_PERSONS", "200"))
    seed = int(os.environ.get("IIZ_DEMO_SEED", str(time.time_ns() % 1_000_000)))
    year = chosen_year(sys.argv[1:])  # --year [YYYY] or IIZ_DEMO_YEAR: a year at BL volume
    asyncio.run(run_demo(persons, seed, year))
