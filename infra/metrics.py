"""Metrics: one Prometheus registry per process, served at `/metrics`.

Series (all prefixed `directordeck_`):
- `http_requests_total{method,route,status}`, `http_request_duration_seconds{method,route}`,
  `http_request_errors_total{method,route}` — from `MetricsMiddleware` (route = the matched
  template, never the raw path, so ids do not explode cardinality) or `observe_request(...)`.
- `tasks{type,status}` (gauge), `task_duration_seconds{type,status}` (histogram of finished tasks,
  finished_at - started_at) and `gpu_seconds_total{type}` — read from the ledger at scrape time by
  `LedgerCollector` (cached a few seconds): the ledger is the one source of truth across every
  worker process, and the numbers survive restarts.
- `task_queue_backlog{pool,task_queue}`, `task_queue_backlog_age_seconds{...}`,
  `task_queue_pollers{...}` — polled from Temporal's DescribeTaskQueue (with stats) by
  `BacklogPoller`; autoscaling a pool's Deployment reads the backlog series.
- `provider_call_seconds{call,outcome}` — every `infra.telemetry.provider_span`.
- `component_up{component}` (gauge, 1/0) and `component_restarts_total{component}` — what `up`'s
  supervisor (infra/supervisor.py) watches: postgres, temporal, api, worker pools.
- `tasks_settled_total{status}` — task rows the reconciler (services/reconcile.py) settled;
  `janitor_removed_total{what}` (orphan, temp, evicted) — files infra/janitor.py removed.
Temporal's own SDK metrics (workflow/activity task latencies, slots, poll counts…) are served by the
SDK core on a separate port: `temporal_runtime(port)` builds the Runtime to pass to Client.connect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_asgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

__all__ = [
    "PROVIDER_SECONDS",
    "REGISTRY",
    "TASK_DURATION_BUCKETS",
    "BacklogPoller",
    "LedgerCollector",
    "MetricsMiddleware",
    "metrics_app",
    "observe_request",
    "register_ledger_collector",
    "start_metrics_server",
    "temporal_runtime",
]

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TASK_DURATION_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)

HTTP_REQUESTS = Counter(
    "directordeck_http_requests_total",
    "HTTP requests answered, by route template and status code.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "directordeck_http_request_duration_seconds",
    "Time from request start to the end of the response body (SSE: the whole stream).",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
HTTP_ERRORS = Counter(
    "directordeck_http_request_errors_total",
    "Requests that ended in a 5xx or an unhandled exception.",
    ["method", "route"],
    registry=REGISTRY,
)
PROVIDER_SECONDS = Histogram(
    "directordeck_provider_call_seconds",
    "Duration of provider calls (LLM, diffusion, FFmpeg, TTS), by call and outcome.",
    ["call", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0),
    registry=REGISTRY,
)
QUEUE_BACKLOG = Gauge(
    "directordeck_task_queue_backlog",
    "Approximate tasks waiting in a pool's task queue (Temporal DescribeTaskQueue stats).",
    ["pool", "task_queue", "kind"],
    registry=REGISTRY,
)
QUEUE_BACKLOG_AGE = Gauge(
    "directordeck_task_queue_backlog_age_seconds",
    "Age of the oldest task waiting in a pool's task queue.",
    ["pool", "task_queue", "kind"],
    registry=REGISTRY,
)
QUEUE_POLLERS = Gauge(
    "directordeck_task_queue_pollers",
    "Workers that polled the task queue recently.",
    ["pool", "task_queue", "kind"],
    registry=REGISTRY,
)
COMPONENT_UP = Gauge(
    "directordeck_component_up",
    "1 while a supervised component of `up` runs, 0 while it is down or restarting.",
    ["component"],
    registry=REGISTRY,
)
COMPONENT_RESTARTS = Counter(
    "directordeck_component_restarts_total",
    "Times `up`'s supervisor restarted a component that died.",
    ["component"],
    registry=REGISTRY,
)
TASKS_SETTLED = Counter(
    "directordeck_tasks_settled_total",
    "Task rows the reconciler settled because their workflow had closed without recording it.",
    ["status"],
    registry=REGISTRY,
)
JANITOR_REMOVED = Counter(
    "directordeck_janitor_removed_total",
    "Files the janitor removed: orphan (no asset row), temp (left by a killed render), evicted (cache LRU).",
    ["what"],
    registry=REGISTRY,
)
BACKLOG_POLL_ERRORS = Counter(
    "directordeck_task_queue_describe_errors_total",
    "DescribeTaskQueue calls that failed.",
    ["pool"],
    registry=REGISTRY,
)


def metrics_app(registry: CollectorRegistry = REGISTRY) -> Any:
    """An ASGI app answering GET with the Prometheus text format, whatever the path.

    FastAPI/Starlette: `app.add_route("/metrics", metrics_app(), include_in_schema=False)` serves
    exactly `/metrics` (`app.mount` would redirect `/metrics` to `/metrics/`). Under
    `PROMETHEUS_MULTIPROC_DIR` (an API served by several worker processes) the counters and
    histograms are summed over every process of the server, whichever process answers."""
    return _MetricsApp(make_asgi_app(registry=scrape_registry(registry)))


def scrape_registry(registry: CollectorRegistry = REGISTRY) -> CollectorRegistry:
    """The registry a scrape reads: this process's, or under `PROMETHEUS_MULTIPROC_DIR` the sum of
    every worker process of the server (whichever process answers)."""
    if os.environ.get(MULTIPROC_ENV) and registry is REGISTRY:
        return _multiprocess_registry()
    return registry


MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class _LedgerSeries(Collector):
    """The ledger collectors registered in this process (read at scrape time, not per process)."""

    def describe(self) -> Iterable[Any]:
        return []

    def collect(self) -> Iterable[Any]:
        for collector in list(_ledger_collectors.values()):
            yield from collector.collect()


def _multiprocess_registry() -> CollectorRegistry:
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(_LedgerSeries())
    return registry


class _MetricsApp:
    """An ASGI app object (not a function: Starlette would wrap a function as a request handler)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.inner(scope, receive, send)


