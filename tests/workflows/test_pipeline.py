"""End-to-end workflows on real Temporal + real PostgreSQL with the offline providers."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowFailureError

from activities.media.probe import probe
from tests.support.ledger_rows import rows, save_history, scalar
from workflows.compose import ComposeWorkflow
from workflows.contracts import (
    ComposeWorkflowInput,
    GridWorkflowInput,
    PipelineInput,
    StoryboardWorkflowInput,
    VideoWorkflowInput,
    VoiceWorkflowInput,
)
from workflows.grid import GridWorkflow
from workflows.project_pipeline import ProjectPipelineWorkflow
from workflows.shot_video import ShotVideoWorkflow
from workflows.storyboard import StoryboardWorkflow
from workflows.voice import VoiceWorkflow


async def test_project_pipeline_end_to_end(make_rig) -> None:
    async with make_rig() as rig:
        ws = rig.new_workspace("fox")
        wf_id = f"pipeline-{ws}"
        result = await rig.client.execute_workflow(
            ProjectPipelineWorkflow.run,
            PipelineInput(
                workspace_id=ws,
                story="a fox steals the moon",
                shot_count=3,
                grid_size=4,
                shot_concurrency=2,
                queues=rig.queues,
            ),
            id=wf_id,
            task_queue=rig.queues.cpu,
        )
        handle = rig.client.get_workflow_handle(wf_id)
        progress = await handle.query(ProjectPipelineWorkflow.progress)
        history_events = [e async for e in handle.fetch_history_events()]
        await save_history(rig.client, wf_id, "project_pipeline")
        await save_history(rig.client, f"shot-{result.shots[0].work_item_id}", "shot")
        for child in rows(rig.db_url, "select workflow_id, type from task where workspace_id = :ws", ws=ws):
            if child.type in ("storyboard", "grid", "voice", "video", "compose"):
                await save_history(
                    rig.client, child.workflow_id, child.type if child.type != "video" else "shot_video"
                )

    assert result.status == "succeeded"
    assert [s.status for s in result.shots] == ["succeeded"] * 3
    assert progress.stage == "done" and progress.shots_done == 3
    # the parent's history holds only child starts/completions: a 60-shot project stays far from limits
    assert len(history_events) < 15 * (3 + 2)
    db = rig.db_url
    assert scalar(db, "select count(*) from work_item where workspace_id=:ws and type='shot'", ws=ws) == 3
    assert scalar(db, "select count(*) from node where workspace_id=:ws and type='grid_group'", ws=ws) == 3
    assert scalar(db, "select count(*) from node where workspace_id=:ws and type='image'", ws=ws) == 12
    assert scalar(db, "select count(*) from node where workspace_id=:ws and type='video'", ws=ws) == 3
    assert scalar(db, "select count(*) from node where workspace_id=:ws and type='audio_voice'", ws=ws) == 3
    assert scalar(db, "select count(*) from node where workspace_id=:ws and type='compose'", ws=ws) == 1
    # every shot's selected node is one of its own images, and its video descends from it
    assert (
        scalar(
            db,
            """select count(*) from work_item w join node n on n.id = w.selected_node_id
                         join node v on v.parent_id = n.id and v.type = 'video'
                         where w.workspace_id = :ws and n.type = 'image'""",
            ws=ws,
        )
        == 3
    )
    statuses = dict(
        rows(db, "select status, count(*) from task where workspace_id=:ws group by status", ws=ws)
    )
    assert statuses == {"succeeded": 12}  # pipeline + storyboard + 3×(grid, voice, video) + compose
    # the MP4 is real: video + audio, duration ≈ the shots' sum, subtitles burned in
    path = rig.acts.storage.local_path(result.compose.asset_key)
    info = probe(path)
    total = scalar(db, "select sum(duration_s) from work_item where workspace_id=:ws", ws=ws)
    assert info.has_video and info.has_audio
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert abs(info.duration_s - total) / total < 0.05
    compose_result = scalar(db, "select result from node where workspace_id=:ws and type='compose'", ws=ws)
    assert compose_result["duration_s"] == pytest.approx(info.duration_s, rel=0.05)
    assert compose_result["subtitle_events"] >= 3  # one narration line per shot at least
    # narration made each shot at least as long as its voice
    assert (
        scalar(
            db,
            """select count(*) from work_item w
               join node a on a.work_item_id = w.id and a.type = 'audio_voice'
               where w.workspace_id = :ws
                 and w.duration_s + 0.01 < (a.result->>'duration_s')::float""",
            ws=ws,
        )
        == 0
    )


async def test_each_workflow_alone(make_rig) -> None:
    async with make_rig() as rig:
        ws = rig.new_workspace()
        board = await rig.client.execute_workflow(
            StoryboardWorkflow.run,
            StoryboardWorkflowInput(
                workspace_id=ws, story="a robot learns to paint", shot_count=3, queues=rig.queues
            ),
            id=f"storyboard-{ws}",
            task_queue=rig.queues.cpu,
        )
        shot = board.shot_ids[0]
        grid = await rig.client.execute_workflow(
            GridWorkflow.run,
            GridWorkflowInput(workspace_id=ws, work_item_id=shot, size=9, select_cell=5, queues=rig.queues),
            id=rig.wf_id(f"grid-{shot}"),
            task_queue=rig.queues.cpu,
        )
        assert len(grid.image_node_ids) == 9
        assert grid.selected_node_id == grid.image_node_ids[4]
        # iterate from a cell on a new track, with another cell as a reference
        again = await rig.client.execute_workflow(
            GridWorkflow.run,
            GridWorkflowInput(
                workspace_id=ws,
                work_item_id=shot,
                size=4,
                track="B",
                parent_node_id=grid.image_node_ids[0],
                reference_node_ids=[grid.image_node_ids[6]],
                queues=rig.queues,
            ),
            id=rig.wf_id(f"grid-{shot}"),
            task_queue=rig.queues.cpu,
        )
        voice = await rig.client.execute_workflow(
            VoiceWorkflow.run,
            VoiceWorkflowInput(workspace_id=ws, work_item_id=shot, queues=rig.queues),
            id=rig.wf_id(f"voice-{shot}"),
            task_queue=rig.queues.cpu,
        )
        video = await rig.client.execute_workflow(
            ShotVideoWorkflow.run,
            VideoWorkflowInput(workspace_id=ws, work_item_id=shot, queues=rig.queues),
            id=rig.wf_id(f"video-{shot}"),
            task_queue=rig.queues.cpu,
        )
        composed = await rig.client.execute_workflow(
            ComposeWorkflow.run,
            ComposeWorkflowInput(workspace_id=ws, mode="preview", queues=rig.queues),
            id=rig.wf_id(f"compose-{ws}"),
            task_queue=rig.queues.cpu,
        )
    db = rig.db_url
    assert voice.duration_s > 0.5 and voice.shot_duration_s >= voice.duration_s
    assert video.duration_s == pytest.approx(voice.shot_duration_s, rel=0.05)
    assert composed.shots == 1
    assert (
        scalar(db, "select parent_id::text from node where id = :id", id=again.group_node_id)
        == grid.image_node_ids[0]
    )
    assert scalar(db, "select count(*) from node_ref where from_node_id = :id", id=again.group_node_id) == 1
    assert (
        scalar(
            db,
            "select name from track t join node n on n.track_id = t.id where n.id = :id",
            id=again.group_node_id,
        )
        == "B"
    )
    assert (
        scalar(db, "select count(*) from task where workspace_id=:ws and status <> 'succeeded'", ws=ws) == 0
    )


async def test_bad_input_is_non_retryable_and_recorded(make_rig) -> None:
    async with make_rig() as rig:
        ws = rig.new_workspace()
        with pytest.raises(WorkflowFailureError) as failure:
            await rig.client.execute_workflow(
                StoryboardWorkflow.run,
                StoryboardWorkflowInput(workspace_id=ws, story="a fox", shot_count=99, queues=rig.queues),
                id=f"storyboard-{ws}",
                task_queue=rig.queues.cpu,
            )
    assert failure.value.cause.type == "shot_count_out_of_range"
    task = rows(rig.db_url, "select status, error, retries from task where workspace_id=:ws", ws=ws)
    assert len(task) == 1
    assert task[0].status == "failed" and task[0].error["code"] == "shot_count_out_of_range"
    assert task[0].retries == 0  # not retried: a retry cannot fix bad input
    assert scalar(rig.db_url, "select count(*) from work_item where workspace_id=:ws", ws=ws) == 0


async def test_missing_asset_fails_with_code(make_rig) -> None:
    async with make_rig() as rig:
        ws = rig.new_workspace()
        board = await rig.client.execute_workflow(
            StoryboardWorkflow.run,
            StoryboardWorkflowInput(workspace_id=ws, story="a fox", shot_count=3, queues=rig.queues),
            id=f"storyboard-{ws}",
            task_queue=rig.queues.cpu,
        )
        shot = board.shot_ids[0]
        grid = await rig.client.execute_workflow(
            GridWorkflow.run,
            GridWorkflowInput(workspace_id=ws, work_item_id=shot, size=1, select_cell=1, queues=rig.queues),
            id=rig.wf_id(f"grid-{shot}"),
            task_queue=rig.queues.cpu,
        )
        key = scalar(
            rig.db_url,
            "select a.storage_key from node n join asset a on a.id = n.asset_id where n.id = :id",
            id=grid.selected_node_id,
        )
        rig.acts.storage.local_path(key).unlink()
        with pytest.raises(WorkflowFailureError) as failure:
            await rig.client.execute_workflow(
                ShotVideoWorkflow.run,
                VideoWorkflowInput(workspace_id=ws, work_item_id=shot, queues=rig.queues),
                id=rig.wf_id(f"video-{shot}"),
                task_queue=rig.queues.cpu,
            )
    assert failure.value.cause.type == "asset_missing"
    assert scalar(rig.db_url, "select count(*) from node where workspace_id=:ws and type='video'", ws=ws) == 0
