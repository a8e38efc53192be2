"""Direct edits: the service behind every REST CRUD route (work items, tracks, nodes, scenes,
characters, favorites, snapshots), so a button and a sentence change the ledger the same way.

Rules:
- the caller (a route) has already checked that every id belongs to ``workspace``; these functions
  apply the rules, write through the repositories and append the event SSE clients see (the same
  kinds and payloads the routes always sent);
- the DSL's limits apply (:mod:`services.limits`): split parts, durations;
- a snapshot is taken first, in the same transaction, before a destructive edit — work item
  delete, merge, scene delete, rollback — like :func:`services.propose.needs_snapshot` decides for
  a turn, with a note in the same ``before <verb> …`` form;
- they flush and never commit: the caller owns the transaction (``by`` is the acting user).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from schema.domain_errors import Conflict, InvalidInput, NotFound
from schema.enums import WorkItemType, WorkspaceType
from schema.models import Character, Favorite, Node, Scene, Snapshot, Track, WorkItem, Workspace
from schema.repositories import characters as character_repo
from schema.repositories import events as event_repo
from schema.repositories import favorites as favorite_repo
from schema.repositories import nodes as node_repo
from schema.repositories import snapshots as snapshot_repo
from schema.repositories import storyboard as storyboard_repo
from schema.repositories import tracks as track_repo
from schema.repositories import work_items as work_item_repo
from schema.repositories.snapshots import RollbackResult
from schema.repositories.tracks import TrackDeletion
from services.execution import shots_label
from services.limits import DURATION_MAX_S, DURATION_MIN_S, SPLIT_PARTS_MAX, SPLIT_PARTS_MIN


def _emit(session: Session, workspace: Workspace, kind: str, **data: Any) -> int:
    return event_repo.append(session, workspace.id, kind, data)


def _snapshot(session: Session, workspace: Workspace, note: str, by: str | None) -> Snapshot:
    return snapshot_repo.take(session, workspace.id, ("before " + note)[:500], created_by=by)


def check_duration(value: float | None) -> None:
    """The DSL's duration bounds (``shot.add``/``shot.update``); None clears."""
    if value is not None and not DURATION_MIN_S <= value <= DURATION_MAX_S:
        raise InvalidInput(
            f"duration {value}s is outside {DURATION_MIN_S}..{DURATION_MAX_S}s", code="duration_out_of_range"
        )


def check_split_parts(count: int) -> None:
    """The DSL's ``shot.split`` bounds."""
    if not SPLIT_PARTS_MIN <= count <= SPLIT_PARTS_MAX:
        raise InvalidInput(
            f"a shot splits into {SPLIT_PARTS_MIN}..{SPLIT_PARTS_MAX} parts", code="split_parts_out_of_range"
        )


def _shot(session: Session, work_item_id: uuid.UUID) -> WorkItem:
    item = session.get(WorkItem, work_item_id)
    if item is None:
        raise NotFound("work_item", work_item_id)
    if item.type != WorkItemType.shot:
        raise Conflict("only shots are ordered, split and merged", code="not_a_shot")
    return item


def _node_item(session: Session, node_id: uuid.UUID, what: str) -> tuple[Node, uuid.UUID]:
    node = session.get(Node, node_id)
    if node is None:
        raise NotFound("node", node_id)
    if node.work_item_id is None:
        raise Conflict(f"workspace-level nodes cannot be {what}", code="node_has_no_work_item")
    return node, node.work_item_id


