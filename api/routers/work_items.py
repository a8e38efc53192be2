"""Work items (shots of a narrative project, drafts of a draft space), their order and the storyboard."""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api.actions import run_actions
from api.concurrency import check_if_match, set_etag
from api.deps import CallerDep, ServicesDep, SessionDep, WorkspaceDep, scoped, scoped_track
from api.document_cache import CachedDocument
from api.errors import ApiError, not_found, responses
from api.presenters import STORYBOARD_FIELDS, links, nodes_out, storyboard_body
from api.schemas import (
    BatchShotEdit,
    Merge,
    NodeOut,
    Reorder,
    Split,
    StoryboardOut,
    TrackFork,
    TrackOut,
    TurnOut,
    WorkItemCreate,
    WorkItemOut,
    WorkItemUpdate,
)
from api.services import Services
from schema.actions import ShotUpdate, ShotUpdateArgs
from schema.enums import NodeType, WorkItemType
from schema.models import Node, Scene, WorkItem
from schema.repositories import storyboard as storyboard_repo
from schema.repositories import tracks as track_repo
from schema.repositories import work_items as work_item_repo
from services import shots as shot_service
from services import tracks as track_service

router = APIRouter(prefix="/workspaces/{workspace_id}", tags=["work items"])


@router.get(
    "/storyboard",
    response_model=StoryboardOut,
    tags=["storyboard"],
    responses={304: {"description": "Not modified: the storyboard still has the ETag sent in If-None-Match"}},
)
async def get_storyboard(
    request: Request,
    workspace_id: Annotated[uuid.UUID, Path(description="Workspace id")],
    caller: CallerDep,
    services: ServicesDep,
) -> Response:
    """Scenes and shots in order, each shot with its selected version's file.

    One index-probe statement checks ownership (admins may read any workspace) and reads the
    workspace's revision (shared by the same caller's concurrent GETs of the workspace that came
    before it was sent: never older than the request); this process's copy of the body built at
    that revision is served, else PostgreSQL builds the JSON (no ORM objects, no jsonb parsed and
    re-serialised) and the copy is replaced. The body carries an ETag: a client sending it back
    in If-None-Match gets 304.
    """
    owner = None if caller.is_admin else caller.user_id
    revision = await services.read_shared(
        ("storyboard-revision", workspace_id, owner),
        lambda conn: storyboard_repo.storyboard_revision_async(conn, workspace_id, owner_id=owner),
    )
    if revision is None:
        raise not_found("workspace", workspace_id)
    key = ("storyboard", workspace_id, str(request.base_url))
    document = services.documents.at(key, revision)
    if document is None:
        document = await run_in_threadpool(_build_storyboard, services, key, revision, owner)
    if document is None:  # deleted in between
        raise not_found("workspace", workspace_id)
    headers = {"ETag": document.etag, "Cache-Control": "private, no-cache"}
    if document.etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(document.body, media_type="application/json", headers=headers)


