"""The pure parts of webhook delivery: backoff schedule, Retry-After, what is retried, and
what an endpoint must look like."""

from __future__ import annotations

import base64
import datetime as dt
import random

import pytest

from services.notifications.webhook import (
    RetryPolicy,
    WebhookEndpoint,
    backoff_delay,
    is_retryable,
    parse_retry_after,
)

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
NOW = dt.datetime(2026, 3, 2, 8, 0, 0, tzinfo=dt.UTC)


def test_backoff_stays_between_zero_and_a_doubling_ceiling_capped_at_max_delay() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0)
    rng = random.Random(1)
    ceilings = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]

    for n, ceiling in enumerate(ceilings, start=1):
        draws = [backoff_delay(policy, n, rng, None) for _ in range(500)]

        assert all(0.0 <= d <= ceiling for d in draws)
        # Full jitter spreads over the whole range: near the ceiling and near zero.
        assert max(draws) > 0.9 * ceiling
        assert min(draws) < 0.1 * ceiling


def test_backoff_with_a_seeded_rng_is_deterministic() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0)

    first = [backoff_delay(policy, n, random.Random(42), None) for n in range(1, 6)]
    second = [backoff_delay(policy, n, random.Random(42), None) for n in range(1, 6)]
    other_seed = [backoff_delay(policy, n, random.Random(43), None) for n in range(1, 6)]

    assert first == second
    assert first != other_seed


@pytest.mark.parametrize(("retry_after", "delay"), [(2.0, 2.0), (0.0, 0.0), (120.0, 30.0)])
def test_retry_after_replaces_the_jitter_and_is_capped_at_max_delay(
    retry_after: float, delay: float
) -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0)

    assert backoff_delay(policy, 1, random.Random(0), retry_after) == delay


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("2", 2.0),
        (" 17 ", 17.0),
        ("Mon, 02 Mar 2026 08:00:45 GMT", 45.0),
        ("Mon, 02 Mar 2026 07:59:00 GMT", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("-3", None),
        ("1.5", None),
        ("²", None),
        ("Tue, 31 Feb 2026 08:00:00 GMT", None),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(
    header: str | None, seconds: float | None
) -> None:
    assert parse_retry_after(header, NOW) == seconds


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (408, True),
        (425, True),
        (429, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (409, False),
        (410, False),
        (413, False),
        (422, False),
    ],
)
def test_server_errors_and_transient_refusals_are_retried_other_4xx_are_not(
    status: int, retryable: bool
) -> None:
    assert is_retryable(status) is retryable


def test_an_endpoint_accepts_https_and_a_whsec_or_bare_base64_secret() -> None:
    bare = base64.b64encode(bytes(range(32))).decode()

    WebhookEndpoint("https://partner.example/iiz", SECRET)
    WebhookEndpoint("https://partner.example/iiz", bare)
    WebhookEndpoint("https://partner.example/iiz", bare.rstrip("="))


@pytest.mark.parametrize(
    "url", ["http://partner.example/iiz", "ftp://partner.example/iiz", "http://10.0.0.1/x"]
)
def test_an_endpoint_outside_loopback_must_use_https(url: str) -> None:
    with pytest.raises(ValueError, match="https"):
        WebhookEndpoint(url, SECRET)


def test_plain_http_is_allowed_on_loopback_for_tests() -> None:
    WebhookEndpoint("http://127.0.0.1:8080/hook", SECRET)


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("whsec_not base64!", "base64"),
        ("", "at least 24 bytes"),
        ("whsec_" + base64.b64encode(b"short").decode(), "at least 24 bytes"),
    ],
)
def test_an_endpoint_with_a_bad_secret_is_refused_without_showing_it(
    secret: str, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem) as raised:
        WebhookEndpoint("https://partner.example/iiz", secret)

    if secret:
        assert secret not in str(raised.value)


def test_the_secret_is_not_in_the_endpoint_repr() -> None:
    endpoint = WebhookEndpoint("https://partner.example/iiz", SECRET)

    assert SECRET.removeprefix("whsec_") not in repr(endpoint)
    assert "partner.example" in repr(endpoint)


@pytest.mark.parametrize(
    "policy",
    [{"max_attempts": 0}, {"base_delay": -1.0}, {"max_delay": -1.0}, {"timeout": 0.0}],
)
def test_a_nonsensical_retry_policy_is_refused(policy: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        RetryPolicy(**policy)  # type: ignore[arg-type]
