"""Per-key request rate limits: a token bucket per API key, in this process.

A key may send up to ``per_minute`` requests at once, then one more each ``60 / per_minute``
seconds. The refusal says when the next request will be taken (``Retry-After``, whole seconds,
rounded up). Limits are per replica: with N replicas a key gets up to N times its limit
(docs/api.md).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimiter"]


@dataclass
class _Bucket:
    tokens: float
    updated: float
    per_minute: int


class RateLimiter:
    """``take(key, per_minute)`` -> 0 when the request may go, else the seconds to wait."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._max_keys = max_keys

    def take(self, key: str, per_minute: int) -> float:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None or bucket.per_minute != per_minute:
            if len(self._buckets) >= self._max_keys:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(float(per_minute), now, per_minute)
        rate = per_minute / 60.0
        bucket.tokens = min(float(per_minute), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate

    def _forget_full(self, now: float) -> None:
        # Buckets that have refilled completely hold no state worth keeping.
        for key in [k for k, b in self._buckets.items() if now - b.updated >= 60.0]:
            del self._buckets[key]


def retry_after_header(wait_s: float) -> str:
    return str(max(1, math.ceil(wait_s)))
