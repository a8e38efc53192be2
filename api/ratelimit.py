"""Per-user token bucket for the endpoints that start work (generation, chat messages, exports).

Rule: the buckets live in PostgreSQL (table ``api_rate_bucket``, schema.repositories.rate_limits),
so every API replica spends from the same budget: N replicas behind a load balancer still grant
``rate_per_minute`` per user, not N times it. A request takes one token in one atomic statement
(its own short transaction: on the API's event loop, in autocommit); an empty bucket answers 429
``rate_limited`` with ``Retry-After`` (whole seconds, >= 1).

Fail-open: when the database cannot be reached (or none is configured) the request is let
through and a warning is logged (at most one a minute) — rate limiting must not take the API
down; the endpoint itself then answers 503 ``database_unavailable`` if it needs the ledger.

Buckets idle for a day (or for a full refill, when that is longer) are deleted by the API's
housekeeping loop (``purge_idle_buckets``): an idle bucket is full, the same as a missing one.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from api.errors import ApiError
from api.services import Services
from schema.db import unit_of_work
from schema.repositories import rate_limits

log = logging.getLogger("directordeck.api")

WORK_BUCKET = "work"  # the endpoints that start work share one bucket per user
IDLE_BUCKET = timedelta(days=1)
WARN_EVERY_S = 60.0


class RateLimiter:
    """Token buckets of `rate_per_minute` refill and `burst` size, in the ledger database."""

    def __init__(self, services: Services, rate_per_minute: float, burst: int) -> None:
        if rate_per_minute <= 0 or burst < 1:
            raise ValueError("rate_per_minute must be > 0 and burst >= 1")
        self.services = services
        self.rate = rate_per_minute / 60.0  # tokens per second
        self.burst = float(burst)
        self._warned_at = -math.inf

    async def take_async(self, user_id: str, bucket: str = WORK_BUCKET) -> float:
        """Take one token of `user_id`'s `bucket`; returns 0 when allowed, else the seconds to
        wait. One autocommit statement on the event loop (no thread-pool hop)."""
        key = f"{bucket}:{user_id}"
        try:
            result = await self.services.read_async(
                lambda conn: rate_limits.take_async(conn, key, rate_per_s=self.rate, burst=self.burst)
            )
        except (SQLAlchemyError, ApiError, OSError) as exc:
            self._warn(exc)
            return 0.0
        return result.wait_s

    def idle_after(self) -> timedelta:
        return max(IDLE_BUCKET, timedelta(seconds=self.burst / self.rate))

    def _warn(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            log.warning("rate limit not applied (failing open): the database is unreachable: %s", exc)


def purge_idle_buckets(limiter: RateLimiter) -> int:
    """Delete buckets nobody touched for a day (called by the API's housekeeping loop)."""
    with unit_of_work(limiter.services.sessions) as session:
        return rate_limits.purge_idle(session, limiter.idle_after())


def retry_after_header(wait_s: float) -> str:
    return str(max(1, math.ceil(wait_s)))
