"""Version verbs: snapshots of a workspace and rollback to one.

Each function is the executor of one verb (``@executes``); it runs inside the turn's transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from schema import actions as A
from schema.domain_errors import NotFound
from schema.models import Snapshot, Workspace
from schema.repositories import snapshots
from schema.repositories import snapshots as snapshot_repo
from schema.repositories.snapshots import RollbackResult
from services.execution import ActionResult, Execution, executes
from services.resolve import TargetUnresolved
from services.rules import (
    emit,
)


@executes("version.snapshot")
def version_snapshot(ex: Execution, a: A.VersionSnapshot) -> ActionResult:
    snap = snapshots.take(
        ex.session, ex.ws.id, a.args.note or "manual snapshot", created_by=ex.caller.user_id
    )
    return ex.done(a, f"saved snapshot “{snap.note}”", snapshot_id=str(snap.id))


@executes("version.rollback")
def version_rollback(ex: Execution, a: A.VersionRollback) -> ActionResult:
    snap = ex.resolve.snapshot(a.args.snapshot_id, a.args.before)
    if ex.snapshot_id is not None and str(snap.id) == ex.snapshot_id:
        raise TargetUnresolved("that is the snapshot just taken; name an earlier change")
    outcome = snapshots.rollback(ex.session, snap.id)
    summary = f"rolled back to “{snap.note}”"
    if outcome.missing_work_item_ids:
        summary += f" ({len(outcome.missing_work_item_ids)} deleted shots could not come back)"
    return ex.done(
        a,
        summary,
        restored_snapshot_id=str(snap.id),
        restored_work_item_ids=[str(i) for i in outcome.restored_work_item_ids],
        missing_work_item_ids=[str(i) for i in outcome.missing_work_item_ids],
        missing_node_ids=[str(i) for i in outcome.missing_node_ids],
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
