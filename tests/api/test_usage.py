"""Per-workspace usage: task counts by outcome, busy seconds, measured GPU seconds and priced
cost, per task type and in total; task rows show their own GPU seconds and cost; another
user's workspace is the same 404 as everywhere else."""

from __future__ import annotations

import uuid

import pytest

from infra.ledger import unit_of_work
from schema.enums import TaskType
from schema.repositories import tasks as task_repo
from tests.api.conftest import Stack, uid


def _finished(session, ws: uuid.UUID, type_: TaskType, **outcome) -> uuid.UUID:  # type: ignore[no-untyped-def]
    wf = f"{type_.value}-{uuid.uuid4()}"
    task_repo.upsert_running(session, workspace_id=ws, workflow_id=wf, type=type_, run_id="r1")
    if outcome.pop("failed", False):
        return task_repo.mark_failed(session, wf, "boom", "it broke").id
    return task_repo.mark_succeeded(session, wf, result={}, **outcome).id


async def test_usage_sums_gpu_seconds_and_cost_per_type(stack: Stack) -> None:
    c, h = stack.client, stack.auth(uid())
    made = (await c.post("/workspaces", json={"title": "usage"}, headers=h)).json()
    ws = uuid.UUID(made["workspace"]["id"])
    with unit_of_work(stack.db_url) as session:
        grid = _finished(
            session, ws, TaskType.grid, gpu_seconds=2.5, cost=0.0025
        )  # costs are kept to 0.0001 USD
        _finished(session, ws, TaskType.grid, gpu_seconds=1.5, cost=0.0015)
        _finished(session, ws, TaskType.grid, failed=True)
        _finished(session, ws, TaskType.voice)  # CPU work: no GPU seconds, no price
        _finished(session, ws, TaskType.agent_turn)  # the router's own records are not usage
    r = await c.get(f"/workspaces/{ws}/tasks/usage", headers=h)
    assert r.status_code == 200, r.text
    usage = r.json()
    by_type = {row["type"]: row for row in usage["by_type"]}
    assert "agent_turn" not in by_type
    g = by_type["grid"]
    assert (g["tasks"], g["succeeded"], g["failed"], g["canceled"]) == (3, 2, 1, 0)
    assert g["gpu_seconds"] == pytest.approx(4.0) and g["cost"] == pytest.approx(0.004)
    assert g["busy_seconds"] >= 0
    assert by_type["voice"]["gpu_seconds"] == 0 and by_type["voice"]["cost"] is None
    assert usage["gpu_seconds"] == pytest.approx(4.0) and usage["cost"] == pytest.approx(0.004)
    assert usage["tasks"] == sum(row["tasks"] for row in usage["by_type"])
    one = (await c.get(f"/workspaces/{ws}/tasks/{grid}", headers=h)).json()
    assert one["gpu_seconds"] == pytest.approx(2.5) and one["cost"] == pytest.approx(0.0025)


async def test_usage_of_an_empty_workspace_and_of_another_users(stack: Stack, seeded) -> None:
    mine, theirs = seeded(uid()), seeded(uid())
    c = stack.client
    empty = (await c.post("/workspaces", json={"title": "empty"}, headers=stack.auth(mine.owner))).json()
    r = await c.get(f"/workspaces/{empty['workspace']['id']}/tasks/usage", headers=stack.auth(mine.owner))
    assert r.json() == {"by_type": [], "tasks": 0, "gpu_seconds": 0, "cost": None, "rate_cost": 0}
    r = await c.get(f"/workspaces/{theirs.workspace}/tasks/usage", headers=stack.auth(mine.owner))
    assert r.status_code == 404 and r.json()["code"] == "workspace_not_found"
