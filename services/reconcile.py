"""The ledger heals itself: task rows still `queued`/`running` whose workflow has closed are settled.

Rule: Temporal is the truth about a workflow; a task row is only a mirror. A row is settled only
when Temporal *answers* that its workflow is closed (completed, failed, canceled, terminated, timed
out) or does not exist (and the row is older than the grace period, so a workflow about to be
started after its turn committed is not mistaken for a lost one). An unreachable Temporal settles
nothing. Settling uses the same "first final report wins" write as the workflows, so a sweep racing
a workflow's own report, or two sweeps (one per cpu worker) racing each other, change a row once.
Agent-turn rows have no workflow (their id is an idempotency key) and are left to their turn.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.service import RPCError, RPCStatusCode

from infra.ledger import unit_of_work
from schema.enums import ACTIVE_TASK_STATUSES, TaskStatus, TaskType
from schema.models import Task
from schema.repositories import events as event_repo
from schema.repositories import tasks as task_repo
from workflows.common import failure_code

log = logging.getLogger("directordeck.reconcile")

DEFAULT_GRACE_S = 60.0
DESCRIBE_TIMEOUT_S = 10.0
_PARALLEL_DESCRIBES = 8


@dataclass(frozen=True)
class Outcome:
    """How a closed (or never started) workflow ended, as a task row records it."""

    status: TaskStatus
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class Settled:
    task_id: str
    workflow_id: str
    status: str
    code: str | None


_CLOSED: dict[WorkflowExecutionStatus, Outcome] = {
    WorkflowExecutionStatus.CANCELED: Outcome(TaskStatus.canceled),
    WorkflowExecutionStatus.TERMINATED: Outcome(
        TaskStatus.failed, "workflow_terminated", "the workflow was terminated before it recorded an outcome"
    ),
    WorkflowExecutionStatus.TIMED_OUT: Outcome(
        TaskStatus.failed, "workflow_timed_out", "the workflow timed out before it recorded an outcome"
    ),
}

NOT_FOUND = Outcome(
    TaskStatus.failed, "workflow_not_found", "its workflow never started or is no longer known to Temporal"
)


async def workflow_outcome(client: Client, workflow_id: str) -> Outcome | None:
    """The outcome of `workflow_id`'s latest run; None while it runs (or continued as new).
    Raises RPCError when Temporal does not answer (the caller settles nothing then)."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        desc = await handle.describe(rpc_timeout=timedelta(seconds=DESCRIBE_TIMEOUT_S))
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return NOT_FOUND
        raise
    status = desc.status
    if status in (None, WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.CONTINUED_AS_NEW):
        return None
    if status in _CLOSED:
        return _CLOSED[status]
    if status == WorkflowExecutionStatus.FAILED:
        try:
            await handle.result(rpc_timeout=timedelta(seconds=DESCRIBE_TIMEOUT_S))
        except WorkflowFailureError as err:
            code, message = failure_code(err.cause) if err.cause else ("workflow_failed", str(err))
            return Outcome(TaskStatus.failed, code, message[:500])
        return Outcome(TaskStatus.failed, "workflow_failed", "the workflow failed")
    # COMPLETED: a pipeline's result says `partial` itself; anything else completed is a success
    result: Any = await handle.result(rpc_timeout=timedelta(seconds=DESCRIBE_TIMEOUT_S))
    said = result.get("status") if isinstance(result, dict) else None
    if said in (TaskStatus.partial.value, TaskStatus.failed.value, TaskStatus.canceled.value):
        return Outcome(TaskStatus(said), "settled_by_reconciler", "recorded from the workflow's result")
    return Outcome(TaskStatus.succeeded)


def settle(database_url: str, task_id: uuid.UUID, outcome: Outcome) -> Task | None:
    """Record `outcome` on the task if it is still active (its event too); None if it had ended."""
    with unit_of_work(database_url) as session:
        row = task_repo.get(session, task_id)
        if row is None or row.status not in ACTIVE_TASK_STATUSES or row.workflow_id is None:
            return None
        error = None
        if outcome.code is not None and outcome.status != TaskStatus.succeeded:
            error = {"code": outcome.code, "message": outcome.message or outcome.code}
        written = task_repo.record_outcome(
            session,
            workspace_id=row.workspace_id,
            workflow_id=row.workflow_id,
            type=row.type,
            status=outcome.status,
            work_item_id=row.work_item_id,
            error=error,
        )
        event_repo.append(
            session,
            row.workspace_id,
            f"task.{outcome.status.value}",
            {
                "task_id": str(row.id),
                "workflow_id": row.workflow_id,
                "type": row.type.value,
                "settled_by": "reconciler",
                **({"error": error} if error else {}),
            },
        )
        return written


def _open_rows(database_url: str, grace_s: float, limit: int) -> list[tuple[uuid.UUID, str, bool]]:
    """(task id, workflow id, older than the grace period) of active rows that mirror a workflow."""
    with unit_of_work(database_url) as session:
        older = Task.updated_at < func.clock_timestamp() - timedelta(seconds=grace_s)
        stmt = (
            select(Task.id, Task.workflow_id, older)
            .where(
                Task.status.in_([s.value for s in ACTIVE_TASK_STATUSES]),
                Task.workflow_id.is_not(None),
                Task.type != TaskType.agent_turn,
            )
            .order_by(Task.updated_at)
            .limit(limit)
        )
        return [(r[0], r[1], bool(r[2])) for r in session.execute(stmt)]


async def reconcile_once(
    client: Client, database_url: str, *, grace_s: float = DEFAULT_GRACE_S, limit: int = 500
) -> list[Settled]:
    """One sweep: settle every active row whose workflow has closed; rows Temporal gives no answer
    about (it is down, a timeout) are left as they are for the next sweep."""
    rows = await asyncio.to_thread(_open_rows, database_url, grace_s, limit)
    gate = asyncio.Semaphore(_PARALLEL_DESCRIBES)

    async def check(task_id: uuid.UUID, workflow_id: str, old: bool) -> Settled | None:
        async with gate:
            outcome = await workflow_outcome(client, workflow_id)
        if outcome is None or (outcome is NOT_FOUND and not old):
            return None
        written = await asyncio.to_thread(settle, database_url, task_id, outcome)
        if written is None or written.status != outcome.status:
            return None
        log.warning(
            "settled task %s (workflow %s, closed in Temporal) as %s%s",
            task_id,
            workflow_id,
            outcome.status.value,
            f" ({outcome.code})" if outcome.code else "",
            extra={"task_id": str(task_id), "workflow_id": workflow_id},
        )
        return Settled(str(task_id), workflow_id, outcome.status.value, outcome.code)

    results = await asyncio.gather(*(check(*row) for row in rows), return_exceptions=True)
    settled = [r for r in results if isinstance(r, Settled)]
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        log.info("reconcile sweep: %d rows not checked (%s)", len(failures), failures[0])
    return settled
