"""Version verbs: snapshots of a workspace and rollback to one.

Each function is the executor of one verb (``@executes``); it runs inside the turn's transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from schema import actions as A
from schema.domain_errors import NotFound
from schema.enums import ACTIVE_TASK_STATUSES, TaskType
from schema.models import Snapshot, Workspace
from schema.repositories import snapshots, tasks
from schema.repositories import snapshots as snapshot_repo
from schema.repositories.snapshots import RollbackResult
from services.execution import ActionResult, Execution, WorkflowCancel, executes
from services.resolve import TargetUnresolved
from services.rules import (
    emit,
)


def rollback_summary(note: str, changes: list[str]) -> str:
    """Rollback says exactly what it restored (and a proposal shows it before it runs)."""
    if not changes:
        return f"rolled back to “{note}”: nothing had changed since, nothing to restore"
    shown = "; ".join(changes[:8]) + (f"; and {len(changes) - 8} more" if len(changes) > 8 else "")
    return f"rolled back to “{note}”: restored {shown}"


@executes("version.snapshot")
def version_snapshot(ex: Execution, a: A.VersionSnapshot) -> ActionResult:
    snap = snapshots.take(
        ex.session, ex.ws.id, a.args.note or "manual snapshot", created_by=ex.caller.user_id
    )
    return ex.done(a, f"saved snapshot “{snap.note}”", snapshot_id=str(snap.id))


# generations whose result would land on the restored state (an export changes nothing)
_GENERATIONS = tuple(t for t in TaskType if t not in (TaskType.export, TaskType.agent_turn))


def _cancel_generations_since(ex: Execution, snap: Snapshot) -> list[str]:
    """Rolling back while a generation started after the snapshot is still running would let its
    result undo the rollback the moment it lands: those generations are cancelled with it."""
    running = tasks.list_tasks(
        ex.session, ex.ws.id, status=ACTIVE_TASK_STATUSES, type=_GENERATIONS, limit=500
    )
    since = [t for t in running if t.parent_task_id is None and t.created_at >= snap.created_at]
    for t in since:
        if t.workflow_id:
            ex.cancels.append(WorkflowCancel(ex.index, t.workflow_id, str(t.id)))
        else:
            tasks.mark_canceled(ex.session, t.id)
    return [str(t.id) for t in since]


@executes("version.rollback")
def version_rollback(ex: Execution, a: A.VersionRollback) -> ActionResult:
    snap = ex.resolve.snapshot(a.args.snapshot_id, a.args.before)
    if ex.snapshot_id is not None and str(snap.id) == ex.snapshot_id:
        raise TargetUnresolved("that is the snapshot just taken; name an earlier change")
    outcome = snapshots.rollback(ex.session, snap.id)
    summary = rollback_summary(snap.note, outcome.changes)
    if outcome.missing_work_item_ids:
        summary += f" ({len(outcome.missing_work_item_ids)} deleted shots could not come back)"
    canceled = _cancel_generations_since(ex, snap)
    if canceled:
        n = len(canceled)
        what = f"{n} generations" if n > 1 else "1 generation"
        summary += f"; cancels {what} started since (its result would overwrite what is restored)"
    return ex.done(
        a,
        summary,
        canceled_task_ids=canceled,
        restored_snapshot_id=str(snap.id),
        restored_work_item_ids=[str(i) for i in outcome.restored_work_item_ids],
        missing_work_item_ids=[str(i) for i in outcome.missing_work_item_ids],
        missing_node_ids=[str(i) for i in outcome.missing_node_ids],
        restored=outcome.changes,
    )


# --- id-based edits: the CRUD routes' path (same rules, see services/rules.py) -----------------


def take_snapshot(
    session: Session,
    workspace: Workspace,
    note: str = "",
    *,
    work_item_id: uuid.UUID | None = None,
    by: str | None = None,
) -> Snapshot:
    """Save every work item's selection, spec, locks, duration and position (or one item's)."""
    snapshot = snapshot_repo.take(session, workspace.id, note, work_item_id=work_item_id, created_by=by)
    emit(session, workspace, "snapshot.created", snapshot_id=str(snapshot.id), note=snapshot.note)
    return snapshot


@dataclass(frozen=True)
class Rollback:
    safety: Snapshot  # taken first, so the rollback itself can be undone
    result: RollbackResult


def rollback_snapshot(
    session: Session, workspace: Workspace, snapshot_id: uuid.UUID, *, by: str | None = None
) -> Rollback:
    """Restore the snapshot after taking a safety snapshot of the same scope."""
    snapshot = snapshot_repo.get(session, snapshot_id)
    if snapshot is None:
        raise NotFound("snapshot", snapshot_id)
    safety = snapshot_repo.take(
        session,
        workspace.id,
        f"before rollback to {snapshot.note or snapshot.id}"[:200],
        work_item_id=snapshot.work_item_id,
        created_by=by,
    )
    result = snapshot_repo.rollback(session, snapshot_id)
    emit(
        session,
        workspace,
        "snapshot.rolled_back",
        snapshot_id=str(snapshot_id),
        safety_snapshot_id=str(safety.id),
        restored=len(result.restored_work_item_ids),
    )
    return Rollback(safety=safety, result=result)