def _build_storyboard(
    services: Services, key: tuple[str, uuid.UUID, str], revision: str, owner: str | None
) -> CachedDocument | None:
    """Have PostgreSQL build the storyboard JSON and keep it as this process's copy at `revision`
    (read first, so the copy is never older than the revision it is filed under)."""
    _, workspace_id, base_url = key
    with services.reader() as conn:
        doc = storyboard_repo.storyboard_document(
            conn, workspace_id, owner_id=owner, base_url=base_url, fields=STORYBOARD_FIELDS
        )
    if doc is None:
        return None
    body = storyboard_body(doc)
    document = CachedDocument(revision, body, f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"')
    services.documents.put(key, document)
    return document


@router.get("/work-items", response_model=list[WorkItemOut])
def list_work_items(
    workspace: WorkspaceDep,
    session: SessionDep,
    type: Annotated[WorkItemType | None, Query(description="shot or draft (default: both)")] = None,
    scene_id: uuid.UUID | None = None,
) -> list[WorkItem]:
    """Shots in story order, then drafts oldest first."""
    items: list[WorkItem] = []
    if type in (None, WorkItemType.shot):
        items += work_item_repo.list_shots(session, workspace.id)
    if type in (None, WorkItemType.draft):
        items += work_item_repo.list_drafts(session, workspace.id)
    if scene_id is not None:
        items = [i for i in items if i.scene_id == scene_id]
    return items


@router.post(
    "/work-items", response_model=WorkItemOut, status_code=status.HTTP_201_CREATED, responses=responses(409)
)
def create_work_item(
    body: WorkItemCreate, workspace: WorkspaceDep, session: SessionDep, caller: CallerDep
) -> WorkItem:
    """Add a shot (narrative projects; at a position or at the end) or a draft."""
    if body.type == WorkItemType.shot and body.scene_id is not None:
        scoped(session, Scene, body.scene_id, workspace, "scene")
    item = shot_service.create_work_item(
        session,
        workspace,
        type=body.type,
        spec=body.spec,
        duration_s=body.duration_s,
        scene_id=body.scene_id,
        at_idx=body.at_idx,
        tags=body.tags,
        locks=body.locks,
        by=caller.user_id,
    )
    session.commit()
    return item


@router.get("/work-items/{work_item_id}", response_model=WorkItemOut)
def get_work_item(
    work_item_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep, response: Response
) -> WorkItem:
    """The work item; `ETag` is its version (send it back as `If-Match` when you PATCH)."""
    item = scoped(session, WorkItem, work_item_id, workspace, "work_item")
    set_etag(response, item.updated_at)
    return item


@router.patch("/work-items/{work_item_id}", response_model=WorkItemOut, responses=responses(409, 412))
def update_work_item(
    request: Request,
    response: Response,
    work_item_id: uuid.UUID,
    body: WorkItemUpdate,
    workspace: WorkspaceDep,
    session: SessionDep,
    caller: CallerDep,
) -> WorkItem:
    """Merge-patch the spec (prompt = `visual`, `narration`, `dialogue`, `camera`...) and locks;
    replace tags; set duration or scene (null clears). With `If-Match: "<version>"`, 412
    `version_mismatch` when the item changed since that version."""
    scoped(session, WorkItem, work_item_id, workspace, "work_item")
    check_if_match(request, session, WorkItem, work_item_id)
    if body.scene_id is not None:
        scoped(session, Scene, body.scene_id, workspace, "scene")
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    item = shot_service.update_work_item(session, workspace, work_item_id, changes, by=caller.user_id)
    session.commit()
    session.refresh(item)
    set_etag(response, item.updated_at)
    return item


@router.delete(
    "/work-items/{work_item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=responses(409),
)
def delete_work_item(
    work_item_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep, caller: CallerDep
) -> Response:
    """Delete a shot or draft with its tracks and nodes (409 if another item references its nodes).
    A snapshot is taken first, so the delete can be rolled back."""
    scoped(session, WorkItem, work_item_id, workspace, "work_item")
    shot_service.delete_work_item(session, workspace, work_item_id, by=caller.user_id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/work-items/{work_item_id}/reorder", response_model=list[WorkItemOut], responses=responses(409))
def reorder_shot(
    work_item_id: uuid.UUID, body: Reorder, workspace: WorkspaceDep, session: SessionDep, caller: CallerDep
) -> list[WorkItem]:
    """Move a shot to position `to`; returns every shot in the new order."""
    scoped(session, WorkItem, work_item_id, workspace, "work_item")
    order = shot_service.reorder_shot(session, workspace, work_item_id, body.to, by=caller.user_id)
    session.commit()
    return order


@router.post("/work-items/{work_item_id}/split", response_model=list[WorkItemOut], responses=responses(409))
def split_shot(
    work_item_id: uuid.UUID, body: Split, workspace: WorkspaceDep, session: SessionDep, caller: CallerDep
) -> list[WorkItem]:
    """Split a shot into consecutive parts (the original keeps its id, nodes and selection as part 1)."""
    scoped(session, WorkItem, work_item_id, workspace, "work_item")
    parts = shot_service.split_shot(
        session, workspace, work_item_id, parts=body.parts, specs=body.specs, by=caller.user_id
    )
    session.commit()
    return parts


@router.post("/work-items/batch", response_model=TurnOut, responses=responses(409, 412))
async def batch_edit(
    body: BatchShotEdit,
    workspace: WorkspaceDep,
    session: SessionDep,
    caller: CallerDep,
    services: ServicesDep,
) -> TurnOut:
    """Set the same fields on several shots at once (the board's batch edit): one `shot.update`
    action through the action router — the same one the chat runs, so a snapshot is taken first
    and the turn can be undone. With `versions`, the shots are locked and compared first: 412
    `version_mismatch` (nothing applied) when one changed since the form loaded it."""

    def numbers() -> list[int]:
        items = [scoped(session, WorkItem, i, workspace, "work_item") for i in body.work_item_ids]
        session.close()  # the turn runs in its own transaction
        if any(item.type != WorkItemType.shot or item.idx is None for item in items):
            raise ApiError(
                409, "not_a_shot", "batch edit is for the shots of a project (drafts have no number)"
            )
        return sorted({int(item.idx) for item in items if item.idx is not None})

    idxs = await run_in_threadpool(numbers)
    action = ShotUpdate(args=ShotUpdateArgs(shots=idxs, patch=body.patch))
    return await run_actions(
        services,
        caller,
        workspace.id,
        [action],
        intent=f"batch edit of {len(idxs)} shots",
        versions={str(k): v for k, v in body.versions.items()},
    )


@router.post("/work-items/merge", response_model=WorkItemOut, responses=responses(409))
def merge_shots(body: Merge, workspace: WorkspaceDep, session: SessionDep, caller: CallerDep) -> WorkItem:
    """Merge consecutive shots into the first one (the others are deleted). A snapshot is taken
    first, so the merge can be rolled back."""
    for item_id in body.work_item_ids:
        scoped(session, WorkItem, item_id, workspace, "work_item")
    merged = shot_service.merge_shots(session, workspace, body.work_item_ids, by=caller.user_id)
    session.commit()
    return merged


# --- tracks & nodes of one work item --------------------------------------------------------


@router.get("/work-items/{work_item_id}/tracks", response_model=list[TrackOut], tags=["tracks"])
def list_tracks(work_item_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep) -> list[TrackOut]:
    """The work item's tracks; `is_main` marks the one holding the selected node."""
    scoped(session, WorkItem, work_item_id, workspace, "work_item")
    main = track_repo.main_track(session, work_item_id)
    out = []
    for track in track_repo.list_for_work_item(session, work_item_id):
        item = TrackOut.model_validate(track)
        item.is_main = main is not None and main.id == track.id
        out.append(item)
    return out


@router.post(
    "/work-items/{work_item_id}/tracks",
    response_model=TrackOut,
    status_code=status.HTTP_201_CREATED,
    tags=["tracks"],
    responses=responses(409),
)
def fork_track(
    work_item_id: uuid.UUID, body: TrackFork, workspace: WorkspaceDep, session: SessionDep, caller: CallerDep
) -> TrackOut:
    """Start a new track (branch) from a node of this work item."""
    scoped(session, WorkItem, work_item_id, workspace, "work_item")
    scoped(session, Node, body.from_node_id, workspace, "node")
    track = track_service.fork_track(
        session, workspace, work_item_id, body.from_node_id, name=body.name, by=caller.user_id
    )
    session.commit()
    return TrackOut.model_validate(track)


@router.get("/work-items/{work_item_id}/nodes", response_model=list[NodeOut], tags=["nodes"])
def list_nodes(
    request: Request,
    work_item_id: uuid.UUID,
    workspace: WorkspaceDep,
    session: SessionDep,
    track_id: Annotated[uuid.UUID | None, Query(description="Only this track's nodes")] = None,
    type: NodeType | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[NodeOut]:
    """The work item's nodes, oldest first (with their files)."""
    scoped(session, WorkItem, work_item_id, workspace, "work_item")
    stmt = select(Node).where(Node.work_item_id == work_item_id)
    if track_id is not None:
        scoped_track(session, track_id, workspace)
        stmt = stmt.where(Node.track_id == track_id)
    if type is not None:
        stmt = stmt.where(Node.type == type)
    rows = list(
        session.scalars(stmt.order_by(Node.created_at, Node.cell.nulls_first(), Node.id).limit(limit))
    )
    return nodes_out(session, rows, links(request))
