"""Tracks by id, nodes (artifacts), their lineage and references, commit and favorite."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status

from api.convert import emit, links, node_out, nodes_out
from api.deps import SessionDep, WorkspaceDep, scoped, scoped_track
from api.errors import ApiError, responses
from api.schemas import (
    FavoriteCreate,
    FavoriteOut,
    LineageEntry,
    NodeOut,
    ReferenceEntry,
    TrackDeletionOut,
    TrackOut,
    TrackRename,
    WorkItemOut,
)
from schema.models import Favorite, Node, WorkItem
from schema.repositories import favorites as favorite_repo
from schema.repositories import nodes as node_repo
from schema.repositories import tracks as track_repo

router = APIRouter(prefix="/workspaces/{workspace_id}")


@router.patch("/tracks/{track_id}", response_model=TrackOut, tags=["tracks"], responses=responses(409))
def rename_track(
    track_id: uuid.UUID, body: TrackRename, workspace: WorkspaceDep, session: SessionDep
) -> TrackOut:
    scoped_track(session, track_id, workspace)
    track = track_repo.rename(session, track_id, body.name)
    emit(session, workspace.id, "track.renamed", track_id=str(track_id), name=track.name)
    session.commit()
    return TrackOut.model_validate(track)


@router.delete("/tracks/{track_id}", response_model=TrackDeletionOut, tags=["tracks"])
def delete_track(track_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep) -> TrackDeletionOut:
    """Delete a track; nodes that are selected, referenced, favorited or ancestors of kept work
    stay (moved to no track) — nothing that matters is lost."""
    track = scoped_track(session, track_id, workspace)
    work_item_id = track.work_item_id
    result = track_repo.delete_track(session, track_id)
    emit(
        session,
        workspace.id,
        "track.deleted",
        track_id=str(track_id),
        work_item_id=str(work_item_id),
        deleted=len(result.deleted_node_ids),
        kept=len(result.kept_node_ids),
    )
    session.commit()
    return TrackDeletionOut(deleted_node_ids=result.deleted_node_ids, kept_node_ids=result.kept_node_ids)


@router.get("/nodes/{node_id}", response_model=NodeOut, tags=["nodes"])
def get_node(request: Request, node_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep) -> NodeOut:
    scoped(session, Node, node_id, workspace, "node")
    node, asset = node_repo.get_with_asset(session, node_id)
    return node_out(node, asset, links(request))


@router.get("/nodes/{node_id}/children", response_model=list[NodeOut], tags=["nodes"])
def get_children(
    request: Request, node_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep
) -> list[NodeOut]:
    """Direct children (grid cells by cell number, then iterations by age)."""
    scoped(session, Node, node_id, workspace, "node")
    return nodes_out(session, node_repo.children(session, node_id), links(request))


@router.get("/nodes/{node_id}/lineage", response_model=list[LineageEntry], tags=["nodes"])
def get_lineage(
    request: Request,
    node_id: uuid.UUID,
    workspace: WorkspaceDep,
    session: SessionDep,
    direction: Annotated[Literal["ancestors", "descendants"], Query()] = "ancestors",
) -> list[LineageEntry]:
    """What the node was iterated from (ancestors, nearest first) or what was made from it."""
    scoped(session, Node, node_id, workspace, "node")
    walk = node_repo.ancestors if direction == "ancestors" else node_repo.descendants
    rows = walk(session, node_id)
    outs = nodes_out(session, [r.node for r in rows], links(request))
    return [LineageEntry(depth=r.depth, node=o) for r, o in zip(rows, outs, strict=True)]


@router.get("/nodes/{node_id}/references", response_model=list[ReferenceEntry], tags=["nodes"])
def get_references(
    request: Request,
    node_id: uuid.UUID,
    workspace: WorkspaceDep,
    session: SessionDep,
    direction: Annotated[
        Literal["out", "in"], Query(description="out: what this node used; in: what used this node")
    ] = "out",
) -> list[ReferenceEntry]:
    scoped(session, Node, node_id, workspace, "node")
    rows = (node_repo.references_of if direction == "out" else node_repo.referenced_by)(session, node_id)
    outs = nodes_out(session, [r.node for r in rows], links(request))
    return [ReferenceEntry(role=r.role, node=o) for r, o in zip(rows, outs, strict=True)]


@router.post("/nodes/{node_id}/commit", response_model=WorkItemOut, tags=["nodes"], responses=responses(409))
def commit_node(node_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep) -> WorkItem:
    """Make the node its work item's selected (current) version."""
    node = scoped(session, Node, node_id, workspace, "node")
    if node.work_item_id is None:
        raise ApiError(409, "node_has_no_work_item", "workspace-level nodes cannot be selected")
    item = node_repo.select_node(session, node.work_item_id, node_id)
    emit(session, workspace.id, "node.committed", work_item_id=str(item.id), node_id=str(node_id))
    session.commit()
    return item


@router.post(
    "/nodes/{node_id}/favorite",
    response_model=FavoriteOut,
    status_code=status.HTTP_201_CREATED,
    tags=["favorites"],
    responses=responses(409),
)
def favorite_node(
    node_id: uuid.UUID, body: FavoriteCreate, workspace: WorkspaceDep, session: SessionDep
) -> Favorite:
    """Pin the node (with tags) on its work item; pinning again adds the tags."""
    node = scoped(session, Node, node_id, workspace, "node")
    if node.work_item_id is None:
        raise ApiError(409, "node_has_no_work_item", "workspace-level nodes cannot be pinned")
    favorite = favorite_repo.add(session, node.work_item_id, node_id=node_id, tags=body.tags)
    emit(session, workspace.id, "favorite.added", favorite_id=str(favorite.id), node_id=str(node_id))
    session.commit()
    return favorite
