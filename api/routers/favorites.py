"""Favorites (pinned candidates) and their batch download as a zip laid out per shot."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
import zipfile
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from api.convert import emit
from api.deps import ServicesDep, SessionDep, WorkspaceDep, scoped
from api.schemas import FavoriteCreate, FavoriteOut
from schema.enums import WorkItemType
from schema.models import Favorite
from schema.repositories import favorites as favorite_repo

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
    favorite_id: uuid.UUID, body: FavoriteCreate, workspace: WorkspaceDep, session: SessionDep
) -> Favorite:
    """Replace the favorite's tags."""
    scoped(session, Favorite, favorite_id, workspace, "favorite")
    favorite = favorite_repo.set_tags(session, favorite_id, body.tags)
    emit(session, workspace.id, "favorite.updated", favorite_id=str(favorite_id))
    session.commit()
    return favorite


@router.delete("/{favorite_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_favorite(favorite_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep) -> Response:
    scoped(session, Favorite, favorite_id, workspace, "favorite")
    favorite_repo.remove(session, favorite_id)
    emit(session, workspace.id, "favorite.removed", favorite_id=str(favorite_id))
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _safe(text: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in text).strip("-")
    return cleaned[:40] or "x"


@router.get(
    "/download",
    response_class=Response,
    responses={200: {"description": "A zip: one folder per shot/draft", "content": {"application/zip": {}}}},
)
def download_favorites(workspace: WorkspaceDep, session: SessionDep, services: ServicesDep) -> Response:
    """Every favorite's file in a zip, one folder per shot (`shot-03/`) or draft, plus
    `manifest.json` (shot number, node, tags, prompt) — shot order is folder order."""
    items = favorite_repo.list_for_export(session, workspace.id)
    session.close()
    fd, tmp = tempfile.mkstemp(prefix="dd-favorites-", suffix=".zip")
    os.close(fd)
    manifest: list[dict[str, Any]] = []
    drafts: dict[uuid.UUID, int] = {}
    written: set[tuple[str, str]] = set()
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
            for item in items:
                work_item = item.work_item
                if work_item.type == WorkItemType.shot:
                    folder = f"shot-{work_item.idx or 0:02d}"
                else:
                    number = drafts.setdefault(work_item.id, len(drafts) + 1)
                    folder = f"draft-{number:02d}-{str(work_item.id)[:8]}"
                entry: dict[str, Any] = {
                    "folder": folder,
                    "work_item_id": str(work_item.id),
                    "shot": work_item.idx,
                    "favorite_id": str(item.favorite.id),
                    "node_id": str(item.node.id) if item.node else None,
                    "tags": item.favorite.tags,
                    "prompt": (item.node.payload or {}).get("prompt") if item.node else None,
                }
                asset = item.asset
                if asset is None:
                    entry["missing"] = "no file"
                    manifest.append(entry)
                    continue
                ext = PurePosixPath(asset.storage_key).suffix
                label = "-".join(_safe(str(t)) for t in item.favorite.tags[:2]) or (
                    item.node.type.value if item.node else asset.kind.value
                )
                cell = f"-cell{item.node.cell}" if item.node and item.node.cell else ""
                name = f"{folder}/{label}{cell}-{asset.content_hash[:8]}{ext}"
                entry["file"] = name
                if (folder, asset.content_hash) not in written:
                    try:
                        path = Path(services.storage.local_path(asset.storage_key))
                        archive.write(path, name)
                        written.add((folder, asset.content_hash))
                    except Exception:
                        entry["missing"] = "file not in storage"
                manifest.append(entry)
            archive.writestr(
                "manifest.json",
                json.dumps(
                    {"workspace_id": str(workspace.id), "title": workspace.title, "items": manifest},
                    indent=2,
                    ensure_ascii=False,
                ),
            )
    except BaseException:
        os.unlink(tmp)
        raise
    filename = f"{_safe(workspace.title)}-favorites.zip"
    return FileResponse(
        tmp, media_type="application/zip", filename=filename, background=BackgroundTask(os.unlink, tmp)
    )
