"""Coordination's refusals on the real broker and database: a refused event changes no case, is
audited, and is answered once with a refusal that says nothing the sender did not send."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import asyncpg

from schemas.events import CaseOpened, ConsentGranted, ParticipantJoined
from schemas.refusals import Refusal, RefusalReason
from schemas.vocabulary import DataCategory, ParticipantRole
from services.coordination.settings import CoordinationSettings
from tests.case_story import CaseStory
from tests.integration.coordination.conftest import Publish, eventually

REFUSAL_TYPE = Refusal.cloud_event_type()


async def _refusals(db: asyncpg.Pool) -> list[dict[str, Any]]:
    """Every refusal in the outbox: its attributes (``ce_*`` headers) and its data."""
    rows = await db.fetch("SELECT value, headers FROM outbox ORDER BY id")
    found = []
    for row in rows:
        headers = {name: value for name, value in json.loads(row["headers"])}
        if headers.get("ce_type") == REFUSAL_TYPE:
            found.append({"headers": headers, "data": json.loads(row["value"])})
    return found


async def _processed(db: asyncpg.Pool, ids: list[uuid.UUID]) -> bool:
    count = await db.fetchval(
        "SELECT count(*) FROM processed_events WHERE event_id = ANY($1::uuid[])", ids
    )
    return int(count) == len(ids)


def _self_join(story: CaseStory) -> Any:
    return story.zif(ParticipantJoined, institution="zif", role=ParticipantRole.PARTICIPANT)


async def test_a_redelivered_refused_event_is_refused_and_audited_once(
    running_coordination: CoordinationSettings, publish: Publish, db: asyncpg.Pool
) -> None:
    story = CaseStory(person_seed=4101)
    story.rav(CaseOpened)
    joined = _self_join(story)
    await publish(story.events)
    await eventually(lambda: _processed(db, [e.id for e in story.events]))

    await publish([joined])  # the same canonical event once more
    marker = CaseStory(person_seed=4102)
    await publish([marker.rav(CaseOpened)])
    await eventually(lambda: _processed(db, [marker.events[0].id]))

    assert len(await _refusals(db)) == 1
    audited = await db.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'refused' AND object = $1", str(joined.id)
    )
    assert audited == 1
    outcome = await db.fetchval(
        "SELECT outcome FROM processed_events WHERE event_id = $1", joined.id
    )
    assert outcome == "refused"
    assert await db.fetchval("SELECT count(*) FROM timeline WHERE event_id = $1", joined.id) == 0


async def test_a_refusal_reads_the_same_whether_or_not_the_person_has_a_case(
    running_coordination: CoordinationSettings, publish: Publish, db: asyncpg.Pool
) -> None:
    with_case = CaseStory(person_seed=4201)
    with_case.rav(CaseOpened, project_code="IIZ-FALLKOORD")
    with_case.rav(
        ConsentGranted,
        institutions=["rav", "iv"],
        categories=[DataCategory.CASE_ADMIN, DataCategory.EMPLOYMENT],
        valid_from=dt.date(2026, 1, 1),
        document_ref="RAV-VOLLMACHT-9",
    )
    without_case = CaseStory(person_seed=4202)
    joins = [_self_join(with_case), _self_join(without_case)]
    await publish([*with_case.events, *without_case.events])
    await eventually(lambda: _processed(db, [e.id for e in joins]))

    by_event = {r["data"]["refused_id"]: r for r in await _refusals(db)}
    assert set(by_event) == {str(e.id) for e in joins}
    refusals = [by_event[str(e.id)] for e in joins]  # the persons may be on two partitions
    assert [r["data"]["reason"] for r in refusals] == [
        RefusalReason.PARTICIPATION_NOT_AUTHORISED
    ] * 2

    def without_own_terms(refusal: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Drop what differs by construction: ids, times, and the sender's own case ref."""
        own = ("refused_id", "case_ref")
        data = {k: v for k, v in refusal["data"].items() if k not in own}
        varying = ("ce_id", "ce_time", "ce_subject", "ce_partitionkey", "ce_causationid")
        headers = {
            k: v
            for k, v in refusal["headers"].items()
            if k not in varying and k != "ce_recipientcaseref"
        }
        return data, headers

    assert without_own_terms(refusals[0]) == without_own_terms(refusals[1])
    for refusal, event in zip(refusals, joins, strict=True):
        assert refusal["data"]["case_ref"] == event.data.person.case_ref
        assert refusal["headers"]["ce_recipient"] == "zif"
        assert "ce_iizcase" not in refusal["headers"]
        assert "ce_consentref" not in refusal["headers"]
    # Nothing of the refused events reached the case.
    assert await db.fetchval("SELECT count(*) FROM participants WHERE institution = 'zif'") == 0
