"""/metrics: request rate/latency/errors, tasks by type and status, queue backlog, GPU seconds,
and Temporal's own SDK metrics."""

from __future__ import annotations

import asyncio
import time
import urllib.request
import uuid

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from temporalio.client import Client
from temporalio.worker import Worker

from infra import metrics
from infra.ledger import unit_of_work
from infra.logging import bind
from infra.telemetry import TracingMiddleware, provider_span
from infra.temporal_client import data_converter
from schema.enums import TaskStatus, TaskType, WorkspaceType
from schema.repositories import tasks as task_repo
from schema.repositories import workspaces as workspace_repo
from tests.conftest import free_port
from tests.observability.probe import ProbeWorkflow, probe_activity


def samples(payload: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(payload):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def api_app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        return {"id": item_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaput")

    app.add_route("/metrics", metrics.metrics_app(), include_in_schema=False)
    app.add_middleware(TracingMiddleware)
    app.add_middleware(metrics.MetricsMiddleware)
    return app


async def test_requests_are_counted_timed_and_traced_per_route_template(spans) -> None:
    route = {"method": "GET", "route": "/items/{item_id}"}
    before = value("directordeck_http_requests_total", **route, status="200")
    before_latency = value("directordeck_http_request_duration_seconds_count", **route)
    before_errors = value("directordeck_http_request_errors_total", method="GET", route="/boom")
    incoming_trace = uuid.uuid4().hex
    transport = httpx.ASGITransport(app=api_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        for i in range(3):
            assert (await http.get(f"/items/{i}")).status_code == 200
        traced = await http.get("/items/x", headers={"traceparent": f"00-{incoming_trace}-{'ab' * 8}-01"})
        assert (await http.get("/boom")).status_code == 500
        assert (await http.get("/nowhere")).status_code == 404
        scrape = await http.get("/metrics")
    assert value("directordeck_http_requests_total", **route, status="200") == before + 4
    assert value("directordeck_http_request_duration_seconds_count", **route) == before_latency + 4
    assert value("directordeck_http_request_errors_total", method="GET", route="/boom") == before_errors + 1
    assert value("directordeck_http_requests_total", method="GET", route="<unmatched>", status="404") >= 1
    # the scrape itself is not counted, and exposes the series
    assert scrape.status_code == 200 and "directordeck_http_requests_total" in scrape.text
    assert 'route="/metrics"' not in scrape.text
    # the request span continues the caller's trace and is named by its route template
    assert traced.headers["x-trace-id"] == incoming_trace
    server = [s for s in spans.get_finished_spans() if s.name == "GET /items/{item_id}"]
    continued = [s for s in server if format(s.context.trace_id, "032x") == incoming_trace]
    assert len(continued) == 1 and continued[0].parent.span_id == int("ab" * 8, 16)
    assert [s.status.status_code.name for s in spans.get_finished_spans() if s.name == "GET /boom"] == [
        "ERROR"
    ]


def test_tasks_durations_and_gpu_seconds_come_from_the_ledger(fresh_db_url: str) -> None:
    with unit_of_work(fresh_db_url) as session:
        ws = workspace_repo.create(session, owner_id="m", type=WorkspaceType.narrative_project, title="m")
        for i, (type_, final) in enumerate(
            [("grid", "succeeded"), ("grid", "succeeded"), ("video", "failed"), ("storyboard", None)]
        ):
            wf = f"{type_}-{i}"
            task_repo.upsert_running(session, workspace_id=ws.id, workflow_id=wf, type=TaskType(type_))
            if final == "succeeded":
                task_repo.mark_succeeded(session, wf, gpu_seconds=1.25)
            elif final == "failed":
                task_repo.mark_failed(session, wf, "ffmpeg_failed", "exit 1")
        session.execute(text("update task set started_at = finished_at - interval '3 seconds'"))
    registry = CollectorRegistry()
    metrics.register_ledger_collector(fresh_db_url, registry)
    assert metrics.register_ledger_collector(fresh_db_url, registry) is not None  # idempotent
    got = samples(generate_latest(registry).decode())
    assert got[("directordeck_tasks", (("status", "succeeded"), ("type", "grid")))] == 2
    assert got[("directordeck_tasks", (("status", "failed"), ("type", "video")))] == 1
    assert got[("directordeck_tasks", (("status", "running"), ("type", "storyboard")))] == 1
    grid_ok = (("status", "succeeded"), ("type", "grid"))
    assert got[("directordeck_task_duration_seconds_count", grid_ok)] == 2
    assert got[("directordeck_task_duration_seconds_sum", grid_ok)] == pytest.approx(6.0)
    assert got[("directordeck_task_duration_seconds_bucket", (("le", "2.5"), *grid_ok))] == 0
    assert got[("directordeck_task_duration_seconds_bucket", (("le", "5.0"), *grid_ok))] == 2
    assert got[("directordeck_gpu_seconds_total", (("type", "grid"),))] == pytest.approx(2.5)
    assert got[("directordeck_ledger_metrics_up", ())] == 1
    assert TaskStatus.succeeded  # enum import kept for readers: statuses are the ledger's


async def test_queue_backlog_per_pool_is_polled_from_temporal(temporal_env, task_queue: str) -> None:
    from infra.queues import Queues

    queues = Queues.prefixed(f"{task_queue}-")
    client = temporal_env.client
    # two workflows waiting on the cpu queue, which no worker polls
    handles = [
        await client.start_workflow("obs_probe", "t", id=f"backlog-{uuid.uuid4()}", task_queue=queues.cpu)
        for _ in range(2)
    ]
    poller = metrics.BacklogPoller.for_queues(client, queues, interval_s=0.2)
    try:
        deadline = time.monotonic() + 20
        seen: dict = {}
        while time.monotonic() < deadline:
            seen = await poller.poll_once()
            if seen.get(("cpu", "workflow")) == 2:
                break
            await asyncio.sleep(0.3)
    finally:
        for handle in handles:
            await handle.terminate("test over")
    assert seen[("cpu", "workflow")] == 2
    assert seen[("gpu-image", "activity")] == 0
    labels = {"pool": "cpu", "task_queue": queues.cpu, "kind": "workflow"}
    assert value("directordeck_task_queue_backlog", **labels) == 2
    assert value("directordeck_task_queue_pollers", **labels) == 0
    # the loop form stops when told to
    stop = asyncio.Event()
    loop = asyncio.create_task(poller.run(stop))
    await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(loop, 10)


async def test_temporal_sdk_metrics_are_served_on_the_configured_port(temporal_env, task_queue: str) -> None:
    port = free_port()
    runtime = metrics.temporal_runtime(port)
    assert metrics.temporal_runtime(port) is runtime and metrics.temporal_runtime(None) is None
    client = await Client.connect(
        temporal_env.client.service_client.config.target_host,
        namespace=temporal_env.client.namespace,
        data_converter=data_converter(),
        runtime=runtime,
    )
    async with Worker(client, task_queue=task_queue, workflows=[ProbeWorkflow], activities=[probe_activity]):
        with bind(request_id="metrics"):
            await client.execute_workflow(
                ProbeWorkflow.run, "t", id=f"metrics-{uuid.uuid4()}", task_queue=task_queue
            )
    body = await asyncio.to_thread(
        lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    )
    assert "temporal_workflow_completed" in body
    assert "temporal_activity_execution_latency" in body


def test_provider_calls_are_timed(spans) -> None:
    before = value("directordeck_provider_call_seconds_count", call="tts.piper", outcome="ok")
    with provider_span("tts.piper", kind="tts"):
        pass
    with pytest.raises(OSError), provider_span("tts.piper", kind="tts"):
        raise OSError("voice missing")
    assert value("directordeck_provider_call_seconds_count", call="tts.piper", outcome="ok") == before + 1
    assert value("directordeck_provider_call_seconds_count", call="tts.piper", outcome="error") >= 1
