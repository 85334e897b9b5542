"""The timeline API with the real identity provider: tokens of the local Keycloak (started by
``infra/local``) are accepted with the institution and role they carry, and the acceptance's
three refusals are answered as problem+json with their own reason codes.

The API verifies as it would in a deployment: keys from Keycloak's JWKS over http, the realm's
issuer, the audience ``iiz-timeline-api``. Expiry is judged without leeway here
(``coordination_jwt_leeway_seconds=0``), so the one-second token of ``iiz-tests-kurz`` is refused
a second or two after it was issued instead of half a minute later.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from schemas.topics import CASE_EVENTS
from services.coordination.ops.migrate import migrate
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.effects import BusRecord
from services.coordination.worker.runtime import CoordinationRuntime
from tests.case_story import CaseStory, iv_in_parallel
from tests.infra import Infra
from tests.integration.coordination.conftest import drop_schema, make_coordination_settings
from tests.oidc import (
    client_token,
    coordination_overrides,
    foreign_issuer_token,
    password_token,
    short_lived_token,
)

EXPIRY_DEADLINE_SECONDS = 20.0


@pytest.fixture
async def coordination_settings(infra: Infra) -> AsyncIterator[CoordinationSettings]:
    """A fresh schema whose API trusts the local Keycloak (and nothing else)."""
    settings = make_coordination_settings(
        infra, **coordination_overrides(), coordination_jwt_leeway_seconds=0
    )
    await migrate(settings)
    yield settings
    await drop_schema(settings)


@pytest.fixture
async def case_number(coordination_settings: CoordinationSettings, db: asyncpg.Pool) -> str:
    """A case of rav with iv taking part in parallel (tests/case_story.py)."""
    story = CaseStory(7)
    iv_in_parallel(story)
    records = [
        BusRecord(CASE_EVENTS, 0, offset, r.key, r.value, r.headers)
        for offset, r in enumerate(story.records())
    ]
    runtime = CoordinationRuntime(coordination_settings)
    await runtime.start()
    try:
        await runtime.processor().process(records)
    finally:
        await runtime.stop()
    number = await db.fetchval(
        "SELECT case_number FROM cases WHERE pseudonym = $1", story.pseudonym
    )
    assert isinstance(number, str)
    return number


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def last_actor(db: asyncpg.Pool) -> str:
    actor = await db.fetchval("SELECT actor FROM audit_log ORDER BY seq DESC LIMIT 1")
    assert isinstance(actor, str)
    return actor


def refusal(answer: httpx.Response) -> tuple[int, str, str]:
    return answer.status_code, answer.headers["content-type"], answer.json()["reason"]


# ----- accepted ------------------------------------------------------------------------------


async def test_a_keycloak_users_token_reads_the_case_as_that_institution_and_role(
    client: httpx.AsyncClient, case_number: str, db: asyncpg.Pool
) -> None:
    answer = await client.get(
        f"/v1/cases/{case_number}", headers=bearer(password_token("koordination-rav"))
    )

    assert answer.status_code == 200, answer.text
    institution, role, _subject = (await last_actor(db)).split("/")
    assert (institution, role) == ("rav", "coordinator")


async def test_a_partners_client_credentials_token_reads_as_a_caseworker_of_that_partner(
    client: httpx.AsyncClient, case_number: str, db: asyncpg.Pool
) -> None:
    answer = await client.get(
        f"/v1/cases/{case_number}/timeline", headers=bearer(client_token("iv"))
    )

    assert answer.status_code == 200, answer.text
    institution, role, _subject = (await last_actor(db)).split("/")
    assert (institution, role) == ("iv", "caseworker")


async def test_the_role_comes_from_the_token_only_the_committee_reads_the_figures(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    committee = await client.get("/v1/metrics", headers=bearer(password_token("ausschuss")))
    coordinator = await client.get(
        "/v1/metrics", headers=bearer(password_token("koordination-zif"))
    )

    assert committee.status_code == 200, committee.text
    assert (coordinator.status_code, coordinator.json()["reason"]) == (403, "role_not_allowed")
    institution, role, _subject = (await last_actor(db)).split("/")
    assert (institution, role) == ("zif", "coordinator")


async def test_an_uninvolved_institutions_user_is_authenticated_but_sees_no_case(
    client: httpx.AsyncClient, case_number: str
) -> None:
    answer = await client.get(
        f"/v1/cases/{case_number}", headers=bearer(password_token("koordination-berufsbildung"))
    )

    assert answer.status_code == 404
    assert answer.json()["reason"] == "case_not_found"


# ----- refused -------------------------------------------------------------------------------


async def test_a_token_of_another_issuer_is_refused_though_its_claims_are_right(
    client: httpx.AsyncClient, case_number: str
) -> None:
    answer = await client.get(f"/v1/cases/{case_number}", headers=bearer(foreign_issuer_token()))

    assert refusal(answer) == (401, "application/problem+json", "token_wrong_issuer")


async def test_a_token_without_the_institution_claim_is_refused(
    client: httpx.AsyncClient, case_number: str
) -> None:
    answer = await client.get(
        f"/v1/cases/{case_number}", headers=bearer(password_token("ohne-institution"))
    )

    assert refusal(answer) == (401, "application/problem+json", "token_no_institution")


async def test_an_expired_token_is_refused_once_it_has_expired(
    client: httpx.AsyncClient, case_number: str
) -> None:
    token = short_lived_token("koordination-rav")  # lives one second
    path = f"/v1/cases/{case_number}"
    deadline = time.monotonic() + EXPIRY_DEADLINE_SECONDS
    answer = await client.get(path, headers=bearer(token))
    while answer.status_code == 200 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)  # polling until the refusal, bounded by the deadline
        answer = await client.get(path, headers=bearer(token))

    assert refusal(answer) == (401, "application/problem+json", "token_expired")
