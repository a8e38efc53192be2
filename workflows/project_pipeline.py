"""`project_pipeline`: storyboard → per-shot child workflows (bounded concurrency) → compose.

Rules: the history stays small for 60 shots because each shot is a child workflow (the parent only
records starts and completions); progress is answered by a query; one shot can be cancelled by a
signal without stopping the rest, and cancelling the whole run — even while a shot is being
started — cancels every running child and waits until each has recorded it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from activities.contracts import TaskOutcome
    from workflows.common import child_options, failure_code, record_task, start_task, task_ref
    from workflows.compose import ComposeWorkflow
    from workflows.contracts import (
        CancelShot,
        ComposeWorkflowInput,
        PipelineInput,
        PipelineProgress,
        PipelineResult,
        ShotProgress,
        ShotWorkflowInput,
        ShotWorkflowResult,
        StoryboardWorkflowInput,
    )
    from workflows.shot import ShotWorkflow
    from workflows.storyboard import StoryboardWorkflow


def pipeline_workflow_id(workspace_id: str) -> str:
    return f"pipeline-{workspace_id}"


CANCEL_WHILE_STARTING_SHOTS = "cancel-running-shots-while-starting"  # workflow.patched id


async def _cancel_all(in_flight: Mapping[asyncio.Future, Any]) -> None:
    """Cancel every running shot and wait until each has recorded its cancellation."""
    for handle in in_flight:
        handle.cancel()
    await asyncio.gather(*in_flight, return_exceptions=True)


@workflow.defn(name="project_pipeline")
class ProjectPipelineWorkflow:
    def __init__(self) -> None:
        self._progress = PipelineProgress()
        self._cancel_requested: set[str] = set()
        self._running: dict[str, workflow.ChildWorkflowHandle] = {}

    @workflow.query
    def progress(self) -> PipelineProgress:
        return self._progress

    @workflow.signal
    def cancel_shot(self, req: CancelShot) -> None:
        self._cancel_requested.add(req.work_item_id)
        handle = self._running.get(req.work_item_id)
        if handle is not None:
            handle.cancel()

    @workflow.run
    async def run(self, inp: PipelineInput) -> PipelineResult:
        task = task_ref(inp.workspace_id, "pipeline")
        await start_task(task, inp.queues.cpu)
        try:
            result = await self._run(inp)
        except asyncio.CancelledError:
            self._progress.stage = "canceled"
            await record_task(TaskOutcome(task, "canceled"), inp.queues.cpu)
            raise
        except (ApplicationError, ChildWorkflowError) as err:
            code, message = failure_code(err)
            self._progress.stage, self._progress.error = "failed", f"{code}: {message}"
            await record_task(TaskOutcome(task, "failed", code, message), inp.queues.cpu)
            raise ApplicationError(message, type=code, non_retryable=True) from err
        not_done = [
            {
                "shot_number": r.shot_number,
                "work_item_id": r.work_item_id,
                "status": r.status,
                "error": r.error,
            }
            for r in result.shots
            if r.status != "succeeded"
        ]
        summary = {
            "status": result.status,
            "shots": len(result.shots),
            "compose_node_id": result.compose.node_id if result.compose else None,
            "shots_not_done": not_done,
            "left_out": list(result.compose.left_out) if result.compose else [],
        }
        if result.status == "partial":  # said honestly: which shots, and why
            why = "; ".join(
                f"shot {s['shot_number']} {s['status']}: {s['error'] or ''}".strip() for s in not_done
            )
            outcome = TaskOutcome(
                task, "partial", "shots_failed", f"{len(not_done)} of {len(result.shots)} shots: {why}"[:2000]
            )
            outcome.result = summary
        else:
            outcome = TaskOutcome(task, "succeeded", result=summary)
        await record_task(outcome, inp.queues.cpu)
        return result

    async def _run(self, inp: PipelineInput) -> PipelineResult:
        progress = self._progress
        ws = inp.workspace_id
        progress.stage = "storyboard"
        board = await workflow.execute_child_workflow(
            StoryboardWorkflow.run,
            StoryboardWorkflowInput(
                workspace_id=ws,
                story=inp.story,
                shot_count=inp.shot_count,
                style=inp.style,
                queues=inp.queues,
            ),
            id=f"storyboard-{ws}",
            task_queue=inp.queues.cpu,
            **child_options("storyboard"),
        )
        progress.stage = "shots"
        progress.shots_total = len(board.shot_ids)
        progress.shots = [
            ShotProgress(work_item_id=sid, shot_number=i + 1) for i, sid in enumerate(board.shot_ids)
        ]
        results = await self._run_shots(inp, board.shot_ids)

        if not any(r.status == "succeeded" for r in results):
            raise ApplicationError(
                "no shot succeeded; nothing to compose", type="pipeline_no_shots", non_retryable=True
            )
        progress.stage = "compose"
        compose = await workflow.execute_child_workflow(
            ComposeWorkflow.run,
            ComposeWorkflowInput(
                workspace_id=ws, mode=inp.compose_mode, music=inp.compose_music, queues=inp.queues
            ),
            id=f"compose-{ws}-{workflow.uuid4()}",
            task_queue=inp.queues.cpu,
            **child_options("compose"),
        )
        progress.compose_node_id = compose.node_id
        progress.stage = "done"
        status = "succeeded" if all(r.status == "succeeded" for r in results) else "partial"
        return PipelineResult(
            workspace_id=ws, title=board.title, shots=results, compose=compose, status=status
        )

    async def _run_shots(self, inp: PipelineInput, shot_ids: list[str]) -> list[ShotWorkflowResult]:
        limit = max(1, inp.shot_concurrency)
        pending = list(enumerate(shot_ids, start=1))
        in_flight: dict[asyncio.Future, tuple[int, str]] = {}
        results: dict[str, ShotWorkflowResult] = {}
        while pending or in_flight:
            try:
                while pending and len(in_flight) < limit:
                    number, wi = pending.pop(0)
                    if wi in self._cancel_requested:
                        results[wi] = self._finish(number, wi, "canceled")
                        continue
                    handle = await workflow.start_child_workflow(
                        ShotWorkflow.run,
                        ShotWorkflowInput(
                            workspace_id=inp.workspace_id,
                            work_item_id=wi,
                            shot_number=number,
                            grid_size=inp.grid_size,
                            queues=inp.queues,
                        ),
                        id=f"shot-{wi}",
                        task_queue=inp.queues.cpu,
                        **child_options("shot", work_item_id=wi, shot_number=number),
                    )
                    self._running[wi] = handle
                    self._progress.shots[number - 1].status = "running"
                    in_flight[handle] = (number, wi)
            except asyncio.CancelledError:
                # cancelled while starting the next shot: the shots already running must still be
                # cancelled and record it (before this, closing the run terminated them, leaving
                # their grid/voice task rows `running`)
                if workflow.patched(CANCEL_WHILE_STARTING_SHOTS):
                    await _cancel_all(in_flight)
                raise
            if not in_flight:
                continue  # every remaining shot was cancelled before it started
            try:
                done, _ = await workflow.wait(list(in_flight), return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                # the whole run is cancelled: cancel every running shot and let each record it
                await _cancel_all(in_flight)
                raise
            for fut in done:
                number, wi = in_flight.pop(fut)
                self._running.pop(wi, None)
                try:
                    results[wi] = fut.result()
                    self._finish(number, wi, "succeeded")
                except ChildWorkflowError as err:
                    code, message = failure_code(err)
                    canceled = wi in self._cancel_requested or code == "cancellederror"
                    status = "canceled" if canceled else "failed"
                    results[wi] = self._finish(number, wi, status, f"{code}: {message}")
        return [results[wi] for wi in shot_ids]

    def _finish(self, number: int, wi: str, status: str, error: str | None = None) -> ShotWorkflowResult:
        self._progress.shots[number - 1].status = status
        if status == "succeeded":
            self._progress.shots_done += 1
        elif status == "canceled":
            self._progress.shots_canceled += 1
        else:
            self._progress.shots_failed += 1
        return ShotWorkflowResult(work_item_id=wi, shot_number=number, status=status, error=error)
