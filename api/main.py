"""The FastAPI application: OpenAPI is the contract for web, mobile and script clients.

Rules: ``create_app`` builds everything from Settings (plus, optionally, already-open connections:
the stack's database URL, a Temporal client, task queues, storage — tests and ``directordeck up``
pass theirs); nothing connects at import time; every route needs a bearer token or the browser
session cookie (``api.browser_session``) except ``/health``, ``/ready``, the sign-in routes and the
studio's static files at ``/`` (``api.routers.studio``); ``/metrics`` needs the metrics token or an
admin's; background work of the API process (LISTEN/NOTIFY hub for SSE, webhook deliveries,
idempotency-key and rate-bucket housekeeping) starts and stops with the app's lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, MutableMapping
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from agent.registry import check_registry
from api.auth import require_metrics_access
from api.errors import ERROR_RESPONSES, ApiError, install_error_handlers, request_id_of
from api.event_schemas import add_event_schemas
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
    session,
    snapshots,
    stages,
    studio,
    tasks,
    work_items,
    workspaces,
)
from api.services import ApiConfig, Services
from api.sse import EventHub
from api.webhooks import WebhookDispatcher
from infra.metrics import MetricsMiddleware, register_ledger_collector, scrape_registry
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


IDEMPOTENCY_409 = {
    "description": "`idempotency_request_in_progress`: a request with this Idempotency-Key is still "
    "running; repeat it after `Retry-After` seconds to get its response",
    "headers": {
        "Retry-After": {"description": "seconds to wait before repeating", "schema": {"type": "integer"}}
    },
}


def _document_retry_after(doc: dict[str, Any]) -> None:
    """Every operation taking `Idempotency-Key` documents its 409 with `Retry-After`."""
    for item in doc.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            params = operation.get("parameters", [])
            if any(p.get("in") == "header" and p.get("name") == "Idempotency-Key" for p in params):
                existing = operation.setdefault("responses", {}).get("409", {})
                operation["responses"]["409"] = {
                    **existing,
                    **IDEMPOTENCY_409,
                    "content": existing.get("content")
                    or {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
                }


def _install_openapi(app: FastAPI) -> None:
    """The OpenAPI document, built once: the routes, the idempotency 409s, every SSE event type."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            _document_retry_after(doc)
            add_event_schemas(doc)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


READY_TIMEOUT_S = 3.0


async def readiness(services: Services) -> dict[str, dict[str, Any]]:
    """Each dependency's state: {"ok": bool, "detail": str}."""
    from sqlalchemy import text

    from infra import diskguard

    def database() -> str:
        with services.engine.connect() as conn:
            conn.execute(text("select 1"))
        return "answers"

    async def temporal() -> str:
        client = await services.temporal()
        await client.service_client.check_health(timeout=timedelta(seconds=READY_TIMEOUT_S))
        return "answers"

    async def check(fn: Any) -> dict[str, Any]:
        try:
            detail = await asyncio.wait_for(fn(), timeout=READY_TIMEOUT_S)
            return {"ok": True, "detail": detail}
        except Exception as exc:
            return {
                "ok": False,
                "detail": (getattr(exc, "message", None) or str(exc) or type(exc).__name__)[:300],
            }

    db_check, temporal_check = await asyncio.gather(
        check(lambda: run_in_threadpool(database)), check(temporal)
    )
    settings = services.settings
    space = diskguard.disk_space(settings.data_path, settings.min_free_disk_mb)
    disk = {"ok": space.ok or settings.min_free_disk_mb == 0, "detail": f"{space.free_mb:.0f} MiB free"}
    if not disk["ok"]:
        disk.update(code="disk_full", detail=space.problem())
    return {"database": db_check, "temporal": temporal_check, "disk": disk}


UNTRACED_PATHS = frozenset({"/health", "/metrics"})


def _untraced(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in UNTRACED_PATHS


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
    stack_health: Callable[[], dict[str, Any]] | None = None,
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
            await services.aclose()

    app = FastAPI(
        title="DirectorDeck API",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        # One SERVER span per request (FastAPI's native telemetry; TracingMiddleware binds the
        # request id to it). No extra spans for dependency resolution, the endpoint and
        # serialisation: they cost more than the 60-shot storyboard read itself. Probes and
        # scrapes are not traced.
        telemetry={"operation_spans": False, "exclude": _untraced},
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

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        """Prometheus text; operators only: `Bearer <DIRECTORDECK_METRICS_TOKEN>` or an admin's token
        (the series sum every user's tasks and GPU seconds)."""
        await run_in_threadpool(
            require_metrics_access, request.headers.get("authorization"), settings, config
        )
        body = await run_in_threadpool(generate_latest, scrape_registry())
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, str]:
        """Liveness: the process answers (no dependency is checked; see /ready)."""
        return {"status": "ok"}

    @app.get("/ready", tags=["ops"], responses={503: {"description": "a dependency is down (see checks)"}})
    async def ready(request: Request) -> Response:
        """Readiness: the ledger answers, Temporal answers, the disk guard has room (under `up`, also
        every supervised component is up). 200 when all hold, else 503 `not_ready` with each
        check's state (a load balancer stops sending work)."""
        checks = await readiness(services)
        if stack_health is not None:  # `up`: the supervisor's view (a component down or restarting)
            checks["stack"] = stack_health()
        ok = all(c["ok"] for c in checks.values())
        body = {"status": "ready" if ok else "not_ready", "checks": checks}
        if not ok:
            body.update(
                code="not_ready", message="a dependency is not ready", request_id=request_id_of(request)
            )
        return JSONResponse(body, status_code=200 if ok else 503)

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
        stages,
        session,
        studio,
    ):
        app.include_router(module.router)
    _install_openapi(app)  # idempotency 409s and every SSE event type in the OpenAPI document
    return app
