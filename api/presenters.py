"""API presenters: ledger rows and service results -> response models, one function per shape.

Rule: routers, SSE and webhooks render through these functions only, so one resource has one shape
wherever it appears.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.schemas import (
    ActionResultOut,
    AssetOut,
    Links,
    NodeOut,
    SceneOut,
    TaskOut,
    TaskOutput,
    Touched,
    TurnOut,
    WorkItemOut,
    WorkspaceOut,
)
from schema.models import Asset, Node, Task
from schema.repositories import events as event_repo
from schema.repositories import nodes as node_repo
from schema.repositories.storyboard import DocumentFields, StoryboardDocument

# The storyboard document is built by PostgreSQL (one statement) with exactly these fields, in
# the order the response models declare them; StoryboardShot adds the selected file's id and URLs.
STORYBOARD_FIELDS = DocumentFields(
    workspace=tuple(WorkspaceOut.model_fields),
    scene=tuple(SceneOut.model_fields),
    shot=tuple(WorkItemOut.model_fields),
    versioned=all("version" in m.model_computed_fields for m in (WorkspaceOut, SceneOut, WorkItemOut)),
)
STORYBOARD_SHOT_FILE_FIELDS = ("selected_asset_id", "selected_url", "thumbnail_url")


def links(request: Request) -> Links:
    return Links(str(request.base_url))


def storyboard_body(doc: StoryboardDocument) -> bytes:
    """The StoryboardOut JSON from the parts PostgreSQL built (joined, never parsed)."""
    total = json.dumps(round(doc.total_duration_s, 3))
    return (
        f'{{"workspace":{doc.workspace},"scenes":{doc.scenes},"shots":{doc.shots},"total_duration_s":{total}}}'
    ).encode()


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
            touched=Touched.model_validate(r.touched or {}),
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


def add_task_links(
    session: Session, workspace_id: uuid.UUID, rows: list[dict[str, Any]], urls: Links
) -> None:
    """Add `task_url` to task events and `outputs` to `task.succeeded` ones (one query per batch)."""
    succeeded = {}
    for row in rows:
        if not row["kind"].startswith("task.") or not isinstance(row.get("data"), dict):
            continue
        task_id = row["data"].get("task_id")
        if not task_id:
            continue
        row["data"] = {**row["data"], "task_url": urls.task(workspace_id, uuid.UUID(str(task_id)))}
        if row["kind"] == "task.succeeded":
            succeeded[str(task_id)] = row
    if not succeeded:
        return
    stmt = (
        select(Node.task_id, Node.id, Node.type, Node.cell, Asset.id, Asset.thumbnail_key)
        .join(Asset, Asset.id == Node.asset_id)
        .where(Node.task_id.in_([uuid.UUID(t) for t in succeeded]), Node.workspace_id == workspace_id)
        .order_by(Node.task_id, Node.cell.nulls_first(), Node.created_at, Node.id)
    )
    outputs: dict[str, list[dict[str, Any]]] = {t: [] for t in succeeded}
    for task_id, node_id, node_type, cell, asset_id, thumb in session.execute(stmt):
        outputs[str(task_id)].append(
            {
                "node_id": str(node_id),
                "type": node_type.value,
                "cell": cell,
                "asset_id": str(asset_id),
                "url": urls.asset_content(workspace_id, asset_id),
                "thumbnail_url": urls.asset_thumbnail(workspace_id, asset_id) if thumb else None,
            }
        )
    for task_id, row in succeeded.items():
        row["data"]["outputs"] = outputs[task_id]
