"""The HTTP door's limits: events per minute per institution, and the size of a request body.

The rate limit is a token bucket per institution **in the memory of one instance**: with n
instances behind a load balancer an institution may send up to n times the configured rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimiter:
    """Token bucket per institution: ``per_minute`` events, refilled continuously.

    In memory of this instance only (documented limitation: n instances allow n times the rate).
    A request larger than the bucket is charged the full bucket, so it passes when it is full.
    """

    per_minute: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def take(self, key: str, count: int) -> float | None:
        """Charge ``count`` events; ``None`` if allowed, else the seconds until it would be."""
        now = self.clock()
        rate = self.per_minute / 60.0
        bucket = self._buckets.setdefault(key, _Bucket(float(self.per_minute), now))
        bucket.tokens = min(float(self.per_minute), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        needed = float(min(count, self.per_minute))
        if bucket.tokens >= needed:
            bucket.tokens -= needed
            return None
        return (needed - bucket.tokens) / rate


class BodyTooLargeError(Exception):
    pass


async def read_capped(request: Request, limit: int) -> bytes:
    """The request body, refused early by ``Content-Length`` and cut off at ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(f"the request has {int(declared)} bytes; the limit is {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLargeError(f"the request exceeds the limit of {limit} bytes")
    return bytes(body)
