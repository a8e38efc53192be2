"""`compose`: the selected media of every shot → one final video node (preview or final mode).

With `music`, background music is mixed in (ducked under the narration): the audio_music node
named by `music_node_id`, or, when none is named, one generated first by a `music` child
workflow (mood "auto", as long as the cut). If that child fails, the cut is composed without
music (its result's `music_node_id` stays empty, its failed `music` task says why). Without
`music` the command sequence is exactly the one recorded histories hold (a single `compose`
activity).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import CancelledError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from activities.contracts import ComposeInput, ComposeResult
    from activities.pipeline import PipelineActivities
    from workflows.common import child_options, long_activity_options, mirrored, start_task, task_ref
    from workflows.contracts import ComposeWorkflowInput, MusicWorkflowInput
    from workflows.music import MusicWorkflow, music_workflow_id


@workflow.defn(name="compose")
class ComposeWorkflow:
    @workflow.run
    async def run(self, inp: ComposeWorkflowInput) -> ComposeResult:
        task = task_ref(inp.workspace_id, "compose")
        request = ComposeInput(
            task=task,
            mode=inp.mode,
            subtitles=inp.subtitles,
            crossfade_s=inp.crossfade_s,
            music_node_id=inp.music_node_id,
            width=inp.width,
            height=inp.height,
        )

        async def body() -> ComposeResult:
            if inp.music and request.music_node_id is None:
                await start_task(task, inp.queues.cpu)  # running now; the music task hangs under it
                try:
                    music = await workflow.execute_child_workflow(
                        MusicWorkflow.run,
                        MusicWorkflowInput(workspace_id=inp.workspace_id, queues=inp.queues),
                        id=music_workflow_id(inp.workspace_id, str(workflow.uuid4())),
                        task_queue=inp.queues.cpu,
                        **child_options("music"),
                    )
                    request.music_node_id = music.node_id
                except ChildWorkflowError as err:  # the cut still comes out, with narration only
                    if isinstance(err.cause, CancelledError):
                        raise
                    workflow.logger.warning("background music failed; composing without it: %s", err.cause)
            return await workflow.execute_activity_method(
                PipelineActivities.compose,
                request,
                task_queue=inp.queues.cpu,
                **long_activity_options(timedelta(minutes=5)),
            )

        return await mirrored(task, inp.queues.cpu, body)
