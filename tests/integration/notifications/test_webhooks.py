"""Webhook delivery against a real HTTP server on 127.0.0.1 that verifies every signature.

Time is injected: `sleep` records the backoff instead of waiting, the breaker's monotonic
clock is moved by hand, and the signing clock steps one second per attempt. The only real
waits are the client timeout of the slow-server test and the server answering.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import random
import secrets
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from structlog.testing import capture_logs

from services.notifications.breaker import BreakerPolicy, BreakerState, CircuitBreakers
from services.notifications.webhook import (
    CONTENT_TYPE,
    USER_AGENT,
    Attempt,
    RetryPolicy,
    WebhookEndpoint,
    WebhookOutcome,
    WebhookSender,
)
from simulator.webhook_partner import Reply, WebhookServer, serve_webhooks

# Something personal-looking in the body: it must never show up in errors or logs.
BODY_MARKER = "Gespräch mit Frau Müller-Brügger über Rückfall"
NO_BREAKER = BreakerPolicy(failure_threshold=1000)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def cloudevent_body() -> bytes:
    """A structured-mode CloudEvent, as the notifications consumer hands it over."""
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/iiz/bl/rav",
        "type": "ch.bl.iiz.note.added.v1",
        "subject": "p-" + uuid.uuid4().hex,
        "time": "2026-03-02T08:00:00Z",
        "datacontenttype": "application/json",
        "datacategory": "case",
        "recipient": "iv-stelle",
        "data": {"note_id": str(uuid.uuid4()), "text": BODY_MARKER},
    }
    return json.dumps(event, ensure_ascii=False).encode()


class ManualClock:
    """The breaker's monotonic clock, moved only by the test."""

    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


class SteppingWallClock:
    """Real time (the server checks the 5-minute tolerance) plus one second per reading."""

    def __init__(self) -> None:
        self._next = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        self._next += dt.timedelta(seconds=1)
        return self._next


@dataclass
class RecordingSleep:
    """Records each backoff instead of waiting; with a gate, waits until the test opens it."""

    delays: list[float] = field(default_factory=list)
    gate: asyncio.Event | None = None

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self.gate is not None:
            await self.gate.wait()
        else:
            await asyncio.sleep(0)


@dataclass
class Harness:
    server: WebhookServer
    endpoint: WebhookEndpoint
    client: httpx.AsyncClient
    clock: ManualClock
    sleep: RecordingSleep

    def sender(
        self,
        retry: RetryPolicy | None = None,
        breakers: CircuitBreakers | BreakerPolicy = NO_BREAKER,
        rng: random.Random | None = None,
    ) -> WebhookSender:
        if isinstance(breakers, BreakerPolicy):
            breakers = CircuitBreakers(breakers, now=self.clock)
        return WebhookSender(
            self.client,
            retry or RetryPolicy(max_attempts=6, base_delay=0.5, max_delay=30.0, timeout=5.0),
            breakers,
            sleep=self.sleep,
            rng=rng or random.Random(7),
            wall_clock=SteppingWallClock(),
        )


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    secret = new_secret()
    async with serve_webhooks(secret) as server, httpx.AsyncClient() as client:
        yield Harness(
            server,
            WebhookEndpoint(f"{server.url}/iiz/deliveries", secret),
            client,
            ManualClock(),
            RecordingSleep(),
        )


