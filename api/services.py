"""What the API process talks to: the ledger, Temporal, storage and the action router.

Rules: one instance per app (``app.state.services``); everything is created lazily on first use
and reused, so ``/health`` and the OpenAPI document work without a database; a missing or
unreachable backing service answers 503 with a stable code (``database_unavailable``,
``temporal_unavailable``, ``router_unavailable``), never a stack trace.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import Session, sessionmaker

from api.document_cache import DocumentCache
from api.errors import ApiError
from infra.queues import Queues
from infra.settings import Settings
from infra.shared_reads import SharedReads
from infra.storage import Storage, storage_from
from schema import db

T = TypeVar("T")

log = logging.getLogger("directordeck.api")


@dataclass
class ApiConfig:
    """API knobs, taken from Settings (``api_*`` fields; their defaults live only there)."""

    max_request_bytes: int
    rate_per_minute: float
    rate_burst: int
    sse_ping_s: float
    sse_poll_s: float
    webhook_poll_s: float
    webhook_max_attempts: int
    webhook_secret: str
    webhook_allowed_networks: tuple[str, ...]  # CIDRs exempt from the SSRF guard (api.webhook_targets)
    metrics_token: str | None  # bearer token for /metrics (admins' tokens work too)
    idempotency_ttl_s: int
    public_url: str
    db_pool_size: int

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ApiConfig:
        """The settings' values; `overrides` (tests, benchmarks) replace single knobs."""
        values: dict[str, Any] = {
            name: getattr(settings, f"api_{name}")
            for name in (
                "max_request_bytes",
                "rate_per_minute",
                "rate_burst",
                "sse_ping_s",
                "sse_poll_s",
                "webhook_poll_s",
                "webhook_max_attempts",
                "idempotency_ttl_s",
                "db_pool_size",
            )
        }
        values["webhook_secret"] = settings.webhook_secret or settings.effective_jwt_secret
        values["webhook_allowed_networks"] = tuple(settings.webhook_allowed_networks)
        values["metrics_token"] = settings.metrics_token
        values["public_url"] = settings.api_public_url or f"http://{settings.api_host}:{settings.api_port}"
        values.update(overrides)
        return cls(**values)


class Services:
    def __init__(
        self,
        settings: Settings,
        config: ApiConfig,
        *,
        database_url: str | None = None,
        temporal_client: Any | None = None,
        temporal_address: str | None = None,
        queues: Queues | None = None,
        storage: Storage | None = None,
    ) -> None:
        self.settings = settings
        self.config = config
        self._database_url = database_url
        self._temporal = temporal_client
        self._temporal_address = temporal_address
        self._temporal_lock = asyncio.Lock()
        self.queues = queues or Queues.prefixed(settings.task_queue_prefix)
        self._storage = storage
        self._engine: Engine | None = None
        self._async_engine: AsyncEngine | None = None
        self._sessions: sessionmaker[Session] | None = None
        self._router: Any | None = None
        self.documents = DocumentCache()  # serialised storyboards, checked against their revision
        self._shared_reads: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SharedReads] = (
            weakref.WeakKeyDictionary()
        )
        self._rates: Any | None = None

    # --- ledger -------------------------------------------------------------------------

    @property
    def database_url(self) -> str:
        if self._database_url is None:
            self._database_url = self.settings.database_url
        if self._database_url is None:
            from infra.stack import read_running_stack

            running = read_running_stack(self.settings)
            self._database_url = running.database_url if running else None
        if self._database_url is None:
            raise ApiError(503, "database_unavailable", "no ledger database is configured or running")
        return self._database_url

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            size = self.config.db_pool_size
            self._engine = db.make_engine(self.database_url, pool_size=size, max_overflow=size * 2)
            self._sessions = db.session_factory(self._engine)
        return self._engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        self.engine  # noqa: B018 - creates the factory
        assert self._sessions is not None
        return self._sessions

    @contextmanager
    def reader(self) -> Iterator[Connection]:
        """A pooled connection in autocommit for one-statement reads: no BEGIN/ROLLBACK round trips."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            yield conn

    async def read_async(self, read: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run one-statement `read` on the event loop (the hot reads, and a write that is one
        atomic statement such as taking a rate-limit token: no thread-pool hop), in autocommit.
        No pre-ping round trip: a pooled connection that died with the server fails its
        statement, the pool drops every connection of that age, and the read runs once more."""
        for attempt in (1, 2):
            try:
                async with self._async_engine_().connect() as conn:
                    return await read(await conn.execution_options(isolation_level="AUTOCOMMIT"))
            except DBAPIError as exc:
                if not exc.connection_invalidated or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def read_shared(self, key: Hashable, read: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """`read_async`, one round trip shared by this key's concurrent callers (`SharedReads`:
        never an answer older than the request)."""
        loop = asyncio.get_running_loop()
        shared = self._shared_reads.get(loop)
        if shared is None:
            shared = self._shared_reads[loop] = SharedReads()
        return await shared.read(key, lambda: self.read_async(read))

    def _async_engine_(self) -> AsyncEngine:
        if self._async_engine is None:
            # the same cap as the thread pool's engine (size x 3), all kept open: under load an
            # overflow connection would be closed on return and opened again by the next request
            size = self.config.db_pool_size
            self._async_engine = db.make_async_engine(
                self.database_url, pool_size=size * 3, max_overflow=0, pool_pre_ping=False
            )
        return self._async_engine

    # --- storage ------------------------------------------------------------------------

    @property
    def storage(self) -> Storage:
        if self._storage is None:
            s = self.settings
            self._storage = storage_from(
                s.storage_backend,
                s.data_path,
                bucket=s.s3_bucket,
                endpoint_url=s.s3_endpoint_url,
                region=s.aws_region,
            )
        return self._storage

    # --- Temporal -----------------------------------------------------------------------

    async def temporal(self) -> Any:
        if self._temporal is not None:
            return self._temporal
        async with self._temporal_lock:
            if self._temporal is None:
                from infra.temporal_client import connect

                address = self._temporal_address or self.settings.temporal_address
                if address is None:
                    from infra.stack import read_running_stack

                    running = read_running_stack(self.settings)
                    address = running.temporal_address if running else None
                try:
                    self._temporal = await connect(self.settings, address)
                except Exception as exc:
                    log.warning("cannot reach Temporal: %s", exc)
                    raise ApiError(503, "temporal_unavailable", "the workflow engine is unreachable") from exc
        return self._temporal

    # --- action router ------------------------------------------------------------------

    async def action_router(self) -> Any:
        if self._router is None:
            try:
                from services.router import ActionRouter
            except ImportError as exc:
                raise ApiError(503, "router_unavailable", "the action router is not installed") from exc
            client = await self.temporal()
            self._router = ActionRouter(self.database_url, client, self.queues, self.settings)
        return self._router

    def estimate_rates(self) -> Any:
        """The rates of proposal estimates (services/estimate.py), read once."""
        if self._rates is None:
            from services.estimate import Rates

            self._rates = Rates.from_settings(self.settings)
        return self._rates

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        if self._async_engine is not None:  # (not closed on its loop: dropped, not reused)
            self._async_engine.sync_engine.dispose(close=False)
            self._async_engine = None

    async def aclose(self) -> None:
        """Close both engines (the asyncio one on the loop that opened its connections)."""
        if self._async_engine is not None:
            await self._async_engine.dispose()
            self._async_engine = None
        self.close()
