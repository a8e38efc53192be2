"""Retries never duplicate results; cancellation stops work within one heartbeat interval."""

from __future__ import annotations

import asyncio
import time

import pytest
from temporalio.client import WorkflowFailureError

from activities.media.ffmpeg import live_ffmpeg_pids
from activities.pipeline import PipelineActivities
from schema.errors import TransientProviderError
from tests.support.ledger_rows import rows, scalar
from tests.support.seeders import _storyboard
from workflows.contracts import GridWorkflowInput, VideoWorkflowInput
from workflows.grid import GridWorkflow
from workflows.shot_video import ShotVideoWorkflow


class FlakyImageApi:
    """Test double at the edge of the world: an image API that answers 503 twice, then works.

    It keeps the provider contract (same `render_grid` signature, TransientProviderError for a
    retryable upstream failure) and delegates real rendering to the wrapped provider."""

    def __init__(self, inner: object, failures: int) -> None:
        self.inner = inner
        self.name = "flaky-" + inner.name  # type: ignore[attr-defined]
        self.failures = failures
        self.calls = 0

    def render_grid(self, req, on_progress=None, cancelled=None):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.calls <= self.failures:
            raise TransientProviderError("image API answered 503 Service Unavailable")
        return self.inner.render_grid(req, on_progress, cancelled)


class CrashAfterCommit(PipelineActivities):
    """The worker 'dies' right after the ledger commit, before Temporal hears of the result."""

    crashed = False

    def _write_grid(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        result = super()._write_grid(*args, **kwargs)
        if not CrashAfterCommit.crashed:
            CrashAfterCommit.crashed = True
            raise TransientProviderError("simulated crash after commit")
        return result


async def test_transient_failure_twice_then_success_gives_one_node_and_asset_per_cell(make_rig) -> None:
    async with make_rig() as rig:
        flaky = FlakyImageApi(rig.acts.providers.images, failures=2)
        rig.acts.providers.images = flaky
        ws, shots = await _storyboard(rig)
        wf_id = rig.wf_id(f"grid-{shots[0]}")
        grid = await rig.client.execute_workflow(
            GridWorkflow.run,
            GridWorkflowInput(workspace_id=ws, work_item_id=shots[0], size=4, queues=rig.queues),
            id=wf_id,
            task_queue=rig.queues.cpu,
        )
    assert flaky.calls == 3
    assert len(grid.image_node_ids) == 4
    db = rig.db_url
    assert scalar(db, "select count(*) from node where workspace_id=:ws and type='grid_group'", ws=ws) == 1
    assert scalar(db, "select count(*) from node where workspace_id=:ws and type='image'", ws=ws) == 4
    assert scalar(db, "select count(*) from asset where workspace_id=:ws and kind='image'", ws=ws) == 4
    task = rows(db, "select status, retries from task where workflow_id=:wf", wf=wf_id)[0]
    assert task.status == "succeeded" and task.retries == 2


async def test_retry_after_commit_returns_the_committed_result(make_rig) -> None:
    CrashAfterCommit.crashed = False
    async with make_rig(acts_factory=CrashAfterCommit) as rig:
        ws, shots = await _storyboard(rig)
        grid = await rig.client.execute_workflow(
            GridWorkflow.run,
            GridWorkflowInput(
                workspace_id=ws, work_item_id=shots[0], size=4, select_cell=2, queues=rig.queues
            ),
            id=rig.wf_id(f"grid-{shots[0]}"),
            task_queue=rig.queues.cpu,
        )
    assert CrashAfterCommit.crashed
    db = rig.db_url
    assert scalar(db, "select count(*) from node where workspace_id=:ws and type='image'", ws=ws) == 4
    assert scalar(db, "select count(*) from asset where workspace_id=:ws", ws=ws) == 4
    assert grid.selected_node_id == grid.image_node_ids[1]


async def test_cancel_during_slow_video_stops_ffmpeg_and_marks_task_canceled(make_rig) -> None:
    async with make_rig() as rig:
        ws, shots = await _storyboard(rig)
        shot = shots[0]
        await rig.client.execute_workflow(
            GridWorkflow.run,
            GridWorkflowInput(workspace_id=ws, work_item_id=shot, size=1, select_cell=1, queues=rig.queues),
            id=rig.wf_id(f"grid-{shot}"),
            task_queue=rig.queues.cpu,
        )
        wf_id = rig.wf_id(f"video-{shot}")
        # a 60 s clip at 720p takes far longer than this test waits on 2 cores
        handle = await rig.client.start_workflow(
            ShotVideoWorkflow.run,
            VideoWorkflowInput(workspace_id=ws, work_item_id=shot, duration_s=60.0, queues=rig.queues),
            id=wf_id,
            task_queue=rig.queues.cpu,
        )
        deadline = time.monotonic() + 30
        while not live_ffmpeg_pids() and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert live_ffmpeg_pids(), "the video activity never started FFmpeg"
        await asyncio.sleep(1.0)
        cancelled_at = time.monotonic()
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        stopped_after = time.monotonic() - cancelled_at
    assert stopped_after < 10.0  # the heartbeat timeout
    assert live_ffmpeg_pids() == []
    db = rig.db_url
    assert rows(db, "select status from task where workflow_id=:wf", wf=wf_id)[0].status == "canceled"
    assert scalar(db, "select count(*) from node where workspace_id=:ws and type='video'", ws=ws) == 0
    leftovers = [p for p in (rig.data_dir / "work").glob("*.mp4") if p.stat().st_size > 0]
    assert leftovers == []
