"""Scenes of a narrative project (ordered 1..N)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from api.concurrency import check_if_match, set_etag
from api.deps import CallerDep, SessionDep, WorkspaceDep, scoped
from api.errors import responses
from api.schemas import Reorder, SceneCreate, SceneOut, SceneUpdate
from schema.models import Scene
from schema.repositories import storyboard as storyboard_repo
from services import shots as shot_service

router = APIRouter(prefix="/workspaces/{workspace_id}/scenes", tags=["scenes"])


@router.get("", response_model=list[SceneOut])
def list_scenes(workspace: WorkspaceDep, session: SessionDep) -> list[Scene]:
    return storyboard_repo.list_scenes(session, workspace.id)


@router.post("", response_model=SceneOut, status_code=status.HTTP_201_CREATED, responses=responses(409))
def create_scene(body: SceneCreate, workspace: WorkspaceDep, session: SessionDep, caller: CallerDep) -> Scene:
    scene = shot_service.create_scene(
        session,
        workspace,
        title=body.title,
        goal=body.goal,
        spec=body.spec,
        at_idx=body.at_idx,
        by=caller.user_id,
    )
    session.commit()
    return scene


@router.get("/{scene_id}", response_model=SceneOut)
def get_scene(scene_id: uuid.UUID, response: Response, workspace: WorkspaceDep, session: SessionDep) -> Scene:
    """The scene; `ETag` is its version (send it back as `If-Match` when you PATCH)."""
    scene = scoped(session, Scene, scene_id, workspace, "scene")
    set_etag(response, scene.updated_at)
    return scene


@router.patch("/{scene_id}", response_model=SceneOut, responses=responses(412))
def update_scene(
    request: Request,
    response: Response,
    scene_id: uuid.UUID,
    body: SceneUpdate,
    workspace: WorkspaceDep,
    session: SessionDep,
    caller: CallerDep,
) -> Scene:
    """Set title/goal; merge-patch the spec. With `If-Match: "<version>"`, 412 `version_mismatch`
    when the scene changed since that version."""
    scoped(session, Scene, scene_id, workspace, "scene")
    check_if_match(request, session, Scene, scene_id)
    scene = shot_service.update_scene(
        session, workspace, scene_id, title=body.title, goal=body.goal, spec=body.spec, by=caller.user_id
    )
    session.commit()
    session.refresh(scene)
    set_etag(response, scene.updated_at)
    return scene


@router.post("/{scene_id}/reorder", response_model=list[SceneOut], responses=responses(409))
def reorder_scene(
    scene_id: uuid.UUID, body: Reorder, workspace: WorkspaceDep, session: SessionDep, caller: CallerDep
) -> list[Scene]:
    """Move the scene to position `to`; returns every scene in the new order."""
    scoped(session, Scene, scene_id, workspace, "scene")
    order = shot_service.reorder_scene(session, workspace, scene_id, body.to, by=caller.user_id)
    session.commit()
    return order


@router.delete("/{scene_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_scene(
    scene_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep, caller: CallerDep
) -> Response:
    """Delete a scene; its shots stay (detached), later scenes move up. A snapshot is taken first."""
    scoped(session, Scene, scene_id, workspace, "scene")
    shot_service.delete_scene(session, workspace, scene_id, by=caller.user_id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
