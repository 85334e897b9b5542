"""A bus of the test's own for erasure and retention tests: intake's HTTP door (registry, person
keys, sealed records, ledger) and coordination on a private canonical log and private schemas."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest

from schemas.envelope import CloudEvent
from schemas.registry import load_institutions
from services.common.database import asyncpg_dsn, create_pool
from services.coordination.ops.migrate import migrate
from services.coordination.settings import CoordinationSettings
from services.intake.migrate import migrate as migrate_intake
from services.intake.settings import IntakeSettings
from tests.factories import format_ahv, sample_event, valid_ahv
from tests.infra import Infra
from tests.integration.coordination.conftest import (
    make_coordination_settings,
    prime_outcomes_at_end,
)
from tests.integration.intake.conftest import HttpApp, http_intake

REGISTRY = load_institutions()
START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


@dataclass
class Person:
    """A person as partners know them: AHV number, their case references, their events."""

    seed: int
    marker: str = field(default_factory=lambda: f"XMARK{uuid.uuid4().hex[:16]}")
    events: list[CloudEvent[Any]] = field(default_factory=list)
    clock: dt.datetime = START

    @property
    def ahv(self) -> str:
        return valid_ahv(self.seed)

    def by(self, origin: str, cls: type[Any], **fields: Any) -> CloudEvent[Any]:
        self.clock += dt.timedelta(days=1)
        case_ref = f"{origin.upper()}-{self.marker}"
        for name, info in cls.model_fields.items():  # ids of their own, as partners make them
            if name.endswith("_id") and name not in fields and info.annotation is uuid.UUID:
                fields[name] = uuid.uuid4()
        event = sample_event(
            cls,
            person={"ahv_number": format_ahv(self.ahv), "case_ref": case_ref},
            source=REGISTRY.by_id[origin].source,
            time=self.clock,
            **fields,
        )
        self.events.append(event)
        return event


@dataclass
class Bus:
    """Intake's HTTP door and coordination on the test's own canonical log and schemas."""

    intake: IntakeSettings
    coordination: CoordinationSettings
    door: HttpApp
    pool: asyncpg.Pool
    tokens: dict[str, str] = field(default_factory=dict)

    async def submit(self, events: list[CloudEvent[Any]]) -> None:
        for event in events:
            origin = next(i.id for i in REGISTRY.institutions if i.source == event.source)
            if origin not in self.tokens:
                self.tokens[origin] = await self.door.issue_token(origin)
            response = await self.door.client.post(
                "/v1/events",
                content=json.dumps(event.model_dump(mode="json", exclude_none=True)).encode(),
                headers={
                    "content-type": "application/cloudevents+json",
                    "authorization": f"Bearer {self.tokens[origin]}",
                },
            )
            assert response.status_code == 202, response.text

    @property
    def schemas(self) -> list[str]:
        return schemas_of(self.coordination)


def schemas_of(c: CoordinationSettings) -> list[str]:
    """Every schema the test's bus writes: coordination, intake, documents, persons."""
    return [
        c.coordination_db_schema,
        c.coordination_intake_db_schema,
        c.document_db_schema,
        c.person_db_schema,
    ]


@pytest.fixture(name="bus")
async def bus_fixture(
    infra: Infra, new_topic: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Bus]:
    suffix = uuid.uuid4().hex[:10]
    log = await new_topic("iiz.case-events.erasure", partitions=6)
    # Intake publishes to the canonical log by name; here: the test's own log (a rebuild replays
    # only this test's records).
    monkeypatch.setattr("services.intake.pipeline.CASE_EVENTS", log)
    shared: dict[str, Any] = {
        "environment": "test",
        "kafka_bootstrap_servers": infra.kafka_bootstrap_servers,
        "database_url": infra.database_url,
        "document_db_schema": f"documents_{suffix}",
        "person_db_schema": f"persons_{suffix}",
        "log_json": True,
    }
    intake = IntakeSettings(
        **shared,
        intake_db_schema=f"intake_{suffix}",
        intake_group_id=f"iiz-intake-test-{suffix}",
        intake_instance_id=f"test-{suffix}",
    )
    coordination = make_coordination_settings(
        infra,
        **shared,
        coordination_case_events_topic=log,
        coordination_audit_checkpoints_topic=await new_topic("iiz.audit-checkpoints.erasure"),
        coordination_intake_db_schema=intake.intake_db_schema,
    )
    await migrate_intake(intake)
    await migrate(coordination)
    await prime_outcomes_at_end(coordination)
    pool = await create_pool(coordination.database_url, coordination.coordination_db_schema)
    try:
        async with http_intake(intake) as door:
            yield Bus(intake, coordination, door, pool)
    finally:
        await pool.close()
        owner = await asyncpg.connect(asyncpg_dsn(coordination.owner_database_url))
        for schema in schemas_of(coordination):
            await owner.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await owner.close()


async def processed(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM processed_events"))
