"""Ledger access from activities: one engine per database URL per process, one unit of work per write.

Rule: an activity writes its result (asset + node + task status + event) in ONE transaction, so a
retried attempt either finds the committed result (idempotency keys) or writes it whole.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from infra.storage import StoredObject
from schema import db
from schema.enums import AssetKind
from schema.models import Asset
from schema.repositories import assets as asset_repo

_lock = threading.Lock()
_engines: dict[str, tuple[Engine, sessionmaker[Session]]] = {}


def _factory(url: str) -> sessionmaker[Session]:
    key = db.normalize_url(url)
    with _lock:
        if key not in _engines:
            engine = db.make_engine(key, pool_size=5, max_overflow=10)
            _engines[key] = (engine, db.session_factory(engine))
        return _engines[key][1]


@contextmanager
def unit_of_work(url: str) -> Iterator[Session]:
    """Commit on success, roll back on any error."""
    with db.unit_of_work(_factory(url)) as session:
        yield session


def dispose_engines(url: str | None = None) -> None:
    with _lock:
        for key in [k for k in _engines if url is None or k == db.normalize_url(url)]:
            _engines.pop(key)[0].dispose()


def stored_asset(
    session: Session,
    workspace_id: str | uuid.UUID,
    stored: StoredObject,
    kind: AssetKind,
    mime: str,
    **media: Any,
) -> Asset:
    """The asset row of a file just put in storage: found by content hash on a retry, never doubled.
    `thumbnails` (from activities.thumbnails.make_thumbnails) are recorded with it, once."""
    thumbs = media.pop("thumbnails", None) or None
    if thumbs:
        media.setdefault("thumbnail_key", (thumbs.get("512") or thumbs.get("256") or {}).get("key"))
        media["thumbnails"] = thumbs
    return asset_repo.get_or_create_by_hash(
        session,
        workspace_id=workspace_id if isinstance(workspace_id, uuid.UUID) else uuid.UUID(str(workspace_id)),
        content_hash=stored.sha256,
        storage_key=stored.key,
        kind=kind,
        mime=mime,
        size_bytes=stored.size,
        **media,
    )
