"""The reconciler settles task rows whose workflow closed without recording it (real Temporal, real
PostgreSQL): before issue 15 such rows stayed `running`/`queued` forever, cancel changed nothing
and retry refused ("task is running")."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from infra.ledger import unit_of_work
from infra.queues import QUEUE_CPU
from schema.actions import Turn
from schema.enums import TaskStatus, TaskType
from schema.repositories import tasks
from services.execution import Caller
from services.reconcile import reconcile_once
from tests.support.agent_rig import OWNER

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

ALICE = Caller(OWNER)


def turn(*actions: dict[str, Any]) -> Turn:
    return Turn.model_validate({"mode": "execute", "intent": "test", "actions": list(actions), "message": ""})


def task_row(db_url: str, task_id: str) -> tuple[TaskStatus, dict | None]:
    with unit_of_work(db_url) as s:
        row = tasks.get(s, uuid.UUID(task_id))
        assert row is not None
        return row.status, row.error


async def until_status(db_url: str, task_id: str, *wanted: TaskStatus, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while task_row(db_url, task_id)[0] not in wanted:
        assert time.monotonic() < deadline, f"task {task_id} is {task_row(db_url, task_id)[0]}"
        await asyncio.sleep(0.2)


async def test_rows_of_closed_workflows_are_settled_and_cancel_and_retry_then_work(make_agent_rig) -> None:
    # only the cpu pool runs: music completes, voice (tts pool) stays queued until terminated
    async with make_agent_rig(pools=[QUEUE_CPU]) as rig:
        ws = rig.workspace(2)
        db = rig.db_url
        music = await rig.router.run(ALICE, ws, turn({"type": "gen.music", "args": {"mood": "calm"}}))
        [music_task] = music.results[0].task_ids
        await until_status(db, music_task, TaskStatus.succeeded)
        # the state a lost ledger write leaves: the workflow completed, its row still says running
        with unit_of_work(db) as s:
            s.execute(
                text("update task set status='running', finished_at=null where id=:id"), {"id": music_task}
            )

        started = [
            (await rig.router.run(ALICE, ws, turn({"type": "gen.voice", "args": {"shots": [n]}}))).results[0]
            for n in (1, 2)
        ]
        assert all(r.status == "started" for r in started), started
        (stuck_task, stuck_wf), (killed_task, killed_wf) = (
            (r.task_ids[0], r.workflow_ids[0]) for r in started
        )
        await rig.client.get_workflow_handle(killed_wf).terminate("operator killed it")

        with unit_of_work(db) as s:  # a crash between the turn's commit and the workflow start
            ghost = tasks.create(
                s, workspace_id=uuid.UUID(ws), type=TaskType.voice, workflow_id=f"voice-ghost-{uuid.uuid4()}"
            )
            ghost_id = str(ghost.id)

        young = await reconcile_once(rig.client, db, grace_s=3600)  # the ghost is too young to judge
        settled = {s.task_id: s for s in young}
        assert set(settled) == {music_task, killed_task}
        assert task_row(db, music_task)[0] == TaskStatus.succeeded
        status, error = task_row(db, killed_task)
        assert status == TaskStatus.failed and error is not None and error["code"] == "workflow_terminated"
        assert task_row(db, ghost_id)[0] == TaskStatus.queued
        assert task_row(db, stuck_task)[0] == TaskStatus.queued  # its workflow runs: left alone

        old = await reconcile_once(rig.client, db, grace_s=0)
        assert [s.task_id for s in old] == [ghost_id]
        status, error = task_row(db, ghost_id)
        assert status == TaskStatus.failed and error is not None and error["code"] == "workflow_not_found"
        assert task_row(db, stuck_task)[0] == TaskStatus.queued
        assert await reconcile_once(rig.client, db, grace_s=0) == []  # nothing settles twice

        # retry works on a settled row: a new workflow starts
        retried = await rig.router.run(
            ALICE, ws, turn({"type": "task.retry", "args": {"task_id": killed_task}})
        )
        assert retried.results[0].status == "started", retried.results[0]
        assert retried.results[0].workflow_ids[0] != killed_wf

        # cancel works on a row whose workflow closed before anyone settled it
        await rig.client.get_workflow_handle(stuck_wf).terminate("operator killed it too")
        canceled = await rig.router.run(
            ALICE, ws, turn({"type": "task.cancel", "args": {"task_id": stuck_task}})
        )
        assert canceled.results[0].data["canceled_task_ids"] == [stuck_task]
        status, error = task_row(db, stuck_task)  # settled at once with what really happened
        assert status == TaskStatus.failed and error is not None and error["code"] == "workflow_terminated"
        with unit_of_work(db) as s:
            kinds = [
                r[0]
                for r in s.execute(
                    text(
                        "select data->>'settled_by' from event where workspace_id=:ws and kind like 'task.%'"
                    ),
                    {"ws": ws},
                )
            ]
        assert kinds.count("reconciler") == 4  # each settlement is an event the studio sees
