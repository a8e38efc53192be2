"""Assets: stored files, content-addressed per workspace.

Rule: one row per (workspace, sha256 of the bytes). `get_or_create_by_hash` is an
INSERT ... ON CONFLICT DO NOTHING followed by a read, so a retried write (or two writers racing)
ends with one row; the first writer's storage key and metadata win.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, text, union, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from schema.domain_errors import InvalidInput
from schema.enums import AssetKind
from schema.models import Asset
from schema.repositories._shared import require

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
THUMBNAIL_SIZES = ("256", "512")  # long side in px


def get(session: Session, asset_id: uuid.UUID) -> Asset | None:
    return session.get(Asset, asset_id)


def require_asset(session: Session, asset_id: uuid.UUID) -> Asset:
    return require(session, Asset, asset_id)


def get_by_hash(session: Session, workspace_id: uuid.UUID, content_hash: str) -> Asset | None:
    return session.scalar(
        select(Asset).where(Asset.workspace_id == workspace_id, Asset.content_hash == content_hash)
    )


def get_or_create_by_hash(
    session: Session,
    *,
    workspace_id: uuid.UUID,
    content_hash: str,
    storage_key: str,
    kind: AssetKind,
    mime: str,
    size_bytes: int,
    width: int | None = None,
    height: int | None = None,
    duration_s: float | None = None,
    thumbnail_key: str | None = None,
    thumbnails: dict[str, Any] | None = None,
) -> Asset:
    """The workspace's asset with these bytes, created if missing. Idempotent. An existing row
    without thumbnails gets the ones given (made once: the first writer's stay)."""
    if not SHA256_HEX.match(content_hash):
        raise InvalidInput("content_hash must be a lower-case sha256 hex digest", code="content_hash_invalid")
    if size_bytes < 0:
        raise InvalidInput("size_bytes must not be negative", code="size_invalid")
    stmt = (
        pg_insert(Asset)
        .values(
            id=uuid.uuid4(),
            workspace_id=workspace_id,
            content_hash=content_hash,
            storage_key=storage_key,
            kind=AssetKind(kind),
            mime=mime,
            size_bytes=size_bytes,
            width=width,
            height=height,
            duration_s=duration_s,
            thumbnail_key=thumbnail_key,
            thumbnails=thumbnails or {},
        )
        .on_conflict_do_nothing(index_elements=[Asset.workspace_id, Asset.content_hash])
        .returning(Asset)
    )
    asset = session.scalars(stmt).one_or_none()
    if asset is not None:
        return asset
    existing = get_by_hash(session, workspace_id, content_hash)
    assert existing is not None
    if thumbnails and not existing.thumbnails:
        return set_thumbnails(session, existing.id, thumbnails, thumbnail_key)
    return existing


def keys_in_use(session: Session, storage_keys: Sequence[str]) -> set[str]:
    """Which of these storage keys a ledger row points at (as file or thumbnail); the others are
    orphans a failed attempt left in storage and may be deleted."""
    if not storage_keys:
        return set()
    keys = list(storage_keys)
    files = select(Asset.storage_key).where(Asset.storage_key.in_(keys))
    thumbs = select(Asset.thumbnail_key).where(Asset.thumbnail_key.in_(keys))
    sized = [
        select(Asset.thumbnails[size]["key"].astext).where(Asset.thumbnails[size]["key"].astext.in_(keys))
        for size in THUMBNAIL_SIZES
    ]
    return {key for key in session.scalars(union(files, thumbs, *sized)) if key is not None}


def set_thumbnail(session: Session, asset_id: uuid.UUID, thumbnail_key: str) -> Asset:
    """Record the thumbnail once (the first writer wins, like the asset itself)."""
    session.execute(
        update(Asset)
        .where(Asset.id == asset_id, Asset.thumbnail_key.is_(None))
        .values(thumbnail_key=thumbnail_key),
        execution_options={"synchronize_session": "fetch"},
    )
    return require_asset(session, asset_id)


def set_thumbnails(
    session: Session, asset_id: uuid.UUID, thumbnails: dict[str, Any], thumbnail_key: str | None = None
) -> Asset:
    """Record the sized thumbnails once (only on a row that has none yet)."""
    session.execute(
        update(Asset)
        .where(Asset.id == asset_id, Asset.thumbnails == text("'{}'::jsonb"))
        .values(thumbnails=thumbnails, thumbnail_key=func.coalesce(Asset.thumbnail_key, thumbnail_key)),
        execution_options={"synchronize_session": "fetch"},
    )
    asset = require_asset(session, asset_id)
    session.refresh(asset)
    return asset


def thumbnail(asset: Asset, size: int) -> tuple[str, str] | None:
    """(storage key, sha256) of the asset's thumbnail of this long side, if it has one."""
    entry = (asset.thumbnails or {}).get(str(size))
    if isinstance(entry, dict) and entry.get("key"):
        return str(entry["key"]), str(entry.get("sha256") or "")
    return None


def list_for_workspace(
    session: Session, workspace_id: uuid.UUID, *, kind: AssetKind | None = None, limit: int = 500
) -> list[Asset]:
    stmt = select(Asset).where(Asset.workspace_id == workspace_id)
    if kind is not None:
        stmt = stmt.where(Asset.kind == AssetKind(kind))
    return list(session.scalars(stmt.order_by(Asset.created_at.desc(), Asset.id).limit(limit)))
