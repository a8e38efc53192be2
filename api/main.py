"""The FastAPI application: OpenAPI is the contract for web, mobile and script clients.

Rules: ``create_app`` builds everything from Settings (plus, optionally, already-open connections:
the stack's database URL, a Temporal client, task queues, storage — tests and ``directordeck up``
pass theirs); nothing connects at import time; every route except ``/health`` needs a bearer
token; background work of the API process (LISTEN/NOTIFY hub for SSE, webhook deliveries,
idempotency-key and rate-bucket housekeeping) starts and stops with the app's lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from agent.registry import check_registry
from api.errors import ERROR_RESPONSES, ApiError, install_error_handlers
from api.idempotency import purge_expired
from api.middleware import BodySizeLimitMiddleware, RequestIdMiddleware
from api.ratelimit import RateLimiter, purge_idle_buckets
from api.routers import (
    assets,
    characters,
    conversations,
    events,
    exports,
    favorites,
    generation,
    nodes,
    scenes,
    snapshots,
    tasks,
    work_items,
    workspaces,
)
from api.services import ApiConfig, Services
from api.sse import EventHub
from api.webhooks import WebhookDispatcher
from infra.metrics import MetricsMiddleware, metrics_app, register_ledger_collector
from infra.queues import Queues
from infra.settings import Settings, get_settings
from infra.storage import Storage
from infra.telemetry import TracingMiddleware, setup_tracing

log = logging.getLogger("directordeck.api")

HOUSEKEEPING_S = 3600.0

DESCRIPTION = """Turn a sentence into a finished short video; steer every shot by chat.

* **Auth**: `Authorization: Bearer <JWT>` (HS256 dev tokens from `directordeck token --user NAME`,
  or Supabase-issued tokens). Another user's ids answer 404.
* **Errors**: every error body is `{"code", "message", "request_id"}` (+ `details`); `X-Request-ID`
  is echoed (or generated) on every response.
* **Idempotency**: POSTs that start work accept `Idempotency-Key`; the same key and body return the
  original response (same task and workflow ids); a different body is 422 `idempotency_key_reused`.
* **Events**: `GET /workspaces/{id}/events` is an SSE stream; reconnect with `Last-Event-ID`.
"""


async def _housekeeping(services: Services, limiter: RateLimiter) -> None:
    while True:
        with contextlib.suppress(Exception):
            await run_in_threadpool(purge_expired, services)
        with contextlib.suppress(Exception):
            await run_in_threadpool(purge_idle_buckets, limiter)
        await asyncio.sleep(HOUSEKEEPING_S)


def create_app(
    settings: Settings | None = None,
    *,
    database_url: str | None = None,
    temporal_client: Any | None = None,
    temporal_address: str | None = None,
    queues: Queues | None = None,
    storage: Storage | None = None,
    config: ApiConfig | None = None,
    background: bool = True,
) -> FastAPI:
    settings = settings or get_settings()
    check_registry()  # a half-added Action DSL verb must not serve requests
    setup_tracing(settings, "api")  # idempotent: `up` and the CLI already did it
    config = config or ApiConfig.from_settings(settings)
    services = Services(
        settings,
        config,
        database_url=database_url,
        temporal_client=temporal_client,
        temporal_address=temporal_address,
        queues=queues,
        storage=storage,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started: list[Any] = []
        try:
            url = services.database_url
        except ApiError:
            url = None
            log.warning("no ledger database configured: only /health will work")
        hub = EventHub(url)
        app.state.event_hub = hub
        if url is not None:
            register_ledger_collector(url)
        if url is not None and background:
            hub.start()
            dispatcher = WebhookDispatcher(services, poll_s=config.webhook_poll_s)
            dispatcher.start()
            app.state.webhooks = dispatcher
            started.append(dispatcher)
            started.append(
                asyncio.create_task(_housekeeping(services, app.state.rate_limiter), name="api-housekeeping")
            )
        try:
            yield
        finally:
            for item in started:
                if isinstance(item, asyncio.Task):
                    item.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await item
                else:
                    await item.stop()
            await hub.stop()
            services.close()

    app = FastAPI(
        title="DirectorDeck API",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
    )
    app.state.settings = settings
    app.state.services = services
    app.state.rate_limiter = RateLimiter(services, config.rate_per_minute, config.rate_burst)
    app.state.event_hub = EventHub(None)  # replaced by the lifespan
    install_error_handlers(app)

    cors = getattr(settings, "api_cors_origins", None)
    if cors:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors),
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=[
                "X-Request-ID",
                "Retry-After",
                "ETag",
                "Idempotent-Replayed",
                "X-Next-Cursor",  # keyset pages (node references and lineage)
                "Link",
            ],
        )
    app.add_middleware(TracingMiddleware)  # inside RequestId: binds the id to logs + trace baggage
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=config.max_request_bytes)
    app.add_middleware(RequestIdMiddleware)  # outer: 413s carry the id too
    app.add_middleware(MetricsMiddleware)  # outermost: every answer is counted, 413s included
    app.add_route("/metrics", metrics_app(), include_in_schema=False)

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    for module in (
        workspaces,
        characters,
        scenes,
        work_items,
        nodes,
        assets,
        tasks,
        favorites,
        exports,
        snapshots,
        generation,
        events,
        conversations,
    ):
        app.include_router(module.router)
    return app
