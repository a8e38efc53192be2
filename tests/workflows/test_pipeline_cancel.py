"""Cancelling one shot or a whole project pipeline: the rest goes on / everything stops and says so."""

from __future__ import annotations

import asyncio
import time

import pytest
from temporalio.client import WorkflowFailureError

from services.reconcile import reconcile_once
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
    # the pipeline's task row says partial (not succeeded), which shot and why; the cut says what it left out
    pipeline = rows(
        rig.db_url, "select status, error, result from task where workflow_id = :wf", wf=handle.id
    )[0]
    assert pipeline.status == "partial" and pipeline.error["code"] == "shots_failed"
    assert "shot 3 canceled" in pipeline.error["message"]
    assert [s["work_item_id"] for s in pipeline.result["shots_not_done"]] == [last]
    assert result.compose.left_out == [{"work_item_id": last, "idx": 3, "reason": "no clip yet"}]
    left_out = scalar(
        rig.db_url,
        "select payload->'missing_shots' from node where type = 'compose' and "
        "workspace_id = (select workspace_id from work_item where id = :wi)",
        wi=last,
    )
    assert left_out == result.compose.left_out


async def test_cancel_whole_run_stops_every_child_and_records_it(make_rig) -> None:
    async with make_rig() as rig:
        ws, handle = await rig.start_pipeline(shots=4, concurrency=2)
        await _wait_for(handle, lambda p: p.stage == "shots" and any(s.status == "running" for s in p.shots))
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        progress = await handle.query(ProjectPipelineWorkflow.progress)
        # a child whose activity was mid-write when the run closed can be terminated before it records
        # its cancel; the reconciler (run by every cpu-pool process) settles such a row from Temporal
        await reconcile_once(rig.client, rig.db_url, grace_s=0)
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
