"""Work items: shots (ordered 1..N per workspace) and drafts (unordered board items).

Rule: shot order is always contiguous 1..N. Every function that changes it (insert, reorder,
split, merge, delete) first locks the workspace row (FOR NO KEY UPDATE, so concurrent node/asset
inserts are not blocked) and renumbers in two phases inside the caller's transaction: changed
shots first move above every current idx, then down to their targets, so the partial unique
index on (workspace_id, idx) WHERE type='shot' holds after every single row update.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete as sa_delete
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from schema.base import version_of
from schema.domain_errors import InvalidInput, InvariantViolation, NotFound
from schema.enums import WorkItemType, WorkspaceType
from schema.models import Node, NodeRef, Scene, WorkItem, Workspace
from schema.repositories._shared import merge_patch, require

MIN_DURATION_S = 0.5
MAX_DURATION_S = 60.0


# --- reads ---------------------------------------------------------------------------


def get(session: Session, work_item_id: uuid.UUID) -> WorkItem | None:
    return session.get(WorkItem, work_item_id)


def require_work_item(session: Session, work_item_id: uuid.UUID) -> WorkItem:
    return require(session, WorkItem, work_item_id)


def list_shots(session: Session, workspace_id: uuid.UUID) -> list[WorkItem]:
    """Shots in story order (idx 1..N)."""
    stmt = (
        select(WorkItem)
        .where(WorkItem.workspace_id == workspace_id, WorkItem.type == WorkItemType.shot)
        .order_by(WorkItem.idx)
    )
    return list(session.scalars(stmt))


def list_drafts(session: Session, workspace_id: uuid.UUID) -> list[WorkItem]:
    """Drafts, oldest first."""
    stmt = (
        select(WorkItem)
        .where(WorkItem.workspace_id == workspace_id, WorkItem.type == WorkItemType.draft)
        .order_by(WorkItem.created_at, WorkItem.id)
    )
    return list(session.scalars(stmt))


def lock_versions(
    session: Session, workspace_id: uuid.UUID, work_item_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The versions of these work items of the workspace, rows locked (``FOR UPDATE``) until the
    transaction ends; ids not in the workspace are absent."""
    rows = session.execute(
        select(WorkItem.id, WorkItem.updated_at)
        .where(WorkItem.workspace_id == workspace_id, WorkItem.id.in_(list(work_item_ids)))
        .order_by(WorkItem.id)
        .with_for_update()
    )
    return {row_id: version_of(updated) for row_id, updated in rows}


def get_shot_by_idx(session: Session, workspace_id: uuid.UUID, idx: int) -> WorkItem | None:
    stmt = select(WorkItem).where(
        WorkItem.workspace_id == workspace_id, WorkItem.type == WorkItemType.shot, WorkItem.idx == idx
    )
    return session.scalar(stmt)


# --- creation ------------------------------------------------------------------------


def insert_shot(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    spec: Mapping[str, Any] | None = None,
    duration_s: float | None = None,
    scene_id: uuid.UUID | None = None,
    at_idx: int | None = None,
    locks: Mapping[str, Any] | None = None,
) -> WorkItem:
    """Insert a shot at `at_idx` (1..N+1, later shots move down) or append it (None)."""
    workspace = lock_shot_order(session, workspace_id)
    if workspace.type != WorkspaceType.narrative_project:
        raise InvariantViolation("only narrative projects have shots", code="shots_need_narrative_project")
    _check_duration(duration_s)
    _check_scene(session, workspace_id, scene_id)
    shots = list_shots(session, workspace_id)
    target = len(shots) + 1 if at_idx is None else at_idx
    if not 1 <= target <= len(shots) + 1:
        raise InvalidInput(f"shot position {target} is outside 1..{len(shots) + 1}", code="idx_out_of_range")
    _set_positions(session, [(s, i if i < target else i + 1) for i, s in enumerate(shots, start=1)])
    shot = WorkItem(
        workspace_id=workspace_id,
        type=WorkItemType.shot,
        idx=target,
        scene_id=scene_id,
        duration_s=duration_s,
        spec=dict(spec or {}),
        locks=dict(locks or {}),
    )
    session.add(shot)
    session.flush()
    return shot


