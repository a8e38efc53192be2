"""Cancelling one shot or a whole project pipeline: the rest goes on / everything stops and says so."""

from __future__ import annotations

import asyncio
import time

import pytest
from temporalio.client import WorkflowFailureError

from tests.support.ledger_rows import rows, scalar
from workflows.contracts import CancelShot
from workflows.project_pipeline import ProjectPipelineWorkflow


async def _wait_for(handle, predicate, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = await handle.query(ProjectPipelineWorkflow.progress)
        if predicate(progress):
            return progress
        await asyncio.sleep(0.1)
    raise AssertionError(f"pipeline never reached the expected state: {progress}")


async def test_cancel_one_queued_shot_rest_goes_on(make_rig) -> None:
    async with make_rig() as rig:
        _, handle = await rig.start_pipeline(shots=3, concurrency=1)
        progress = await _wait_for(handle, lambda p: p.stage == "shots")
        last = progress.shots[-1].work_item_id
        await handle.signal(ProjectPipelineWorkflow.cancel_shot, CancelShot(work_item_id=last))
        result = await handle.result()
    assert result.status == "partial"
    assert [s.status for s in result.shots] == ["succeeded", "succeeded", "canceled"]
    assert result.compose is not None and result.compose.shots == 2
    assert scalar(rig.db_url, "select count(*) from task where work_item_id = :wi", wi=last) == 0


async def test_cancel_whole_run_stops_every_child_and_records_it(make_rig) -> None:
    async with make_rig() as rig:
        ws, handle = await rig.start_pipeline(shots=4, concurrency=2)
        await _wait_for(handle, lambda p: p.stage == "shots" and any(s.status == "running" for s in p.shots))
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        progress = await handle.query(ProjectPipelineWorkflow.progress)
    assert progress.stage == "canceled"
    statuses = dict(
        rows(rig.db_url, "select status, count(*) from task where workspace_id=:ws group by status", ws=ws)
    )
    assert statuses.get("running", 0) == 0 and statuses.get("queued", 0) == 0
    assert statuses.get("canceled", 0) >= 2  # the pipeline itself and at least one running child
    pipeline = rows(rig.db_url, "select status from task where workflow_id=:wf", wf=f"pipeline-{ws}")
    assert pipeline[0].status == "canceled"
    assert (
        scalar(rig.db_url, "select count(*) from node where workspace_id=:ws and type='compose'", ws=ws) == 0
    )
