"""The per-endpoint circuit breaker, driven by a hand-moved clock: no requests, no sleeps."""

from __future__ import annotations

import pytest

from services.notifications.breaker import (
    BreakerPolicy,
    BreakerState,
    CircuitBreaker,
    CircuitBreakers,
    endpoint_origin,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def open_breaker(clock: Clock, threshold: int = 3, cooldown: float = 30.0) -> CircuitBreaker:
    breaker = CircuitBreaker(BreakerPolicy(threshold, cooldown), clock)
    for _ in range(threshold):
        permit = breaker.acquire()
        assert permit is not None
        breaker.failed(permit)
    assert breaker.state is BreakerState.OPEN
    return breaker


def test_a_new_breaker_is_closed_and_lets_requests_through() -> None:
    breaker = CircuitBreaker(BreakerPolicy(), Clock())

    permits = [breaker.acquire() for _ in range(10)]

    assert breaker.state is BreakerState.CLOSED
    assert all(p is not None and not p.trial for p in permits)


def test_it_opens_after_the_threshold_of_consecutive_failures_and_refuses_requests() -> None:
    clock = Clock()
    breaker = CircuitBreaker(BreakerPolicy(failure_threshold=3), clock)
    for _ in range(2):
        permit = breaker.acquire()
        assert permit is not None
        breaker.failed(permit)
    assert breaker.state is BreakerState.CLOSED

    permit = breaker.acquire()
    assert permit is not None
    breaker.failed(permit)

    assert breaker.state is BreakerState.OPEN
    assert breaker.acquire() is None


def test_a_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker(BreakerPolicy(failure_threshold=3), Clock())
    for outcome in ["fail", "fail", "ok", "fail", "fail"]:
        permit = breaker.acquire()
        assert permit is not None
        (breaker.failed if outcome == "fail" else breaker.succeeded)(permit)

    assert breaker.state is BreakerState.CLOSED


def test_it_stays_open_until_the_cooldown_has_passed() -> None:
    clock = Clock()
    breaker = open_breaker(clock, cooldown=30.0)

    clock.now += 29.9

    assert breaker.state is BreakerState.OPEN
    assert breaker.acquire() is None


def test_after_the_cooldown_exactly_one_trial_request_goes_through() -> None:
    clock = Clock()
    breaker = open_breaker(clock, cooldown=30.0)
    clock.now += 30.0

    first = breaker.acquire()
    others = [breaker.acquire() for _ in range(19)]

    assert breaker.state is BreakerState.HALF_OPEN
    assert first is not None
    assert first.trial
    assert others == [None] * 19


def test_a_successful_trial_closes_the_circuit() -> None:
    clock = Clock()
    breaker = open_breaker(clock)
    clock.now += 30.0
    trial = breaker.acquire()
    assert trial is not None

    breaker.succeeded(trial)

    assert breaker.state is BreakerState.CLOSED
    second, third = breaker.acquire(), breaker.acquire()
    assert second is not None
    assert not second.trial
    assert third is not None
    assert not third.trial


def test_a_failed_trial_reopens_the_circuit_for_a_new_cooldown() -> None:
    clock = Clock()
    breaker = open_breaker(clock, cooldown=30.0)
    clock.now += 30.0
    trial = breaker.acquire()
    assert trial is not None

    breaker.failed(trial)

    assert breaker.state is BreakerState.OPEN
    clock.now += 29.0
    assert breaker.acquire() is None
    clock.now += 1.0
    assert breaker.state is BreakerState.HALF_OPEN


def test_a_closed_circuit_after_a_trial_needs_the_full_threshold_to_open_again() -> None:
    clock = Clock()
    breaker = open_breaker(clock, threshold=3)
    clock.now += 30.0
    trial = breaker.acquire()
    assert trial is not None
    breaker.succeeded(trial)

    for _ in range(2):
        permit = breaker.acquire()
        assert permit is not None
        breaker.failed(permit)

    assert breaker.state is BreakerState.CLOSED


def test_an_abandoned_trial_frees_the_slot_for_another_trial() -> None:
    clock = Clock()
    breaker = open_breaker(clock)
    clock.now += 30.0
    trial = breaker.acquire()
    assert trial is not None
    assert breaker.acquire() is None

    breaker.abandoned(trial)

    again = breaker.acquire()
    assert again is not None
    assert again.trial


def test_a_late_answer_to_a_request_sent_before_the_circuit_opened_decides_nothing() -> None:
    clock = Clock()
    breaker = CircuitBreaker(BreakerPolicy(failure_threshold=1, cooldown=30.0), clock)
    early = breaker.acquire()
    failing = breaker.acquire()
    assert early is not None
    assert failing is not None
    breaker.failed(failing)
    clock.now += 30.0
    trial = breaker.acquire()
    assert trial is not None
    assert trial.trial

    breaker.succeeded(early)

    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.acquire() is None
    breaker.failed(trial)
    assert breaker.state is BreakerState.OPEN


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://partner.example/hooks/iiz", "https://partner.example:443"),
        ("https://partner.example:443/other", "https://partner.example:443"),
        ("http://127.0.0.1:8080/x?y=1", "http://127.0.0.1:8080"),
        ("http://localhost/x", "http://localhost:80"),
    ],
)
def test_the_origin_is_scheme_host_and_explicit_port(url: str, origin: str) -> None:
    assert endpoint_origin(url) == origin


def test_urls_of_one_origin_share_a_breaker_and_other_origins_do_not() -> None:
    breakers = CircuitBreakers(BreakerPolicy(), now=Clock())

    a = breakers.for_url("https://partner.example/a")

    assert breakers.for_url("https://partner.example:443/b") is a
    assert breakers.for_url("https://partner.example:8443/a") is not a
    assert breakers.for_url("http://partner.example/a") is not a
    assert breakers.for_url("https://other.example/a") is not a


@pytest.mark.parametrize("policy", [{"failure_threshold": 0}, {"cooldown": -1.0}])
def test_a_nonsensical_policy_is_refused(policy: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        BreakerPolicy(**policy)  # type: ignore[arg-type]
