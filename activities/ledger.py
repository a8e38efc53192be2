"""Ledger writes from activities: assets recorded beside the node that owns them.

Rule: an activity writes its result (asset + node + task status + event) in ONE transaction, so a
retried attempt either finds the committed result (idempotency keys) or writes it whole. A retry
whose bytes differ from the committed attempt's (a non-deterministic provider) adds no asset row:
`stored_asset(..., for_node=KEY)` answers the asset of the node already written under KEY, and
the retry's file (in no asset row) is deleted by the caller.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from infra.storage import StoredObject
from schema.enums import AssetKind
from schema.models import Asset
from schema.repositories import assets as asset_repo
from schema.repositories import nodes as node_repo


def stored_asset(
    session: Session,
    workspace_id: str | uuid.UUID,
    stored: StoredObject,
    kind: AssetKind,
    mime: str,
    *,
    for_node: str | None = None,
    **media: Any,
) -> Asset:
    """The asset row of a file just put in storage: found by content hash on a retry, never doubled.

    With `for_node` (the idempotency key of the node this asset becomes the file of), the key is
    locked for the transaction and, when that node was already committed by an earlier attempt,
    its asset is answered and nothing is inserted (the node insert will find that node too).
    `thumbnails` (from activities.thumbnails.make_thumbnails) are recorded with it, once."""
    thumbs = media.pop("thumbnails", None) or None
    if thumbs:
        media.setdefault("thumbnail_key", (thumbs.get("512") or thumbs.get("256") or {}).get("key"))
        media["thumbnails"] = thumbs
    if for_node is not None:
        key = func.hashtextextended(literal("directordeck.node:" + for_node), 0)
        session.execute(select(func.pg_advisory_xact_lock(key)))
        done = node_repo.get_by_idempotency_key(session, for_node)
        if done is not None and done.asset_id is not None:
            existing = session.get(Asset, done.asset_id)
            if existing is not None:
                return existing
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
