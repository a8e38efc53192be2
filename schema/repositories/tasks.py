"""Tasks: the execution ledger, mirrored from the workflow engine.

Rules: one task per workflow id (`create`, `upsert_running` and `record_outcome` are idempotent
on it). Status moves queued -> running -> succeeded | failed | canceled (queued may also end
directly); final states stay final except through `requeue` (retry: back to queued, retries + 1)
or a new run of the same workflow id (`upsert_running` with another run id). Every transition is
one conditional statement (`... WHERE status IN (allowed)`), so a late or duplicated report
cannot overwrite a newer state; repeating the transition that already happened is a no-op.
A task is addressed by its id (UUID) or by its workflow id (str).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, case, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from schema.domain_errors import Conflict, InvalidInput, InvalidTransition, NotFound
from schema.enums import ACTIVE_TASK_STATUSES, TERMINAL_TASK_STATUSES, TaskStatus, TaskType
from schema.models import Task

TaskKey = uuid.UUID | str  # a task id, or a workflow id

_FROM: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.running: frozenset({TaskStatus.queued}),
    TaskStatus.succeeded: frozenset(ACTIVE_TASK_STATUSES),
    TaskStatus.failed: frozenset(ACTIVE_TASK_STATUSES),
    TaskStatus.canceled: frozenset(ACTIVE_TASK_STATUSES),
    TaskStatus.partial: frozenset(ACTIVE_TASK_STATUSES),
    TaskStatus.queued: frozenset({TaskStatus.failed, TaskStatus.canceled, TaskStatus.partial}),
}
_ACTIVE = [s.value for s in ACTIVE_TASK_STATUSES]


# --- creation ------------------------------------------------------------------------


def create(
    session: Session,
    *,
    workspace_id: uuid.UUID,
    type: TaskType,
    workflow_id: str | None = None,
    run_id: str | None = None,
    work_item_id: uuid.UUID | None = None,
    payload: Mapping[str, Any] | None = None,
    parent_task_id: uuid.UUID | None = None,
    trace_id: str | None = None,
    idempotency_key: str | None = None,
) -> Task:
    """A queued task; with `workflow_id`, the task already recorded for that workflow is returned."""
    values = _values(
        workspace_id=workspace_id,
        type=type,
        status=TaskStatus.queued,
        workflow_id=workflow_id,
        run_id=run_id,
        work_item_id=work_item_id,
        payload=payload,
        parent_task_id=parent_task_id,
        trace_id=trace_id,
        idempotency_key=idempotency_key,
    )
    if workflow_id is None:
        task = Task(**values)
        session.add(task)
        session.flush()
        return task
    inserted = session.scalars(
        _insert(values).on_conflict_do_nothing(**_ON_WORKFLOW_ID).returning(Task)
    ).one_or_none()
    return inserted if inserted is not None else _existing(session, workflow_id, workspace_id)


def upsert_running(
    session: Session,
    *,
    workspace_id: uuid.UUID,
    workflow_id: str,
    type: TaskType,
    run_id: str | None = None,
    work_item_id: uuid.UUID | None = None,
    parent_workflow_id: str | None = None,
    payload: Mapping[str, Any] | None = None,
    retries: int = 0,
    trace_id: str | None = None,
) -> Task:
    """Record that the workflow's work started (creating the task when the workflow was started
    without one). An active task becomes running (retries = max(retries, given)); a finished
    task is restarted only by a new run id (retries + 1), otherwise it is returned unchanged."""
    parent_task_id = None
    if parent_workflow_id is not None:
        parent_task_id = select(Task.id).where(Task.workflow_id == parent_workflow_id).scalar_subquery()
    values = _values(
        workspace_id=workspace_id,
        type=type,
        status=TaskStatus.running,
        workflow_id=workflow_id,
        run_id=run_id,
        work_item_id=work_item_id,
        payload=payload,
        parent_task_id=parent_task_id,
        trace_id=trace_id,
        retries=retries,
        started_at=func.clock_timestamp(),
    )
    stmt = _insert(values)
    active = Task.status.in_(_ACTIVE)
    stmt = stmt.on_conflict_do_update(
        **_ON_WORKFLOW_ID,
        set_={
            "status": TaskStatus.running,
            "run_id": func.coalesce(stmt.excluded.run_id, Task.run_id),
            "started_at": case(
                (active, func.coalesce(Task.started_at, func.clock_timestamp())), else_=func.clock_timestamp()
            ),
            "retries": case(
                (active, func.greatest(Task.retries, stmt.excluded.retries)), else_=Task.retries + 1
            ),
            "error": case((active, Task.error), else_=None),
            "finished_at": None,
            "progress": case((active, Task.progress), else_=0.0),
            "trace_id": func.coalesce(Task.trace_id, stmt.excluded.trace_id),
            "updated_at": func.clock_timestamp(),
        },
        where=active
        | (stmt.excluded.run_id.is_not(None) & Task.run_id.is_distinct_from(stmt.excluded.run_id)),
    )
    written = session.scalars(
        stmt.returning(Task), execution_options={"populate_existing": True}
    ).one_or_none()
    if written is not None:
        if written.workspace_id != workspace_id:
            raise Conflict(
                f"workflow id {workflow_id!r} belongs to another workspace", code="workflow_id_reused"
            )
        return written
    return _existing(session, workflow_id, workspace_id)


def record_outcome(
    session: Session,
    *,
    workspace_id: uuid.UUID,
    workflow_id: str,
    type: TaskType,
    status: TaskStatus,
    work_item_id: uuid.UUID | None = None,
    error: Mapping[str, Any] | None = None,
    result: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> Task:
    """Record how the workflow ended (creating the task if it was never recorded). Only an active
    task changes; a task already final is returned as it is (first final report wins). The
    reporting run's id is kept, so a late activity start of that same run (cancelled before its
    worker got to it) cannot reopen the task (`upsert_running` restarts only a new run)."""
    status = TaskStatus(status)
    if status not in TERMINAL_TASK_STATUSES:
        raise InvalidInput("an outcome is succeeded, partial, failed or canceled", code="outcome_not_final")
    values = _values(
        workspace_id=workspace_id,
        type=type,
        status=status,
        workflow_id=workflow_id,
        run_id=run_id,
        work_item_id=work_item_id,
        error=None if error is None else dict(error),
        result=None if result is None else dict(result),
        finished_at=func.clock_timestamp(),
        progress=1.0 if status in (TaskStatus.succeeded, TaskStatus.partial) else 0.0,
    )
    stmt = _insert(values)
    stmt = stmt.on_conflict_do_update(
        **_ON_WORKFLOW_ID,
        set_={
            "status": status,
            "run_id": func.coalesce(stmt.excluded.run_id, Task.run_id),
            "error": stmt.excluded.error,
            "result": func.coalesce(stmt.excluded.result, Task.result),
            "finished_at": func.clock_timestamp(),
            "progress": 1.0 if status in (TaskStatus.succeeded, TaskStatus.partial) else Task.progress,
            "updated_at": func.clock_timestamp(),
        },
        where=Task.status.in_(_ACTIVE),
    )
    written = session.scalars(
        stmt.returning(Task), execution_options={"populate_existing": True}
    ).one_or_none()
    return written if written is not None else _existing(session, workflow_id, workspace_id)


# --- reads ---------------------------------------------------------------------------


def get(session: Session, task_id: uuid.UUID) -> Task | None:
    return session.get(Task, task_id)


def require_task(session: Session, task: TaskKey) -> Task:
    row = session.scalar(select(Task).where(_key(task)))
    if row is None:
        raise NotFound("task", task)
    return row


def get_by_workflow_id(session: Session, workflow_id: str) -> Task | None:
    return session.scalar(select(Task).where(Task.workflow_id == workflow_id))


def list_tasks(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    status: TaskStatus | Collection[TaskStatus] | None = None,
    type: TaskType | Collection[TaskType] | None = None,
    work_item_id: uuid.UUID | None = None,
    parent_task_id: uuid.UUID | None = None,
    limit: int = 200,
) -> list[Task]:
    """Newest first, filtered by status(es), type(s), work item and parent task."""
    stmt = select(Task).where(Task.workspace_id == workspace_id)
    if status is not None:
        statuses = [TaskStatus(status)] if isinstance(status, str) else [TaskStatus(s) for s in status]
        stmt = stmt.where(Task.status.in_(statuses))
    if type is not None:
        types = [TaskType(type)] if isinstance(type, str) else [TaskType(t) for t in type]
        stmt = stmt.where(Task.type.in_(types))
    if work_item_id is not None:
        stmt = stmt.where(Task.work_item_id == work_item_id)
    if parent_task_id is not None:
        stmt = stmt.where(Task.parent_task_id == parent_task_id)
    return list(session.scalars(stmt.order_by(Task.created_at.desc(), Task.id).limit(limit)))


def list_active(session: Session, workspace_id: uuid.UUID, *, type: TaskType | None = None) -> list[Task]:
    """Queued and running tasks ("what is running?", "cancel all video jobs")."""
    return list_tasks(session, workspace_id, status=ACTIVE_TASK_STATUSES, type=type)


def count_by_status(session: Session, workspace_id: uuid.UUID) -> dict[str, int]:
    """How many tasks the workspace has per status value (statuses with none are absent)."""
    stmt = select(Task.status, func.count()).where(Task.workspace_id == workspace_id).group_by(Task.status)
    return {TaskStatus(status).value: int(n) for status, n in session.execute(stmt)}


class UsageRow(NamedTuple):
    type: TaskType
    tasks: int
    succeeded: int
    failed: int
    canceled: int
    busy_seconds: float  # started → finished, summed
    gpu_seconds: float
    cost: Decimal | None  # None: nothing of this type had a configured price


def usage_by_type(
    session: Session, workspace_id: uuid.UUID, types: Collection[TaskType] | None = None
) -> list[UsageRow]:
    """What the workspace's tasks used, per task type, in one statement: counts by outcome, wall
    seconds of work, measured GPU seconds and priced cost (from the task rows)."""

    def outcome(status: TaskStatus) -> Any:
        return func.count().filter(Task.status == status)

    busy = func.extract("epoch", Task.finished_at - Task.started_at)
    stmt = (
        select(
            Task.type,
            func.count(),
            outcome(TaskStatus.succeeded),
            outcome(TaskStatus.failed),
            outcome(TaskStatus.canceled),
            func.coalesce(func.sum(busy), 0.0),
            func.coalesce(func.sum(Task.gpu_seconds), 0.0),
            func.sum(Task.cost),
        )
        .where(Task.workspace_id == workspace_id)
        .group_by(Task.type)
        .order_by(Task.type)
    )
    if types is not None:
        stmt = stmt.where(Task.type.in_(list(types)))
    return [
        UsageRow(TaskType(t), int(n), int(ok), int(bad), int(stop), float(b), float(g), cost)
        for t, n, ok, bad, stop, b, g, cost in session.execute(stmt)
    ]


# --- transitions ---------------------------------------------------------------------


def mark_running(session: Session, task: TaskKey, *, run_id: str | None = None) -> Task:
    changes: dict[str, Any] = {"started_at": func.coalesce(Task.started_at, func.clock_timestamp())}
    if run_id is not None:
        changes["run_id"] = run_id
    return _transition(session, task, TaskStatus.running, changes)


def mark_succeeded(
    session: Session,
    task: TaskKey,
    *,
    result: Mapping[str, Any] | None = None,
    cost: Decimal | float | None = None,
    gpu_seconds: float | None = None,
) -> Task:
    changes: dict[str, Any] = {"finished_at": func.clock_timestamp(), "progress": 1.0, "error": None}
    if result is not None:
        changes["result"] = dict(result)
    if cost is not None:
        changes["cost"] = Decimal(str(cost))
    if gpu_seconds is not None:
        changes["gpu_seconds"] = gpu_seconds
    return _transition(session, task, TaskStatus.succeeded, changes)


def mark_failed(
    session: Session, task: TaskKey, code: str, message: str, *, result: Mapping[str, Any] | None = None
) -> Task:
    changes: dict[str, Any] = {
        "finished_at": func.clock_timestamp(),
        "error": {"code": code, "message": message},
    }
    if result is not None:
        changes["result"] = dict(result)
    return _transition(session, task, TaskStatus.failed, changes)


def mark_canceled(session: Session, task: TaskKey) -> Task:
    return _transition(session, task, TaskStatus.canceled, {"finished_at": func.clock_timestamp()})


def requeue(session: Session, task: TaskKey, *, run_id: str | None = None) -> Task:
    """Retry a failed or canceled task: back to queued, retries + 1, error cleared."""
    changes: dict[str, Any] = {
        "retries": Task.retries + 1,
        "error": None,
        "finished_at": None,
        "started_at": None,
        "progress": 0.0,
        "queued_at": func.clock_timestamp(),
    }
    if run_id is not None:
        changes["run_id"] = run_id
    return _transition(session, task, TaskStatus.queued, changes, repeat_is_noop=False)


def record_retry(session: Session, task: TaskKey) -> Task:
    """Count one more attempt of an active task (an activity retried by the engine)."""
    session.flush()
    row = session.scalars(
        update(Task)
        .where(_key(task), Task.status.in_(_ACTIVE))
        .values(retries=Task.retries + 1)
        .returning(Task),
        execution_options={"populate_existing": True},
    ).one_or_none()
    return row if row is not None else _explain(session, task, None)


def set_progress(session: Session, task: TaskKey, progress: float) -> Task:
    """Progress 0..1 of an active task; never moves backwards; ignored once the task ended."""
    if not 0.0 <= progress <= 1.0:
        raise InvalidInput("progress is a fraction in 0..1", code="progress_out_of_range")
    session.flush()
    row = session.scalars(
        update(Task)
        .where(_key(task), Task.status.in_(_ACTIVE))
        .values(progress=func.greatest(Task.progress, progress))
        .returning(Task),
        execution_options={"populate_existing": True},
    ).one_or_none()
    if row is not None:
        return row
    existing = session.scalar(select(Task).where(_key(task)).execution_options(populate_existing=True))
    if existing is None:
        raise NotFound("task", task)
    return existing


# --- internals -----------------------------------------------------------------------

_ON_WORKFLOW_ID: dict[str, Any] = {
    "index_elements": [Task.workflow_id],
    "index_where": Task.workflow_id.is_not(None),
}


def _key(task: TaskKey) -> ColumnElement[bool]:
    return Task.id == task if isinstance(task, uuid.UUID) else Task.workflow_id == task


def _values(**values: Any) -> dict[str, Any]:
    values["id"] = uuid.uuid4()
    values["type"] = TaskType(values["type"])
    values["payload"] = dict(values.get("payload") or {})
    return values


def _insert(values: Mapping[str, Any]) -> Any:
    return pg_insert(Task).values(**values)


def _existing(session: Session, workflow_id: str, workspace_id: uuid.UUID) -> Task:
    existing = session.scalar(
        select(Task).where(Task.workflow_id == workflow_id).execution_options(populate_existing=True)
    )
    assert existing is not None
    if existing.workspace_id != workspace_id:
        raise Conflict(f"workflow id {workflow_id!r} belongs to another workspace", code="workflow_id_reused")
    return existing


def _transition(
    session: Session,
    task: TaskKey,
    target: TaskStatus,
    changes: Mapping[str, Any],
    *,
    repeat_is_noop: bool = True,
) -> Task:
    session.flush()
    stmt = (
        update(Task)
        .where(_key(task), Task.status.in_([s.value for s in _FROM[target]]))
        .values(status=target, **changes)
        .returning(Task)
    )
    row = session.scalars(stmt, execution_options={"populate_existing": True}).one_or_none()
    if row is not None:
        return row
    return _explain(session, task, target if repeat_is_noop else None)


def _explain(session: Session, task: TaskKey, noop_status: TaskStatus | None) -> Task:
    row = session.scalar(select(Task).where(_key(task)).execution_options(populate_existing=True))
    if row is None:
        raise NotFound("task", task)
    if noop_status is not None and row.status == noop_status:
        return row
    final = row.status in TERMINAL_TASK_STATUSES
    raise InvalidTransition(
        f"task {task} is {row.status.value} ({'final' if final else 'active'})",
        code="task_already_finished" if final else "task_not_finished",
        status=row.status.value,
    )
