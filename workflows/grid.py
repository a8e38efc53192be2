"""`grid`: one shot → a grid_group node with 1/4/9 image children from one batched provider call."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.contracts import GridInput, GridResult
    from activities.pipeline import PipelineActivities
    from workflows.common import GPU_HEARTBEAT_TIMEOUT, long_activity_options, mirrored, task_ref
    from workflows.contracts import GridWorkflowInput


def grid_workflow_id(work_item_id: str, group_node_id: str) -> str:
    return f"grid-{work_item_id}-{group_node_id}"


@workflow.defn(name="grid")
class GridWorkflow:
    @workflow.run
    async def run(self, inp: GridWorkflowInput) -> GridResult:
        task = task_ref(inp.workspace_id, "grid", inp.work_item_id)
        group_node_id = inp.group_node_id or str(workflow.uuid4())
        request = GridInput(
            task=task,
            work_item_id=inp.work_item_id,
            group_node_id=group_node_id,
            size=inp.size,
            track=inp.track,
            prompt=inp.prompt,
            parent_node_id=inp.parent_node_id,
            reference_node_ids=inp.reference_node_ids,
            seed=inp.seed,
            select_cell=inp.select_cell,
        )
        return await mirrored(
            task,
            inp.queues.cpu,
            lambda: workflow.execute_activity_method(
                PipelineActivities.render_grid,
                request,
                task_queue=inp.queues.gpu_image,
                **long_activity_options(timedelta(minutes=10), heartbeat=GPU_HEARTBEAT_TIMEOUT),
            ),
        )
