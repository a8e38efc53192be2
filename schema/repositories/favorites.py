"""Favorites: pinned candidates (a node of the work item, and/or an asset) with tags.

Rule: one favorite per (work item, node) and per (work item, asset) for asset-only pins;
pinning again unions the tags. A favorited node survives its track's deletion; a pinned asset
cannot be deleted (NO ACTION).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from schema.domain_errors import InvalidInput, InvariantViolation, NotFound
from schema.models import Asset, Favorite, Node, WorkItem
from schema.repositories._shared import require


class ExportItem(NamedTuple):
    favorite: Favorite
    work_item: WorkItem
    node: Node | None
    asset: Asset | None  # the pinned asset, else the node's asset


def add(
    session: Session,
    work_item_id: uuid.UUID,
    *,
    node_id: uuid.UUID | None = None,
    asset_id: uuid.UUID | None = None,
    tags: Sequence[str] | None = None,
) -> Favorite:
    """Pin a node (of this work item) and/or an asset (of this workspace). Idempotent."""
    if node_id is None and asset_id is None:
        raise InvalidInput("a favorite pins a node or an asset", code="favorite_needs_target")
    item = require(session, WorkItem, work_item_id)
    if node_id is not None:
        node = session.get(Node, node_id)
        if node is None:
            raise NotFound("node", node_id)
        if node.work_item_id != work_item_id:
            raise InvariantViolation(
                "a favorite's node belongs to its work item", code="favorite_node_wrong_work_item"
            )
    if asset_id is not None:
        asset = session.get(Asset, asset_id)
        if asset is None or asset.workspace_id != item.workspace_id:
            raise InvariantViolation("the asset is not in this workspace", code="asset_wrong_workspace")
    stmt = pg_insert(Favorite).values(
        id=uuid.uuid4(),
        workspace_id=item.workspace_id,
        work_item_id=work_item_id,
        node_id=node_id,
        asset_id=asset_id,
        tags=list(dict.fromkeys(tags or [])),
    )
    if node_id is not None:
        stmt = stmt.on_conflict_do_nothing(index_elements=[Favorite.work_item_id, Favorite.node_id])
        existing_filter = Favorite.node_id == node_id
    else:
        stmt = stmt.on_conflict_do_nothing(
            index_elements=[Favorite.work_item_id, Favorite.asset_id], index_where=Favorite.node_id.is_(None)
        )
        existing_filter = (Favorite.asset_id == asset_id) & Favorite.node_id.is_(None)
    favorite = session.scalars(stmt.returning(Favorite)).one_or_none()
    if favorite is not None:
        return favorite
    favorite = session.scalar(select(Favorite).where(Favorite.work_item_id == work_item_id, existing_filter))
    assert favorite is not None
    if tags:
        favorite.tags = list(dict.fromkeys([*favorite.tags, *tags]))
        session.flush()
    return favorite


def get(session: Session, favorite_id: uuid.UUID) -> Favorite | None:
    return session.get(Favorite, favorite_id)


def set_tags(session: Session, favorite_id: uuid.UUID, tags: Sequence[str]) -> Favorite:
    favorite = require(session, Favorite, favorite_id)
    favorite.tags = list(dict.fromkeys(tags))
    session.flush()
    return favorite


def remove(session: Session, favorite_id: uuid.UUID) -> None:
    session.delete(require(session, Favorite, favorite_id))
    session.flush()


def list_for_work_item(session: Session, work_item_id: uuid.UUID) -> list[Favorite]:
    stmt = (
        select(Favorite)
        .where(Favorite.work_item_id == work_item_id)
        .order_by(Favorite.created_at, Favorite.id)
    )
    return list(session.scalars(stmt))


def list_for_workspace(
    session: Session, workspace_id: uuid.UUID, *, tag: str | None = None
) -> list[Favorite]:
    stmt = select(Favorite).where(Favorite.workspace_id == workspace_id)
    if tag is not None:
        stmt = stmt.where(Favorite.tags.contains([tag]))
    return list(session.scalars(stmt.order_by(Favorite.created_at, Favorite.id)))


def list_for_export(session: Session, workspace_id: uuid.UUID) -> list[ExportItem]:
    """Every favorite with its work item, node and file, grouped by shot order (drafts last).
    One statement; batch download makes one folder per work item from it."""
    stmt = (
        select(Favorite, WorkItem, Node, Asset)
        .join(WorkItem, WorkItem.id == Favorite.work_item_id)
        .outerjoin(Node, Node.id == Favorite.node_id)
        .outerjoin(Asset, Asset.id == func.coalesce(Favorite.asset_id, Node.asset_id))
        .where(Favorite.workspace_id == workspace_id)
        .order_by(WorkItem.idx.nulls_last(), WorkItem.created_at, Favorite.created_at, Favorite.id)
    )
    return [ExportItem(f, w, n, a) for f, w, n, a in session.execute(stmt)]
