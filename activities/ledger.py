"""Ledger writes from activities: assets recorded beside the node that owns them.

Rule: an activity writes its result (asset + node + task status + event) in ONE transaction, so a
retried attempt either finds the committed result (idempotency keys) or writes it whole.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from infra.storage import StoredObject
from schema.enums import AssetKind
from schema.models import Asset
from schema.repositories import assets as asset_repo


def stored_asset(
    session: Session,
    workspace_id: str | uuid.UUID,
    stored: StoredObject,
    kind: AssetKind,
    mime: str,
    **media: Any,
) -> Asset:
    """The asset row of a file just put in storage: found by content hash on a retry, never doubled."""
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
