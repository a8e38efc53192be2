"""Stored files: metadata, download (HTTP Range, ETag = content hash), thumbnails, S3 presigned URLs."""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from starlette.responses import MalformedRangeHeader, RangeNotSatisfiable

from api.deps import ServicesDep, SessionDep, WorkspaceDep, scoped
from api.errors import ApiError, responses
from api.presenters import asset_out, links
from api.schemas import AssetOut
from schema.enums import AssetKind
from schema.models import Asset
from schema.repositories import assets as asset_repo

router = APIRouter(prefix="/workspaces/{workspace_id}/assets", tags=["assets"])

FILE_RESPONSES = {
    200: {"description": "The file (or the requested byte range with 206)", "content": {"*/*": {}}},
    206: {"description": "Partial content"},
    304: {"description": "Not modified (If-None-Match matched the ETag)"},
    307: {"description": "Redirect to a presigned URL (S3 storage)"},
    **responses(400, 416),
}


@router.get("", response_model=list[AssetOut])
def list_assets(
    request: Request,
    workspace: WorkspaceDep,
    session: SessionDep,
    kind: AssetKind | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[AssetOut]:
    urls = links(request)
    return [
        asset_out(a, urls)
        for a in asset_repo.list_for_workspace(session, workspace.id, kind=kind, limit=limit)
    ]


@router.get("/{asset_id}", response_model=AssetOut)
def get_asset(
    request: Request, asset_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep
) -> AssetOut:
    return asset_out(scoped(session, Asset, asset_id, workspace, "asset"), links(request))


def _etag(content_hash: str) -> str:
    return f'"{content_hash}"'


def _not_modified(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def _serve(
    request: Request, services: ServicesDep, key: str, content_hash: str, mime: str, name: str
) -> Response:
    etag = _etag(content_hash)
    cache = {"ETag": etag, "Cache-Control": "private, max-age=31536000, immutable"}
    if _not_modified(request, etag):
        return Response(status_code=304, headers=cache)
    storage = services.storage
    url = storage.presigned_url(key)
    if url is not None:
        return RedirectResponse(url, status_code=307, headers={"Cache-Control": "private, no-store"})
    try:
        path = storage.local_path(key)  # S3 without presigning: fetched into the local cache
    except Exception as exc:
        raise ApiError(404, "asset_file_missing", "the stored file is missing") from exc
    if not path.is_file():
        raise ApiError(404, "asset_file_missing", "the stored file is missing")
    size = path.stat().st_size
    http_range = request.headers.get("range")
    if http_range is not None and request.headers.get("if-range") in (None, etag):
        try:
            FileResponse._parse_range_header(http_range, size)
        except MalformedRangeHeader as exc:
            raise ApiError(400, "range_invalid", "malformed Range header") from exc
        except RangeNotSatisfiable as exc:
            raise ApiError(
                416,
                "range_not_satisfiable",
                "the requested range is outside the file",
                headers={"Content-Range": f"bytes */{size}"},
            ) from exc
    return FileResponse(
        path,
        media_type=mime,
        headers=cache,
        filename=name,
        content_disposition_type="inline",
    )


@router.get("/{asset_id}/content", response_class=Response, responses=FILE_RESPONSES)
def download_asset(
    request: Request, asset_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep, services: ServicesDep
) -> Response:
    """The file. Supports `Range` (206), `If-None-Match` (304; the ETag is the sha256 of the bytes)
    and, on S3 storage, answers 307 to a short-lived presigned URL."""
    asset = scoped(session, Asset, asset_id, workspace, "asset")
    session.close()
    ext = PurePosixPath(asset.storage_key).suffix
    return _serve(request, services, asset.storage_key, asset.content_hash, asset.mime, f"{asset.id}{ext}")


@router.get("/{asset_id}/thumbnail", response_class=Response, responses=FILE_RESPONSES)
def download_thumbnail(
    request: Request, asset_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep, services: ServicesDep
) -> Response:
    """The asset's thumbnail (404 `thumbnail_not_found` when it has none)."""
    asset = scoped(session, Asset, asset_id, workspace, "asset")
    session.close()
    if not asset.thumbnail_key:
        raise ApiError(404, "thumbnail_not_found", "this asset has no thumbnail")
    key = asset.thumbnail_key
    ext = PurePosixPath(key).suffix
    digest = PurePosixPath(key).stem if len(PurePosixPath(key).stem) == 64 else f"{asset.content_hash}-thumb"
    mime = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}.get(
        ext.lower(), "application/octet-stream"
    )
    return _serve(request, services, key, digest, mime, f"{asset.id}-thumb{ext}")