# --- work items -------------------------------------------------------------------------------


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
    _emit(
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
    _emit(session, workspace, "work_item.updated", work_item_id=str(item.id), fields=sorted(changes))
    return item


def delete_work_item(
    session: Session, workspace: Workspace, work_item_id: uuid.UUID, *, by: str | None = None
) -> Snapshot:
    """Delete a shot or draft with its tracks and nodes; returns the snapshot taken first."""
    item = work_item_repo.require_work_item(session, work_item_id)
    snapshot = _snapshot(session, workspace, f"shot.delete {shots_label([item])}", by)
    work_item_repo.delete(session, work_item_id)
    _emit(session, workspace, "work_item.deleted", work_item_id=str(work_item_id))
    return snapshot


def reorder_shot(
    session: Session, workspace: Workspace, work_item_id: uuid.UUID, to: int, *, by: str | None = None
) -> list[WorkItem]:
    """Move a shot to position `to`; returns every shot in the new order."""
    _shot(session, work_item_id)
    order = work_item_repo.reorder(session, workspace.id, work_item_id, to)
    _emit(session, workspace, "work_item.reordered", work_item_id=str(work_item_id), to=to)
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
    _emit(
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
    _snapshot(session, workspace, f"shot.merge {shots_label(items)}", by)
    merged = work_item_repo.merge(session, workspace.id, list(work_item_ids))
    _emit(
        session,
        workspace,
        "work_item.merged",
        work_item_id=str(merged.id),
        merged=[str(i) for i in work_item_ids],
    )
    return merged


# --- tracks & nodes ---------------------------------------------------------------------------


def fork_track(
    session: Session,
    workspace: Workspace,
    work_item_id: uuid.UUID,
    from_node_id: uuid.UUID,
    *,
    name: str | None = None,
    by: str | None = None,
) -> Track:
    """Start a new track (branch) of the work item from one of its nodes."""
    track = track_repo.fork(session, work_item_id, from_node_id, name)
    _emit(
        session,
        workspace,
        "track.forked",
        work_item_id=str(work_item_id),
        track_id=str(track.id),
        name=track.name,
        from_node_id=str(from_node_id),
    )
    return track


def rename_track(
    session: Session, workspace: Workspace, track_id: uuid.UUID, name: str, *, by: str | None = None
) -> Track:
    track = track_repo.rename(session, track_id, name)
    _emit(session, workspace, "track.renamed", track_id=str(track_id), name=track.name)
    return track


def delete_track(
    session: Session, workspace: Workspace, track_id: uuid.UUID, *, by: str | None = None
) -> TrackDeletion:
    """Delete a track; nodes that still matter are kept (moved to no track)."""
    work_item_id = track_repo.require_track(session, track_id).work_item_id
    result = track_repo.delete_track(session, track_id)
    _emit(
        session,
        workspace,
        "track.deleted",
        track_id=str(track_id),
        work_item_id=str(work_item_id),
        deleted=len(result.deleted_node_ids),
        kept=len(result.kept_node_ids),
    )
    return result


def commit_node(
    session: Session, workspace: Workspace, node_id: uuid.UUID, *, by: str | None = None
) -> WorkItem:
    """Make the node its work item's selected (current) version."""
    _, work_item_id = _node_item(session, node_id, "selected")
    item = node_repo.select_node(session, work_item_id, node_id)
    _emit(session, workspace, "node.committed", work_item_id=str(item.id), node_id=str(node_id))
    return item


def favorite_node(
    session: Session,
    workspace: Workspace,
    node_id: uuid.UUID,
    tags: Sequence[str] = (),
    *,
    by: str | None = None,
) -> Favorite:
    """Pin the node (with tags) on its work item; pinning again adds the tags."""
    _, work_item_id = _node_item(session, node_id, "pinned")
    favorite = favorite_repo.add(session, work_item_id, node_id=node_id, tags=list(tags))
    _emit(session, workspace, "favorite.added", favorite_id=str(favorite.id), node_id=str(node_id))
    return favorite


# --- favorites --------------------------------------------------------------------------------


def set_favorite_tags(
    session: Session,
    workspace: Workspace,
    favorite_id: uuid.UUID,
    tags: Sequence[str],
    *,
    by: str | None = None,
) -> Favorite:
    favorite = favorite_repo.set_tags(session, favorite_id, tags)
    _emit(session, workspace, "favorite.updated", favorite_id=str(favorite_id))
    return favorite


def remove_favorite(
    session: Session, workspace: Workspace, favorite_id: uuid.UUID, *, by: str | None = None
) -> None:
    favorite_repo.remove(session, favorite_id)
    _emit(session, workspace, "favorite.removed", favorite_id=str(favorite_id))


# --- scenes -----------------------------------------------------------------------------------


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
    _emit(session, workspace, "scene.created", scene_id=str(scene.id), idx=scene.idx)
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
    _emit(session, workspace, "scene.updated", scene_id=str(scene_id))
    return scene


def reorder_scene(
    session: Session, workspace: Workspace, scene_id: uuid.UUID, to: int, *, by: str | None = None
) -> list[Scene]:
    order = storyboard_repo.reorder_scene(session, scene_id, to)
    _emit(session, workspace, "scene.reordered", scene_id=str(scene_id), to=to)
    return order


def delete_scene(
    session: Session, workspace: Workspace, scene_id: uuid.UUID, *, by: str | None = None
) -> Snapshot:
    """Delete a scene (its shots stay, detached) after a snapshot; returns the snapshot."""
    scene = storyboard_repo.require_scene(session, scene_id)
    snapshot = _snapshot(session, workspace, f"scene.delete scene {scene.idx}", by)
    storyboard_repo.delete_scene(session, scene_id)
    _emit(session, workspace, "scene.deleted", scene_id=str(scene_id))
    return snapshot


# --- characters -------------------------------------------------------------------------------


def create_character(
    session: Session,
    workspace: Workspace,
    *,
    name: str,
    profile: Mapping[str, Any] | None = None,
    locks: Mapping[str, Any] | None = None,
    by: str | None = None,
) -> Character:
    character = character_repo.create(
        session, workspace.id, name=name, profile=dict(profile or {}), locks=dict(locks or {})
    )
    _emit(session, workspace, "character.created", character_id=str(character.id), name=character.name)
    return character


def update_character(
    session: Session,
    workspace: Workspace,
    character_id: uuid.UUID,
    *,
    profile: Mapping[str, Any] | None = None,
    locks: Mapping[str, Any] | None = None,
    by: str | None = None,
) -> Character:
    """Merge-patch the profile and/or the locks."""
    character = character_repo.update(session, character_id, profile_patch=profile, locks_patch=locks)
    _emit(session, workspace, "character.updated", character_id=str(character_id))
    return character


def attach_character_reference(
    session: Session,
    workspace: Workspace,
    character_id: uuid.UUID,
    asset_id: uuid.UUID,
    *,
    by: str | None = None,
) -> Character:
    character = character_repo.attach_reference(session, character_id, asset_id)
    _emit(session, workspace, "character.updated", character_id=str(character_id))
    return character


def delete_character(
    session: Session, workspace: Workspace, character_id: uuid.UUID, *, by: str | None = None
) -> None:
    character_repo.delete(session, character_id)
    _emit(session, workspace, "character.deleted", character_id=str(character_id))


# --- snapshots --------------------------------------------------------------------------------


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
    _emit(session, workspace, "snapshot.created", snapshot_id=str(snapshot.id), note=snapshot.note)
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
    _emit(
        session,
        workspace,
        "snapshot.rolled_back",
        snapshot_id=str(snapshot_id),
        safety_snapshot_id=str(safety.id),
        restored=len(result.restored_work_item_ids),
    )
    return Rollback(safety=safety, result=result)
