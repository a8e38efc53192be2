"""Favorites (pinned candidates) and their batch download as a zip laid out per shot."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from activities.export import plan_package, safe_label, write_package
from api.deps import CallerDep, ServicesDep, SessionDep, WorkspaceDep, scoped
from api.errors import ApiError, responses
from api.schemas import FavoriteCreate, FavoriteOut
from schema.errors import DirectorDeckError
from schema.models import Favorite
from schema.repositories import favorites as favorite_repo
from services import tracks as track_service

router = APIRouter(prefix="/workspaces/{workspace_id}/favorites", tags=["favorites"])


@router.get("", response_model=list[FavoriteOut])
def list_favorites(
    workspace: WorkspaceDep,
    session: SessionDep,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    work_item_id: uuid.UUID | None = None,
) -> list[Favorite]:
    favorites = favorite_repo.list_for_workspace(session, workspace.id, tag=tag)
    if work_item_id is not None:
        favorites = [f for f in favorites if f.work_item_id == work_item_id]
    return favorites


@router.patch("/{favorite_id}", response_model=FavoriteOut)
def set_favorite_tags(
    favorite_id: uuid.UUID,
    body: FavoriteCreate,
    workspace: WorkspaceDep,
    session: SessionDep,
    caller: CallerDep,
) -> Favorite:
    """Replace the favorite's tags."""
    scoped(session, Favorite, favorite_id, workspace, "favorite")
    favorite = track_service.set_favorite_tags(session, workspace, favorite_id, body.tags, by=caller.user_id)
    session.commit()
    return favorite


@router.delete("/{favorite_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_favorite(
    favorite_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep, caller: CallerDep
) -> Response:
    scoped(session, Favorite, favorite_id, workspace, "favorite")
    track_service.remove_favorite(session, workspace, favorite_id, by=caller.user_id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/download",
    response_class=Response,
    responses={
        200: {"description": "A zip: one folder per shot/draft", "content": {"application/zip": {}}},
        **responses(409),
    },
)
def download_favorites(workspace: WorkspaceDep, session: SessionDep, services: ServicesDep) -> Response:
    """Every favorite's file in a zip, one folder per shot (`shot-03/`) or draft, plus
    `manifest.json` (shot number, node, tags, prompt, content hash, size) — shot order is folder
    order. Built while the request waits; `POST .../exports` makes the same package durably."""
    plan = plan_package(session, workspace.id, "favorites")
    session.close()
    fd, tmp = tempfile.mkstemp(prefix="dd-favorites-", suffix=".zip")
    os.close(fd)
    try:
        write_package(plan, services.storage, Path(tmp))
    except DirectorDeckError as err:
        os.unlink(tmp)
        raise ApiError(409, err.code, err.message) from err
    except BaseException:
        os.unlink(tmp)
        raise
    filename = f"{safe_label(workspace.title)}-favorites.zip"
    return FileResponse(
        tmp, media_type="application/zip", filename=filename, background=BackgroundTask(os.unlink, tmp)
    )
