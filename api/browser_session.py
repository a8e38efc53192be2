"""Browser credentials: an HttpOnly session cookie with a CSRF token, next to bearer tokens.

Rules:
- ``<img>``, ``<video>`` and ``EventSource`` cannot send an ``Authorization`` header, so a browser
  signs in once (``POST /auth/session`` with its bearer token, or ``POST /auth/dev-session`` on a
  dev stack) and the API answers with two cookies:
  ``dd_session`` — HttpOnly, SameSite=Strict, Path=/ (Secure over https): a short-lived HS256 token
  whose audience (``directordeck-session``) no bearer check accepts, carrying the user, role and a
  random CSRF value;
  ``dd_csrf`` — readable by the page's script, SameSite=Strict: the same CSRF value;
- a request authenticated by the cookie with an unsafe method (anything but GET/HEAD/OPTIONS) must
  echo the CSRF value in ``X-CSRF-Token`` (signed double submit: the value is inside the signed
  session token, so a cookie planted by another site cannot match it), else 403 ``csrf_failed``;
- an ``Authorization`` header always wins over the cookie (scripts and mobile apps are unchanged);
- an expired session (or bearer token) is 401 ``token_expired``, any other failure 401
  ``unauthorized``; the page signs in again on ``token_expired``;
- the dev sign-in exists only when ``DIRECTORDECK_ENV=dev`` (404 ``dev_sign_in_disabled`` in prod).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import jwt
from fastapi import Request, Response

from api.auth import LEEWAY_S, Principal, _role, token_expired, unauthorized
from infra.settings import Settings

SESSION_COOKIE = "dd_session"
CSRF_COOKIE = "dd_csrf"
CSRF_HEADER = "X-CSRF-Token"
SESSION_AUDIENCE = "directordeck-session"
SESSION_ISSUER = "directordeck-api"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_SESSION_TTL_S = 12 * 3600


def session_secret(settings: Settings) -> str | None:
    """The key that signs session cookies: its own setting, else the JWT secret (dev has one)."""
    return getattr(settings, "session_secret", None) or settings.effective_jwt_secret


def session_ttl_s(settings: Settings) -> int:
    return int(getattr(settings, "session_ttl_s", None) or DEFAULT_SESSION_TTL_S)


@dataclass(frozen=True)
class BrowserSession:
    token: str
    csrf: str
    expires_at: int


def mint_session(principal: Principal, settings: Settings, *, ttl_s: int | None = None) -> BrowserSession:
    secret = session_secret(settings)
    if not secret:
        from api.errors import ApiError

        raise ApiError(
            503,
            "sessions_not_configured",
            "browser sessions need DIRECTORDECK_SESSION_SECRET (or DIRECTORDECK_JWT_SECRET)",
        )
    now = int(time.time())
    expires = now + int(ttl_s if ttl_s is not None else session_ttl_s(settings))
    csrf = secrets.token_urlsafe(24)
    claims = {
        "sub": principal.user_id,
        "dd_role": principal.role,
        "aud": SESSION_AUDIENCE,
        "iss": SESSION_ISSUER,
        "iat": now,
        "exp": expires,
        "csrf": csrf,
    }
    return BrowserSession(jwt.encode(claims, secret, algorithm="HS256"), csrf, expires)


def verify_session(token: str, settings: Settings) -> tuple[Principal, str]:
    """(caller, csrf value) of a session cookie; 401 ``token_expired`` / ``unauthorized``."""
    secret = session_secret(settings)
    if not secret:
        raise unauthorized("browser sessions are not accepted here")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=SESSION_AUDIENCE,
            issuer=SESSION_ISSUER,
            options={"require": ["exp", "sub", "csrf"]},
            leeway=LEEWAY_S,
        )
    except jwt.ExpiredSignatureError as exc:
        raise token_expired("session expired; sign in again") from exc
    except jwt.PyJWTError as exc:
        raise unauthorized("invalid session") from exc
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        raise unauthorized("session subject missing")
    return Principal(user_id=sub, role=_role(claims)), str(claims["csrf"])


def check_csrf(request: Request, expected: str) -> None:
    if request.method in SAFE_METHODS:
        return
    given = request.headers.get(CSRF_HEADER.lower(), "")
    if not given or not secrets.compare_digest(given, expected):
        from api.errors import ApiError

        raise ApiError(
            403,
            "csrf_failed",
            f"a cookie-authenticated {request.method} needs the {CSRF_HEADER} header (the dd_csrf cookie)",
        )


def set_session_cookies(request: Request, response: Response, session: BrowserSession) -> None:
    secure = request.url.scheme == "https"
    max_age = max(0, session.expires_at - int(time.time()))
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure,
    )
    response.set_cookie(
        CSRF_COOKIE, session.csrf, max_age=max_age, path="/", httponly=False, samesite="strict", secure=secure
    )


def clear_session_cookies(response: Response) -> None:
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/", samesite="strict")


__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "BrowserSession",
    "check_csrf",
    "clear_session_cookies",
    "mint_session",
    "set_session_cookies",
    "verify_session",
]
