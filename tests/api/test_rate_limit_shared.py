"""The rate limit's token buckets live in PostgreSQL: every API replica spends from one budget.

Repository (schema.repositories.rate_limits) on the API test database: burst then refusal, refill
by the database clock (time is moved by setting `updated_at` into the past), per-user buckets, and
racing threads on their own connections; then two apps on one database sharing the limit, and
the limiter failing open when the database is unreachable.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from api.auth import mint_dev_token
from api.main import create_app
from api.ratelimit import RateLimiter, purge_idle_buckets
from api.services import ApiConfig, Services
from infra.settings import Settings
from schema.api_models import RateBucket
from schema.db import make_engine
from schema.repositories import rate_limits
from tests.conftest import free_port

PER_MINUTE = 1 / 60  # tokens per second at 60 a minute


@pytest.fixture(scope="module")
def engine(api_db_url: str) -> Iterator[Engine]:
    engine = make_engine(api_db_url, pool_size=20, max_overflow=0)
    yield engine
    engine.dispose()


def _take(engine: Engine, key: str, *, rate: float = 1.0, burst: float = 2) -> rate_limits.Take:
    with Session(engine) as session:
        result = rate_limits.take(session, key, rate_per_s=rate, burst=burst)
        session.commit()
        return result


def _age(engine: Engine, key: str, seconds: float) -> None:
    """Move the bucket's last update `seconds` into the past (as if that much time had passed)."""
    with Session(engine) as session:
        session.execute(
            update(RateBucket)
            .where(RateBucket.key == key)
            .values(updated_at=RateBucket.updated_at - timedelta(seconds=seconds))
        )
        session.commit()


def _key() -> str:
    return f"test:{uuid.uuid4().hex}"


def test_burst_then_refusal_with_retry_after(engine: Engine) -> None:
    key = _key()
    assert [_take(engine, key).allowed for _ in range(2)] == [True, True]
    refused = _take(engine, key)  # 1 token a second: the next one is at most a second away
    assert not refused.allowed
    assert 0.5 < refused.wait_s <= 1.0
    slow = _take(engine, key, rate=PER_MINUTE * 6)  # 6 a minute: up to 10 s
    assert not slow.allowed and 5.0 < slow.wait_s <= 10.0
    with Session(engine) as session:
        tokens = session.scalar(select(RateBucket.tokens).where(RateBucket.key == key))
    assert tokens is not None and 0.0 <= tokens < 0.5  # refusals took nothing


def test_refill_by_the_database_clock_capped_at_burst(engine: Engine) -> None:
    key = _key()
    assert all(_take(engine, key, burst=3).allowed for _ in range(3))
    assert not _take(engine, key, burst=3).allowed
    _age(engine, key, 1.5)  # 1.5 tokens back: one request passes, the half token remains
    assert _take(engine, key, burst=3).allowed
    second = _take(engine, key, burst=3)
    assert not second.allowed and 0.3 < second.wait_s <= 0.6
    _age(engine, key, 86_400)  # a day idle: full again, but never above the burst
    assert [_take(engine, key, burst=3).allowed for _ in range(4)] == [True, True, True, False]


def test_users_do_not_share_a_bucket(engine: Engine) -> None:
    alice, bob = _key(), _key()
    assert _take(engine, alice, burst=1).allowed
    assert not _take(engine, alice, burst=1).allowed
    assert _take(engine, bob, burst=1).allowed


def test_racing_requests_get_exactly_the_burst(engine: Engine) -> None:
    key, threads, burst = _key(), 16, 5
    barrier = threading.Barrier(threads)
    results: list[bool] = []
    lock = threading.Lock()

    def request() -> None:
        with engine.connect() as conn, Session(bind=conn) as session:
            conn.exec_driver_sql("SELECT 1")  # connected before the start line
            conn.commit()
            barrier.wait()
            taken = rate_limits.take(session, key, rate_per_s=1 / 3600, burst=burst)
            session.commit()
        with lock:
            results.append(taken.allowed)

    workers = [threading.Thread(target=request) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert len(results) == threads
    assert results.count(True) == burst


def test_purge_deletes_only_idle_buckets(engine: Engine, api_db_url: str) -> None:
    idle, busy = _key(), _key()
    _take(engine, idle)
    _take(engine, busy)
    _age(engine, idle, 86_400 + 60)
    services = Services(
        settings := Settings(data_dir=Path(tempfile.mkdtemp())),
        ApiConfig.from_settings(settings),
        database_url=api_db_url,
    )
    try:
        assert purge_idle_buckets(RateLimiter(services, rate_per_minute=60, burst=2)) >= 1
    finally:
        services.close()
    with Session(engine) as session:
        left = set(session.scalars(select(RateBucket.key).where(RateBucket.key.in_([idle, busy]))))
    assert left == {busy}


def _settings() -> Settings:
    return Settings(data_dir=Path(tempfile.mkdtemp(prefix="dd-rate-")))


async def test_two_api_replicas_share_the_limit(api_db_url: str) -> None:
    settings, burst = _settings(), 3
    config = ApiConfig.from_settings(
        settings, rate_per_minute=6, rate_burst=burst, public_url="http://api.test"
    )
    apps = [create_app(settings, database_url=api_db_url, config=config, background=False) for _ in range(2)]
    user = f"u-{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {mint_dev_token(user, 'user', settings=settings)}"}
    url = f"/workspaces/{uuid.uuid4()}/work-items/{uuid.uuid4()}/generate"
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test") for app in apps
    ]
    try:
        codes = [
            (await clients[n % 2].post(url, json={"kind": "image"}, headers=headers)).status_code
            for n in range(burst)
        ]
        assert codes == [404] * burst  # allowed (the workspace does not exist)
        for client in clients:  # the budget is spent on either replica
            r = await client.post(url, json={"kind": "image"}, headers=headers)
            assert r.status_code == 429, r.text
            body = r.json()
            assert body["code"] == "rate_limited" and body["message"]
            assert body["request_id"] == r.headers["x-request-id"]
            assert 1 <= int(r.headers["retry-after"]) <= 10
        other = {"Authorization": f"Bearer {mint_dev_token(user + '-b', 'user', settings=settings)}"}
        assert (await clients[1].post(url, json={"kind": "image"}, headers=other)).status_code == 404
    finally:
        for client in clients:
            await client.aclose()
        for app in apps:
            app.state.services.close()


async def test_unreachable_database_fails_open(caplog: pytest.LogCaptureFixture) -> None:
    """The request path (`take_async`, one autocommit statement on the loop) fails open too."""
    settings = _settings()
    services = Services(
        settings,
        ApiConfig.from_settings(settings),
        database_url=f"postgresql://nobody@127.0.0.1:{free_port()}/none",
    )
    limiter = RateLimiter(services, rate_per_minute=60, burst=1)
    try:
        with caplog.at_level(logging.WARNING, logger="directordeck.api"):
            assert [await limiter.take_async("someone") for _ in range(3)] == [0.0, 0.0, 0.0]
    finally:
        await services.aclose()
    warnings = [r for r in caplog.records if "failing open" in r.getMessage()]
    assert len(warnings) == 1  # one warning a minute, not one per request
