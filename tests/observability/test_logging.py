"""Structured logs: one JSON object per line with request, trace, workflow and task ids."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator

import pytest
from temporalio.worker import Worker

from infra.logging import ID_KEYS, bind, configure_logging
from infra.settings import Settings
from infra.telemetry import current_trace_id, tracer
from tests.observability.conftest import traced_client
from tests.observability.probe import ProbeWorkflow, probe_activity


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    handler = configure_logging(Settings(log_level="INFO"), stream=stream)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def parsed(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_every_line_is_json_with_the_ids(log_lines: io.StringIO, spans) -> None:
    log = logging.getLogger("directordeck.test")
    log.info("no ids yet")
    with bind(request_id="req-1", task_id="task-1"), tracer().start_as_current_span("req") as span:
        log.warning("quota %s", "low", extra={"workspace_id": "ws-1"})
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    plain, warned, failed = parsed(log_lines)
    assert {k: plain[k] for k in ID_KEYS} == dict.fromkeys(ID_KEYS)
    assert (
        plain["msg"] == "no ids yet" and plain["level"] == "INFO" and plain["logger"] == "directordeck.test"
    )
    assert warned["msg"] == "quota low" and warned["workspace_id"] == "ws-1"
    assert warned["request_id"] == "req-1" and warned["task_id"] == "task-1"
    assert warned["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert failed["exc"].startswith("Traceback") and "ValueError: boom" in failed["exc"]
    with pytest.raises(ValueError), bind(tenant="x"):
        pass


async def test_workflow_and_activity_lines_carry_request_trace_workflow_and_task_ids(
    temporal_env, task_queue: str, log_lines: io.StringIO, spans
) -> None:
    client = traced_client(temporal_env.client)
    task_id = str(uuid.uuid4())
    wf_id = f"obs-probe-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=[ProbeWorkflow], activities=[probe_activity]):
        # what the API does for a request: request id bound, a server span around the call
        with bind(request_id="req-42"), tracer().start_as_current_span("POST /probe"):
            trace_id = current_trace_id()
            await client.execute_workflow(ProbeWorkflow.run, task_id, id=wf_id, task_queue=task_queue)
    lines = [line for line in parsed(log_lines) if line.get("workflow_id") == wf_id]
    by_msg = {line["msg"]: line for line in lines}
    assert "probe workflow starting" in by_msg
    for msg in ("painting frame 7", "from a worker thread", "via activity.logger"):
        line = by_msg[msg]
        # the request id crossed the Temporal boundary in the trace's baggage
        assert line["request_id"] == "req-42", line
        assert line["trace_id"] == trace_id, line
        assert line["task_id"] == task_id, line
        assert line["activity"] == "obs_probe_activity" and line["attempt"] == 1
    assert by_msg["painting frame 7"]["frame"] == 7
    assert by_msg["probe workflow starting"]["run_id"]