def start_metrics_server(port: int, host: str = "127.0.0.1") -> None:
    """Serve `/metrics` from a thread (worker processes, which have no API)."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=REGISTRY)


# --- HTTP -----------------------------------------------------------------------------------


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method=method, route=route, status=str(status)).inc()
    HTTP_LATENCY.labels(method=method, route=route).observe(seconds)
    if status >= 500:
        HTTP_ERRORS.labels(method=method, route=route).inc()


class MetricsMiddleware:
    """Pure-ASGI (streams pass through): request count, latency and errors per route template.
    Unmatched paths are counted under route="<unmatched>"."""

    def __init__(self, app: Any, *, exclude: Sequence[str] = ("/metrics",)) -> None:
        self.app = app
        self.exclude = tuple(exclude)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path", "") in self.exclude:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_counting(message: Mapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_counting)
        except BaseException:
            status["code"] = 500
            raise
        finally:
            route = getattr(scope.get("route"), "path", None) or "<unmatched>"
            observe_request(scope.get("method", "GET"), route, status["code"], time.perf_counter() - started)


# --- tasks and GPU seconds from the ledger ---------------------------------------------------


class LedgerCollector(Collector):
    """Task counts/durations and GPU seconds, read from the ledger at scrape time (cached)."""

    def __init__(self, database_url: str, *, cache_s: float = 5.0, timeout_ms: int = 2000) -> None:
        self.database_url = database_url
        self.cache_s = cache_s
        self.timeout_ms = timeout_ms
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Any]] | None = None

    def describe(self) -> Iterable[Any]:
        return []  # the families depend on the data; nothing to check at registration

    def collect(self) -> Iterable[Any]:
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] > self.cache_s:
                try:
                    self._cached = (now, self._read())
                except Exception as exc:  # a scrape must never fail because the ledger is busy
                    log.warning("ledger metrics unavailable: %s", exc)
                    return [self._scrape_error()]
            return list(self._cached[1])

    def _scrape_error(self) -> Any:
        family = GaugeMetricFamily(
            "directordeck_ledger_metrics_up", "1 when the last ledger metrics read succeeded."
        )
        family.add_metric([], 0.0)
        return family

    def _read(self) -> list[Any]:
        from sqlalchemy import text

        from infra.ledger import unit_of_work

        buckets = TASK_DURATION_BUCKETS
        bucket_sql = ", ".join(f"count(*) filter (where d <= {le}) as b{i}" for i, le in enumerate(buckets))
        with unit_of_work(self.database_url) as session:
            session.execute(text(f"set local statement_timeout = {int(self.timeout_ms)}"))
            counts = session.execute(
                text("select type::text, status::text, count(*) from task group by 1, 2")
            ).all()
            durations = session.execute(
                text(
                    f"""select type, status, count(*), coalesce(sum(d), 0), {bucket_sql}
                        from (select type::text as type, status::text as status,
                                     extract(epoch from finished_at - started_at)::float8 as d
                              from task
                              where finished_at is not null and started_at is not null) t
                        group by 1, 2"""
                )
            ).all()
            gpu = session.execute(
                text(
                    "select type::text, coalesce(sum(gpu_seconds), 0)::float8 from task "
                    "where gpu_seconds is not null group by 1"
                )
            ).all()
        tasks = GaugeMetricFamily(
            "directordeck_tasks", "Tasks in the ledger by type and status.", labels=["type", "status"]
        )
        for type_, status, n in counts:
            tasks.add_metric([type_, status], float(n))
        duration = HistogramMetricFamily(
            "directordeck_task_duration_seconds",
            "Run time (started → finished) of finished tasks, by type and final status.",
            labels=["type", "status"],
        )
        for row in durations:
            type_, status, n, total = row[0], row[1], int(row[2]), float(row[3])
            cumulative = [(str(le), float(row[4 + i])) for i, le in enumerate(buckets)]
            duration.add_metric([type_, status], [*cumulative, ("+Inf", float(n))], sum_value=total)
        gpu_family = CounterMetricFamily(
            "directordeck_gpu_seconds", "GPU seconds spent by finished tasks, by task type.", labels=["type"]
        )
        for type_, seconds in gpu:
            gpu_family.add_metric([type_], float(seconds))
        up = GaugeMetricFamily(
            "directordeck_ledger_metrics_up", "1 when the last ledger metrics read succeeded."
        )
        up.add_metric([], 1.0)
        return [tasks, duration, gpu_family, up]


_ledger_collectors: dict[str, LedgerCollector] = {}


def register_ledger_collector(database_url: str, registry: CollectorRegistry = REGISTRY) -> LedgerCollector:
    """Idempotent per (registry, database): the API process calls this once at start."""
    key = f"{id(registry)}:{database_url}"
    if key not in _ledger_collectors:
        collector = LedgerCollector(database_url)
        registry.register(collector)
        _ledger_collectors[key] = collector
    return _ledger_collectors[key]


# --- queue backlog --------------------------------------------------------------------------


class BacklogPoller:
    """Polls DescribeTaskQueue (report_stats) for each pool's activity queue, and the cpu pool's
    workflow queue (workflows run there only)."""

    def __init__(
        self,
        client: Any,
        queues: Mapping[str, str],
        *,
        namespace: str | None = None,
        interval_s: float = 15.0,
        timeout_s: float = 5.0,
    ) -> None:
        self.client = client
        self.queues = dict(queues)  # pool name -> task queue name
        self.namespace = namespace or client.namespace
        self.interval_s = interval_s
        self.timeout_s = timeout_s

    @classmethod
    def for_queues(cls, client: Any, queues: Any, **kwargs: Any) -> BacklogPoller:
        """From a `workflows.contracts.Queues` (pool names as in POOLS)."""
        from infra.queues import POOLS

        return cls(client, {pool: getattr(queues, pool.replace("-", "_")) for pool in POOLS}, **kwargs)

    async def poll_once(self) -> dict[tuple[str, str], int]:
        """Update the gauges; returns {(pool, kind): backlog}."""
        from datetime import timedelta

        from temporalio.api.enums.v1 import TaskQueueType
        from temporalio.api.taskqueue.v1 import TaskQueue
        from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

        seen: dict[tuple[str, str], int] = {}
        for pool, queue in self.queues.items():
            kinds = [("activity", TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)]
            if pool == "cpu":  # the only pool that runs workflows
                kinds.append(("workflow", TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW))
            for kind, type_ in kinds:
                try:
                    resp = await self.client.workflow_service.describe_task_queue(
                        DescribeTaskQueueRequest(
                            namespace=self.namespace,
                            task_queue=TaskQueue(name=queue),
                            task_queue_type=type_,
                            report_stats=True,
                        ),
                        timeout=timedelta(seconds=self.timeout_s),
                    )
                except Exception as exc:
                    BACKLOG_POLL_ERRORS.labels(pool=pool).inc()
                    log.debug("describe_task_queue %s failed: %s", queue, exc)
                    continue
                backlog = int(resp.stats.approximate_backlog_count)
                age = resp.stats.approximate_backlog_age.ToTimedelta().total_seconds()
                QUEUE_BACKLOG.labels(pool=pool, task_queue=queue, kind=kind).set(backlog)
                QUEUE_BACKLOG_AGE.labels(pool=pool, task_queue=queue, kind=kind).set(age)
                QUEUE_POLLERS.labels(pool=pool, task_queue=queue, kind=kind).set(len(resp.pollers))
                seen[(pool, kind)] = backlog
        return seen

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Poll every `interval_s` until `stop` is set (or the task is cancelled)."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            with contextlib.suppress(Exception):
                await self.poll_once()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval_s)


# --- Temporal SDK metrics -------------------------------------------------------------------

_runtimes: dict[str, Any] = {}
_runtime_lock = threading.Lock()


def temporal_runtime(port: int | None, host: str = "127.0.0.1") -> Any:
    """A Temporal Runtime whose SDK metrics are served in Prometheus format on host:port
    (None when no port is configured: Client.connect then uses the default runtime).
    One Runtime per bind address per process; pass it as Client.connect(runtime=...)."""
    if not port:
        return None
    from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

    address = f"{host}:{int(port)}"
    with _runtime_lock:
        if address not in _runtimes:
            _runtimes[address] = Runtime(
                telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address))
            )
        return _runtimes[address]
