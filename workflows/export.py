"""`export`: favorites or each shot's selected version → one zip package stored as an asset."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.contracts import ExportInput, ExportResult
    from activities.export import ExportActivities
    from workflows.common import long_activity_options, mirrored, task_ref
    from workflows.contracts import ExportWorkflowInput


@workflow.defn(name="export")
class ExportWorkflow:
    @workflow.run
    async def run(self, inp: ExportWorkflowInput) -> ExportResult:
        task = task_ref(inp.workspace_id, "export")
        request = ExportInput(
            task=task,
            selection=inp.selection,
            naming=inp.naming,
            # fixed here (deterministic), so every attempt of the activity builds the same bytes
            generated_at=workflow.now().replace(microsecond=0).isoformat(),
        )
        return await mirrored(
            task,
            inp.queues.cpu,
            lambda: workflow.execute_activity_method(
                ExportActivities.export_package,
                request,
                task_queue=inp.queues.cpu,
                **long_activity_options(timedelta(minutes=10)),
            ),
        )
