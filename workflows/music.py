"""`music`: a mood (and a length) → an audio_music node of the workspace: offline background music."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.contracts import MusicInput, MusicResult
    from activities.pipeline import PipelineActivities
    from workflows.common import long_activity_options, mirrored, task_ref
    from workflows.contracts import MusicWorkflowInput


def music_workflow_id(workspace_id: str, suffix: str) -> str:
    return f"music-{workspace_id}-{suffix}"


@workflow.defn(name="music")
class MusicWorkflow:
    @workflow.run
    async def run(self, inp: MusicWorkflowInput) -> MusicResult:
        task = task_ref(inp.workspace_id, "music")
        return await mirrored(
            task,
            inp.queues.cpu,
            lambda: workflow.execute_activity_method(
                PipelineActivities.generate_music,
                MusicInput(task=task, mood=inp.mood, duration_s=inp.duration_s, seed=inp.seed),
                task_queue=inp.queues.cpu,
                **long_activity_options(timedelta(minutes=3)),
            ),
        )
