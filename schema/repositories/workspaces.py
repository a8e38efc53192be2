"""Workspaces: the tenant boundary.

Rule: callers acting for a user load workspaces only through `get_for_owner`, which answers None
for a workspace the user does not own (callers answer 404, never 403, so ids do not leak).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete as sa_delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from schema.domain_errors import InvalidInput
from schema.enums import WorkspaceType
from schema.models import Workspace
from schema.repositories._shared import require

UPDATABLE_FIELDS = frozenset(
    {"title", "meta", "style", "style_spec", "rules", "model_defaults", "cost_limit"}
)


def create(
    session: Session,
    *,
    owner_id: str,
    type: WorkspaceType,
    title: str,
    meta: Mapping[str, Any] | None = None,
    style: str | None = None,
    style_spec: Mapping[str, Any] | None = None,
    rules: Mapping[str, Any] | None = None,
    model_defaults: Mapping[str, Any] | None = None,
    cost_limit: int | None = None,
) -> Workspace:
    if not owner_id:
        raise InvalidInput("a workspace needs an owner", code="owner_required")
    workspace = Workspace(
        owner_id=owner_id,
        type=WorkspaceType(type),
        title=title,
        meta=dict(meta or {}),
        style=style,
        style_spec=dict(style_spec or {}),
        rules=dict(rules or {}),
        model_defaults=dict(model_defaults or {}),
        cost_limit=cost_limit,
    )
    session.add(workspace)
    session.flush()
    return workspace


def get(session: Session, workspace_id: uuid.UUID) -> Workspace | None:
    """Unscoped lookup for trusted callers (activities, workers)."""
    return session.get(Workspace, workspace_id)


def require_workspace(session: Session, workspace_id: uuid.UUID) -> Workspace:
    return require(session, Workspace, workspace_id)


def get_for_owner(session: Session, owner_id: str, workspace_id: uuid.UUID) -> Workspace | None:
    return session.scalar(
        select(Workspace).where(Workspace.id == workspace_id, Workspace.owner_id == owner_id)
    )


def list_for_owner(session: Session, owner_id: str, *, limit: int = 100, offset: int = 0) -> list[Workspace]:
    """Newest first."""
    stmt = (
        select(Workspace)
        .where(Workspace.owner_id == owner_id)
        .order_by(Workspace.created_at.desc(), Workspace.id)
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(stmt))


def update(session: Session, workspace_id: uuid.UUID, changes: Mapping[str, Any]) -> Workspace:
    """Replace the given fields (jsonb fields are replaced whole, not merged)."""
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise InvalidInput(f"cannot update workspace fields {sorted(unknown)}", code="unknown_field")
    workspace = require_workspace(session, workspace_id)
    for key, value in changes.items():
        setattr(workspace, key, dict(value) if isinstance(value, Mapping) else value)
    session.flush()
    return workspace


def delete(session: Session, workspace_id: uuid.UUID) -> None:
    """Delete the workspace and everything in it (every ownership edge cascades)."""
    result = session.execute(sa_delete(Workspace).where(Workspace.id == workspace_id))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        require_workspace(session, workspace_id)
