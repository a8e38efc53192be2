"""`Idempotency-Key` for every POST that starts work.

Rules (per user; keys are kept at least 24 h — DIRECTORDECK_API_IDEMPOTENCY_TTL_S, 48 h by default):
- the first request with a key claims it (a row with no response yet), runs, and stores its
  successful response (status + JSON body);
- the same key with the same request (method, path, query and canonical JSON body) answers the
  stored response again — same task id, same workflow id — with ``Idempotent-Replayed: true``;
- the same key with a different request is 422 ``idempotency_key_reused``;
- while the first request is still running, a repeat is 409 ``idempotency_request_in_progress``
  (with Retry-After);
- a request that fails (any error) releases its claim, so the client may retry with the same key;
- an expired key is forgotten and may be claimed again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from starlette.concurrency import run_in_threadpool

from api.auth import Principal
from api.errors import ApiError
from api.services import Services
from schema.api_models import IdempotencyKey
from schema.db import unit_of_work

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, no spaces


def _canonical_body(raw: bytes) -> bytes:
    if not raw:
        return b""
    try:
        return json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    except (ValueError, UnicodeDecodeError):
        return raw


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), query.encode(), _canonical_body(body)):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _sorted_query(request: Request) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(request.query_params.multi_items()))


class Idempotency:
    """Bound to one request; `run` wraps the part of an endpoint that starts work."""

    def __init__(self, request: Request, caller: Principal, services: Services) -> None:
        self.request = request
        self.caller = caller
        self.services = services
        self.key = request.headers.get(HEADER)
        self.fingerprint: str | None = None
        if self.key is not None and not KEY_RE.match(self.key):
            raise ApiError(
                422, "idempotency_key_invalid", "Idempotency-Key is 1..255 visible ASCII characters"
            )

    async def run(self, status_code: int, handler: Callable[[], Awaitable[Any]]) -> Any:
        """Run `handler` once per key; returns its result (or a JSONResponse replaying the first one)."""
        if self.key is None:
            return await handler()
        body = await self.request.body()
        fp = fingerprint(self.request.method, self.request.url.path, _sorted_query(self.request), body)
        self.fingerprint = fp
        replay = await run_in_threadpool(self._claim, fp)
        if replay is not None:
            return replay
        try:
            result = await handler()
        except BaseException:
            await run_in_threadpool(self._release)
            raise
        payload = jsonable_encoder(result)
        await run_in_threadpool(self._store, status_code, payload)
        return result

    async def reserve_stream(self) -> str:
        """For a streamed answer (nothing to replay): claim the key for this request, or accept a
        repeat of the same request; another request under the key is 422. Returns the id the
        work is started under (Temporal dedups it), so a repeat re-attaches to the same work."""
        body = await self.request.body()
        self.fingerprint = fingerprint(
            self.request.method, self.request.url.path, _sorted_query(self.request), body
        )
        await run_in_threadpool(self._reserve, self.fingerprint)
        assert self.turn_key is not None
        return self.turn_key

    def _reserve(self, fp: str) -> None:
        with unit_of_work(self.services.sessions) as session:
            values = {
                "user_id": self.caller.user_id,
                "key": self.key,
                "method": self.request.method,
                "path": self.request.url.path,
                "body_hash": fp,
                "status_code": 200,
                "response": {"stream": True},
            }
            inserted = session.scalars(
                pg_insert(IdempotencyKey)
                .values(**values)
                .on_conflict_do_nothing()
                .returning(IdempotencyKey.key)
            ).one_or_none()
            if inserted is not None:
                return
            row = session.get(IdempotencyKey, (self.caller.user_id, self.key), with_for_update=True)
            ttl = timedelta(seconds=self.services.config.idempotency_ttl_s)
            if row is not None and row.created_at < datetime.now(UTC) - ttl:  # expired: a new claim
                row.method, row.path, row.body_hash = values["method"], values["path"], fp
                row.status_code, row.response, row.created_at = 200, {"stream": True}, datetime.now(UTC)
                return
            if row is not None and row.body_hash != fp:
                raise ApiError(
                    422,
                    "idempotency_key_reused",
                    "this Idempotency-Key was used with a different request",
                    details={"method": row.method, "path": row.path},
                )

    @property
    def turn_key(self) -> str | None:
        """The key the action router keeps the turn's outcome under: unique per user, key and
        request (a reused key with another body can never pick up the first request's turn)."""
        if self.key is None or self.fingerprint is None:
            return None
        user = hashlib.sha256(self.caller.user_id.encode()).hexdigest()[:12]
        return f"api-{user}-{self.fingerprint[:16]}-{self.key}"

    # --- ledger ---------------------------------------------------------------------------

    def _claim(self, fp: str) -> JSONResponse | None:
        ttl = timedelta(seconds=self.services.config.idempotency_ttl_s)
        with unit_of_work(self.services.sessions) as session:
            values = {
                "user_id": self.caller.user_id,
                "key": self.key,
                "method": self.request.method,
                "path": self.request.url.path,
                "body_hash": fp,
            }
            stmt = (
                pg_insert(IdempotencyKey)
                .values(**values)
                .on_conflict_do_nothing()
                .returning(IdempotencyKey.key)
            )
            if session.scalars(stmt).one_or_none() is not None:
                return None
            row = session.scalar(
                select(IdempotencyKey)
                .where(IdempotencyKey.user_id == self.caller.user_id, IdempotencyKey.key == self.key)
                .with_for_update()
            )
            if row is None:  # released between the insert and the read: claim it now
                session.execute(pg_insert(IdempotencyKey).values(**values).on_conflict_do_nothing())
                return None
            if row.created_at < datetime.now(UTC) - ttl:
                row.method, row.path, row.body_hash = values["method"], values["path"], fp
                row.status_code, row.response = None, None
                row.created_at = datetime.now(UTC)
                return None
            if row.body_hash != fp:
                raise ApiError(
                    422,
                    "idempotency_key_reused",
                    "this Idempotency-Key was used with a different request",
                    details={"method": row.method, "path": row.path},
                )
            if row.status_code is None:
                raise ApiError(
                    409,
                    "idempotency_request_in_progress",
                    "a request with this Idempotency-Key is still running",
                    headers={"Retry-After": "1"},
                )
            return JSONResponse(row.response, status_code=row.status_code, headers={REPLAY_HEADER: "true"})

    def _release(self) -> None:
        with unit_of_work(self.services.sessions) as session:
            session.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.user_id == self.caller.user_id,
                    IdempotencyKey.key == self.key,
                    IdempotencyKey.status_code.is_(None),
                )
            )

    def _store(self, status_code: int, payload: Any) -> None:
        with unit_of_work(self.services.sessions) as session:
            session.execute(
                update(IdempotencyKey)
                .where(IdempotencyKey.user_id == self.caller.user_id, IdempotencyKey.key == self.key)
                .values(status_code=status_code, response=payload)
            )


def purge_expired(services: Services) -> int:
    """Forget keys older than the retention (called by the API's housekeeping loop)."""
    cutoff = datetime.now(UTC) - timedelta(seconds=services.config.idempotency_ttl_s)
    with unit_of_work(services.sessions) as session:
        result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
