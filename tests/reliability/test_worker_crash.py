"""SIGKILL a worker process in the middle of a grid and of a compose: a new worker finishes the
run, and the ledger holds exactly one node and one asset per result."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.reliability.conftest import (
    Cluster,
    blocked_writers,
    ffmpeg_children,
    live_ffmpeg_touching,
    query,
    scalar,
    wait_for,
)
from workflows.contracts import GridWorkflowInput, PipelineInput, StoryboardWorkflowInput
from workflows.grid import GridWorkflow
from workflows.project_pipeline import ProjectPipelineWorkflow
from workflows.storyboard import StoryboardWorkflow

pytestmark = pytest.mark.timeout(200)  # every wait inside is bounded too


async def test_sigkill_image_worker_mid_grid_then_a_new_worker_finishes_it(
    cluster: Cluster, locked_table
) -> None:
    db = cluster.db_url
    async with cluster.in_process(["cpu", "gpu-video", "tts"]):
        first = await cluster.start_worker("gpu-image")
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
        wf_id = f"grid-{shot}-crash"
        # the ledger is busy: the activity renders and stores its 9 images, then queues at its write
        lock = locked_table("node")
        handle = await cluster.client.start_workflow(
            GridWorkflow.run,
            GridWorkflowInput(
                workspace_id=ws, work_item_id=shot, size=9, select_cell=5, queues=cluster.queues
            ),
            id=wf_id,
            task_queue=cluster.queues.cpu,
        )
        await wait_for("the grid activity to reach its ledger write", lambda: blocked_writers(db, "node"), 60)
        assert len(cluster.stored_files("image")) == 9  # rendered and stored, not yet recorded
        second = cluster.spawn_worker("gpu-image")  # the replacement boots while the first dies
        first.sigkill()
        lock.rollback()  # the ledger frees up; the dead worker's transaction can never commit
        await asyncio.sleep(1.0)
        assert scalar(db, "select count(*) from node where workspace_id=:ws", ws=ws) == 0
        assert scalar(db, "select status from task where workflow_id=:wf", wf=wf_id) == "running"

        await second.ready()
        grid = await asyncio.wait_for(handle.result(), 90)

    assert len(grid.image_node_ids) == 9 and grid.selected_node_id == grid.image_node_ids[4]
    assert scalar(db, "select count(*) from node where workspace_id=:ws and type='grid_group'", ws=ws) == 1
    assert scalar(db, "select count(*) from node where workspace_id=:ws and type='image'", ws=ws) == 9
    assert scalar(db, "select count(*) from asset where workspace_id=:ws and kind='image'", ws=ws) == 9
    assert (
        scalar(db, "select count(distinct asset_id) from node where workspace_id=:ws and type='image'", ws=ws)
        == 9
    )
    task = query(db, "select status, retries from task where workflow_id=:wf", wf=wf_id)[0]
    assert task.status == "succeeded" and task.retries >= 1  # the second attempt did it
    # the images the dead attempt stored are the ones the retry recorded: no file left unrecorded
    assert len(cluster.stored_files("image")) == 9
    assert cluster.orphan_files() == []


async def test_sigkill_cpu_worker_mid_compose_then_a_new_worker_finishes_the_pipeline(
    cluster: Cluster,
) -> None:
    db = cluster.db_url
    async with cluster.in_process(["gpu-image", "gpu-video", "tts"]):
        first = await cluster.start_worker("cpu")  # runs every workflow and the compose activity
        ws = cluster.new_workspace()
        wf_id = f"pipeline-{ws}"
        handle = await cluster.client.start_workflow(
            ProjectPipelineWorkflow.run,
            PipelineInput(
                workspace_id=ws,
                story="a fox steals the moon",
                shot_count=3,
                grid_size=1,
                compose_mode="final",
                shot_concurrency=3,
                queues=cluster.queues,
            ),
            id=wf_id,
            task_queue=cluster.queues.cpu,
        )

        def composing() -> list:
            running = scalar(
                db,
                "select count(*) from task where workspace_id=:ws and type='compose' and status='running'",
                ws=ws,
            )
            return ffmpeg_children(first.pid) if running else []

        started = time.monotonic()
        encoders = await wait_for("compose's FFmpeg to run in the cpu worker", composing, 120, every_s=0.1)
        print(f"compose's FFmpeg seen after {time.monotonic() - started:.1f}s")
        second = cluster.spawn_worker("cpu")  # the replacement boots while the first dies
        await asyncio.sleep(0.5)
        first.sigkill()
        killed_at = time.monotonic()
        assert scalar(db, "select count(*) from node where workspace_id=:ws and type='compose'", ws=ws) == 0

        await second.ready()
        result = await asyncio.wait_for(handle.result(), 150)
        recovered_s = time.monotonic() - killed_at
        print(f"pipeline recovered {recovered_s:.1f}s after the kill")

    assert result.status == "succeeded" and result.compose is not None
    counts = dict(query(db, "select type, count(*) from node where workspace_id=:ws group by type", ws=ws))
    assert counts == {"grid_group": 3, "image": 3, "audio_voice": 3, "video": 3, "compose": 1}
    # one asset per result: every node with a file has its own asset row, none unreferenced
    assert (
        scalar(
            db,
            "select count(*) from node where workspace_id=:ws and type <> 'grid_group' and asset_id is null",
            ws=ws,
        )
        == 0
    )
    assert scalar(db, "select count(distinct asset_id) from node where workspace_id=:ws", ws=ws) == 10
    assert scalar(db, "select count(*) from asset where workspace_id=:ws", ws=ws) == 10
    compose = query(db, "select status, retries from task where workspace_id=:ws and type='compose'", ws=ws)
    assert [(t.status, t.retries >= 1) for t in compose] == [("succeeded", True)]
    statuses = dict(
        query(db, "select status, count(*) from task where workspace_id=:ws group by status", ws=ws)
    )
    assert statuses == {"succeeded": 12}
    assert cluster.orphan_files() == []
    # the killed worker's encoders do not linger as orphans
    await wait_for(
        "the dead worker's FFmpeg children to exit",
        lambda: not any(p.is_running() and p.status() != "zombie" for p in encoders),
        30,
    )
    assert live_ffmpeg_touching(cluster.data_dir) == []
    assert recovered_s < 120
