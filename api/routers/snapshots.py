"""Snapshots: save selections and specs, list, diff (against now or another snapshot), roll back."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import CallerDep, SessionDep, WorkspaceDep, scoped
from api.errors import ApiError, responses
from api.schemas import (
    FieldChange,
    RollbackOut,
    SnapshotCreate,
    SnapshotDetail,
    SnapshotDiff,
    SnapshotOut,
    WorkItemDiff,
)
from schema.models import Snapshot, WorkItem, Workspace
from schema.repositories import snapshots as snapshot_repo
from services import versions as version_service

router = APIRouter(prefix="/workspaces/{workspace_id}/snapshots", tags=["snapshots"])

ITEM_FIELDS = ("selected_node_id", "spec", "locks", "duration_s", "scene_id")
WORKSPACE_FIELDS = ("style", "style_spec", "rules")


@router.post("", response_model=SnapshotOut, status_code=status.HTTP_201_CREATED)
def create_snapshot(
    body: SnapshotCreate, workspace: WorkspaceDep, session: SessionDep, caller: CallerDep
) -> Snapshot:
    """Save every work item's selection, spec, locks, duration and position (and the style/rules)."""
    if body.work_item_id is not None:
        scoped(session, WorkItem, body.work_item_id, workspace, "work_item")
    snapshot = version_service.take_snapshot(
        session, workspace, body.note, work_item_id=body.work_item_id, by=caller.user_id
    )
    session.commit()
    return snapshot


@router.get("", response_model=list[SnapshotOut])
def list_snapshots(
    workspace: WorkspaceDep, session: SessionDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[Snapshot]:
    """Newest first."""
    return snapshot_repo.list_for_workspace(session, workspace.id, limit=limit)


@router.get("/{snapshot_id}", response_model=SnapshotDetail)
def get_snapshot(snapshot_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep) -> Snapshot:
    return scoped(session, Snapshot, snapshot_id, workspace, "snapshot")


def _current_state(session: Session, workspace: Workspace, work_item_id: uuid.UUID | None) -> dict[str, Any]:
    stmt = select(WorkItem).where(WorkItem.workspace_id == workspace.id)
    if work_item_id is not None:
        stmt = stmt.where(WorkItem.id == work_item_id)
    items = session.scalars(stmt.order_by(WorkItem.idx.nulls_last(), WorkItem.created_at, WorkItem.id))
    return {
        "work_items": [
            {
                "id": str(i.id),
                "type": i.type.value,
                "idx": i.idx,
                "scene_id": None if i.scene_id is None else str(i.scene_id),
                "selected_node_id": None if i.selected_node_id is None else str(i.selected_node_id),
                "spec": i.spec,
                "locks": i.locks,
                "duration_s": i.duration_s,
            }
            for i in items
        ],
        "workspace": {"style": workspace.style, "style_spec": workspace.style_spec, "rules": workspace.rules},
    }


def diff_states(
    snapshot_id: uuid.UUID, before: dict[str, Any], after: dict[str, Any], against: str
) -> SnapshotDiff:
    old = {e["id"]: e for e in before.get("work_items", [])}
    new = {e["id"]: e for e in after.get("work_items", [])}
    changed = []
    for item_id, entry in old.items():
        other = new.get(item_id)
        if other is None:
            continue
        changes = [
            FieldChange(field=f, before=entry.get(f), after=other.get(f))
            for f in ITEM_FIELDS
            if entry.get(f) != other.get(f)
        ]
        if changes or entry.get("idx") != other.get("idx"):
            changed.append(
                WorkItemDiff(
                    work_item_id=uuid.UUID(item_id),
                    idx_before=entry.get("idx"),
                    idx_after=other.get("idx"),
                    changes=changes,
                )
            )
    ws_before, ws_after = before.get("workspace"), after.get("workspace")
    ws_changes = []
    if ws_before is not None and ws_after is not None:
        ws_changes = [
            FieldChange(field=f, before=ws_before.get(f), after=ws_after.get(f))
            for f in WORKSPACE_FIELDS
            if ws_before.get(f) != ws_after.get(f)
        ]
    return SnapshotDiff(
        snapshot_id=snapshot_id,
        against=against,
        added=[uuid.UUID(i) for i in new if i not in old],
        removed=[uuid.UUID(i) for i in old if i not in new],
        changed=changed,
        workspace_changes=ws_changes,
    )


@router.get("/{snapshot_id}/diff", response_model=SnapshotDiff)
def diff_snapshot(
    snapshot_id: uuid.UUID,
    workspace: WorkspaceDep,
    session: SessionDep,
    against: Annotated[
        uuid.UUID | None, Query(description="Another snapshot of this workspace (default: the current state)")
    ] = None,
) -> SnapshotDiff:
    """What changed since the snapshot (or between two snapshots): added/removed work items, and
    per work item the changed selection, spec, locks, duration, scene and position."""
    snapshot = scoped(session, Snapshot, snapshot_id, workspace, "snapshot")
    if against is not None:
        other = scoped(session, Snapshot, against, workspace, "snapshot")
        if other.work_item_id != snapshot.work_item_id:
            raise ApiError(422, "snapshot_scope_mismatch", "the snapshots cover different scopes")
        after, label = other.data, str(against)
    else:
        after, label = _current_state(session, workspace, snapshot.work_item_id), "current"
        if snapshot.work_item_id is not None:
            after.pop("workspace")
    return diff_states(snapshot_id, snapshot.data, after, label)


@router.post("/{snapshot_id}/rollback", response_model=RollbackOut, responses=responses(409))
def rollback_snapshot(
    snapshot_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep, caller: CallerDep
) -> RollbackOut:
    """Restore the snapshot's selections, specs, locks, durations and shot order (and style/rules).
    A safety snapshot is taken first, so the rollback itself can be undone."""
    scoped(session, Snapshot, snapshot_id, workspace, "snapshot")
    outcome = version_service.rollback_snapshot(session, workspace, snapshot_id, by=caller.user_id)
    session.commit()
    result = outcome.result
    return RollbackOut(
        snapshot_id=snapshot_id,
        safety_snapshot_id=outcome.safety.id,
        restored_work_item_ids=result.restored_work_item_ids,
        missing_work_item_ids=result.missing_work_item_ids,
        missing_node_ids=result.missing_node_ids,
    )
