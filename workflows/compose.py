"""`compose`: the selected media of every shot → one final video node (preview or final mode)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.pipeline import PipelineActivities
    from workflows.common import long_activity_options, mirrored, task_ref
    from workflows.contracts import ComposeInput, ComposeResult, ComposeWorkflowInput


@workflow.defn(name="compose")
class ComposeWorkflow:
    @workflow.run
    async def run(self, inp: ComposeWorkflowInput) -> ComposeResult:
        task = task_ref(inp.workspace_id, "compose")
        request = ComposeInput(task=task, mode=inp.mode, subtitles=inp.subtitles, crossfade_s=inp.crossfade_s)
        return await mirrored(
            task,
            inp.queues.cpu,
            lambda: workflow.execute_activity_method(
                PipelineActivities.compose,
                request,
                task_queue=inp.queues.cpu,
                **long_activity_options(timedelta(minutes=5)),
            ),
        )
