"""Track and node verbs: fork and switch branches, commit, reference and favorite nodes.

Each function is the executor of one verb (``@executes``); it runs inside the turn's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.orm import Session

from schema import actions as A
from schema.domain_errors import Conflict, NotFound
from schema.enums import NodeType
from schema.models import Favorite, Node, Track, WorkItem, Workspace
from schema.repositories import favorites, nodes, tracks, work_items
from schema.repositories import favorites as favorite_repo
from schema.repositories import nodes as node_repo
from schema.repositories import tracks as track_repo
from schema.repositories.tracks import TrackDeletion
from services.execution import ActionResult, Execution, executes
from services.resolve import TargetUnresolved
from services.rules import (
    emit,
)


@executes("track.fork")
def track_fork(ex: Execution, a: A.TrackFork) -> ActionResult:
    item = ex.resolve.shot(a.args.shot)
    source = ex.node_from(item, node=a.args.from_node, cell=a.args.from_cell, track=a.args.track)
    track = tracks.fork(ex.session, item.id, source.id)
    return ex.done(
        a,
        f"started track {track.name} of {ex.resolve.label(item)} from that image",
        track=track.name,
        track_id=str(track.id),
        from_node_id=str(source.id),
        label=a.args.name,
        focus={"work_item_id": str(item.id), "track": track.name},
    )


@executes("track.switch")
def track_switch(ex: Execution, a: A.TrackSwitch) -> ActionResult:
    item = ex.resolve.shot(a.args.shot)
    track = ex.resolve.track(item, a.args.track)
    return ex.done(
        a,
        f"now working on track {track.name} of {ex.resolve.label(item)}",
        track=track.name,
        track_id=str(track.id),
        focus={"work_item_id": str(item.id), "track": track.name},
    )


@executes("node.commit")
def node_commit(ex: Execution, a: A.NodeCommit) -> ActionResult:
    item = ex.resolve.shot(a.args.shot)
    node = ex.node_from(item, node=a.args.node, cell=a.args.cell, track=a.args.track)
    if node.type == NodeType.grid_group:
        raise TargetUnresolved("that is a whole grid; pick one image (#N)")
    previous = str(item.selected_node_id) if item.selected_node_id else None
    nodes.select_node(ex.session, item.id, node.id)
    return ex.done(
        a,
        f"{ex.resolve.label(item)} now uses that image",
        node_id=str(node.id),
        previous_node_id=previous,
        track=ex.resolve.track_name_of(node),
    )


@executes("node.reference")
def node_reference(ex: Execution, a: A.NodeReference) -> ActionResult:
    args = a.args
    node = ex.resolve.node(node=args.node, cell=args.cell, shot=args.shot, track=args.track)
    if node.asset_id is None:
        raise TargetUnresolved("that node has no stored image to use as a reference")
    target = ex.resolve.focus_item() or ex.resolve.item_of(node)
    pending = [p for p in target.spec.get("pending_references") or [] if p.get("node_id") != str(node.id)]
    pending.append({"node_id": str(node.id), "role": args.as_})
    work_items.update_spec(ex.session, target.id, {"pending_references": pending})
    return ex.done(
        a,
        f"the next grid of {ex.resolve.label(target)} will use that image as {args.as_} reference",
        node_id=str(node.id),
        role=args.as_,
        for_work_item_id=str(target.id),
    )


@executes("node.favorite")
def node_favorite(ex: Execution, a: A.NodeFavorite) -> ActionResult:
    args = a.args
    node = ex.resolve.node(node=args.node, cell=args.cell, shot=args.shot, track=args.track)
    item = ex.resolve.item_of(node)
    fav = favorites.add(ex.session, item.id, node_id=node.id, tags=list(args.tags))
    return ex.done(a, "added to favorites", favorite_id=str(fav.id), node_id=str(node.id), tags=fav.tags)


# --- id-based edits: the CRUD routes' path (same rules, see services/rules.py) -----------------


def _node_item(session: Session, node_id: uuid.UUID, what: str) -> tuple[Node, uuid.UUID]:
    node = session.get(Node, node_id)
    if node is None:
        raise NotFound("node", node_id)
    if node.work_item_id is None:
        raise Conflict(f"workspace-level nodes cannot be {what}", code="node_has_no_work_item")
    return node, node.work_item_id


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
    emit(
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
    emit(session, workspace, "track.renamed", track_id=str(track_id), name=track.name)
    return track


def delete_track(
    session: Session, workspace: Workspace, track_id: uuid.UUID, *, by: str | None = None
) -> TrackDeletion:
    """Delete a track; nodes that still matter are kept (moved to no track)."""
    work_item_id = track_repo.require_track(session, track_id).work_item_id
    result = track_repo.delete_track(session, track_id)
    emit(
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
    emit(session, workspace, "node.committed", work_item_id=str(item.id), node_id=str(node_id))
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
    emit(session, workspace, "favorite.added", favorite_id=str(favorite.id), node_id=str(node_id))
    return favorite


def set_favorite_tags(
    session: Session,
    workspace: Workspace,
    favorite_id: uuid.UUID,
    tags: Sequence[str],
    *,
    by: str | None = None,
) -> Favorite:
    favorite = favorite_repo.set_tags(session, favorite_id, tags)
    emit(session, workspace, "favorite.updated", favorite_id=str(favorite_id))
    return favorite


def remove_favorite(
    session: Session, workspace: Workspace, favorite_id: uuid.UUID, *, by: str | None = None
) -> None:
    favorite_repo.remove(session, favorite_id)
    emit(session, workspace, "favorite.removed", favorite_id=str(favorite_id))
