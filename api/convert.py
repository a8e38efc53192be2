"""Ledger rows → response models, and the ledger event every API write appends.

Rule: every write through the API appends one event (``<entity>.<verb>``) to the workspace's event
log in the same transaction, so ``GET /workspaces/{id}/events`` shows ledger changes next to task
progress.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from api.schemas import AssetOut, Links, NodeOut
from schema.models import Asset, Node
from schema.repositories import events as event_repo


def links(request: Request) -> Links:
    return Links(str(request.base_url))


def emit(session: Session, workspace_id: uuid.UUID, kind: str, **data: Any) -> int:
    return event_repo.append(session, workspace_id, kind, data)


def asset_out(asset: Asset, links: Links) -> AssetOut:
    out = AssetOut.model_validate(asset)
    out.content_url = links.asset_content(asset.workspace_id, asset.id)
    if asset.thumbnail_key:
        out.thumbnail_url = links.asset_thumbnail(asset.workspace_id, asset.id)
    return out


def node_out(node: Node, asset: Asset | None, links: Links) -> NodeOut:
    out = NodeOut.model_validate(node)
    if asset is not None:
        out.asset = asset_out(asset, links)
    return out


def nodes_out(session: Session, nodes: list[Node], links: Links) -> list[NodeOut]:
    """Nodes with their assets, loading the assets in one query."""
    ids = {n.asset_id for n in nodes if n.asset_id is not None}
    assets: dict[uuid.UUID, Asset] = {}
    if ids:
        from sqlalchemy import select

        assets = {a.id: a for a in session.scalars(select(Asset).where(Asset.id.in_(ids)))}
    return [node_out(n, assets.get(n.asset_id) if n.asset_id else None, links) for n in nodes]
