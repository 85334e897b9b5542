"""Signed webhook delivery (Standard Webhooks) with retries, backoff and a circuit breaker."""

from __future__ import annotations

import asyncio
import binascii
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import partial

import httpx
import structlog
from standardwebhooks.webhooks import Webhook

from services.notifications.breaker import CircuitBreakers

log = structlog.get_logger(__name__)

CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
USER_AGENT = "iiz-bl-notifications/1"
MIN_SECRET_BYTES = 24  # Standard Webhooks: secrets between 24 and 64 bytes
_RETRYABLE_4XX = frozenset({408, 425, 429})
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
_UTC_NOW = partial(datetime.now, UTC)


@dataclass(frozen=True)
class WebhookEndpoint:
    """A partner's webhook: an HTTPS URL (plain HTTP only on loopback, for tests) and a secret."""

    url: str
    secret: str = field(repr=False)  # base64, optionally "whsec_" prefixed

    def __post_init__(self) -> None:
        parsed = httpx.URL(self.url)
        if parsed.scheme != "https" and not (
            parsed.scheme == "http" and parsed.host in _LOOPBACK_HOSTS
        ):
            raise ValueError("webhook URL must use https")
        raw = self.secret.removeprefix("whsec_")
        try:
            key = binascii.a2b_base64(raw + "=" * (-len(raw) % 4), strict_mode=True)
        except binascii.Error:
            raise ValueError("webhook secret is not valid base64") from None  # never echo it
        if len(key) < MIN_SECRET_BYTES:
            raise ValueError(f"webhook secret must hold at least {MIN_SECRET_BYTES} bytes")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay: float = 0.5  # seconds; "full jitter" backoff, see backoff_delay
    max_delay: float = 30.0  # caps the backoff and any Retry-After
    timeout: float = 10.0  # per request, until the response status and headers arrived

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.timeout <= 0:
            raise ValueError("delays must not be negative and the timeout must be positive")


@dataclass(frozen=True)
class Attempt:
    number: int
    status: int | None  # HTTP status; None for a transport error or an open circuit
    error: str | None  # short and safe: never a request or response body
    retry_after: float | None = None  # seconds the endpoint asked us to wait


@dataclass(frozen=True)
class WebhookOutcome:
    delivered: bool
    attempts: tuple[Attempt, ...]
    permanent: bool  # the endpoint refused for good, so no more attempts were made

    @property
    def last_error(self) -> str | None:
        return self.attempts[-1].error if self.attempts else None


def backoff_delay(
    policy: RetryPolicy, failed_attempt: int, rng: random.Random, retry_after: float | None
) -> float:
    """Wait before the next attempt: Retry-After if given, else uniform(0, base * 2**(n-1)),
    both capped at max_delay ("full jitter", so many senders do not retry in lockstep)."""
    if retry_after is not None:
        return min(policy.max_delay, max(0.0, retry_after))
    ceiling = min(policy.max_delay, policy.base_delay * 2.0 ** (failed_attempt - 1))
    return rng.uniform(0.0, ceiling)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def is_retryable(status: int) -> bool:
    return status >= 500 or status in _RETRYABLE_4XX


def describe_transport_error(error: Exception) -> str:
    """Short, safe text: the exception's type only, as its message may quote the URL."""
    if isinstance(error, httpx.TimeoutException | TimeoutError):
        return "timeout"
    kind = "connect error" if isinstance(error, httpx.ConnectError) else "transport error"
    return f"{kind}: {type(error).__name__}"


class WebhookSender:
    """Sends one delivery to one endpoint, signing every attempt afresh, until it is delivered,
    refused for good, or out of attempts; the caller dead-letters what was not delivered."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        retry: RetryPolicy,
        breakers: CircuitBreakers,
        *,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        rng: random.Random | None = None,
        wall_clock: Callable[[], datetime] = _UTC_NOW,
    ) -> None:
        self._client = client
        self._retry = retry
        self._breakers = breakers
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._wall_clock = wall_clock

    async def send(
        self,
        endpoint: WebhookEndpoint,
        delivery_id: str,
        body: bytes,
        *,
        on_failed_attempt: Callable[[Attempt], Awaitable[None]] | None = None,
    ) -> WebhookOutcome:
        """Deliver `body` (a structured-mode CloudEvent, UTF-8 JSON) under `delivery_id`."""
        signer = Webhook(endpoint.secret)
        payload = body.decode("utf-8")  # the signature is defined over text; fail before sending
        attempts: list[Attempt] = []
        for number in range(1, self._retry.max_attempts + 1):
            if attempts:
                last = attempts[-1]
                await self._sleep(
                    backoff_delay(self._retry, last.number, self._rng, last.retry_after)
                )
            attempt = await self._attempt(endpoint, signer, delivery_id, body, payload, number)
            if attempt.error is None:
                return WebhookOutcome(True, (*attempts, attempt), permanent=False)
            attempts.append(attempt)
            log.warning(
                "webhook attempt failed",
                delivery_id=delivery_id,
                host=httpx.URL(endpoint.url).host,
                attempt=number,
                status=attempt.status,
                error=attempt.error,
            )
            if on_failed_attempt is not None:
                await on_failed_attempt(attempt)
            if attempt.status is not None and not is_retryable(attempt.status):
                return WebhookOutcome(False, tuple(attempts), permanent=True)
        return WebhookOutcome(False, tuple(attempts), permanent=False)

    async def _attempt(
        self,
        endpoint: WebhookEndpoint,
        signer: Webhook,
        delivery_id: str,
        body: bytes,
        payload: str,
        number: int,
    ) -> Attempt:
        breaker = self._breakers.for_url(endpoint.url)
        permit = breaker.acquire()
        if permit is None:
            return Attempt(number, None, "circuit open")
        # Whole seconds, so the header and the signed timestamp are the same number.
        timestamp = datetime.fromtimestamp(math.floor(self._wall_clock().timestamp()), tz=UTC)
        headers = {
            "webhook-id": delivery_id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": signer.sign(delivery_id, timestamp, payload),
            "idempotency-key": delivery_id,
            "content-type": CONTENT_TYPE,
            "user-agent": USER_AGENT,
        }
        try:
            status, retry_after = await self._post(endpoint.url, headers, body)
        except (httpx.TransportError, TimeoutError) as error:
            breaker.failed(permit)
            return Attempt(number, None, describe_transport_error(error))
        except BaseException:  # cancelled, or a bug: the request has no result to count
            breaker.abandoned(permit)
            raise
        if 200 <= status < 300:
            breaker.succeeded(permit)
            return Attempt(number, status, None)
        # A refusal for good (400, 401, 404, ...) proves the endpoint is up; only retryable
        # failures count towards opening the circuit.
        (breaker.failed if is_retryable(status) else breaker.succeeded)(permit)
        return Attempt(number, status, f"HTTP {status}", retry_after)

    async def _post(
        self, url: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, float | None]:
        """Status and Retry-After of one POST; the response body is never read."""
        async with (
            asyncio.timeout(self._retry.timeout),
            self._client.stream(
                "POST",
                url,
                content=body,
                headers=headers,
                timeout=self._retry.timeout,
                follow_redirects=False,  # a signed delivery goes where it was addressed, or fails
            ) as response,
        ):
            retry_after = parse_retry_after(response.headers.get("retry-after"), self._wall_clock())
            return response.status_code, retry_after