def create_draft(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    spec: Mapping[str, Any] | None = None,
    tags: Sequence[str] | None = None,
    locks: Mapping[str, Any] | None = None,
    duration_s: float | None = None,
) -> WorkItem:
    """A free draft (no scene, no order) on the workspace's board."""
    require(session, Workspace, workspace_id)
    _check_duration(duration_s)
    draft = WorkItem(
        workspace_id=workspace_id,
        type=WorkItemType.draft,
        spec=dict(spec or {}),
        tags=list(tags or []),
        locks=dict(locks or {}),
        duration_s=duration_s,
    )
    session.add(draft)
    session.flush()
    return draft


# --- field updates -------------------------------------------------------------------


def update_spec(session: Session, work_item_id: uuid.UUID, patch: Mapping[str, Any]) -> WorkItem:
    """Apply a JSON merge patch (RFC 7386: None deletes a key) to the spec."""
    item = require_work_item(session, work_item_id)
    item.spec = merge_patch(item.spec, patch)
    session.flush()
    return item


def update_locks(session: Session, work_item_id: uuid.UUID, patch: Mapping[str, Any]) -> WorkItem:
    """Apply a JSON merge patch to the consistency locks."""
    item = require_work_item(session, work_item_id)
    item.locks = merge_patch(item.locks, patch)
    session.flush()
    return item


def set_tags(session: Session, work_item_id: uuid.UUID, tags: Sequence[str]) -> WorkItem:
    item = require_work_item(session, work_item_id)
    item.tags = list(dict.fromkeys(tags))
    session.flush()
    return item


def set_duration(session: Session, work_item_id: uuid.UUID, duration_s: float | None) -> WorkItem:
    _check_duration(duration_s)
    item = require_work_item(session, work_item_id)
    item.duration_s = duration_s
    session.flush()
    return item


def set_scene(session: Session, work_item_id: uuid.UUID, scene_id: uuid.UUID | None) -> WorkItem:
    item = require_work_item(session, work_item_id)
    if item.type != WorkItemType.shot and scene_id is not None:
        raise InvariantViolation("drafts have no scene", code="draft_has_no_scene")
    _check_scene(session, item.workspace_id, scene_id)
    item.scene_id = scene_id
    session.flush()
    return item


# --- order ---------------------------------------------------------------------------


def reorder(session: Session, workspace_id: uuid.UUID, shot_id: uuid.UUID, to_idx: int) -> list[WorkItem]:
    """Move one shot to position `to_idx` (1..N); returns all shots in the new order."""
    lock_shot_order(session, workspace_id)
    shots = list_shots(session, workspace_id)
    moving = next((s for s in shots if s.id == shot_id), None)
    if moving is None:
        raise NotFound("shot", shot_id)
    if not 1 <= to_idx <= len(shots):
        raise InvalidInput(f"shot position {to_idx} is outside 1..{len(shots)}", code="idx_out_of_range")
    order = [s for s in shots if s.id != shot_id]
    order.insert(to_idx - 1, moving)
    _set_positions(session, [(s, i) for i, s in enumerate(order, start=1)])
    return order


