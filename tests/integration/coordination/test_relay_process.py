"""The outbox relay as a process of its own: a worker run without its relay leaves the
deliveries in the outbox, and the relay application beside it publishes every one of them."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest
from faststream import TestApp

from schemas.events import CaseOpened, ConsentGranted, NoteAdded, ParticipantJoined
from schemas.vocabulary import DataCategory, ParticipantRole
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.consumer import create_app, create_relay_app
from tests.case_story import CaseStory
from tests.integration.coordination.conftest import Publish, eventually, processed_count

pytestmark = pytest.mark.integration


def story(seed: int) -> CaseStory:
    s = CaseStory(person_seed=seed)
    s.rav(CaseOpened, project_code="IIZ-FALLKOORD")
    s.rav(
        ConsentGranted,
        institutions=["rav", "iv"],
        categories=[DataCategory.CASE_ADMIN],
        valid_from=dt.date(2026, 1, 1),
        document_ref="EINWILLIGUNG-RELAY",
    )
    s.rav(ParticipantJoined, institution="iv", role=ParticipantRole.PARTICIPANT)
    s.rav(NoteAdded, text="Erstgespräch geführt", datacategory=DataCategory.CASE_ADMIN)
    return s


async def test_a_relay_process_publishes_what_a_worker_without_relay_left_in_the_outbox(
    coordination_settings: CoordinationSettings, db: asyncpg.Pool, publish: Publish
) -> None:
    worker_only = coordination_settings.model_copy(update={"coordination_run_relay": False})
    stories = [story(7100 + n) for n in range(5)]
    async with TestApp(create_app(worker_only)):
        await publish([e for s in stories for e in s.events])
        await eventually(lambda: _processed(db, sum(len(s.events) for s in stories)), within=60)
    pending = await db.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    assert pending > 0  # the worker wrote deliveries and published none itself

    async with TestApp(create_relay_app(coordination_settings)):
        await eventually(lambda: _all_published(db), within=60)
    assert await db.fetchval("SELECT count(*) FROM outbox") == pending


async def _processed(db: asyncpg.Pool, events: int) -> bool:
    return await processed_count(db) >= events


async def _all_published(db: asyncpg.Pool) -> bool:
    return not await db.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
