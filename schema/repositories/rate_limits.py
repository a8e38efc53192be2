"""Token buckets of the API rate limit (schema.api_models.RateBucket), shared by every API replica.

Rule: a token is taken by ONE statement, so requests on different replicas cannot both spend the
last token. ``INSERT … ON CONFLICT DO UPDATE`` locks the user's row (or creates it, full minus
one), refills it by the time elapsed on the database clock (``now()``), caps it at the burst and
takes one token only ``WHERE`` at least one is there; a concurrent request waits for the lock and
then sees the level the first one left. A refused request writes nothing; its wait is computed from
the row in the statement's snapshot (at worst a little older than the locked one after a race: the
wait is then bounded by one token's time, never zero).

Elapsed time is never negative: a transaction that started before the row's last writer (``now()``
is the transaction's start) refills nothing and keeps the later ``updated_at``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Double,
    Row,
    Select,
    cast,
    delete,
    exists,
    extract,
    func,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Session

from schema.api_models import RateBucket


class Take(NamedTuple):
    allowed: bool
    wait_s: float  # 0 when allowed, else the seconds until the next token


def _refilled(rate: ColumnElement[float], burst: ColumnElement[float]) -> ColumnElement[float]:
    """The row's level now: its tokens plus the refill since `updated_at`, capped at `burst`."""
    elapsed = func.greatest(0.0, extract("epoch", func.now() - RateBucket.updated_at))
    return func.least(burst, RateBucket.tokens + rate * cast(elapsed, Double))


def take(session: Session, key: str, *, rate_per_s: float, burst: float) -> Take:
    """Take one token of bucket `key` (full at `burst`, refilled at `rate_per_s` tokens a second)."""
    return _outcome(session.execute(_take_statement(key, rate_per_s, burst)).one(), rate_per_s)


async def take_async(conn: AsyncConnection, key: str, *, rate_per_s: float, burst: float) -> Take:
    """`take` on an asyncio connection in autocommit (the statement is its own transaction)."""
    result = await conn.execute(_take_statement(key, rate_per_s, burst))
    return _outcome(result.one(), rate_per_s)


def _take_statement(key: str, rate_per_s: float, burst: float) -> Select[Any]:
    if rate_per_s <= 0 or burst < 1:
        raise ValueError("rate_per_s must be > 0 and burst >= 1")
    rate = literal(float(rate_per_s), Double)
    cap = literal(float(burst), Double)
    level = _refilled(rate, cap)
    taken = (
        pg_insert(RateBucket)
        .values(key=key, tokens=float(burst) - 1.0, updated_at=func.now())
        .on_conflict_do_update(
            index_elements=[RateBucket.key],
            set_={"tokens": level - 1.0, "updated_at": func.greatest(RateBucket.updated_at, func.now())},
            where=level >= 1.0,
        )
        .returning(RateBucket.key)
        .cte("taken")
    )
    return select(
        exists(select(taken.c.key)).label("allowed"),
        select(level).where(RateBucket.key == key).scalar_subquery().label("level"),
    )


def _outcome(row: Row[Any], rate_per_s: float) -> Take:
    if row.allowed:
        return Take(True, 0.0)
    missing = 1.0 - (row.level if row.level is not None else 0.0)
    return Take(False, min(1.0, max(missing, 1e-3)) / rate_per_s)


def purge_idle(session: Session, idle: timedelta) -> int:
    """Delete the buckets untouched for `idle` (choose it >= the time to refill a bucket: an idle,
    full bucket and a missing one are the same)."""
    result = session.execute(delete(RateBucket).where(RateBucket.updated_at < func.now() - idle))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


__all__ = ["Take", "purge_idle", "take"]
