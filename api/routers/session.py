"""Browser sign-in: exchange a bearer token (or, on a dev stack, a user name) for session cookies.

Rules: see ``api.browser_session``. ``POST /auth/session`` needs a valid bearer token (the same
check as every route, Supabase tokens included) and answers the caller plus the CSRF value;
``POST /auth/dev-session`` signs in any user name without a token and exists only in dev;
``DELETE /auth/session`` clears both cookies. The cookies never outlive the session token.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from api.auth import Principal, bearer_token, verify_token
from api.browser_session import clear_session_cookies, mint_session, set_session_cookies
from api.deps import ServicesDep, bearer_scheme
from api.errors import ApiError, responses
from api.schemas import In, Out

router = APIRouter(prefix="/auth", tags=["auth"])

DEV_USER_RE = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


class SessionOut(Out):
    user_id: str
    role: Literal["admin", "user"]
    csrf_token: str = Field(description="Send it as X-CSRF-Token on POST/PATCH/PUT/DELETE (also in dd_csrf)")
    expires_at: int = Field(description="Unix time the session ends (then 401 token_expired)")


class DevSessionCreate(In):
    user: Annotated[str, Field(min_length=1, max_length=64, description="Any user name (dev stacks only)")]


def _answer(request: Request, response: Response, principal: Principal, services: ServicesDep) -> SessionOut:
    session = mint_session(principal, services.settings)
    set_session_cookies(request, response, session)
    response.headers["Cache-Control"] = "no-store"
    return SessionOut(
        user_id=principal.user_id, role=principal.role, csrf_token=session.csrf, expires_at=session.expires_at
    )


@router.post("/session", response_model=SessionOut, responses=responses(401, 503))
async def sign_in(
    request: Request,
    response: Response,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> SessionOut:
    """Trade the `Authorization: Bearer` token for an HttpOnly session cookie (`dd_session`) and
    a CSRF cookie (`dd_csrf`), so `<img>`, `<video>` and `EventSource` are authenticated."""
    token = bearer_token(f"Bearer {credentials.credentials}" if credentials else None)
    if services.settings.jwks_url:
        principal = await run_in_threadpool(verify_token, token, services.settings)
    else:
        principal = verify_token(token, services.settings)
    return _answer(request, response, principal, services)


@router.post("/dev-session", response_model=SessionOut, responses=responses(404, 503))
def dev_sign_in(
    request: Request, response: Response, body: DevSessionCreate, services: ServicesDep
) -> SessionOut:
    """Dev stacks only (`DIRECTORDECK_ENV=dev`): sign in as any user name, no token needed."""
    if services.settings.env != "dev":
        raise ApiError(404, "dev_sign_in_disabled", "the dev sign-in exists only on dev stacks")
    if not DEV_USER_RE.match(body.user):
        raise ApiError(422, "user_name_invalid", "user names are letters, digits and . _ @ -")
    return _answer(request, response, Principal(user_id=body.user), services)


@router.delete("/session", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def sign_out() -> Response:
    """Clear the session cookies (the signed token simply expires)."""
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_session_cookies(response)
    return response


__all__ = ["router"]