def split(
    session: Session,
    work_item_id: uuid.UUID,
    *,
    parts: int = 2,
    specs: Sequence[Mapping[str, Any]] | None = None,
) -> list[WorkItem]:
    """Split a shot into `parts` consecutive shots (or len(specs)). The original shot keeps its
    id, nodes and selection as part 1; each part's spec is the original spec merge-patched with
    `specs[i]` (which may carry `duration_s`); otherwise the duration is divided evenly."""
    shot = require_work_item(session, work_item_id)
    if shot.type != WorkItemType.shot or shot.idx is None:
        raise InvalidInput("only shots can be split", code="not_a_shot")
    patches: list[Mapping[str, Any]] = list(specs) if specs is not None else [{} for _ in range(parts)]
    count = len(patches)
    if not 2 <= count <= 12:
        raise InvalidInput("a shot splits into 2..12 parts", code="split_parts_out_of_range")
    lock_shot_order(session, shot.workspace_id)
    session.refresh(shot)  # idx may have moved before the lock was taken
    assert shot.idx is not None
    even = None if shot.duration_s is None else round(shot.duration_s / count, 3)
    durations: list[float | None] = []
    for patch in patches:
        value = patch.get("duration_s", even)
        _check_duration(value)
        durations.append(value)
    bases = {k: v for k, v in shot.spec.items()}
    shots = list_shots(session, shot.workspace_id)
    start = shot.idx
    _set_positions(session, [(s, s.idx if s.idx <= start else s.idx + count - 1) for s in shots if s.idx])
    shot.spec = merge_patch(bases, {k: v for k, v in patches[0].items() if k != "duration_s"})
    shot.duration_s = durations[0]
    created = [shot]
    for offset, (patch, duration) in enumerate(zip(patches[1:], durations[1:], strict=True), start=1):
        part = WorkItem(
            workspace_id=shot.workspace_id,
            type=WorkItemType.shot,
            idx=start + offset,
            scene_id=shot.scene_id,
            duration_s=duration,
            spec=merge_patch(bases, {k: v for k, v in patch.items() if k != "duration_s"}),
            locks=dict(shot.locks),
            tags=list(shot.tags),
        )
        session.add(part)
        created.append(part)
    session.flush()
    return created


def merge(session: Session, workspace_id: uuid.UUID, shot_ids: Sequence[uuid.UUID]) -> WorkItem:
    """Merge consecutive shots into the first one. The first keeps its id, nodes and selection;
    durations add up (max 60 s); text fields (visual, narration, dialogue) are joined; the merged
    shots' specs are kept under `spec.merged_from`; the other shots are deleted."""
    if len(set(shot_ids)) < 2:
        raise InvalidInput("merge needs at least two shots", code="merge_needs_two_shots")
    lock_shot_order(session, workspace_id)
    shots = list_shots(session, workspace_id)
    chosen = [s for s in shots if s.id in set(shot_ids)]
    if len(chosen) != len(set(shot_ids)):
        missing = set(shot_ids) - {s.id for s in chosen}
        raise NotFound("shot", sorted(map(str, missing))[0])
    idxs = [s.idx or 0 for s in chosen]
    if idxs != list(range(idxs[0], idxs[0] + len(idxs))):
        raise InvalidInput("only consecutive shots can be merged", code="shots_not_consecutive")
    first, rest = chosen[0], chosen[1:]
    durations = [s.duration_s for s in chosen if s.duration_s is not None]
    total = round(sum(durations), 3) if durations else None
    if total is not None and total > MAX_DURATION_S:
        raise InvalidInput(
            f"merged duration {total}s exceeds {MAX_DURATION_S}s", code="duration_out_of_range"
        )
    spec = dict(first.spec)
    for key in ("visual", "narration", "dialogue"):
        texts = [str(s.spec[key]) for s in chosen if isinstance(s.spec.get(key), str) and s.spec[key]]
        if texts:
            spec[key] = " ".join(texts)
    spec["merged_from"] = [*first.spec.get("merged_from", []), *({"idx": s.idx, **s.spec} for s in rest)]
    first.spec = spec
    first.duration_s = total
    _delete_checked(session, [s.id for s in rest])
    _renumber(session, workspace_id)
    return first


def delete(session: Session, work_item_id: uuid.UUID) -> None:
    """Delete one work item (and its tracks, nodes, favorites, Pro chats); shots renumber."""
    item = require_work_item(session, work_item_id)
    delete_many(session, item.workspace_id, [work_item_id])


def delete_many(session: Session, workspace_id: uuid.UUID, work_item_ids: Iterable[uuid.UUID]) -> None:
    """Delete work items of one workspace; raises `work_item_nodes_referenced` when a node of
    theirs is referenced from elsewhere (references keep what they point at)."""
    ids = list(dict.fromkeys(work_item_ids))
    if not ids:
        return
    lock_shot_order(session, workspace_id)
    found = set(
        session.scalars(
            select(WorkItem.id).where(WorkItem.workspace_id == workspace_id, WorkItem.id.in_(ids))
        )
    )
    if len(found) != len(ids):
        raise NotFound("work_item", next(i for i in ids if i not in found))
    _delete_checked(session, ids)
    _renumber(session, workspace_id)


