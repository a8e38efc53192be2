"""Per-user token bucket for the endpoints that start work (generation, chat messages).

Rule: in memory, per API process (a replica set multiplies the budget by its size — good enough
to stop a runaway client; Temporal's task-queue backlog is the real throttle). A request takes one
token; an empty bucket answers 429 ``rate_limited`` with ``Retry-After`` (whole seconds, >= 1).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    def __init__(self, rate_per_minute: float, burst: int, *, max_users: int = 100_000) -> None:
        if rate_per_minute <= 0 or burst < 1:
            raise ValueError("rate_per_minute must be > 0 and burst >= 1")
        self.rate = rate_per_minute / 60.0  # tokens per second
        self.burst = float(burst)
        self.max_users = max_users
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """Take one token for `key`; returns 0 when allowed, else the seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self.max_users:
                    self._evict(now)
                bucket = self._buckets[key] = _Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    def _evict(self, now: float) -> None:
        full_after = self.burst / self.rate
        for key in [k for k, b in self._buckets.items() if now - b.updated >= full_after]:
            del self._buckets[key]
        if len(self._buckets) >= self.max_users:  # still full: drop the oldest half
            for key, _ in sorted(self._buckets.items(), key=lambda kv: kv[1].updated)[: self.max_users // 2]:
                del self._buckets[key]


def retry_after_header(wait_s: float) -> str:
    return str(max(1, math.ceil(wait_s)))