async def wait_until(condition: Callable[[], bool], *, within: float = 5.0) -> None:
    """Poll a condition of this event loop's own tasks; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.001)


def recorder() -> tuple[list[Attempt], Callable[[Attempt], Awaitable[None]]]:
    seen: list[Attempt] = []

    async def on_failed_attempt(attempt: Attempt) -> None:
        seen.append(attempt)

    return seen, on_failed_attempt


async def test_the_partner_verifies_the_signature_of_the_exact_body(harness: Harness) -> None:
    body, delivery_id = cloudevent_body(), str(uuid.uuid4())

    outcome = await harness.sender().send(harness.endpoint, delivery_id, body)

    assert outcome.delivered
    assert [a.status for a in outcome.attempts] == [200]
    (request,) = harness.server.requests
    assert request.signature_valid, request.verification_error
    assert request.body == body
    assert request.path == "/iiz/deliveries"
    assert request.headers["content-type"] == CONTENT_TYPE
    assert request.headers["user-agent"] == USER_AGENT
    assert request.headers["webhook-signature"].startswith("v1,")
    assert Webhook(harness.server.secret).verify(request.body, request.headers) == json.loads(body)
    # The scheme by hand, as docs/webhooks.md tells partners without the library.
    key = base64.b64decode(harness.server.secret.removeprefix("whsec_"))
    signed = f"{delivery_id}.{request.headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert request.headers["webhook-signature"] == f"v1,{expected}"


async def test_a_body_that_is_not_utf8_is_refused_before_anything_is_sent(
    harness: Harness,
) -> None:
    with pytest.raises(UnicodeDecodeError):
        await harness.sender().send(harness.endpoint, "d-latin1", "Müller".encode("latin-1"))

    assert harness.server.count == 0


async def test_a_tampered_body_or_another_secret_fails_verification(harness: Harness) -> None:
    await harness.sender().send(harness.endpoint, str(uuid.uuid4()), cloudevent_body())
    (request,) = harness.server.requests
    tampered = request.body.replace(b"iv-stelle", b"sozialhilfe")
    assert tampered != request.body

    with pytest.raises(WebhookVerificationError):
        Webhook(harness.server.secret).verify(tampered, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(request.body, request.headers)
    other_id = {**request.headers, "webhook-id": str(uuid.uuid4())}
    with pytest.raises(WebhookVerificationError):
        Webhook(harness.server.secret).verify(request.body, other_id)


async def test_a_sender_with_the_wrong_secret_is_refused_for_good(harness: Harness) -> None:
    wrong = WebhookEndpoint(harness.endpoint.url, new_secret())

    outcome = await harness.sender().send(wrong, str(uuid.uuid4()), cloudevent_body())

    assert not outcome.delivered
    assert outcome.permanent
    assert outcome.last_error == "HTTP 401"
    (request,) = harness.server.requests
    assert not request.signature_valid


async def test_every_attempt_repeats_the_delivery_id_and_is_signed_afresh(
    harness: Harness,
) -> None:
    harness.server.reply(503, 500)
    delivery_id = str(uuid.uuid4())

    outcome = await harness.sender().send(harness.endpoint, delivery_id, cloudevent_body())

    assert outcome.delivered
    requests = harness.server.requests
    assert len(requests) == 3
    assert all(r.signature_valid for r in requests)
    assert {r.headers["webhook-id"] for r in requests} == {delivery_id}
    assert {r.headers["idempotency-key"] for r in requests} == {delivery_id}
    timestamps = [int(r.headers["webhook-timestamp"]) for r in requests]
    assert timestamps == sorted(timestamps)
    assert len(set(timestamps)) == 3
    assert len({r.headers["webhook-signature"] for r in requests}) == 3


async def test_three_failures_then_success_is_delivered_on_the_fourth_attempt(
    harness: Harness,
) -> None:
    harness.server.reply(500, 502, 503)
    retry = RetryPolicy(max_attempts=6, base_delay=0.5, max_delay=30.0, timeout=5.0)

    outcome = await harness.sender(retry, rng=random.Random(2026)).send(
        harness.endpoint, str(uuid.uuid4()), cloudevent_body()
    )

    assert outcome.delivered
    assert not outcome.permanent
    assert [a.status for a in outcome.attempts] == [500, 502, 503, 200]
    assert harness.server.count == 4
    delays = harness.sleep.delays
    assert len(delays) == 3
    for n, delay in enumerate(delays, start=1):
        assert 0.0 <= delay <= 0.5 * 2 ** (n - 1)
    expected = random.Random(2026)
    assert delays == [expected.uniform(0, 0.5), expected.uniform(0, 1.0), expected.uniform(0, 2)]


async def test_the_backoff_ceiling_is_capped_at_max_delay(harness: Harness) -> None:
    harness.server.always(500)
    retry = RetryPolicy(max_attempts=6, base_delay=1.0, max_delay=3.0, timeout=5.0)
    rng = random.Random(1)

    await harness.sender(retry, rng=rng).send(harness.endpoint, "d-1", cloudevent_body())

    ceilings = [1.0, 2.0, 3.0, 3.0, 3.0]
    assert len(harness.sleep.delays) == len(ceilings)
    assert all(0.0 <= d <= c for d, c in zip(harness.sleep.delays, ceilings, strict=True))
    again = random.Random(1)
    assert harness.sleep.delays == [again.uniform(0, c) for c in ceilings]


async def test_a_server_that_always_fails_is_given_up_after_max_attempts(
    harness: Harness,
) -> None:
    harness.server.always(500)
    seen, on_failed_attempt = recorder()
    body = cloudevent_body()

    with capture_logs() as logs:
        outcome = await harness.sender().send(
            harness.endpoint, "delivery-42", body, on_failed_attempt=on_failed_attempt
        )

    assert not outcome.delivered
    assert not outcome.permanent
    assert outcome.last_error == "HTTP 500"
    assert harness.server.count == 6
    assert [a.number for a in outcome.attempts] == [1, 2, 3, 4, 5, 6]
    assert seen == list(outcome.attempts)
    warnings = [line for line in logs if line["log_level"] == "warning"]
    assert [w["attempt"] for w in warnings] == [1, 2, 3, 4, 5, 6]
    assert {w["delivery_id"] for w in warnings} == {"delivery-42"}
    assert {w["host"] for w in warnings} == {"127.0.0.1"}
    assert {w["error"] for w in warnings} == {"HTTP 500"}
    assert BODY_MARKER not in repr(logs)


async def test_a_400_is_permanent_after_one_request(harness: Harness) -> None:
    harness.server.always(400)
    seen, on_failed_attempt = recorder()

    outcome = await harness.sender().send(
        harness.endpoint, "d-400", cloudevent_body(), on_failed_attempt=on_failed_attempt
    )

    assert not outcome.delivered
    assert outcome.permanent
    assert outcome.last_error == "HTTP 400"
    assert harness.server.count == 1
    assert harness.sleep.delays == []
    assert [a.status for a in seen] == [400]


@pytest.mark.parametrize(("header", "delay"), [("2", 2.0), ("120", 30.0)])
async def test_429_with_retry_after_waits_as_asked_up_to_max_delay(
    harness: Harness, header: str, delay: float
) -> None:
    harness.server.reply(Reply(429, {"Retry-After": header}))

    outcome = await harness.sender().send(harness.endpoint, "d-429", cloudevent_body())

    assert outcome.delivered
    assert [a.status for a in outcome.attempts] == [429, 200]
    assert harness.sleep.delays == [delay]


async def test_a_server_slower_than_the_timeout_is_a_retried_timeout(harness: Harness) -> None:
    answer = asyncio.Event()
    harness.server.reply(Reply(200, hold=answer))
    retry = RetryPolicy(max_attempts=3, timeout=0.3)

    outcome = await harness.sender(retry).send(harness.endpoint, "d-slow", cloudevent_body())
    answer.set()

    assert outcome.delivered
    assert [(a.status, a.error) for a in outcome.attempts] == [(None, "timeout"), (200, None)]
    assert harness.server.count == 2


async def test_an_unreachable_endpoint_is_a_transport_error_without_body_content() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nobody listens on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = WebhookEndpoint(f"http://127.0.0.1:{port}/hook", new_secret())
    sleep = RecordingSleep()
    seen, on_failed_attempt = recorder()

    async with httpx.AsyncClient() as client:
        sender = WebhookSender(
            client, RetryPolicy(max_attempts=3), CircuitBreakers(NO_BREAKER), sleep=sleep
        )
        with capture_logs() as logs:
            outcome = await sender.send(
                endpoint, "d-refused", cloudevent_body(), on_failed_attempt=on_failed_attempt
            )

    assert not outcome.delivered
    assert not outcome.permanent
    assert [a.error for a in outcome.attempts] == ["connect error: ConnectError"] * 3
    assert [a.status for a in outcome.attempts] == [None] * 3
    assert len(seen) == 3
    assert BODY_MARKER not in repr(outcome)
    assert BODY_MARKER not in repr(logs)


async def test_an_open_circuit_sends_nothing_until_one_trial_after_the_cooldown(
    harness: Harness,
) -> None:
    breakers = CircuitBreakers(BreakerPolicy(failure_threshold=3, cooldown=30.0), now=harness.clock)
    sender = harness.sender(RetryPolicy(max_attempts=4), breakers)
    harness.server.always(500)

    first = await sender.send(harness.endpoint, "d-1", cloudevent_body())
    second = await sender.send(harness.endpoint, "d-2", cloudevent_body())

    assert [a.error for a in first.attempts] == ["HTTP 500"] * 3 + ["circuit open"]
    assert [a.error for a in second.attempts] == ["circuit open"] * 4
    assert second.last_error == "circuit open"
    assert harness.server.count == 3
    assert len(harness.sleep.delays) == 6  # open-circuit attempts still wait their backoff

    harness.server.always(200)
    harness.clock.now += 29.0
    too_early = await sender.send(harness.endpoint, "d-3", cloudevent_body())
    assert not too_early.delivered
    assert harness.server.count == 3

    harness.clock.now += 1.0
    trial = await sender.send(harness.endpoint, "d-4", cloudevent_body())
    assert trial.delivered
    assert len(trial.attempts) == 1
    assert harness.server.count == 4
    assert breakers.for_url(harness.endpoint.url).state is BreakerState.CLOSED

    after = await sender.send(harness.endpoint, "d-5", cloudevent_body())
    assert after.delivered
    assert harness.server.count == 5


async def test_a_failed_trial_opens_the_circuit_again(harness: Harness) -> None:
    breakers = CircuitBreakers(BreakerPolicy(failure_threshold=2, cooldown=30.0), now=harness.clock)
    sender = harness.sender(RetryPolicy(max_attempts=2), breakers)
    harness.server.always(500)
    await sender.send(harness.endpoint, "d-1", cloudevent_body())
    assert harness.server.count == 2
    harness.clock.now += 30.0

    outcome = await sender.send(harness.endpoint, "d-2", cloudevent_body())

    assert [a.error for a in outcome.attempts] == ["HTTP 500", "circuit open"]
    assert harness.server.count == 3
    assert breakers.for_url(harness.endpoint.url).state is BreakerState.OPEN


async def test_while_half_open_only_one_of_many_concurrent_sends_reaches_the_server(
    harness: Harness,
) -> None:
    breakers = CircuitBreakers(BreakerPolicy(failure_threshold=1, cooldown=10.0), now=harness.clock)
    harness.server.reply(500)
    opener = harness.sender(RetryPolicy(max_attempts=1), breakers)
    await opener.send(harness.endpoint, "d-open", cloudevent_body())
    assert breakers.for_url(harness.endpoint.url).state is BreakerState.OPEN
    harness.clock.now += 10.0
    trial_answer, retry_gate = asyncio.Event(), asyncio.Event()
    harness.server.reply(Reply(200, hold=trial_answer))
    harness.sleep.gate = retry_gate
    sender = harness.sender(RetryPolicy(max_attempts=2), breakers)
    seen, on_failed_attempt = recorder()

    sends = [
        asyncio.create_task(
            sender.send(
                harness.endpoint, f"d-{i}", cloudevent_body(), on_failed_attempt=on_failed_attempt
            )
        )
        for i in range(20)
    ]
    try:
        await harness.server.wait_for_requests(2)
        # Stop waiting as soon as a second request slips through, not only at the timeout.
        await wait_until(lambda: len(harness.sleep.delays) == 19 or harness.server.count > 2)

        assert harness.server.count == 2  # the opening request and the one trial
        assert [a.error for a in seen] == ["circuit open"] * 19
        assert breakers.for_url(harness.endpoint.url).state is BreakerState.HALF_OPEN

        trial_answer.set()
        await wait_until(lambda: sum(task.done() for task in sends) == 1)
        assert breakers.for_url(harness.endpoint.url).state is BreakerState.CLOSED
        retry_gate.set()
        outcomes: list[WebhookOutcome] = await asyncio.gather(*sends)
    finally:
        for task in sends:
            task.cancel()

    assert all(o.delivered for o in outcomes)
    assert sorted(len(o.attempts) for o in outcomes) == [1] + [2] * 19
    assert harness.server.count == 21
    assert all(r.signature_valid for r in harness.server.requests)
