"""Idempotency-Key: replay, reuse with another body, in-progress, expiry, release on failure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from starlette.requests import Request

from api.auth import Principal
from api.errors import ApiError
from api.idempotency import Idempotency, fingerprint, purge_expired
from infra.ledger import unit_of_work
from schema.api_models import IdempotencyKey
from tests.api.conftest import Stack, uid


async def test_same_key_same_body_replays_the_first_response(stack: Stack) -> None:
    c, user = stack.client, uid()
    h = {**stack.auth(user), "Idempotency-Key": "create-1"}
    first = await c.post("/workspaces", json={"title": "once", "meta": {"a": 1, "b": 2}}, headers=h)
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    # same JSON, other key order and spacing: the same request
    again = await c.post(
        "/workspaces",
        content=b'{ "meta": {"b": 2, "a": 1},  "title": "once" }',
        headers={**h, "content-type": "application/json"},
    )
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert len((await c.get("/workspaces", headers=stack.auth(user))).json()) == 1
    # another user may use the same key independently
    other = await c.post(
        "/workspaces", json={"title": "once"}, headers={**stack.auth(uid()), "Idempotency-Key": "create-1"}
    )
    assert other.status_code == 201 and other.json()["workspace"]["id"] != first.json()["workspace"]["id"]


async def test_same_key_other_body_is_422(stack: Stack) -> None:
    c, user = stack.client, uid()
    h = {**stack.auth(user), "Idempotency-Key": "k-2"}
    assert (await c.post("/workspaces", json={"title": "a"}, headers=h)).status_code == 201
    r = await c.post("/workspaces", json={"title": "b"}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "idempotency_key_reused"
    r = await c.post("/workspaces?x=1", json={"title": "a"}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "idempotency_key_reused"
    r = await c.post("/workspaces", json={"title": "a"}, headers={**h, "Idempotency-Key": "has space"})
    assert r.status_code == 422 and r.json()["code"] == "idempotency_key_invalid"


async def test_in_progress_and_expiry(stack: Stack) -> None:
    c, user = stack.client, uid()
    h = {**stack.auth(user), "Idempotency-Key": "k-3"}
    body = {"title": "slow"}
    with unit_of_work(stack.db_url) as s:  # a first request that is still running
        s.add(
            IdempotencyKey(
                user_id=user,
                key="k-3",
                method="POST",
                path="/workspaces",
                body_hash=fingerprint("POST", "/workspaces", "", b'{"title":"slow"}'),
            )
        )
    r = await c.post("/workspaces", json=body, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "idempotency_request_in_progress"
    assert r.headers["retry-after"] == "1"
    # kept at least 24 h: a 25 h old key (retention 48 h) still answers, a 49 h old one is forgotten
    with unit_of_work(stack.db_url) as s:
        s.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.user_id == user)
            .values(created_at=datetime.now(UTC) - timedelta(hours=25))
        )
    assert (await c.post("/workspaces", json=body, headers=h)).status_code == 409
    with unit_of_work(stack.db_url) as s:
        s.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.user_id == user)
            .values(created_at=datetime.now(UTC) - timedelta(hours=49))
        )
    r = await c.post("/workspaces", json={"title": "other body is fine after expiry"}, headers=h)
    assert r.status_code == 201
    with unit_of_work(stack.db_url) as s:
        s.add(
            IdempotencyKey(
                user_id=user,
                key="old",
                method="POST",
                path="/x",
                body_hash="h",
                status_code=201,
                response={},
                created_at=datetime.now(UTC) - timedelta(days=3),
            )
        )
    assert purge_expired(stack.app.state.services) >= 1
    with unit_of_work(stack.db_url) as s:
        keys = set(s.scalars(select(IdempotencyKey.key).where(IdempotencyKey.user_id == user)))
    assert keys == {"k-3"}


async def test_failed_request_releases_its_key(stack: Stack) -> None:
    user = uid()
    body = b'{"title": "x"}'

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    def request() -> Request:
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/workspaces",
            "query_string": b"",
            "headers": [(b"idempotency-key", b"k-fail")],
            "app": stack.app,
        }
        return Request(scope, receive)

    services = stack.app.state.services
    idem = Idempotency(request(), Principal(user), services)

    async def boom():
        raise ApiError(503, "temporal_unavailable", "down")

    with pytest.raises(ApiError):
        await idem.run(201, boom)
    with unit_of_work(stack.db_url) as s:
        assert s.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == user)) is None

    async def ok():
        return {"id": str(uuid.uuid4())}

    first = await Idempotency(request(), Principal(user), services).run(201, ok)
    replay = await Idempotency(request(), Principal(user), services).run(201, ok)
    assert replay.status_code == 201 and replay.body == f'{{"id":"{first["id"]}"}}'.encode()
