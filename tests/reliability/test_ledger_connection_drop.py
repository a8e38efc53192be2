"""PostgreSQL drops the activity's connection mid-write (pg_terminate_backend): the activity fails,
Temporal retries it, and the ledger ends with exactly one node and one asset per result."""

from __future__ import annotations

import asyncio

import pytest

from tests.reliability.conftest import Cluster, blocked_writers, query, scalar, wait_for
from workflows.contracts import GridWorkflowInput, StoryboardWorkflowInput
from workflows.grid import GridWorkflow
from workflows.storyboard import StoryboardWorkflow

pytestmark = pytest.mark.timeout(120)  # every wait inside is bounded too


async def test_connection_killed_during_an_activity_write_is_retried_and_ledger_stays_consistent(
    cluster: Cluster, locked_table
) -> None:
    db = cluster.db_url
    async with cluster.in_process(["cpu", "gpu-image", "gpu-video", "tts"]):
        ws = cluster.new_workspace()
        board = await cluster.client.execute_workflow(
            StoryboardWorkflow.run,
            StoryboardWorkflowInput(
                workspace_id=ws, story="a fox steals the moon", shot_count=3, queues=cluster.queues
            ),
            id=f"storyboard-{ws}",
            task_queue=cluster.queues.cpu,
        )
        shot = board.shot_ids[0]
        wf_id = f"grid-{shot}-pgdrop"
        lock = locked_table("node")  # parks the activity inside its ledger transaction
        handle = await cluster.client.start_workflow(
            GridWorkflow.run,
            GridWorkflowInput(
                workspace_id=ws, work_item_id=shot, size=9, select_cell=3, queues=cluster.queues
            ),
            id=wf_id,
            task_queue=cluster.queues.cpu,
        )
        backends = await wait_for(
            "the activity's write to wait on the ledger", lambda: blocked_writers(db, "node"), 60
        )
        # the activity's transaction already wrote its asset rows; now its connection dies
        killed = query(
            db, "select pg_terminate_backend(pid) from unnest(cast(:pids as int[])) pid", pids=backends
        )
        assert [k[0] for k in killed] == [True] * len(backends)
        # and every other pooled connection of the ledger with it (a database failover)
        query(
            db,
            """select pg_terminate_backend(pid) from pg_stat_activity
               where datname = current_database() and pid <> pg_backend_pid()
                 and backend_type = 'client backend' and pid <> :locker""",
            locker=lock.info.backend_pid,
        )
        lock.rollback()
        grid = await asyncio.wait_for(handle.result(), 90)

    assert len(grid.image_node_ids) == 9 and grid.selected_node_id == grid.image_node_ids[2]
    assert scalar(db, "select count(*) from node where workspace_id=:ws and type='grid_group'", ws=ws) == 1
    assert scalar(db, "select count(*) from node where workspace_id=:ws and type='image'", ws=ws) == 9
    assert scalar(db, "select count(*) from asset where workspace_id=:ws and kind='image'", ws=ws) == 9
    task = query(db, "select status, retries from task where workflow_id=:wf", wf=wf_id)[0]
    assert task.status == "succeeded" and task.retries >= 1
    succeeded = scalar(
        db,
        """select count(*) from event
           where workspace_id=:ws and kind='task.succeeded' and data->>'workflow_id'=:wf""",
        ws=ws,
        wf=wf_id,
    )
    assert succeeded == 1  # the event log saw the success once
    assert cluster.orphan_files() == []
