"""Cancel a running video job whose worker is another process: the activity stops within its
heartbeat timeout, its FFmpeg child is gone, the task is `canceled`, no file is left behind."""

from __future__ import annotations

import asyncio
import time

import pytest
from temporalio.client import WorkflowFailureError

from tests.reliability.conftest import Cluster, ffmpeg_children, live_ffmpeg_touching, query, scalar, wait_for
from workflows.contracts import GridWorkflowInput, StoryboardWorkflowInput, VideoWorkflowInput
from workflows.grid import GridWorkflow
from workflows.shot_video import ShotVideoWorkflow
from workflows.storyboard import StoryboardWorkflow

HEARTBEAT_TIMEOUT_S = 10.0  # workflows.common.long_activity_options

pytestmark = pytest.mark.timeout(120)  # every wait inside is bounded too


async def test_cancel_video_job_on_a_worker_process(cluster: Cluster) -> None:
    db = cluster.db_url
    async with cluster.in_process(["cpu", "gpu-image", "tts"]):
        video_worker = await cluster.start_worker("gpu-video")
        ws = cluster.new_workspace()
        board = await cluster.client.execute_workflow(
            StoryboardWorkflow.run,
            StoryboardWorkflowInput(
                workspace_id=ws, story="a fox steals the moon", shot_count=3, queues=cluster.queues
            ),
            id=f"storyboard-{ws}",
            task_queue=cluster.queues.cpu,
        )
        shot = board.shot_ids[0]
        await cluster.client.execute_workflow(
            GridWorkflow.run,
            GridWorkflowInput(
                workspace_id=ws, work_item_id=shot, size=1, select_cell=1, queues=cluster.queues
            ),
            id=f"grid-{shot}-1",
            task_queue=cluster.queues.cpu,
        )
        wf_id = f"video-{shot}-cancel"
        handle = await cluster.client.start_workflow(
            # the longest clip allowed (120 s at 720p): about 20 s of encoding on 2 free cores, so
            # the cancel lands mid-encode even when a loaded machine notices FFmpeg late (60 s
            # took ~10 s and was once finished before the cancel arrived)
            ShotVideoWorkflow.run,
            VideoWorkflowInput(workspace_id=ws, work_item_id=shot, duration_s=120.0, queues=cluster.queues),
            id=wf_id,
            task_queue=cluster.queues.cpu,
        )
        encoders = await wait_for(
            "FFmpeg to run in the video worker", lambda: ffmpeg_children(video_worker.pid), 60
        )
        await asyncio.sleep(1.0)
        cancelled_at = time.monotonic()
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await asyncio.wait_for(handle.result(), 60)
        stopped_after = time.monotonic() - cancelled_at

        assert stopped_after < HEARTBEAT_TIMEOUT_S
        assert video_worker.proc.poll() is None, "the worker survives a cancelled job"
        assert not any(p.is_running() and p.status() != "zombie" for p in encoders)
        assert ffmpeg_children(video_worker.pid) == []
        assert live_ffmpeg_touching(cluster.data_dir) == []
        assert query(db, "select status from task where workflow_id=:wf", wf=wf_id)[0].status == "canceled"
        assert scalar(db, "select count(*) from node where workspace_id=:ws and type='video'", ws=ws) == 0
        assert [p for p in (cluster.data_dir / "work").glob("*.mp4") if p.stat().st_size > 0] == []
        assert cluster.stored_files("video") == []
        assert cluster.orphan_files() == []
