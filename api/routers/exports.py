"""Exports (`export.package`): a durable zip of the favorites or of each shot's selected version.

Rules: `POST` is the `export.package` action run through the ActionRouter (`api.actions`), like
every button: the router checks the naming pattern and that there is something to export,
records the `export` task as queued and starts the `export` workflow after that commit; the
route answers 202 with the task. Honours `Idempotency-Key` and the per-user rate limit. The
finished zip is an `archive` asset: its `download_url` is the ordinary asset content route
(Range, ETag, presigned S3 redirects).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.actions import run_actions
from api.deps import CallerDep, IdempotencyDep, RateLimited, ServicesDep, SessionDep, WorkspaceDep, scoped
from api.errors import not_found, responses
from api.presenters import links, tasks_out
from api.schemas import ExportCreate, ExportOut, Links
from api.services import Services
from schema.actions import ExportPackage, ExportPackageArgs
from schema.db import unit_of_work
from schema.enums import TaskStatus, TaskType
from schema.models import Task
from schema.repositories import tasks as task_repo

router = APIRouter(prefix="/workspaces/{workspace_id}/exports", tags=["exports"])


def exports_out(session: Session, tasks: list[Task], urls: Links) -> list[ExportOut]:
    out = []
    for task, task_view in zip(tasks, tasks_out(session, tasks, urls), strict=True):
        result = task.result or {}
        requested = (task.payload or {}).get("input") or {}
        asset_id = result.get("asset_id") if task.status == TaskStatus.succeeded else None
        download = urls.asset_content(task.workspace_id, uuid.UUID(str(asset_id))) if asset_id else None
        if download is not None:
            task_view.result_url = download
        out.append(
            ExportOut(
                task=task_view,
                selection=str(result.get("selection") or requested.get("selection") or "selected"),
                naming=result.get("naming", requested.get("naming")),
                asset_id=asset_id,
                download_url=download,
                files=result.get("files"),
                size_bytes=result.get("size_bytes"),
            )
        )
    return out


def _read(services: Services, task_id: uuid.UUID, urls: Links) -> ExportOut:
    with unit_of_work(services.sessions) as session:
        return exports_out(session, [task_repo.require_task(session, task_id)], urls)[0]


@router.post(
    "",
    response_model=ExportOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses=responses(409, 429, 503),
    dependencies=[RateLimited],
)
async def create_export(
    request: Request,
    body: ExportCreate,
    workspace: WorkspaceDep,
    caller: CallerDep,
    services: ServicesDep,
    idem: IdempotencyDep,
) -> ExportOut:
    """`export.package`: package the favorites or each shot's selected version as one zip, in
    the background. Poll `GET .../exports/{task_id}` (or the task, or the event stream) for
    `download_url`. 409 `nothing_to_export` when there is no file to package yet, 422
    `naming_invalid` for a pattern with unknown placeholders."""
    action = ExportPackage(args=ExportPackageArgs(selection=body.selection, naming=body.naming))
    urls = links(request)

    async def handler() -> ExportOut:
        out = await run_actions(
            services,
            caller,
            workspace.id,
            [action],
            intent=action.type,
            webhook_url=str(body.webhook_url) if body.webhook_url else None,
            idempotency_key=idem.turn_key,
        )
        return await run_in_threadpool(_read, services, uuid.UUID(out.task_ids[0]), urls)

    return await idem.run(status.HTTP_202_ACCEPTED, handler)  # type: ignore[no-any-return]


@router.get("", response_model=list[ExportOut])
def list_exports(
    request: Request,
    workspace: WorkspaceDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ExportOut]:
    """The workspace's exports, newest first."""
    tasks = task_repo.list_tasks(session, workspace.id, type=TaskType.export, limit=limit)
    return exports_out(session, tasks, links(request))


@router.get("/{task_id}", response_model=ExportOut)
def get_export(
    request: Request, task_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep
) -> ExportOut:
    """One export: its task (status, progress, error) and, once succeeded, `download_url`."""
    task = scoped(session, Task, task_id, workspace, "export")
    if task.type != TaskType.export:
        raise not_found("export", task_id)
    return exports_out(session, [task], links(request))[0]
