"""`voice`: a shot's narration → an audio_voice node; the shot grows to fit its narration."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.contracts import VoiceInput, VoiceResult
    from activities.pipeline import PipelineActivities
    from workflows.common import long_activity_options, mirrored, task_ref
    from workflows.contracts import VoiceWorkflowInput


@workflow.defn(name="voice")
class VoiceWorkflow:
    @workflow.run
    async def run(self, inp: VoiceWorkflowInput) -> VoiceResult:
        task = task_ref(inp.workspace_id, "voice", inp.work_item_id)
        return await mirrored(
            task,
            inp.queues.cpu,
            lambda: workflow.execute_activity_method(
                PipelineActivities.synthesize_voice,
                VoiceInput(task=task, work_item_id=inp.work_item_id, text=inp.text),
                task_queue=inp.queues.tts,
                **long_activity_options(timedelta(minutes=3)),
            ),
        )
