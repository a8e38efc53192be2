"""Workspaces: narrative projects and draft spaces of the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api.actions import run_actions
from api.concurrency import check_if_match
from api.deps import CallerDep, IdempotencyDep, ServicesDep, SessionDep, WorkspaceDep, rate_limit
from api.errors import ApiError, responses
from api.schemas import Me, WorkspaceCreate, WorkspaceCreated, WorkspaceOut, WorkspaceUpdate
from api.webhooks import check_webhook_target
from schema.actions import GenStoryboard, GenStoryboardArgs
from schema.db import unit_of_work
from schema.enums import WorkspaceType
from schema.models import Workspace
from schema.repositories import workspaces as workspace_repo
from services import project as project_service

router = APIRouter(tags=["workspaces"])


@router.get("/me", response_model=Me, tags=["auth"])
async def me(caller: CallerDep) -> Me:
    """Who the bearer token says you are."""
    return Me(user_id=caller.user_id, role=caller.role)


@router.get("/workspaces", response_model=list[WorkspaceOut])
def list_workspaces(
    caller: CallerDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    all_owners: Annotated[bool, Query(description="Admins only: every owner's workspaces")] = False,
) -> list[Workspace]:
    """Your workspaces, newest first."""
    if all_owners and caller.is_admin:
        stmt = (
            select(Workspace).order_by(Workspace.created_at.desc(), Workspace.id).limit(limit).offset(offset)
        )
        return list(session.scalars(stmt))
    return workspace_repo.list_for_owner(session, caller.user_id, limit=limit, offset=offset)


@router.post(
    "/workspaces",
    response_model=WorkspaceCreated,
    status_code=status.HTTP_201_CREATED,
    responses=responses(409, 429, 503),
)
async def create_workspace(
    request: Request, body: WorkspaceCreate, caller: CallerDep, services: ServicesDep, idem: IdempotencyDep
) -> WorkspaceCreated:
    """Create a narrative project or a draft space. With `story`, a storyboard task starts at once
    (the response carries its task and workflow ids). Honours `Idempotency-Key`."""
    if body.story is not None and body.type != WorkspaceType.narrative_project:
        raise ApiError(422, "story_needs_narrative_project", "only narrative projects have a storyboard")
    if body.webhook_url is not None and not services.config.webhook_secret:
        raise ApiError(
            422, "webhooks_not_configured", "webhook callbacks need a webhook secret on the server"
        )
    if body.webhook_url is not None:
        await check_webhook_target(services, str(body.webhook_url))
    if body.story is not None:
        await rate_limit(request, caller)  # a storyboard starts work like generation

    async def handler() -> WorkspaceCreated:
        def create() -> Workspace:
            with unit_of_work(services.sessions) as session:
                return project_service.create_workspace(
                    session,
                    owner_id=caller.user_id,
                    type=body.type,
                    title=body.title,
                    meta=body.meta,
                    style=body.style,
                    style_spec=body.style_spec,
                    rules=body.rules,
                    model_defaults=body.model_defaults,
                    cost_limit=body.cost_limit,
                )

        workspace = await run_in_threadpool(create)
        out = WorkspaceCreated(workspace=WorkspaceOut.model_validate(workspace))
        if body.story is not None:
            action = GenStoryboard(args=GenStoryboardArgs(story=body.story, shot_count=body.shot_count))
            try:
                out.storyboard = await run_actions(
                    services,
                    caller,
                    workspace.id,
                    [action],
                    intent="create project storyboard",
                    webhook_url=str(body.webhook_url) if body.webhook_url else None,
                    idempotency_key=idem.turn_key,
                )
            except ApiError as exc:  # the workspace exists: say why the storyboard did not start
                out.storyboard_error = {"code": exc.code, "message": exc.message}
        return out

    return await idem.run(status.HTTP_201_CREATED, handler)  # type: ignore[no-any-return]


@router.get("/workspaces/{workspace_id}", response_model=WorkspaceOut)
def get_workspace(workspace: WorkspaceDep) -> Workspace:
    return workspace


@router.patch("/workspaces/{workspace_id}", response_model=WorkspaceOut, responses=responses(412))
def update_workspace(
    request: Request, body: WorkspaceUpdate, workspace: WorkspaceDep, session: SessionDep
) -> Workspace:
    """Update title, meta, style, rules, model defaults or cost limit (JSON fields merge-patch).
    With `If-Match: "<version>"`, 412 `version_mismatch` when it changed since that version."""
    check_if_match(request, session, Workspace, workspace.id)
    workspace = project_service.update_workspace(
        session, workspace, {f: getattr(body, f) for f in body.model_fields_set}
    )
    session.commit()
    return workspace


@router.delete("/workspaces/{workspace_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_workspace(workspace: WorkspaceDep, session: SessionDep) -> Response:
    """Delete the workspace and everything in it. Its event streams receive `workspace.deleted` and end."""
    project_service.delete_workspace(session, workspace)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
