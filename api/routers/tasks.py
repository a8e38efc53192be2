"""Tasks: the execution ledger (filters, status with result URLs), cancel and retry via the router."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from sqlalchemy import func, select

from api.actions import run_actions
from api.deps import CallerDep, IdempotencyDep, RateLimited, ServicesDep, SessionDep, WorkspaceDep, scoped
from api.errors import responses
from api.presenters import links, task_out, tasks_out
from api.schemas import TaskCounts, TaskOut, TurnOut, Usage, UsageByType
from schema.actions import TaskCancel, TaskCancelArgs, TaskRetry, TaskRetryArgs
from schema.enums import USER_TASK_TYPES, TaskStatus, TaskType
from schema.models import Task
from schema.repositories import tasks as task_repo
from services.estimate import usage_cost

router = APIRouter(prefix="/workspaces/{workspace_id}/tasks", tags=["tasks"])


@router.get("", response_model=list[TaskOut])
def list_tasks(
    request: Request,
    workspace: WorkspaceDep,
    session: SessionDep,
    status_: Annotated[list[TaskStatus] | None, Query(alias="status")] = None,
    type: Annotated[list[TaskType] | None, Query()] = None,
    work_item_id: uuid.UUID | None = None,
    parent_task_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[TaskOut]:
    """Newest first; `status` and `type` may repeat (`?status=queued&status=running`). The router's
    own `agent_turn` records are listed only when asked for by type."""
    tasks = task_repo.list_tasks(
        session,
        workspace.id,
        status=status_ or None,
        type=type or USER_TASK_TYPES,
        work_item_id=work_item_id,
        parent_task_id=parent_task_id,
        limit=limit,
    )
    return tasks_out(session, tasks, links(request))


@router.get("/counts", response_model=TaskCounts)
def count_tasks(workspace: WorkspaceDep, session: SessionDep) -> TaskCounts:
    """How many tasks per status (generation tasks; not the router's turn records)."""
    stmt = (
        select(Task.status, func.count())
        .where(Task.workspace_id == workspace.id, Task.type.in_(USER_TASK_TYPES))
        .group_by(Task.status)
    )
    return TaskCounts(counts={TaskStatus(st).value: int(n) for st, n in session.execute(stmt)})


@router.get("/usage", response_model=Usage)
def task_usage(workspace: WorkspaceDep, session: SessionDep, services: ServicesDep) -> Usage:
    """What the workspace's generation used, per task type: task counts by outcome, busy seconds,
    measured GPU seconds, cost (USD, where `DIRECTORDECK_PRICE_TABLE` prices it) and `rate_cost`
    (USD at the rates of a proposal's estimate, so before and after compare)."""
    rates = services.estimate_rates()
    rows = [
        UsageByType(
            **{
                **r._asdict(),
                "cost": None if r.cost is None else float(r.cost),
                "rate_cost": usage_cost(
                    r.gpu_seconds, r.succeeded if r.type == TaskType.storyboard else 0, rates
                ),
            }
        )
        for r in task_repo.usage_by_type(session, workspace.id, USER_TASK_TYPES)
    ]
    costs = [r.cost for r in rows if r.cost is not None]
    return Usage(
        by_type=rows,
        tasks=sum(r.tasks for r in rows),
        gpu_seconds=sum(r.gpu_seconds for r in rows),
        cost=round(sum(costs), 4) if costs else None,
        rate_cost=round(sum(r.rate_cost for r in rows), 4),
    )


@router.get("/{task_id}", response_model=TaskOut)
def get_task(request: Request, task_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep) -> TaskOut:
    """Status, progress, error, and `result_url` (the main output's download URL) once done."""
    return task_out(session, scoped(session, Task, task_id, workspace, "task"), links(request))


def _check_task(task_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep) -> None:
    scoped(session, Task, task_id, workspace, "task")


async def _run_task_action(
    services: Any, caller: Any, workspace_id: uuid.UUID, idem: Any, action: Any, intent: str
) -> TurnOut:
    """Run one task.* action through the router, replaying the first answer for a repeated key."""

    async def handler() -> TurnOut:
        return await run_actions(
            services, caller, workspace_id, [action], intent=intent, idempotency_key=idem.turn_key
        )

    return await idem.run(status.HTTP_202_ACCEPTED, handler)  # type: ignore[no-any-return]


@router.post(
    "/{task_id}/cancel",
    response_model=TurnOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses=responses(409, 503),
)
async def cancel_task(
    task_id: uuid.UUID,
    workspace: WorkspaceDep,
    caller: CallerDep,
    services: ServicesDep,
    idem: IdempotencyDep,
    _: Annotated[None, Depends(_check_task)],
) -> TurnOut:
    """Cancel a queued or running task (action `task.cancel`). Honours `Idempotency-Key`."""
    action = TaskCancel(args=TaskCancelArgs(task_id=str(task_id)))
    return await _run_task_action(services, caller, workspace.id, idem, action, "cancel task")


@router.post(
    "/{task_id}/retry",
    response_model=TurnOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses=responses(409, 429, 503),
    dependencies=[RateLimited],
)
async def retry_task(
    task_id: uuid.UUID,
    workspace: WorkspaceDep,
    caller: CallerDep,
    services: ServicesDep,
    idem: IdempotencyDep,
    _: Annotated[None, Depends(_check_task)],
) -> TurnOut:
    """Retry a failed or canceled task (action `task.retry`). Honours `Idempotency-Key`."""
    action = TaskRetry(args=TaskRetryArgs(task_id=str(task_id)))
    return await _run_task_action(services, caller, workspace.id, idem, action, "retry task")
