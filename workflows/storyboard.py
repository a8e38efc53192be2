"""`storyboard`: story → title, scenes and shots, validated and written to the ledger."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.contracts import StoryboardInput, StoryboardResult
    from activities.pipeline import PipelineActivities
    from workflows.common import long_activity_options, mirrored, task_ref
    from workflows.contracts import StoryboardWorkflowInput


@workflow.defn(name="storyboard")
class StoryboardWorkflow:
    @workflow.run
    async def run(self, inp: StoryboardWorkflowInput) -> StoryboardResult:
        task = task_ref(inp.workspace_id, "storyboard")
        return await mirrored(
            task,
            inp.queues.cpu,
            lambda: workflow.execute_activity_method(
                PipelineActivities.storyboard,
                StoryboardInput(task=task, story=inp.story, shot_count=inp.shot_count, style=inp.style),
                task_queue=inp.queues.cpu,
                **long_activity_options(timedelta(minutes=3), heartbeat=timedelta(seconds=30)),
            ),
        )
