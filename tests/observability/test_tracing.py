"""One trace per request: client span → workflows → activities (→ provider calls); replay-safe."""

from __future__ import annotations

import collections
import json
from collections.abc import Iterable, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from infra.telemetry import (
    current_trace_id,
    current_traceparent,
    provider_span,
    setup_tracing,
    tracer,
    tracing_interceptor,
)
from infra.temporal_client import data_converter
from tests.support.ledger_rows import rows
from workers.pools import WORKFLOWS
from workflows.contracts import ShotWorkflowInput, StoryboardWorkflowInput
from workflows.shot import ShotWorkflow
from workflows.storyboard import StoryboardWorkflow

WORKFLOW_SIDE = ("RunWorkflow:", "StartActivity:", "StartChildWorkflow:", "CompleteWorkflow:")


def ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names = []
    parent = span.parent
    while parent is not None and parent.span_id in by_id:
        node = by_id[parent.span_id]
        names.append(node.name)
        parent = node.parent
    return names


def named(spans: Iterable[ReadableSpan], prefix: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name.startswith(prefix)]


def expected_workflow_side(histories: Iterable[WorkflowHistory]) -> collections.Counter:
    """What a replay-safe tracer emits exactly once: per workflow one RunWorkflow/CompleteWorkflow,
    one StartActivity per scheduled (or local) activity, one StartChildWorkflow per child started."""
    expected: collections.Counter = collections.Counter()
    for history in histories:
        wf = history.workflow_id
        wf_type = history.events[0].workflow_execution_started_event_attributes.workflow_type.name
        expected[(f"RunWorkflow:{wf_type}", wf)] += 1
        expected[(f"CompleteWorkflow:{wf_type}", wf)] += 1
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                name = event.activity_task_scheduled_event_attributes.activity_type.name
                expected[(f"StartActivity:{name}", wf)] += 1
            elif event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:  # a local activity
                marker = event.marker_recorded_event_attributes
                if marker.marker_name == "core_local_activity":
                    data = json.loads(marker.details["data"].payloads[0].data)
                    expected[(f"StartActivity:{data['activity_type']}", wf)] += 1
            elif event.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
                name = event.start_child_workflow_execution_initiated_event_attributes.workflow_type.name
                expected[(f"StartChildWorkflow:{name}", wf)] += 1
    return expected


async def histories_of(client, workflow_ids: Iterable[str]) -> list[WorkflowHistory]:  # type: ignore[no-untyped-def]
    return [await client.get_workflow_handle(wf).fetch_history() for wf in workflow_ids]


def workflow_side_counts(spans: Sequence[ReadableSpan]) -> collections.Counter:
    return collections.Counter(
        (s.name, (s.attributes or {}).get("temporalWorkflowID"))
        for s in spans
        if s.name.startswith(WORKFLOW_SIDE)
    )


async def test_pipeline_run_is_one_trace_from_the_client_span_to_every_activity(traced_rig, spans) -> None:
    async with traced_rig() as rig:
        with tracer().start_as_current_span("POST /workspaces/{id}/pipeline") as root:
            trace_id = current_trace_id()
            ws, handle = await rig.start_pipeline(title="traced")
            result = await handle.result()
        mirrored = rows(rig.db_url, "select workflow_id from task where workspace_id=:ws", ws=ws)
        shots = [f"shot-{s.work_item_id}" for s in result.shots]
        histories = await histories_of(rig.client, [*shots, *(r.workflow_id for r in mirrored)])
    assert result.status == "succeeded"
    finished = spans.get_finished_spans()
    assert trace_id and len(trace_id) == 32
    assert {format(s.context.trace_id, "032x") for s in finished} == {trace_id}, "more than one trace"

    names = collections.Counter(s.name for s in finished)
    for workflow_type, n in [("project_pipeline", 1), ("storyboard", 1), ("shot", 3), ("grid", 3)]:
        assert names[f"RunWorkflow:{workflow_type}"] == n, names
    for activity_type, n in [("storyboard", 1), ("render_grid", 3), ("synthesize_voice", 3), ("compose", 1)]:
        assert names[f"RunActivity:{activity_type}"] >= n, names
    assert names["RunActivity:render_video"] >= 3
    # workflow-side spans: exactly one per started workflow, scheduled activity and started child
    assert workflow_side_counts(finished) == expected_workflow_side(histories)

    # every activity span hangs under the client span, through the workflows that scheduled it
    by_id = {s.context.span_id: s for s in finished}
    for span in named(finished, "RunActivity:render_grid"):
        chain = ancestors(span, by_id)
        assert chain[0] == "StartActivity:render_grid"
        assert "StartChildWorkflow:grid" in chain and "StartChildWorkflow:shot" in chain
        assert chain[-2:] == ["StartWorkflow:project_pipeline", root.name]
    for span in named(finished, "RunActivity:compose"):
        assert ancestors(span, by_id)[-3:] == [
            "StartChildWorkflow:compose",
            "StartWorkflow:project_pipeline",
            root.name,
        ]
    for span in named(finished, "RunWorkflow:"):
        assert ancestors(span, by_id)[-1] == root.name


