"""Bearer-token authentication: HS256 with the configured secret, or RS256/ES256 via a JWKS URL.

Rules:
- the user id is the token's ``sub`` (Supabase-issued tokens work as they are: ``sub`` is the
  auth user's id, ``aud`` is ``"authenticated"``); ``exp`` is required;
- ``aud``, when present, must be one of ACCEPTED_AUDIENCES;
- roles are ``admin`` and ``user``: ``admin`` only when the token says so (``app_metadata.role``
  for Supabase, or a top-level ``dd_role``/``role`` claim equal to ``admin``); everything else is
  ``user`` (Supabase's ``role: "authenticated"`` included);
- HS256 tokens are checked with ``settings.effective_jwt_secret``; any other algorithm only against
  ``settings.jwks_url`` (the ``alg: none`` and algorithm-confusion tricks are rejected);
- a failure answers 401 with ``WWW-Authenticate: Bearer``: ``token_expired`` for a genuine token
  past its ``exp`` (the signature checked first: a forged expired token is ``unauthorized``; a
  client signs in again on it instead of giving up), else ``unauthorized`` with a short reason and
  never more;
- ``/metrics`` answers the metrics token (``DIRECTORDECK_METRICS_TOKEN``) or an admin's token only.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import jwt

from api.errors import ApiError
from infra.lru import Lru
from infra.settings import Settings, get_settings

ACCEPTED_AUDIENCES = frozenset({"authenticated", "directordeck"})
ASYMMETRIC_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"]
DEV_TOKEN_ISSUER = "directordeck-dev"
DEFAULT_TTL_S = 7 * 24 * 3600
LEEWAY_S = 30

Role = Literal["admin", "user"]


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    user_id: str
    role: Role = "user"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def unauthorized(reason: str) -> ApiError:
    return ApiError(401, "unauthorized", reason, headers={"WWW-Authenticate": "Bearer"})


def token_expired(reason: str = "token expired") -> ApiError:
    return ApiError(
        401, "token_expired", reason, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
    )


def mint_dev_token(
    user: str, role: str = "user", ttl_s: int = DEFAULT_TTL_S, *, settings: Settings | None = None
) -> str:
    """An HS256 token for `user` signed with the configured (or dev) secret — `directordeck token`."""
    settings = settings or get_settings()
    secret = settings.effective_jwt_secret
    if not secret:
        raise RuntimeError("no JWT secret is configured (set DIRECTORDECK_JWT_SECRET)")
    if role not in ("admin", "user"):
        raise ValueError("role is 'admin' or 'user'")
    if not user or not user.strip():
        raise ValueError("a token needs a user name")
    now = int(time.time())
    claims = {
        "sub": user,
        "aud": "authenticated",
        "iss": DEV_TOKEN_ISSUER,
        "iat": now,
        "exp": now + int(ttl_s),
        "role": "authenticated",
        "dd_role": role,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=3600, timeout=5)


def _role(claims: dict[str, Any]) -> Role:
    app_meta = claims.get("app_metadata")
    candidates = [
        app_meta.get("role") if isinstance(app_meta, dict) else None,
        claims.get("dd_role"),
        claims.get("role"),
    ]
    return "admin" if "admin" in candidates else "user"


def verify_token(token: str, settings: Settings) -> Principal:
    """Decode and check a bearer token; raises ApiError(401) when it is not acceptable.

    Blocking only when a JWKS key has to be fetched (cached for an hour afterwards). A token that
    passed is remembered until its `exp` (plus the leeway), so a client's every request does not
    pay the signature check again; the verifying key is part of what is remembered."""
    key = (token, settings.effective_jwt_secret, settings.jwks_url)
    known = _VERIFIED.get(key)
    if known is not None and time.time() < known[1]:
        return known[0]
    principal, expires = _verify(token, settings)
    _VERIFIED.put(key, (principal, expires + LEEWAY_S))
    return principal


def _verify(token: str, settings: Settings) -> tuple[Principal, float]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise unauthorized("malformed token") from exc
    alg = header.get("alg")
    options = {"require": ["exp", "sub"], "verify_aud": False}
    try:
        if alg == "HS256":
            secret = settings.effective_jwt_secret
            if not secret:
                raise unauthorized("HS256 tokens are not accepted here")
            claims = jwt.decode(token, secret, algorithms=["HS256"], options=options, leeway=LEEWAY_S)
        elif alg in ASYMMETRIC_ALGORITHMS and settings.jwks_url:
            key = _jwks_client(settings.jwks_url).get_signing_key_from_jwt(token)
            claims = jwt.decode(token, key, algorithms=[alg], options=options, leeway=LEEWAY_S)
        else:
            raise unauthorized("token algorithm not accepted")
    except jwt.ExpiredSignatureError as exc:
        raise token_expired() from exc
    except jwt.PyJWKClientError as exc:
        raise unauthorized("token signing key not found") from exc
    except jwt.PyJWTError as exc:
        raise unauthorized("invalid token") from exc
    aud = claims.get("aud")
    if aud is not None:
        auds = {aud} if isinstance(aud, str) else set(aud) if isinstance(aud, list) else set()
        if not auds & ACCEPTED_AUDIENCES:
            raise unauthorized("token audience not accepted")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 255:
        raise unauthorized("token subject missing")
    return Principal(user_id=sub, role=_role(claims)), float(claims["exp"])


# tokens that passed `_verify`, with the instant they stop being accepted
_VERIFIED: Lru[tuple[str, str | None, str | None], tuple[Principal, float]] = Lru(4096)


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise unauthorized("missing bearer token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("missing bearer token")
    return token.strip()


def require_metrics_access(authorization: str | None, settings: Settings, config: Any) -> None:
    """Pass for the metrics token or an admin's bearer token; 401/403 otherwise."""
    token = bearer_token(authorization)
    expected = getattr(config, "metrics_token", None)
    if expected and hmac.compare_digest(token.encode(), str(expected).encode()):
        return
    if not verify_token(token, settings).is_admin:
        raise ApiError(403, "metrics_forbidden", "metrics need the metrics token or an admin's token")


__all__ = [
    "Principal",
    "bearer_token",
    "mint_dev_token",
    "require_metrics_access",
    "token_expired",
    "unauthorized",
    "verify_token",
]
