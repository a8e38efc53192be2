"""Scenes of a narrative project (ordered 1..N)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from api.deps import SessionDep, WorkspaceDep, scoped
from api.errors import ApiError, responses
from api.presenters import emit
from api.schemas import Reorder, SceneCreate, SceneOut, SceneUpdate
from schema.enums import WorkspaceType
from schema.models import Scene, Workspace
from schema.repositories import storyboard as storyboard_repo

router = APIRouter(prefix="/workspaces/{workspace_id}/scenes", tags=["scenes"])


def _narrative(workspace: Workspace) -> None:
    if workspace.type != WorkspaceType.narrative_project:
        raise ApiError(409, "scenes_need_narrative_project", "draft spaces have no scenes")


@router.get("", response_model=list[SceneOut])
def list_scenes(workspace: WorkspaceDep, session: SessionDep) -> list[Scene]:
    return storyboard_repo.list_scenes(session, workspace.id)


@router.post("", response_model=SceneOut, status_code=status.HTTP_201_CREATED, responses=responses(409))
def create_scene(body: SceneCreate, workspace: WorkspaceDep, session: SessionDep) -> Scene:
    _narrative(workspace)
    scene = storyboard_repo.add_scene(
        session, workspace.id, title=body.title, goal=body.goal, spec=body.spec, at_idx=body.at_idx
    )
    emit(session, workspace.id, "scene.created", scene_id=str(scene.id), idx=scene.idx)
    session.commit()
    return scene


@router.get("/{scene_id}", response_model=SceneOut)
def get_scene(scene_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep) -> Scene:
    return scoped(session, Scene, scene_id, workspace, "scene")


@router.patch("/{scene_id}", response_model=SceneOut)
def update_scene(
    scene_id: uuid.UUID, body: SceneUpdate, workspace: WorkspaceDep, session: SessionDep
) -> Scene:
    """Set title/goal; merge-patch the spec."""
    scoped(session, Scene, scene_id, workspace, "scene")
    scene = storyboard_repo.update_scene(
        session, scene_id, title=body.title, goal=body.goal, spec_patch=body.spec
    )
    emit(session, workspace.id, "scene.updated", scene_id=str(scene_id))
    session.commit()
    return scene


@router.post("/{scene_id}/reorder", response_model=list[SceneOut], responses=responses(409))
def reorder_scene(
    scene_id: uuid.UUID, body: Reorder, workspace: WorkspaceDep, session: SessionDep
) -> list[Scene]:
    """Move the scene to position `to`; returns every scene in the new order."""
    scoped(session, Scene, scene_id, workspace, "scene")
    order = storyboard_repo.reorder_scene(session, scene_id, body.to)
    emit(session, workspace.id, "scene.reordered", scene_id=str(scene_id), to=body.to)
    session.commit()
    return order


@router.delete("/{scene_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_scene(scene_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep) -> Response:
    """Delete a scene; its shots stay (detached), later scenes move up."""
    scoped(session, Scene, scene_id, workspace, "scene")
    storyboard_repo.delete_scene(session, scene_id)
    emit(session, workspace.id, "scene.deleted", scene_id=str(scene_id))
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
