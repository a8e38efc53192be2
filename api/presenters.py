"""API presenters: ledger rows and service results -> response models, one function per shape.

Rule: routers, SSE and webhooks render through these functions only, so one resource has one shape
wherever it appears.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from api.schemas import ActionResultOut, AssetOut, Links, NodeOut, TaskOut, TaskOutput, TurnOut
from schema.models import Asset, Node, Task
from schema.repositories import events as event_repo
from schema.repositories import nodes as node_repo


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


def tasks_out(session: Session, tasks: list[Task], urls: Links) -> list[TaskOut]:
    """Tasks with the files they produced (one query for all of them)."""
    produced: dict[uuid.UUID, list[TaskOutput]] = {t.id: [] for t in tasks}
    for row in node_repo.outputs_of_tasks(session, list(produced)):
        produced[row.task_id].append(
            TaskOutput(
                node_id=row.node_id,
                type=row.type,
                cell=row.cell,
                asset_id=row.asset_id,
                url=urls.asset_content(row.workspace_id, row.asset_id),
            )
        )
    out = []
    for task in tasks:
        item = TaskOut.model_validate(task)
        item.outputs = produced[task.id]
        result = task.result or {}
        preferred = {str(result.get(k)) for k in ("selected_node_id", "node_id") if result.get(k)}
        main = next((o for o in item.outputs if str(o.node_id) in preferred), None)
        main = main or (item.outputs[0] if item.outputs else None)
        item.result_url = main.url if main else None
        out.append(item)
    return out


def task_out(session: Session, task: Task, urls: Links) -> TaskOut:
    return tasks_out(session, [task], urls)[0]


def turn_out(result: Any) -> TurnOut:
    results = [
        ActionResultOut(
            type=r.type,
            status=r.status,
            data=dict(r.data or {}),
            task_ids=[str(t) for t in (r.task_ids or [])],
            workflow_ids=[str(w) for w in (r.workflow_ids or [])],
            error=dict(r.error) if r.error else None,
        )
        for r in result.results
    ]
    return TurnOut(
        mode=result.mode,
        results=results,
        snapshot_id=str(result.snapshot_id) if result.snapshot_id else None,
        proposal=dict(result.proposal) if result.proposal else None,
        task_ids=[t for r in results for t in r.task_ids],
        workflow_ids=[w for r in results for w in r.workflow_ids],
    )
