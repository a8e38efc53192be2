"""`shot`: one shot of a project → grid (auto-select a cell) ∥ voice → video, as child workflows.

Rule: a failed voice does not sink the shot (the clip keeps the shot's own duration and the
failure stays on the voice task row); a failed grid or video does, and its task row says `failed`
with the step's own code even if the step could not record it (`record_step_failure`).
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from activities.contracts import VoiceResult
    from workflows.common import child_options, failure_code, record_step_failure
    from workflows.contracts import (
        GridWorkflowInput,
        ShotWorkflowInput,
        ShotWorkflowResult,
        VideoWorkflowInput,
        VoiceWorkflowInput,
    )
    from workflows.grid import GridWorkflow, grid_workflow_id
    from workflows.shot_video import ShotVideoWorkflow
    from workflows.voice import VoiceWorkflow


@workflow.defn(name="shot")
class ShotWorkflow:
    @workflow.run
    async def run(self, inp: ShotWorkflowInput) -> ShotWorkflowResult:
        wi = inp.work_item_id
        result = ShotWorkflowResult(work_item_id=wi, shot_number=inp.shot_number, status="running")
        group_node_id = str(workflow.uuid4())
        grid = workflow.execute_child_workflow(
            GridWorkflow.run,
            GridWorkflowInput(
                workspace_id=inp.workspace_id,
                work_item_id=wi,
                size=inp.grid_size,
                select_cell=inp.select_cell,
                group_node_id=group_node_id,
                queues=inp.queues,
            ),
            id=grid_workflow_id(wi, group_node_id),
            task_queue=inp.queues.cpu,
            **child_options("grid", work_item_id=wi, shot_number=inp.shot_number),
        )
        voice = (
            asyncio.ensure_future(
                workflow.execute_child_workflow(
                    VoiceWorkflow.run,
                    VoiceWorkflowInput(workspace_id=inp.workspace_id, work_item_id=wi, queues=inp.queues),
                    id=f"voice-{wi}-{workflow.uuid4()}",
                    task_queue=inp.queues.cpu,
                    **child_options("voice", work_item_id=wi, shot_number=inp.shot_number),
                )
            )
            if inp.with_voice
            else None
        )
        try:
            grid_result = await grid
            result.selected_node_id = grid_result.selected_node_id
            if voice is not None:
                try:
                    voice_result: VoiceResult = await voice
                    result.voice_node_id = voice_result.node_id
                except ChildWorkflowError as err:
                    code, _ = failure_code(err)
                    result.error = f"voice: {code}"
            if inp.with_video:
                video = await workflow.execute_child_workflow(
                    ShotVideoWorkflow.run,
                    VideoWorkflowInput(
                        workspace_id=inp.workspace_id,
                        work_item_id=wi,
                        source_node_id=grid_result.selected_node_id,
                        queues=inp.queues,
                    ),
                    id=f"video-{wi}-{workflow.uuid4()}",
                    task_queue=inp.queues.cpu,
                    **child_options("video", work_item_id=wi, shot_number=inp.shot_number),
                )
                result.video_node_id = video.node_id
        except ChildWorkflowError as err:
            code, message = failure_code(err)
            await record_step_failure(err, inp.workspace_id, wi, inp.queues.cpu)
            raise ApplicationError(message, type=code, non_retryable=True) from err
        finally:
            if voice is not None and not voice.done():
                voice.cancel()
                await asyncio.gather(voice, return_exceptions=True)  # let it record `canceled`
        result.status = "succeeded"
        return result
