"""What the events route and the web form share, held by the app: the one intake pipeline (one
transaction at a time), the token store and the rate limiter."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from fastapi import Request

from services.intake.http_door.limits import RateLimiter
from services.intake.pipeline import Answered, IntakePipeline
from services.intake.runtime import IntakeRuntime
from services.intake.settings import IntakeSettings
from services.intake.submission import Outcome, Submission
from services.intake.tokens import TokenStore

READINESS_TIMEOUT_SECONDS = 3.0


@dataclass
class HttpIntake:
    """What the HTTP door and the web form share: pipeline, token store, rate limiter."""

    runtime: IntakeRuntime
    pipeline: IntakePipeline
    tokens: TokenStore
    limiter: RateLimiter
    # One transactional producer runs one transaction at a time: requests take turns.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def settings(self) -> IntakeSettings:
        return self.runtime.settings

    async def process(
        self, submissions: Sequence[Submission], assessed: Sequence[Outcome] | None = None
    ) -> list[Answered]:
        """``assessed``: the submissions' outcomes from ``pipeline.assess`` (not resolved again)."""
        async with self.lock:
            return await self.pipeline.process(submissions, assessed=assessed)

    async def ready(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            assert self.runtime.pool is not None
            await asyncio.wait_for(
                self.runtime.pool.fetchval("SELECT 1"), READINESS_TIMEOUT_SECONDS
            )
            checks["database"] = "ok"
        except Exception:
            checks["database"] = "unreachable"
        try:
            assert self.runtime.producer is not None
            await asyncio.wait_for(
                self.runtime.producer.client.fetch_all_metadata(), READINESS_TIMEOUT_SECONDS
            )
            checks["kafka"] = "ok"
        except Exception:
            checks["kafka"] = "unreachable"
        return checks


def intake_of(request: Request) -> HttpIntake:
    """The app's shared state (set by the app's lifespan)."""
    found: HttpIntake = request.app.state.intake
    return found
