"""Version verbs: snapshots of a workspace and rollback to one.

Each function is the executor of one verb (``@executes``); it runs inside the turn's transaction.
"""

from __future__ import annotations

from schema import actions as A
from schema.repositories import snapshots
from services.execution import ActionResult, Execution, executes
from services.resolve import TargetUnresolved


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
