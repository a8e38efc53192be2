"""Undo and retry around generations (issue 13), on real PostgreSQL and a real Temporal dev server.

- rolling back while a generation started after the snapshot is still running cancels it, so its
  result cannot land on (and silently undo) the restored state; the rollback says so;
- a confirmed storyboard rebuild that failed can be retried: it runs again as a rebuild, after a
  snapshot (a first storyboard is still never retried over shots made since).
"""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import WorkflowFailureError

from infra.ledger import unit_of_work
from infra.queues import QUEUE_CPU
from schema.enums import TaskStatus, TaskType
from schema.repositories import snapshots, tasks
from tests.services.test_router import ALICE, shots_of, turn, wait_task

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


async def test_rollback_cancels_a_generation_started_after_its_snapshot(make_agent_rig) -> None:
    # no gpu-image worker: the grid's render activity waits in its queue, i.e. it is still running
    async with make_agent_rig(pools=[QUEUE_CPU]) as rig:
        ws = rig.workspace(2)
        saved = await rig.router.run(ALICE, ws, turn({"type": "version.snapshot", "args": {"note": "clean"}}))
        started = await rig.router.run(ALICE, ws, turn({"type": "gen.grid", "args": {"shots": [1]}}))
        [grid_task] = started.results[0].task_ids
        undo = turn({"type": "version.rollback", "args": {"before": "clean"}})
        proposal = await rig.router.run(ALICE, ws, undo)
        with unit_of_work(rig.db_url) as s:
            row = tasks.get(s, uuid.UUID(grid_task))
            assert row is not None and row.status in (TaskStatus.queued, TaskStatus.running)
        undone = await rig.router.run(ALICE, ws, undo, confirmed=True)
        with pytest.raises(WorkflowFailureError):
            await rig.client.get_workflow_handle(started.results[0].workflow_ids[0]).result()
        await wait_task(rig.db_url, grid_task, TaskStatus.canceled)

    assert saved.ok and started.ok
    assert (
        proposal.mode == "propose" and "cancels 1 generation started since" in proposal.proposal["preview"][0]
    )
    assert undone.ok and undone.results[0].data["canceled_task_ids"] == [grid_task]
    assert "cancels 1 generation started since" in undone.results[0].data["summary"]


async def test_rollback_leaves_generations_older_than_its_snapshot_alone(make_agent_rig) -> None:
    async with make_agent_rig(pools=[QUEUE_CPU]) as rig:
        ws = rig.workspace(2)
        started = await rig.router.run(ALICE, ws, turn({"type": "gen.grid", "args": {"shots": [2]}}))
        await rig.router.run(
            ALICE, ws, turn({"type": "version.snapshot", "args": {"note": "after the grid"}})
        )
        undone = await rig.router.run(
            ALICE,
            ws,
            turn({"type": "version.rollback", "args": {"before": "after the grid"}}),
            confirmed=True,
        )
        with unit_of_work(rig.db_url) as s:
            row = tasks.get(s, uuid.UUID(started.results[0].task_ids[0]))
            assert row is not None
            status = row.status
        await rig.router.run(ALICE, ws, turn({"type": "task.cancel", "args": {"kind": "grid"}}))

    assert undone.ok and undone.results[0].data["canceled_task_ids"] == []
    assert status in (TaskStatus.queued, TaskStatus.running)


async def test_a_failed_storyboard_rebuild_is_retried_as_a_rebuild_after_a_snapshot(make_agent_rig) -> None:
    async with make_agent_rig(pools=[QUEUE_CPU]) as rig:
        ws = rig.workspace(4)
        with unit_of_work(rig.db_url) as s:  # a confirmed rebuild whose workflow failed
            failed = tasks.create(
                s,
                workspace_id=uuid.UUID(ws),
                type=TaskType.storyboard,
                workflow_id=f"storyboard-{ws}-rebuild-0123456789ab",
                payload={
                    "workflow": "storyboard",
                    "input": {
                        "workspace_id": ws,
                        "story": "a fox steals the moon",
                        "shot_count": 3,
                        "replace": True,
                    },
                },
            )
            tasks.mark_failed(s, failed.id, "provider_error", "the storyboard model was unavailable")
            failed_id = str(failed.id)
        retried = await rig.router.run(
            ALICE, ws, turn({"type": "task.retry", "args": {"task_id": failed_id}})
        )
        [task_id] = retried.results[0].task_ids
        await wait_task(rig.db_url, task_id, TaskStatus.succeeded, timeout=60)
        rebuilt = shots_of(rig.db_url, ws)
        with unit_of_work(rig.db_url) as s:
            notes = [snap.note for snap in snapshots.list_for_workspace(s, uuid.UUID(ws))]

    assert retried.ok and retried.results[0].status == "started"
    assert retried.results[0].workflow_ids[0].startswith(f"storyboard-{ws}-rebuild-")
    assert "before retrying the storyboard rebuild" in notes
    assert len(rebuilt) == 3


async def test_a_failed_first_storyboard_is_not_retried_over_shots_made_since(make_agent_rig) -> None:
    async with make_agent_rig(pools=[QUEUE_CPU]) as rig:
        ws = rig.workspace(2)  # shots exist now
        with unit_of_work(rig.db_url) as s:
            failed = tasks.create(
                s,
                workspace_id=uuid.UUID(ws),
                type=TaskType.storyboard,
                workflow_id=f"storyboard-{ws}",
                payload={
                    "workflow": "storyboard",
                    "input": {"workspace_id": ws, "story": "a fox", "shot_count": 3},
                },
            )
            tasks.mark_failed(s, failed.id, "provider_error", "unavailable")
            failed_id = str(failed.id)
        retried = await rig.router.run(
            ALICE, ws, turn({"type": "task.retry", "args": {"task_id": failed_id}})
        )
        kept = shots_of(rig.db_url, ws)

    assert retried.results[0].status == "done" and retried.results[0].data["skipped_task_ids"] == [failed_id]
    assert len(kept) == 2