async def test_replaying_workflows_emits_no_duplicate_spans(traced_rig, spans) -> None:
    # a cpu worker that caches nothing: every workflow task first replays the whole history
    async with traced_rig(max_cached_workflows=0) as rig:
        ws = rig.new_workspace("replayed")
        with tracer().start_as_current_span("request") as root:
            board = await rig.client.execute_workflow(
                StoryboardWorkflow.run,
                StoryboardWorkflowInput(
                    workspace_id=ws, story="a fox steals the moon", shot_count=3, queues=rig.queues
                ),
                id=f"storyboard-{ws}",
                task_queue=rig.queues.cpu,
            )
            shot = board.shot_ids[0]
            await rig.client.execute_workflow(
                ShotWorkflow.run,
                ShotWorkflowInput(
                    workspace_id=ws, work_item_id=shot, shot_number=1, grid_size=1, queues=rig.queues
                ),
                id=f"shot-{shot}",
                task_queue=rig.queues.cpu,
            )
        mirrored = rows(rig.db_url, "select workflow_id from task where workspace_id=:ws", ws=ws)
        workflow_ids = [f"shot-{shot}", *(r.workflow_id for r in mirrored)]
        histories = await histories_of(rig.client, workflow_ids)

    live = spans.get_finished_spans()
    counts = workflow_side_counts(live)
    assert counts[("RunWorkflow:shot", f"shot-{shot}")] == 1
    assert {name for name, _ in counts} >= {
        "RunWorkflow:storyboard",
        "RunWorkflow:grid",
        "RunWorkflow:voice",
        "RunWorkflow:shot_video",
        "StartActivity:render_grid",
        "StartActivity:render_video",
        "StartChildWorkflow:grid",
    }
    assert counts == expected_workflow_side(histories)
    assert {s.context.trace_id for s in live} == {root.context.trace_id}

    # replaying the recorded histories (as `Replayer`/a new worker does) emits nothing at all
    spans.clear()
    replayer = Replayer(
        workflows=list(WORKFLOWS), interceptors=[tracing_interceptor()], data_converter=data_converter()
    )
    assert len(histories) == 5  # storyboard, shot, grid, voice, video
    for history in histories:
        await replayer.replay_workflow(WorkflowHistory.from_json(history.workflow_id, history.to_json()))
    assert spans.get_finished_spans() == ()


def test_provider_span_nests_and_records_failures(spans) -> None:
    with tracer().start_as_current_span("activity") as parent:
        with provider_span("images.render_grid", provider="storyboard_card", cells=4, missing=None) as span:
            span.set_attribute("gpu_seconds", 0.0)
            assert current_traceparent().split("-")[1] == format(parent.get_span_context().trace_id, "032x")
        try:
            with provider_span("llm.plan", kind="llm", model="gemini-3-flash"):
                raise RuntimeError("upstream 503")
        except RuntimeError:
            pass
    done = {s.name: s for s in spans.get_finished_spans()}
    grid, llm = done["images.render_grid"], done["llm.plan"]
    assert grid.parent.span_id == done["activity"].context.span_id
    assert dict(grid.attributes) == {
        "directordeck.kind": "provider",
        "provider": "storyboard_card",
        "cells": 4,
        "gpu_seconds": 0.0,
    }
    assert llm.status.status_code.name == "ERROR" and llm.events[0].name == "exception"
    assert llm.attributes["gen_ai.request.model"] == "gemini-3-flash"
    assert llm.attributes["langfuse.observation.type"] == "generation"


def test_setup_tracing_is_idempotent(span_exporter) -> None:
    from infra.settings import Settings

    first = setup_tracing(Settings(otel_exporter="none"), "tests")
    assert setup_tracing(Settings(otel_exporter="console"), "other") is first
