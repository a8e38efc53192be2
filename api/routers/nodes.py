"""Tracks by id, nodes (artifacts), their lineage and references, commit and favorite."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status

from api.concurrency import check_if_match, set_etag
from api.deps import CallerDep, SessionDep, WorkspaceDep, scoped, scoped_track
from api.errors import responses
from api.presenters import links, node_out, nodes_out
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
from schema.models import Favorite, Node, Track, WorkItem
from schema.repositories import nodes as node_repo
from services import tracks as track_service

router = APIRouter(prefix="/workspaces/{workspace_id}")


@router.patch("/tracks/{track_id}", response_model=TrackOut, tags=["tracks"], responses=responses(409, 412))
def rename_track(
    request: Request,
    response: Response,
    track_id: uuid.UUID,
    body: TrackRename,
    workspace: WorkspaceDep,
    session: SessionDep,
    caller: CallerDep,
) -> TrackOut:
    """Rename a track. With `If-Match: "<version>"`, 412 `version_mismatch` when the track changed
    since that version."""
    scoped_track(session, track_id, workspace)
    check_if_match(request, session, Track, track_id)
    track = track_service.rename_track(session, workspace, track_id, body.name, by=caller.user_id)
    session.commit()
    session.refresh(track)
    set_etag(response, track.updated_at)
    return TrackOut.model_validate(track)


@router.delete("/tracks/{track_id}", response_model=TrackDeletionOut, tags=["tracks"])
def delete_track(
    track_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep, caller: CallerDep
) -> TrackDeletionOut:
    """Delete a track; nodes that are selected, referenced, favorited or ancestors of kept work
    stay (moved to no track) — nothing that matters is lost."""
    scoped_track(session, track_id, workspace)
    result = track_service.delete_track(session, workspace, track_id, by=caller.user_id)
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


# Lineage and references are keyset-paged: `limit` rows per page (default 100, at most 500); the
# body stays the bare list it always was, and a page that is not the last names the next one in
# `X-Next-Cursor` (pass it back as `cursor`) and in a `Link: <...>; rel="next"` header. A cursor
# that is malformed or belongs to another listing is 422 `invalid_cursor`.
NEXT_CURSOR_HEADER = "X-Next-Cursor"

Limit = Annotated[
    int,
    Query(
        ge=1,
        le=node_repo.MAX_PAGE_SIZE,
        description=f"Rows per page (at most {node_repo.MAX_PAGE_SIZE})",
    ),
]
Cursor = Annotated[
    str | None,
    Query(description=f"Where the page starts: the previous page's `{NEXT_CURSOR_HEADER}` (opaque)"),
]
PAGED: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            NEXT_CURSOR_HEADER: {
                "description": "Cursor of the next page; absent on the last page",
                "schema": {"type": "string"},
            },
            "Link": {
                "description": 'URL of the next page (`rel="next"`); absent on the last page',
                "schema": {"type": "string"},
            },
        }
    },
}


def _next_page(request: Request, response: Response, cursor: str | None) -> None:
    if cursor is not None:
        response.headers[NEXT_CURSOR_HEADER] = cursor
        response.headers["Link"] = f'<{request.url.include_query_params(cursor=cursor)}>; rel="next"'


@router.get("/nodes/{node_id}/lineage", response_model=list[LineageEntry], tags=["nodes"], responses=PAGED)
def get_lineage(
    request: Request,
    response: Response,
    node_id: uuid.UUID,
    workspace: WorkspaceDep,
    session: SessionDep,
    direction: Annotated[Literal["ancestors", "descendants"], Query()] = "ancestors",
    limit: Limit = node_repo.DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> list[LineageEntry]:
    """What the node was iterated from (ancestors, nearest first) or what was made from it
    (descendants, breadth first). Paged: see `X-Next-Cursor`."""
    scoped(session, Node, node_id, workspace, "node")
    walk = node_repo.ancestors_page if direction == "ancestors" else node_repo.descendants_page
    page = walk(session, node_id, limit=limit, cursor=cursor)
    outs = nodes_out(session, [r.node for r in page.rows], links(request))
    _next_page(request, response, page.next_cursor)
    return [LineageEntry(depth=r.depth, node=o) for r, o in zip(page.rows, outs, strict=True)]


@router.get(
    "/nodes/{node_id}/references", response_model=list[ReferenceEntry], tags=["nodes"], responses=PAGED
)
def get_references(
    request: Request,
    response: Response,
    node_id: uuid.UUID,
    workspace: WorkspaceDep,
    session: SessionDep,
    direction: Annotated[
        Literal["out", "in"], Query(description="out: what this node used; in: what used this node")
    ] = "out",
    limit: Limit = node_repo.DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> list[ReferenceEntry]:
    """Reference edges, oldest first. Paged: see `X-Next-Cursor`."""
    scoped(session, Node, node_id, workspace, "node")
    fetch = node_repo.references_of_page if direction == "out" else node_repo.referenced_by_page
    page = fetch(session, node_id, limit=limit, cursor=cursor)
    outs = nodes_out(session, [r.node for r in page.rows], links(request))
    _next_page(request, response, page.next_cursor)
    return [ReferenceEntry(role=r.role, node=o) for r, o in zip(page.rows, outs, strict=True)]


@router.post("/nodes/{node_id}/commit", response_model=WorkItemOut, tags=["nodes"], responses=responses(409))
def commit_node(
    node_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep, caller: CallerDep
) -> WorkItem:
    """Make the node its work item's selected (current) version."""
    scoped(session, Node, node_id, workspace, "node")
    item = track_service.commit_node(session, workspace, node_id, by=caller.user_id)
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
    node_id: uuid.UUID, body: FavoriteCreate, workspace: WorkspaceDep, session: SessionDep, caller: CallerDep
) -> Favorite:
    """Pin the node (with tags) on its work item; pinning again adds the tags."""
    scoped(session, Node, node_id, workspace, "node")
    favorite = track_service.favorite_node(session, workspace, node_id, body.tags, by=caller.user_id)
    session.commit()
    return favorite
