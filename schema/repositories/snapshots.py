"""Snapshots: saved selections and specs, for one-sentence rollback.

Rule: a snapshot records, for every work item in scope (the whole workspace, or one work item),
its selected node, current clip and narration, spec, locks, duration and position; a workspace
snapshot also records the style, style spec, rules and the current cut and music. `rollback`
restores exactly those fields and says, in words, what it changed (`RollbackResult.changes`).
It never recreates deleted work items or nodes: what no longer exists is reported, not invented.
Shots created after the snapshot keep existing and are placed after the restored ones.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from schema.domain_errors import NotFound
from schema.enums import NodeStatus, WorkItemType
from schema.models import Node, Snapshot, WorkItem, Workspace
from schema.repositories import work_items
from schema.repositories._shared import require

SNAPSHOT_VERSION = 2  # 2: current clip / narration / cut / music pointers


@dataclass
class RollbackResult:
    restored_work_item_ids: list[uuid.UUID] = field(default_factory=list)
    missing_work_item_ids: list[uuid.UUID] = field(default_factory=list)  # deleted since the snapshot
    missing_node_ids: list[uuid.UUID] = field(default_factory=list)  # selection could not be restored
    changes: list[str] = field(default_factory=list)  # what the rollback actually changed, in words


def _shot_label(entry: dict[str, Any], item: WorkItem) -> str:
    idx = entry.get("idx") if entry.get("idx") is not None else item.idx
    return f"shot {idx}" if item.type == WorkItemType.shot else "draft"


# pointer column -> how a rollback names it (a snapshot of version 1 has no pointers: left as is)
_ITEM_POINTERS = {"current_video_node_id": "clip", "current_voice_node_id": "narration"}
_WORKSPACE_POINTERS = {"current_cut_node_id": "current cut", "current_music_node_id": "background music"}


def _text(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def _pointer(value: Any) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None


def _pointer_change(name: str, saved: uuid.UUID | None, now: uuid.UUID | None) -> str | None:
    if saved == now:
        return None
    return f"{name} back to the earlier one" if saved is not None else f"{name} unset (there was none)"


def _diff(entry: dict[str, Any], item: WorkItem, node_id: uuid.UUID | None) -> list[str]:
    saved_spec = entry.get("spec") or {}
    spec = item.spec or {}
    what = sorted(k for k in set(saved_spec) | set(spec) if saved_spec.get(k) != spec.get(k))
    out = [f"{k} back to {saved_spec[k]!r}" if k in saved_spec else f"{k} removed" for k in what]
    if (entry.get("locks") or {}) != (item.locks or {}):
        out.append("locks")
    if entry.get("duration_s") != item.duration_s:
        old = entry.get("duration_s")
        out.append(f"duration {item.duration_s:g} s → {old:g} s" if old and item.duration_s else "duration")
    if node_id != item.selected_node_id:
        out.append("selected image")
    return out


def take(
    session: Session,
    workspace_id: uuid.UUID,
    note: str = "",
    *,
    work_item_id: uuid.UUID | None = None,
    created_by: str | None = None,
) -> Snapshot:
    """Snapshot the workspace (every shot and draft) or a single work item."""
    workspace = require(session, Workspace, workspace_id)
    session.flush()
    stmt = select(WorkItem).where(WorkItem.workspace_id == workspace_id)
    if work_item_id is not None:
        stmt = stmt.where(WorkItem.id == work_item_id)
    items = list(session.scalars(stmt.order_by(WorkItem.idx.nulls_last(), WorkItem.created_at, WorkItem.id)))
    if work_item_id is not None and not items:
        raise NotFound("work_item", work_item_id)
    data: dict[str, Any] = {
        "version": SNAPSHOT_VERSION,
        "work_items": [
            {
                "id": str(item.id),
                "type": item.type.value,
                "idx": item.idx,
                "scene_id": None if item.scene_id is None else str(item.scene_id),
                "selected_node_id": None if item.selected_node_id is None else str(item.selected_node_id),
                "spec": item.spec,
                "locks": item.locks,
                "duration_s": item.duration_s,
                **{col: _text(getattr(item, col)) for col in _ITEM_POINTERS},
            }
            for item in items
        ],
    }
    if work_item_id is None:
        data["workspace"] = {
            "style": workspace.style,
            "style_spec": workspace.style_spec,
            "rules": workspace.rules,
            **{col: _text(getattr(workspace, col)) for col in _WORKSPACE_POINTERS},
        }
    snapshot = Snapshot(
        workspace_id=workspace_id, work_item_id=work_item_id, note=note, data=data, created_by=created_by
    )
    session.add(snapshot)
    session.flush()
    return snapshot


def get(session: Session, snapshot_id: uuid.UUID) -> Snapshot | None:
    return session.get(Snapshot, snapshot_id)


def list_for_workspace(session: Session, workspace_id: uuid.UUID, *, limit: int = 100) -> list[Snapshot]:
    """Newest first."""
    stmt = (
        select(Snapshot)
        .where(Snapshot.workspace_id == workspace_id)
        .order_by(Snapshot.created_at.desc(), Snapshot.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def latest(session: Session, workspace_id: uuid.UUID) -> Snapshot | None:
    snapshots = list_for_workspace(session, workspace_id, limit=1)
    return snapshots[0] if snapshots else None


def rollback(session: Session, snapshot_id: uuid.UUID) -> RollbackResult:
    """Restore selections, current clips and narrations, specs, locks, durations, shot order (and
    the workspace's style, rules, current cut and music)."""
    snapshot = require(session, Snapshot, snapshot_id)
    workspace = work_items.lock_shot_order(session, snapshot.workspace_id)
    saved = {uuid.UUID(entry["id"]): entry for entry in snapshot.data.get("work_items", [])}
    items = {
        item.id: item
        for item in session.scalars(
            select(WorkItem).where(
                WorkItem.workspace_id == snapshot.workspace_id, WorkItem.id.in_(list(saved))
            )
        )
    }
    saved_ws = snapshot.data.get("workspace") or {}
    wanted_nodes = {
        uuid.UUID(e[col])
        for e in [*saved.values(), saved_ws]
        for col in ("selected_node_id", *_ITEM_POINTERS, *_WORKSPACE_POINTERS)
        if e.get(col)
    }
    usable = {
        node_id: work_item_id
        for node_id, work_item_id in session.execute(
            select(Node.id, Node.work_item_id).where(Node.id.in_(wanted_nodes), Node.status == NodeStatus.ok)
        )
    }
    result = RollbackResult()
    for item_id, entry in saved.items():
        item = items.get(item_id)
        if item is None:
            result.missing_work_item_ids.append(item_id)
            continue
        node_id = uuid.UUID(entry["selected_node_id"]) if entry.get("selected_node_id") else None
        restorable = node_id is None or usable.get(node_id) == item_id
        changed = _diff(entry, item, node_id if restorable else item.selected_node_id)
        for col, name in _ITEM_POINTERS.items():
            if col not in entry:  # a version-1 snapshot did not record it
                continue
            pointer = _pointer(entry[col])
            if pointer is not None and usable.get(pointer) != item_id:
                result.missing_node_ids.append(pointer)  # deleted since: leave the current one
                continue
            change = _pointer_change(name, pointer, getattr(item, col))
            if change:
                changed.append(change)
                setattr(item, col, pointer)
        if changed:
            result.changes.append(f"{_shot_label(entry, item)}: {', '.join(changed)}")
        item.spec = entry.get("spec") or {}
        item.locks = entry.get("locks") or {}
        item.duration_s = entry.get("duration_s")
        if not restorable:
            assert node_id is not None
            result.missing_node_ids.append(node_id)
        else:
            item.selected_node_id = node_id
        result.restored_work_item_ids.append(item_id)
    if snapshot.work_item_id is None:
        for col, name in _WORKSPACE_POINTERS.items():
            if col not in saved_ws:
                continue
            pointer = _pointer(saved_ws[col])
            if pointer is not None and pointer not in usable:
                result.missing_node_ids.append(pointer)
                continue
            change = _pointer_change(name, pointer, getattr(workspace, col))
            if change:
                result.changes.append(change)
                setattr(workspace, col, pointer)
        if saved_ws.get("style") != workspace.style:
            result.changes.append(f"project style back to {saved_ws.get('style')!r}")
        if (saved_ws.get("rules") or {}) != (workspace.rules or {}):
            result.changes.append("project rules")
        workspace.style = saved_ws.get("style")
        workspace.style_spec = saved_ws.get("style_spec") or {}
        workspace.rules = saved_ws.get("rules") or {}
        shots = work_items.list_shots(session, snapshot.workspace_id)
        saved_order = {i: e["idx"] for i, e in saved.items() if e.get("type") == WorkItemType.shot.value}
        ordered = sorted(
            shots,
            key=lambda s: (0, saved_order[s.id], 0) if s.id in saved_order else (1, 0, s.idx or 0),
        )
        if [s.id for s in ordered] != [s.id for s in shots]:
            result.changes.append("shot order")
        work_items.set_positions(session, [(s, i) for i, s in enumerate(ordered, start=1)])
    session.flush()
    return result
