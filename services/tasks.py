"""Task verbs: status, list, cancel and retry the durable work of a workspace.

Each function is the executor of one verb (``@executes``); it runs inside the turn's transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

from schema import actions as A
from schema.domain_errors import InvalidTransition
from schema.enums import ACTIVE_TASK_STATUSES, USER_TASK_TYPES, TaskStatus, TaskType
from schema.models import Task
from schema.repositories import snapshots, tasks, work_items
from services.execution import (
    RETRYABLE_TYPES,
    WORKFLOW_KINDS,
    ActionResult,
    Execution,
    WorkflowCancel,
    build_input,
    executes,
)
from services.resolve import DEFAULT_TRACK
from workflows.grid import grid_workflow_id
from workflows.music import music_workflow_id


def _task_view(t: Task) -> dict[str, Any]:
    return {
        "id": str(t.id),
        "type": t.type.value,
        "status": t.status.value,
        "progress": t.progress,
        "workflow_id": t.workflow_id,
        "work_item_id": str(t.work_item_id) if t.work_item_id else None,
        "error": t.error,
    }


@executes("task.status")
def task_status(ex: Execution, a: A.TaskStatusAction) -> ActionResult:
    if a.args.task_id:
        t = ex.resolve.task(a.args.task_id)
        return ex.done(a, f"{t.type.value} task is {t.status.value}", task=_task_view(t))
    recent = tasks.list_tasks(ex.session, ex.ws.id, type=USER_TASK_TYPES, limit=1)
    counts = _counts(
        ex,
    )
    summary = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no tasks yet"
    return ex.done(a, summary, counts=counts, latest=_task_view(recent[0]) if recent else None)


def _counts(ex: Execution) -> dict[str, int]:
    rows = tasks.list_tasks(ex.session, ex.ws.id, type=USER_TASK_TYPES, limit=1000)
    counts: dict[str, int] = {}
    for t in rows:
        counts[t.status.value] = counts.get(t.status.value, 0) + 1
    return counts


@executes("task.list")
def task_list(ex: Execution, a: A.TaskList) -> ActionResult:
    status: Any = a.args.status
    if status == "running":  # "what is running?" includes what is about to run
        status = ACTIVE_TASK_STATUSES
    kind = a.args.kind
    types = USER_TASK_TYPES if kind in (None, "all") else TaskType(kind)
    rows = tasks.list_tasks(ex.session, ex.ws.id, status=status, type=types, limit=50)
    views = [_task_view(t) for t in rows]
    if not rows:
        summary = "no matching tasks"
    else:
        by: dict[str, int] = {}
        for t in rows:
            key = f"{t.type.value} {t.status.value}"
            by[key] = by.get(key, 0) + 1
        summary = "; ".join(f"{n}× {k}" for k, n in by.items())
    return ex.done(a, summary, tasks=views)


@executes("task.cancel")
def task_cancel(ex: Execution, a: A.TaskCancel) -> ActionResult:
    args = a.args
    if args.task_id:
        t = ex.resolve.task(args.task_id)
        candidates = [t] if t.status in ACTIVE_TASK_STATUSES else []
    else:
        types = USER_TASK_TYPES if args.kind in (None, "all") else TaskType(args.kind)
        candidates = tasks.list_tasks(ex.session, ex.ws.id, status=ACTIVE_TASK_STATUSES, type=types)
        if args.shots is not None:
            wanted = {i.id for i in ex.resolve.shots(args.shots)}
            candidates = [t for t in candidates if t.work_item_id in wanted]
    for t in candidates:
        if t.workflow_id:
            ex.cancels.append(WorkflowCancel(ex.index, t.workflow_id, str(t.id)))
        else:
            tasks.mark_canceled(ex.session, t.id)
    if not candidates:
        return ex.done(a, "nothing to cancel: no matching task is running", canceled_task_ids=[])
    n = len(candidates)
    return ActionResult(
        a.type,
        "done",
        data={
            "summary": f"cancelling {n} task{'s' if n > 1 else ''}",
            "canceled_task_ids": [str(t.id) for t in candidates],
        },
        task_ids=[str(t.id) for t in candidates],
        workflow_ids=[t.workflow_id for t in candidates if t.workflow_id],
    )


@executes("task.retry")
def task_retry(ex: Execution, a: A.TaskRetry) -> ActionResult:
    ws = ex.ws
    if a.args.task_id:
        t = ex.resolve.task(a.args.task_id)
        if t.status not in (TaskStatus.failed, TaskStatus.canceled):
            raise InvalidTransition(
                f"the task is {t.status.value}; only failed or canceled tasks can be retried",
                code="task_not_failed",
            )
        candidates = [t]
    else:
        recent = tasks.list_tasks(ex.session, ws.id, type=USER_TASK_TYPES, limit=500)
        retried = {
            str((t.payload or {}).get("retry_of")) for t in recent if (t.payload or {}).get("retry_of")
        }
        latest: dict[tuple[str, str], Task] = {}
        for t in recent:  # newest first: the newest attempt per (type, work item) decides
            slot = (t.type.value, str(t.work_item_id))
            latest.setdefault(slot, t)
        candidates = [
            t
            for t in latest.values()
            if t.status == TaskStatus.failed and t.type in RETRYABLE_TYPES and str(t.id) not in retried
        ]
    started: list[tuple[str, str]] = []
    skipped: list[str] = []
    for t in candidates:
        spec = _retry_spec(ex, t)
        if spec is None:
            skipped.append(str(t.id))
            continue
        kind, data, workflow_id = spec
        inp = build_input(kind, data, ex.router.queues)
        started.append(ex.start(kind, workflow_id, inp, t.work_item_id, retry_of=str(t.id)))
    if not started:
        summary = "nothing to retry" if not skipped else "those tasks cannot be retried"
        return ex.done(a, summary, skipped_task_ids=skipped)
    n = len(started)
    return ex.started(
        a, started, summary=f"retrying {n} task{'s' if n > 1 else ''}", skipped_task_ids=skipped
    )


def _retry_spec(ex: Execution, t: Task) -> tuple[str, dict[str, Any], str] | None:
    """(kind, input, new workflow id) to run a failed task again, from its stored payload."""
    payload = t.payload or {}
    kind = payload.get("workflow") or t.type.value
    if kind not in WORKFLOW_KINDS:
        return None
    data = dict(payload.get("input") or {})
    data.setdefault("workspace_id", str(t.workspace_id))
    wi = str(t.work_item_id) if t.work_item_id else data.get("work_item_id")
    if kind in ("grid", "video", "voice") and not wi:
        return None  # its shot was deleted
    if kind == "grid":
        group = str(uuid.uuid4())
        data.setdefault("size", payload.get("size", 4))
        data.setdefault("track", payload.get("track", DEFAULT_TRACK))
        data.update(work_item_id=wi, group_node_id=group)
        return kind, data, grid_workflow_id(str(wi), group)
    if kind in ("video", "voice"):
        data["work_item_id"] = wi
        return kind, data, f"{kind}-{wi}-{uuid.uuid4()}"
    if kind == "compose":
        data.setdefault("mode", payload.get("mode", "preview"))
        return kind, data, f"compose-{t.workspace_id}-{uuid.uuid4()}"
    if kind == "music":  # a child of compose has no stored input: its activity's payload says
        data.setdefault("mood", payload.get("mood") or "auto")
        data.setdefault("duration_s", payload.get("duration_s"))
        return kind, data, music_workflow_id(str(t.workspace_id), str(uuid.uuid4()))
    if kind == "export":
        return kind, data, f"export-{t.workspace_id}-{uuid.uuid4()}"
    if "story" not in data:
        return None  # storyboard: needs its story
    existing = work_items.list_shots(ex.session, t.workspace_id)
    if existing and not data.get("replace"):
        return None  # a first storyboard never overwrites shots made since it failed
    if existing:  # a confirmed rebuild that failed: run it again, snapshot first so undo restores
        snapshots.take(ex.session, t.workspace_id, "before retrying the storyboard rebuild")
        data["replace"] = True
        return kind, data, f"storyboard-{t.workspace_id}-rebuild-{uuid.uuid4().hex[:12]}"
    data["replace"] = False
    return kind, data, f"storyboard-{t.workspace_id}"