# --- internals (used by storyboard and snapshots too) --------------------------------


def lock_shot_order(session: Session, workspace_id: uuid.UUID) -> Workspace:
    """Serialise shot-order changes of one workspace until the transaction ends."""
    stmt = select(Workspace).where(Workspace.id == workspace_id).with_for_update(key_share=True)
    workspace = session.scalar(stmt)
    if workspace is None:
        raise NotFound("workspace", workspace_id)
    return workspace


def set_positions(session: Session, assignments: Sequence[tuple[WorkItem, int]]) -> None:
    """Two-phase idx update for the given shots (must cover every shot of the workspace whose
    idx changes or whose current idx is a target). Caller holds `lock_shot_order`."""
    _set_positions(session, assignments)


def _set_positions(session: Session, assignments: Sequence[tuple[WorkItem, int]]) -> None:
    changed = [(shot, idx) for shot, idx in assignments if shot.idx != idx]
    if not changed:
        return
    ceiling = max([s.idx or 0 for s, _ in assignments] + [i for _, i in assignments])
    for shot, idx in changed:  # phase 1: above every current and target idx
        shot.idx = ceiling + idx
    session.flush()
    for shot, idx in changed:  # phase 2: down to the targets (no longer held by anyone)
        shot.idx = idx
    session.flush()


def _renumber(session: Session, workspace_id: uuid.UUID) -> None:
    shots = list_shots(session, workspace_id)
    _set_positions(session, [(s, i) for i, s in enumerate(shots, start=1)])


def _delete_checked(session: Session, ids: Sequence[uuid.UUID]) -> None:
    """Delete work items whose nodes nothing outside them needs.

    Outgoing references of their nodes are removed first, explicitly: when the cascade removes
    a referenced node and the node referencing it in the same statement, PostgreSQL may run the
    NO ACTION check on the first before the CASCADE that drops the reference of the second.
    """
    inside = select(Node.id).where(Node.work_item_id.in_(ids))
    outside = aliased(Node)
    referenced = session.scalars(
        select(NodeRef.to_node_id)
        .join(outside, outside.id == NodeRef.from_node_id)
        .where(NodeRef.to_node_id.in_(inside))
        .where(outside.work_item_id.is_(None) | outside.work_item_id.not_in(ids))
        .distinct()
    ).all()
    if referenced:
        raise InvariantViolation(
            "nodes of this work item are referenced from elsewhere; remove those references first",
            code="work_item_nodes_referenced",
            node_ids=list(referenced),
        )
    parents = session.scalars(
        select(outside.parent_id)
        .where(outside.parent_id.in_(inside))
        .where(outside.work_item_id.is_(None) | outside.work_item_id.not_in(ids))
        .distinct()
    ).all()
    if parents:
        raise InvariantViolation(
            "workspace-level nodes were made from nodes of this work item",
            code="work_item_nodes_are_parents",
            node_ids=list(parents),
        )
    session.flush()
    session.execute(
        sa_delete(NodeRef).where(NodeRef.from_node_id.in_(inside)),
        execution_options={"synchronize_session": False},
    )
    session.execute(
        sa_delete(WorkItem).where(WorkItem.id.in_(ids)), execution_options={"synchronize_session": False}
    )
    for obj in list(session.identity_map.values()):
        if (isinstance(obj, WorkItem) and obj.id in ids) or (
            isinstance(obj, Node) and obj.work_item_id in ids
        ):
            session.expunge(obj)


def _check_duration(duration_s: float | None) -> None:
    if duration_s is not None and not MIN_DURATION_S <= duration_s <= MAX_DURATION_S:
        raise InvalidInput(
            f"duration {duration_s}s is outside {MIN_DURATION_S}..{MAX_DURATION_S}s",
            code="duration_out_of_range",
        )


def _check_scene(session: Session, workspace_id: uuid.UUID, scene_id: uuid.UUID | None) -> None:
    if scene_id is None:
        return
    scene = session.get(Scene, scene_id)
    if scene is None or scene.workspace_id != workspace_id:
        raise InvariantViolation("the scene is not in this workspace", code="scene_wrong_workspace")
