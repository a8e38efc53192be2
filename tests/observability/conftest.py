"""Observability rig: the workflow rig of tests/workflows, but its Temporal client carries the
tracing interceptor (workers built on it inherit it) and finished spans land in memory."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client
from temporalio.worker import Worker

from activities.pipeline import PipelineActivities
from activities.providers.choice import choose_providers
from infra.queues import POOLS, QUEUE_CPU, Queues
from infra.settings import Settings
from infra.storage import FileSystemStorage
from infra.telemetry import setup_tracing, tracing_interceptor
from tests.workflows.conftest import Rig
from workers.pools import WORKFLOWS, build_worker, pool_activities


@pytest.fixture(scope="session")
def span_exporter() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    setup_tracing(Settings(otel_exporter="none"), "tests", exporters=[exporter])
    return exporter


@pytest.fixture
def spans(span_exporter: InMemorySpanExporter) -> InMemorySpanExporter:
    span_exporter.clear()
    yield span_exporter
    span_exporter.clear()


def traced_client(client: Client) -> Client:
    """The same connection as `client`, with the tracing interceptor (as infra.temporal_client adds)."""
    config = client.config()
    config["interceptors"] = [*config["interceptors"], tracing_interceptor()]
    return Client(**config)


@pytest.fixture
def traced_rig(
    temporal_env, fresh_db_url: str, task_queue: str, data_dir: Path, spans: InMemorySpanExporter
) -> Callable[..., contextlib.AbstractAsyncContextManager[Rig]]:
    @contextlib.asynccontextmanager
    async def factory(max_cached_workflows: int | None = None) -> AsyncIterator[Rig]:
        """max_cached_workflows=0: the cpu worker keeps no workflow in memory, so every workflow
        task replays the whole history first (what a restarted or evicting worker does)."""
        settings = Settings(data_dir=data_dir)
        acts = PipelineActivities(
            fresh_db_url,
            FileSystemStorage(data_dir / "storage"),
            choose_providers(settings),
            data_dir / "work",
        )
        queues = Queues.prefixed(f"{task_queue}-")
        client = traced_client(temporal_env.client)
        async with contextlib.AsyncExitStack() as stack:
            for pool in POOLS:
                if pool == QUEUE_CPU and max_cached_workflows is not None:
                    worker = Worker(
                        client,
                        task_queue=queues.cpu,
                        workflows=list(WORKFLOWS),
                        activities=pool_activities(pool, acts),
                        max_cached_workflows=max_cached_workflows,
                    )
                else:
                    worker = build_worker(client, pool, acts, settings, queues)
                await stack.enter_async_context(worker)
            yield Rig(client, queues, acts, fresh_db_url, data_dir)

    return factory
