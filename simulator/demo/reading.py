"""The demo's normal reading, so that "normal traffic raises no misuse signal" means something.

Each case worker (``fallfuehrung-<id>``) reads the case (summary, then timeline) after a
delivery to their institution arrives on its topic; each coordinator (``koordination-<id>``)
opens the worklist once on every simulated office day on which the institution reads. Through
the real API code with real tokens (the local Keycloak's, or development tokens without it).

Simulated time: audit rows are stamped with the API's clock. The reads go through an instance
of the API application (``create_api``) in the demo's process whose injected clock the
simulation sets before each request: the delivered event's simulated time, moved into the next
office hours (the API process the demo leaves running for people keeps the real clock). Reads
happen while the bus runs, right after each delivery, so the audit log's order of events and
reads is the real one; deliveries of one case that arrive together are read once (one look).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from schemas.registry import load_institutions
from services.common.database import create_pool
from services.coordination.api.app import create_api
from services.coordination.domain.misuse_signals import SignalRules
from services.coordination.domain.working_days import SWISS_TIME
from services.coordination.reading.caller import Role
from services.coordination.reading.signals import Period, signals_of
from services.coordination.settings import CoordinationSettings
from simulator.demo.sign_in import api_token
from simulator.partners import ReceivedDelivery

PURPOSE = "Fallbearbeitung (Simulation)"
TOKEN_SECONDS = 240.0  # Keycloak's tokens live 5 minutes


def office_time(at: dt.datetime, rules: SignalRules, spread: int) -> dt.datetime:
    """When a case worker reads what arrived at ``at``: 10 to 50 minutes later if that is in
    office hours (and so is the timeline's read a minute after), else in the first hours of the
    next office day."""
    later = at + dt.timedelta(minutes=10 + spread % 40)
    if rules.in_office_hours(later) and rules.in_office_hours(later + dt.timedelta(minutes=1)):
        return later
    day = at.astimezone(SWISS_TIME).date()
    if at.astimezone(SWISS_TIME).time() >= rules.office_start:
        day += dt.timedelta(days=1)
    while day.isoweekday() not in rules.office_days or day in rules.holidays:
        day += dt.timedelta(days=1)
    start = dt.datetime.combine(day, rules.office_start, SWISS_TIME)
    return start + dt.timedelta(minutes=60 + spread % 180)


class SimulatedReading:
    """Follows the partners' deliveries and reads as their staff would (see the module)."""

    def __init__(self, settings: CoordinationSettings, http: httpx.AsyncClient) -> None:
        self._settings = settings
        self._http = http
        self._rules = settings.signal_rules
        self.now = dt.datetime.now(dt.UTC)  # the API's clock: set before each request
        self._tokens: dict[str, tuple[str, float]] = {}
        self._worklist_days: set[tuple[str, dt.date]] = set()
        self._seen = 0
        self.reads: Counter[str] = Counter()
        self.first: dt.date | None = None
        self.last: dt.date | None = None

    async def _token(self, username: str, institution: str, role: Role) -> str:
        found = self._tokens.get(username)
        if found is None or time.monotonic() - found[1] > TOKEN_SECONDS:
            token = await asyncio.to_thread(api_token, self._settings, username, institution, role)
            found = (token, time.monotonic())
            self._tokens[username] = found
        return found[0]

    async def _get(self, at: dt.datetime, username: str, institution: str, role: Role,
                   path: str, **params: str) -> None:  # fmt: skip
        self.now = at
        day = at.astimezone(SWISS_TIME).date()
        self.first = min(self.first or day, day)
        self.last = max(self.last or day, day)
        answer = await self.request(
            "GET", path, username, institution, role, params={"purpose": PURPOSE, **params}
        )
        self.reads[f"{path.split('/')[2]} {answer.status_code}"] += 1

    async def request(
        self,
        method: str,
        path: str,
        username: str,
        institution: str,
        role: Role,
        **kwargs: Any,
    ) -> httpx.Response:
        """One request to the in-process API as ``username`` (at the clock's ``now``)."""
        token = await self._token(username, institution, role)
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return await self._http.request(method, path, headers=headers, **kwargs)

    async def read_new(self, deliveries: Sequence[ReceivedDelivery]) -> None:
        """Read what arrived since the last call: one look per institution and case."""
        fresh, self._seen = deliveries[self._seen :], len(deliveries)
        latest: dict[tuple[str, str], dt.datetime] = {}
        for d in fresh:
            institution, case, stamp = (
                d.header("ce_recipient"),
                d.header("ce_iizcase"),
                d.header("ce_time"),
            )
            if institution and case and stamp:
                when = dt.datetime.fromisoformat(stamp)
                latest[(institution, case)] = max(latest.get((institution, case), when), when)
        for (institution, case), arrived in sorted(latest.items(), key=lambda item: item[1]):
            spread = zlib.crc32(f"{institution}/{case}".encode())
            read_at = office_time(arrived, self._rules, spread)
            day = read_at.astimezone(SWISS_TIME).date()
            if (institution, day) not in self._worklist_days:
                self._worklist_days.add((institution, day))
                start = dt.datetime.combine(day, self._rules.office_start, SWISS_TIME)
                await self._get(start + dt.timedelta(minutes=45), f"koordination-{institution}",
                                institution, Role.COORDINATOR, "/v1/worklist")  # fmt: skip
            worker = (f"fallfuehrung-{institution}", institution, Role.CASEWORKER)
            await self._get(read_at, *worker, f"/v1/cases/{case}")
            await self._get(
                read_at + dt.timedelta(minutes=1), *worker, f"/v1/cases/{case}/timeline"
            )

    async def follow(self, deliveries: Sequence[ReceivedDelivery], stop: asyncio.Event) -> None:
        """Read as deliveries arrive, until ``stop`` (then what is left)."""
        while not stop.is_set():
            await self.read_new(deliveries)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
        await self.read_new(deliveries)

    @property
    def period(self) -> Period | None:
        return Period(self.first, self.last) if self.first and self.last else None


@asynccontextmanager
async def simulated_reading(settings: CoordinationSettings) -> AsyncIterator[SimulatedReading]:
    """The API application in this process, its clock driven by the simulated reading."""
    holder: list[SimulatedReading] = []
    clock: Callable[[], dt.datetime] = lambda: holder[0].now  # noqa: E731
    app = create_api(settings, clock=clock)
    # create_api configures this process's logging too: keep the demo's output to its report.
    for noisy in ("httpx", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://coordination.demo"
        ) as http,
    ):
        holder.append(SimulatedReading(settings, http))
        yield holder[0]


async def signals_raised(settings: CoordinationSettings, period: Period) -> Counter[str]:
    """The misuse signals raised over ``period`` (the demo's simulated reading days), over all
    institutions of the registry, by kind: what the demo's summary prints."""
    pool = await create_pool(settings.database_url, settings.coordination_db_schema)
    found: Counter[str] = Counter()
    try:
        async with pool.acquire() as conn:
            for institution in load_institutions().institutions:
                report = await signals_of(conn, institution.id, period, settings.signal_rules)
                found.update(s.kind.value for s in report.signals)
    finally:
        await pool.close()
    return found


def print_reading(reading: SimulatedReading) -> None:
    """What the simulated staff read, and over which simulated days."""
    period = reading.period
    if period is None:
        print("\nSimulated reading: none (no delivery carried a case number)")
        return
    requests = ", ".join(f"{what}: {n}" for what, n in sorted(reading.reads.items()))
    print(
        f"\nSimulated reading ({period.first:%d.%m.%Y} to {period.last:%d.%m.%Y}, office hours):"
        f" {requests}"
    )
