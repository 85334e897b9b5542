"""Circuit breakers per partner endpoint, so a partner that is down is not hammered."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import httpx

_DEFAULT_PORTS = {"http": 80, "https": 443}


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass(frozen=True)
class BreakerPolicy:
    failure_threshold: int = 5  # consecutive failed requests that open the circuit
    cooldown: float = 30.0  # seconds the circuit stays open before one trial request

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if self.cooldown < 0:
            raise ValueError("cooldown must not be negative")


@dataclass(frozen=True, eq=False)
class Permit:
    """Leave to send one request; `trial` marks the single request of a half-open circuit."""

    trial: bool


class CircuitBreaker:
    """CLOSED → OPEN after `failure_threshold` consecutive failures; OPEN → HALF-OPEN after
    `cooldown`; HALF-OPEN lets exactly one trial through, whose result closes or re-opens it.

    Every method is synchronous, so within one event loop each decision is atomic: concurrent
    senders cannot slip a second trial request through.
    """

    def __init__(self, policy: BreakerPolicy, now: Callable[[], float]) -> None:
        self._policy = policy
        self._now = now
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial: Permit | None = None

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._cooled_down():
            return BreakerState.HALF_OPEN
        return self._state

    def acquire(self) -> Permit | None:
        """A permit to send a request now, or None while the circuit refuses requests."""
        if self._state is BreakerState.OPEN and self._cooled_down():
            self._state = BreakerState.HALF_OPEN
        if self._state is BreakerState.CLOSED:
            return Permit(trial=False)
        if self._state is BreakerState.HALF_OPEN and self._trial is None:
            self._trial = Permit(trial=True)
            return self._trial
        return None

    def succeeded(self, permit: Permit) -> None:
        if permit is self._trial:
            self._trial = None
            self._state = BreakerState.CLOSED
            self._failures = 0
        elif self._state is BreakerState.CLOSED:
            self._failures = 0
        # A late answer to a request sent before the circuit opened decides nothing.

    def failed(self, permit: Permit) -> None:
        if permit is self._trial:
            self._trial = None
            self._open()
        elif self._state is BreakerState.CLOSED:
            self._failures += 1
            if self._failures >= self._policy.failure_threshold:
                self._open()

    def abandoned(self, permit: Permit) -> None:
        """The request was cancelled before it had a result: free the trial slot for another."""
        if permit is self._trial:
            self._trial = None

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._now()
        self._failures = 0

    def _cooled_down(self) -> bool:
        return self._now() - self._opened_at >= self._policy.cooldown


def endpoint_origin(url: str) -> str:
    """scheme://host:port of a URL, with the default port made explicit."""
    parsed = httpx.URL(url)
    port = parsed.port or _DEFAULT_PORTS.get(parsed.scheme)
    return f"{parsed.scheme}://{parsed.host}:{port}"


class CircuitBreakers:
    """One breaker per endpoint origin (scheme, host, port), created on first use."""

    def __init__(
        self, policy: BreakerPolicy | None = None, *, now: Callable[[], float] = time.monotonic
    ) -> None:
        self._policy = policy or BreakerPolicy()
        self._now = now
        self._by_origin: dict[str, CircuitBreaker] = {}

    def for_url(self, url: str) -> CircuitBreaker:
        origin = endpoint_origin(url)
        breaker = self._by_origin.get(origin)
        if breaker is None:
            breaker = self._by_origin[origin] = CircuitBreaker(self._policy, self._now)
        return breaker
