"""`shot_video`: a shot's selected image → a video node (image→video model or a pan/zoom clip)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.contracts import VideoInput, VideoResult
    from activities.pipeline import PipelineActivities
    from workflows.common import GPU_HEARTBEAT_TIMEOUT, long_activity_options, mirrored, task_ref
    from workflows.contracts import VideoWorkflowInput


@workflow.defn(name="shot_video")
class ShotVideoWorkflow:
    @workflow.run
    async def run(self, inp: VideoWorkflowInput) -> VideoResult:
        task = task_ref(inp.workspace_id, "video", inp.work_item_id)
        request = VideoInput(
            task=task,
            work_item_id=inp.work_item_id,
            source_node_id=inp.source_node_id,
            duration_s=inp.duration_s,
            fps=inp.fps or 24,
            provider=inp.model,
        )
        return await mirrored(
            task,
            inp.queues.cpu,
            lambda: workflow.execute_activity_method(
                PipelineActivities.render_video,
                request,
                task_queue=inp.queues.gpu_video,
                **long_activity_options(timedelta(minutes=15), heartbeat=GPU_HEARTBEAT_TIMEOUT),
            ),
        )
