"""Scene and shot verbs: add, update, split, merge, reorder and delete storyboard rows.

Each function is the executor of one verb (``@executes``); it runs inside the turn's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from schema import actions as A
from schema.domain_errors import Conflict, InvalidInput, NotFound
from schema.enums import WorkItemType, WorkspaceType
from schema.models import Scene, Snapshot, WorkItem, Workspace
from schema.repositories import storyboard, work_items
from schema.repositories import storyboard as storyboard_repo
from schema.repositories import work_items as work_item_repo
from services.execution import ActionResult, Execution, executes, shots_label
from services.rules import (
    check_duration,
    check_split_parts,
    emit,
    snapshot_before,
)


@executes("scene.add")
def scene_add(ex: Execution, a: A.SceneAdd) -> ActionResult:
    spec = a.args.spec.model_dump(exclude_none=True)
    title, goal = spec.pop("title", ""), spec.pop("goal", None)
    at = None if a.args.after is None else a.args.after + 1
    scene = storyboard.add_scene(ex.session, ex.ws.id, title=title, goal=goal, spec=spec, at_idx=at)
    return ex.done(a, f"added scene {scene.idx}", scene=scene.idx, scene_id=str(scene.id))


@executes("scene.update")
def scene_update(ex: Execution, a: A.SceneUpdate) -> ActionResult:
    scene = ex.resolve.scene(a.args.scene)
    patch = a.args.patch.model_dump(exclude_none=True)
    title, goal = patch.pop("title", None), patch.pop("goal", None)
    storyboard.update_scene(ex.session, scene.id, title=title, goal=goal, spec_patch=patch)
    return ex.done(a, f"updated scene {scene.idx}", scene=scene.idx)


@executes("scene.reorder")
def scene_reorder(ex: Execution, a: A.SceneReorder) -> ActionResult:
    scene = ex.resolve.scene(a.args.scene)
    storyboard.reorder_scene(ex.session, scene.id, a.args.to)
    return ex.done(a, f"moved scene {a.args.scene} to position {a.args.to}")


@executes("scene.delete")
def scene_delete(ex: Execution, a: A.SceneDelete) -> ActionResult:
    scene = ex.resolve.scene(a.args.scene)
    storyboard.delete_scene(ex.session, scene.id)
    return ex.done(a, f"deleted scene {a.args.scene} (its shots stay)")


@executes("shot.add")
def shot_add(ex: Execution, a: A.ShotAdd) -> ActionResult:
    spec = a.args.spec.model_dump(mode="json", exclude_none=True)
    duration = spec.pop("duration_s", None)
    if ex.ws.type == WorkspaceType.draft_space:
        item = work_items.create_draft(ex.session, ex.ws.id, spec=spec, duration_s=duration)
        return ex.done(a, "added a draft", work_item_id=str(item.id))
    scene_id = ex.resolve.scene(a.args.scene).id if a.args.scene is not None else None
    at = None if a.args.after is None else a.args.after + 1
    item = work_items.insert_shot(
        ex.session, ex.ws.id, spec=spec, duration_s=duration, scene_id=scene_id, at_idx=at
    )
    return ex.done(a, f"added shot {item.idx}", shot=item.idx, work_item_id=str(item.id))


@executes("shot.update")
def shot_update(ex: Execution, a: A.ShotUpdate) -> ActionResult:
    items = ex.resolve.shots(a.args.shots)
    patch = a.args.patch.model_dump(mode="json", exclude_none=True)
    duration = patch.pop("duration_s", None)
    for item in items:
        if patch:
            work_items.update_spec(ex.session, item.id, patch)
        new = duration
        if new is None and patch.get("pacing") and item.duration_s:
            factor = 0.8 if patch["pacing"] == "faster" else 1.25
            new = round(min(8.0, max(2.0, item.duration_s * factor)), 2)
        if new is not None:
            work_items.set_duration(ex.session, item.id, new)
    full = a.args.patch.model_dump(mode="json", exclude_none=True)
    return ex.done(
        a,
        f"updated {shots_label(items)}",
        shots=[i.idx for i in items],
        work_item_ids=[str(i.id) for i in items],
        patch=full,
    )


@executes("shot.split")
def shot_split(ex: Execution, a: A.ShotSplit) -> ActionResult:
    item = ex.resolve.shot(a.args.shot)
    parts = work_items.split(ex.session, item.id, parts=a.args.parts)
    return ex.done(a, f"split shot {a.args.shot} into {len(parts)} shots", shots=[p.idx for p in parts])


@executes("shot.merge")
def shot_merge(ex: Execution, a: A.ShotMerge) -> ActionResult:
    items = ex.resolve.shots(a.args.shots)
    merged = work_items.merge(ex.session, ex.ws.id, [i.id for i in items])
    return ex.done(a, f"merged {shots_label(items)} into shot {merged.idx}", shot=merged.idx)


@executes("shot.reorder")
def shot_reorder(ex: Execution, a: A.ShotReorder) -> ActionResult:
    item = ex.resolve.shot(a.args.shot)
    work_items.reorder(ex.session, ex.ws.id, item.id, a.args.to)
    return ex.done(a, f"moved shot {a.args.shot} to position {a.args.to}")


@executes("shot.delete")
def shot_delete(ex: Execution, a: A.ShotDelete) -> ActionResult:
    items = ex.resolve.shots(a.args.shots)
    label = shots_label(items)
    work_items.delete_many(ex.session, ex.ws.id, [i.id for i in items])
    return ex.done(a, f"deleted {label}", work_item_ids=[str(i.id) for i in items])


# --- id-based edits: the CRUD routes' path (same rules, see services/rules.py) -----------------


def _shot(session: Session, work_item_id: uuid.UUID) -> WorkItem:
    item = session.get(WorkItem, work_item_id)
    if item is None:
        raise NotFound("work_item", work_item_id)
    if item.type != WorkItemType.shot:
        raise Conflict("only shots are ordered, split and merged", code="not_a_shot")
    return item


def create_work_item(
    session: Session,
    workspace: Workspace,
    *,
    type: WorkItemType = WorkItemType.shot,
    spec: Mapping[str, Any] | None = None,
    duration_s: float | None = None,
    scene_id: uuid.UUID | None = None,
    at_idx: int | None = None,
    tags: Sequence[str] = (),
    locks: Mapping[str, Any] | None = None,
    by: str | None = None,
) -> WorkItem:
    """Add a shot (at a position or at the end) or a draft."""
    check_duration(duration_s)
    if type == WorkItemType.shot:
        if tags:
            raise InvalidInput("tags are for drafts", code="shot_tags_unsupported")
        item = work_item_repo.insert_shot(
            session,
            workspace.id,
            spec=dict(spec or {}),
            duration_s=duration_s,
            scene_id=scene_id,
            at_idx=at_idx,
            locks=dict(locks or {}),
        )
    else:
        if scene_id is not None or at_idx is not None:
            raise InvalidInput("drafts have no scene and no position", code="draft_has_no_scene")
        item = work_item_repo.create_draft(
            session,
            workspace.id,
            spec=dict(spec or {}),
            tags=list(tags),
            locks=dict(locks or {}),
            duration_s=duration_s,
        )
    emit(
        session, workspace, "work_item.created", work_item_id=str(item.id), type=item.type.value, idx=item.idx
    )
    return item


def update_work_item(
    session: Session,
    workspace: Workspace,
    work_item_id: uuid.UUID,
    changes: Mapping[str, Any],
    *,
    by: str | None = None,
) -> WorkItem:
    """Apply the given fields: merge-patch ``spec`` and ``locks``, replace ``tags``, set
    ``duration_s`` / ``scene_id`` (None clears). Every key given is reported in the event."""
    unknown = set(changes) - {"spec", "locks", "tags", "duration_s", "scene_id"}
    if unknown:
        raise InvalidInput(f"cannot change {sorted(unknown)}", code="invalid_input")
    item = work_item_repo.require_work_item(session, work_item_id)
    if changes.get("spec"):
        item = work_item_repo.update_spec(session, item.id, changes["spec"])
    if changes.get("locks"):
        item = work_item_repo.update_locks(session, item.id, changes["locks"])
    if changes.get("tags") is not None:
        item = work_item_repo.set_tags(session, item.id, changes["tags"])
    if "duration_s" in changes:
        check_duration(changes["duration_s"])
        item = work_item_repo.set_duration(session, item.id, changes["duration_s"])
    if "scene_id" in changes:
        item = work_item_repo.set_scene(session, item.id, changes["scene_id"])
    emit(session, workspace, "work_item.updated", work_item_id=str(item.id), fields=sorted(changes))
    return item


def delete_work_item(
    session: Session, workspace: Workspace, work_item_id: uuid.UUID, *, by: str | None = None
) -> Snapshot:
    """Delete a shot or draft with its tracks and nodes; returns the snapshot taken first."""
    item = work_item_repo.require_work_item(session, work_item_id)
    snapshot = snapshot_before(session, workspace, f"shot.delete {shots_label([item])}", by)
    work_item_repo.delete(session, work_item_id)
    emit(session, workspace, "work_item.deleted", work_item_id=str(work_item_id))
    return snapshot


def reorder_shot(
    session: Session, workspace: Workspace, work_item_id: uuid.UUID, to: int, *, by: str | None = None
) -> list[WorkItem]:
    """Move a shot to position `to`; returns every shot in the new order."""
    _shot(session, work_item_id)
    order = work_item_repo.reorder(session, workspace.id, work_item_id, to)
    emit(session, workspace, "work_item.reordered", work_item_id=str(work_item_id), to=to)
    return order


def split_shot(
    session: Session,
    workspace: Workspace,
    work_item_id: uuid.UUID,
    *,
    parts: int = 2,
    specs: Sequence[Mapping[str, Any]] | None = None,
    by: str | None = None,
) -> list[WorkItem]:
    """Split a shot into consecutive parts (``specs`` overrides ``parts``; each may carry
    ``duration_s``); the original keeps its id, nodes and selection as part 1."""
    _shot(session, work_item_id)
    check_split_parts(len(specs) if specs is not None else parts)
    for patch in specs or ():
        check_duration(patch.get("duration_s"))
    created = work_item_repo.split(session, work_item_id, parts=parts, specs=specs)
    emit(
        session,
        workspace,
        "work_item.split",
        work_item_id=str(work_item_id),
        parts=[str(p.id) for p in created],
    )
    return created


def merge_shots(
    session: Session, workspace: Workspace, work_item_ids: Sequence[uuid.UUID], *, by: str | None = None
) -> WorkItem:
    """Merge consecutive shots into the first one (the others are deleted), after a snapshot."""
    items = [_shot(session, i) for i in work_item_ids]
    snapshot_before(session, workspace, f"shot.merge {shots_label(items)}", by)
    merged = work_item_repo.merge(session, workspace.id, list(work_item_ids))
    emit(
        session,
        workspace,
        "work_item.merged",
        work_item_id=str(merged.id),
        merged=[str(i) for i in work_item_ids],
    )
    return merged


def create_scene(
    session: Session,
    workspace: Workspace,
    *,
    title: str = "",
    goal: str | None = None,
    spec: Mapping[str, Any] | None = None,
    at_idx: int | None = None,
    by: str | None = None,
) -> Scene:
    if workspace.type != WorkspaceType.narrative_project:
        raise Conflict("draft spaces have no scenes", code="scenes_need_narrative_project")
    scene = storyboard_repo.add_scene(
        session, workspace.id, title=title, goal=goal, spec=dict(spec or {}), at_idx=at_idx
    )
    emit(session, workspace, "scene.created", scene_id=str(scene.id), idx=scene.idx)
    return scene


def update_scene(
    session: Session,
    workspace: Workspace,
    scene_id: uuid.UUID,
    *,
    title: str | None = None,
    goal: str | None = None,
    spec: Mapping[str, Any] | None = None,
    by: str | None = None,
) -> Scene:
    """Set title/goal; merge-patch the spec."""
    scene = storyboard_repo.update_scene(session, scene_id, title=title, goal=goal, spec_patch=spec)
    emit(session, workspace, "scene.updated", scene_id=str(scene_id))
    return scene


def reorder_scene(
    session: Session, workspace: Workspace, scene_id: uuid.UUID, to: int, *, by: str | None = None
) -> list[Scene]:
    order = storyboard_repo.reorder_scene(session, scene_id, to)
    emit(session, workspace, "scene.reordered", scene_id=str(scene_id), to=to)
    return order


def delete_scene(
    session: Session, workspace: Workspace, scene_id: uuid.UUID, *, by: str | None = None
) -> Snapshot:
    """Delete a scene (its shots stay, detached) after a snapshot; returns the snapshot."""
    scene = storyboard_repo.require_scene(session, scene_id)
    snapshot = snapshot_before(session, workspace, f"scene.delete scene {scene.idx}", by)
    storyboard_repo.delete_scene(session, scene_id)
    emit(session, workspace, "scene.deleted", scene_id=str(scene_id))
    return snapshot
