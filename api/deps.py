"""Every dependency the routers use, as ``Annotated`` aliases (one place to read them all).

Rules: a request gets one ledger Session (closed as soon as the endpoint returns — endpoints that
write call ``session.commit()`` themselves); every workspace-scoped route loads the workspace
through ``WorkspaceDep`` (the caller's own, or any for an admin) and every object below it through
``scoped`` — a row of another workspace answers exactly like a missing one (404).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Path, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.auth import Principal, bearer_token, verify_token
from api.browser_session import SESSION_COOKIE, check_csrf, verify_session
from api.errors import ApiError, not_found
from api.idempotency import Idempotency
from api.ratelimit import RateLimiter, retry_after_header
from api.services import Services
from infra.settings import Settings
from schema.models import Track, WorkItem, Workspace
from schema.repositories import workspaces as workspace_repo

M = TypeVar("M")

bearer_scheme = HTTPBearer(auto_error=False, description="JWT: `directordeck token --user NAME`, or Supabase")
cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="Browser session (POST /auth/session or /auth/dev-session); unsafe methods also need "
    "the X-CSRF-Token header (the dd_csrf cookie's value)",
)


async def get_services(request: Request) -> Services:
    # async: FastAPI runs a plain `def` dependency in the thread pool, a hop this lookup does not need
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_settings(services: ServicesDep) -> Settings:
    return services.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    session = services.sessions()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def get_caller(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    session_cookie: Annotated[str | None, Depends(cookie_scheme)],
) -> Principal:
    """The bearer token's user; without one, the browser session cookie's (CSRF-checked)."""
    if credentials is None and session_cookie:
        principal, csrf = verify_session(session_cookie, services.settings)
        check_csrf(request, csrf)
        return principal
    token = bearer_token(f"Bearer {credentials.credentials}" if credentials else None)
    if services.settings.jwks_url:  # a JWKS fetch may block
        return await run_in_threadpool(verify_token, token, services.settings)
    return verify_token(token, services.settings)


CallerDep = Annotated[Principal, Depends(get_caller)]


READ_METHODS = frozenset({"GET", "HEAD"})


def load_workspace(
    session: Session, caller: Principal, workspace_id: uuid.UUID, *, write: bool = True
) -> Workspace:
    """The caller's workspace. Admins may read (never change) anyone's: support and ops."""
    workspace = (
        workspace_repo.get(session, workspace_id)
        if caller.is_admin and not write
        else workspace_repo.get_for_owner(session, caller.user_id, workspace_id)
    )
    if workspace is None:
        raise not_found("workspace", workspace_id)
    return workspace


def get_workspace(
    request: Request,
    workspace_id: Annotated[uuid.UUID, Path(description="Workspace id")],
    caller: CallerDep,
    session: SessionDep,
) -> Workspace:
    return load_workspace(session, caller, workspace_id, write=request.method not in READ_METHODS)


WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]


def scoped(session: Session, model: type[M], ident: uuid.UUID, workspace: Workspace, entity: str) -> M:
    """The row `ident` of `model` if it belongs to `workspace`, else 404 `<entity>_not_found`."""
    row: Any = session.get(model, ident)
    if row is None or row.workspace_id != workspace.id:
        raise not_found(entity, ident)
    return row  # type: ignore[no-any-return]


def scoped_track(session: Session, track_id: uuid.UUID, workspace: Workspace) -> Track:
    row = session.execute(
        select(Track)
        .join(WorkItem, WorkItem.id == Track.work_item_id)
        .where(Track.id == track_id, WorkItem.workspace_id == workspace.id)
    ).scalar_one_or_none()
    if row is None:
        raise not_found("track", track_id)
    return row


async def get_idempotency(  # async: building the object needs no thread-pool hop
    request: Request,
    caller: CallerDep,
    services: ServicesDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Run this request once: a repeat with the same key and body returns the first "
            "response (same task and workflow ids); another body under the key is 422. Kept ≥ 24 h.",
        ),
    ] = None,
) -> Idempotency:
    return Idempotency(request, caller, services)


IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]


def get_limiter(request: Request) -> RateLimiter:
    return request.app.state.rate_limiter  # type: ignore[no-any-return]


async def rate_limit(request: Request, caller: CallerDep) -> None:
    """One token per work-starting request and user; 429 with Retry-After when the bucket is empty."""
    wait = await get_limiter(request).take_async(caller.user_id)
    if wait > 0:
        raise ApiError(
            429,
            "rate_limited",
            "too many generation requests; slow down",
            headers={"Retry-After": retry_after_header(wait)},
        )


RateLimited = Depends(rate_limit)
