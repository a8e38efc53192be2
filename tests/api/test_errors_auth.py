"""Auth (HS256 dev and Supabase tokens, JWKS), roles, the uniform error body, request ids, size
and rate limits."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import jwt
import pytest

from api.main import create_app
from api.ratelimit import RateLimiter
from infra.settings import Settings
from tests.api.conftest import Stack, uid


def _error(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code
    assert set(body) <= {"code", "message", "request_id", "details"}
    assert body["request_id"] == r.headers["x-request-id"]
    return body


def _hs(settings: Settings, claims: dict, secret: str | None = None, alg: str = "HS256") -> str:
    return jwt.encode(claims, secret or settings.effective_jwt_secret, algorithm=alg)


async def test_missing_and_bad_tokens_are_401(stack: Stack) -> None:
    c, st = stack.client, stack.settings
    r = await c.get("/workspaces")
    _error(r, 401, "unauthorized")
    assert r.headers["www-authenticate"] == "Bearer"
    now = int(time.time())
    good = {"sub": "eve", "exp": now + 60}
    for token in (
        "not-a-jwt",
        _hs(st, good, secret="another-secret-that-is-long-enough-0123456789"),
        _hs(st, {"sub": "eve", "exp": now - 3600}, secret="forged-secret-that-is-long-enough-0123456789"),
        _hs(st, {"exp": now + 60}),
        _hs(st, {"sub": "eve"}),
        _hs(st, {**good, "aud": "someone-else"}),
        jwt.encode(good, None, algorithm="none"),
    ):
        r = await c.get("/workspaces", headers={"Authorization": f"Bearer {token}"})
        _error(r, 401, "unauthorized")
    r = await c.get("/workspaces", headers={"Authorization": "Basic abc"})
    _error(r, 401, "unauthorized")
    # a genuine token past its exp has its own code (a client signs in again); a forged one does not
    expired = _hs(st, {"sub": "eve", "exp": now - 3600})
    r = await c.get("/workspaces", headers={"Authorization": f"Bearer {expired}"})
    _error(r, 401, "token_expired")
    assert r.headers["www-authenticate"].startswith("Bearer")


async def test_supabase_tokens_and_roles(stack: Stack, seeded) -> None:
    c, st = stack.client, stack.settings
    now = int(time.time())
    sub = str(uuid.uuid4())
    supabase = {
        "sub": sub,
        "aud": "authenticated",
        "role": "authenticated",
        "exp": now + 60,
        "iat": now,
        "email": "a@b.c",
        "app_metadata": {"provider": "email"},
        "iss": "https://x.supabase.co/auth/v1",
    }
    r = await c.get("/me", headers={"Authorization": f"Bearer {_hs(st, supabase)}"})
    assert r.json() == {"user_id": sub, "role": "user"}
    admin_claims = {**supabase, "app_metadata": {"role": "admin"}}
    admin = {"Authorization": f"Bearer {_hs(st, admin_claims)}"}
    assert (await c.get("/me", headers=admin)).json()["role"] == "admin"
    # an admin reaches any workspace; a user never reaches another's
    s = seeded(uid())
    assert (await c.get(f"/workspaces/{s.workspace}", headers=admin)).status_code == 200
    assert (await c.get(f"/workspaces/{s.workspace}/storyboard", headers=admin)).status_code == 200
    # ... reads only: changing someone else's work is the owner's
    r = await c.patch(f"/workspaces/{s.workspace}", json={"title": "admin was here"}, headers=admin)
    assert r.status_code == 404
    assert (await c.delete(f"/workspaces/{s.workspace}", headers=admin)).status_code == 404
    assert (await c.get(f"/workspaces/{s.workspace}", headers=stack.auth(uid()))).status_code == 404
    listed = (await c.get("/workspaces", params={"all_owners": True}, headers=admin)).json()
    assert s.workspace in {w["id"] for w in listed}
    mine = (await c.get("/workspaces", params={"all_owners": True}, headers=stack.auth(uid()))).json()
    assert mine == []


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, object]]:
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/jwks.json", key
    server.shutdown()


async def test_jwks_tokens(stack: Stack, jwks_server) -> None:
    url, key = jwks_server
    settings = Settings(data_dir=stack.data_dir, jwks_url=url)
    app = create_app(settings, database_url=stack.db_url, background=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        now = int(time.time())
        token = jwt.encode(
            {"sub": "jwks-user", "aud": "authenticated", "exp": now + 60},
            key,
            algorithm="RS256",
            headers={"kid": "k1"},
        )
        r = await c.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert r.json() == {"user_id": "jwks-user", "role": "user"}
        unknown = jwt.encode({"sub": "x", "exp": now + 60}, key, algorithm="RS256", headers={"kid": "nope"})
        _error(await c.get("/me", headers={"Authorization": f"Bearer {unknown}"}), 401, "unauthorized")
        # HS256 dev tokens still work next to JWKS (same secret configuration)
        assert (await c.get("/me", headers=stack.auth("dev"))).status_code == 200


async def test_request_id_and_error_shapes(stack: Stack) -> None:
    c, h = stack.client, stack.auth(uid())
    r = await c.get("/health", headers={"X-Request-ID": "client-abc.123"})
    assert r.headers["x-request-id"] == "client-abc.123"
    r = await c.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert r.headers["x-request-id"] != "bad id with spaces" and len(r.headers["x-request-id"]) == 32
    body = _error(
        await c.get(f"/workspaces/{uuid.uuid4()}", headers={**h, "X-Request-ID": "rid-1"}),
        404,
        "workspace_not_found",
    )
    assert body["request_id"] == "rid-1"
    _error(await c.get("/nope", headers=h), 404, "not_found")
    _error(await c.delete("/me", headers=h), 405, "method_not_allowed")
    body = _error(await c.get("/workspaces/not-a-uuid", headers=h), 422, "validation_error")
    assert body["details"][0]["loc"] == ["path", "workspace_id"]
    body = _error(
        await c.post("/workspaces", json={"title": "x", "colour": "red"}, headers=h), 422, "validation_error"
    )
    assert body["details"][0]["type"] == "extra_forbidden"
    _error(
        await c.post("/workspaces", content=b"{not json", headers={**h, "content-type": "application/json"}),
        422,
        "validation_error",
    )


async def test_request_size_limit(stack: Stack) -> None:
    c, h = stack.client, stack.auth(uid())
    big = json.dumps({"title": "x", "meta": {"blob": "a" * (2 * 1024 * 1024)}}).encode()
    r = await c.post("/workspaces", content=big, headers={**h, "content-type": "application/json"})
    _error(r, 413, "request_too_large")

    async def chunks():
        yield b'{"title": "x", "meta": {"blob": "'
        for _ in range(40):
            yield b"a" * 65536
        yield b'"}}'

    r = await c.post("/workspaces", content=chunks(), headers={**h, "content-type": "application/json"})
    _error(r, 413, "request_too_large")


async def test_unexpected_errors_hide_details(stack: Stack) -> None:
    app = create_app(stack.settings, database_url=stack.db_url, background=False)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret detail /etc/passwd SELECT * FROM")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get("/boom", headers={"X-Request-ID": "r-500"})
    assert r.status_code == 500
    assert r.json() == {"code": "internal_error", "message": "internal server error", "request_id": "r-500"}
    assert r.headers["x-request-id"] == "r-500"


async def test_rate_limit_on_generation(stack: Stack, seeded) -> None:
    s = seeded(uid())
    c, h = stack.client, stack.auth(s.owner)
    original = stack.app.state.rate_limiter
    stack.app.state.rate_limiter = RateLimiter(stack.app.state.services, rate_per_minute=6, burst=2)
    try:
        url = f"/workspaces/{s.workspace}/work-items/{uuid.uuid4()}/generate"
        codes = [(await c.post(url, json={"kind": "image"}, headers=h)).status_code for _ in range(2)]
        assert codes == [404, 404]
        r = await c.post(url, json={"kind": "image"}, headers=h)
        _error(r, 429, "rate_limited")
        assert 1 <= int(r.headers["retry-after"]) <= 10
        # per user: someone else is not throttled
        other = seeded(uid())
        r = await c.post(
            f"/workspaces/{other.workspace}/work-items/{uuid.uuid4()}/generate",
            json={"kind": "image"},
            headers=stack.auth(other.owner),
        )
        assert r.status_code == 404
        # reads are never throttled
        assert (await c.get(f"/workspaces/{s.workspace}", headers=h)).status_code == 200
    finally:
        stack.app.state.rate_limiter = original
    await asyncio.sleep(0)


async def test_a_new_project_with_a_story_spends_the_same_budget(stack: Stack, seeded) -> None:
    """Creating a project with a story starts work: it takes a token, an empty bucket is 429 and
    nothing is created; a project without a story is not throttled."""
    s = seeded(uid())
    c, h = stack.client, stack.auth(s.owner)
    original = stack.app.state.rate_limiter
    stack.app.state.rate_limiter = RateLimiter(stack.app.state.services, rate_per_minute=1, burst=1)
    try:
        spend = await c.post(
            f"/workspaces/{s.workspace}/work-items/{uuid.uuid4()}/generate", json={"kind": "image"}, headers=h
        )
        assert spend.status_code == 404  # allowed (and the one token spent)
        before = (await c.get("/workspaces", headers=h)).json()
        r = await c.post(
            "/workspaces", json={"title": "fox", "type": "narrative_project", "story": "a fox"}, headers=h
        )
        _error(r, 429, "rate_limited")
        assert (await c.get("/workspaces", headers=h)).json() == before  # nothing half-made
        plain = await c.post("/workspaces", json={"title": "notes", "type": "narrative_project"}, headers=h)
        assert plain.status_code == 201, plain.text
    finally:
        stack.app.state.rate_limiter = original


async def test_unreachable_temporal_is_503_not_500(stack: Stack, seeded) -> None:
    from tests.conftest import free_port

    s = seeded(uid())
    app = create_app(
        stack.settings,
        database_url=stack.db_url,
        temporal_address=f"127.0.0.1:{free_port()}",
        storage=stack.storage,
        background=False,
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=30
    ) as c:
        h = stack.auth(s.owner)
        r = await c.post(f"/workspaces/{s.workspace}/generate/compose", json={}, headers=h)
        _error(r, 503, "temporal_unavailable")
        r = await c.post(f"/conversations/{s.conversation}/messages", json={"text": "hi"}, headers=h)
        _error(r, 503, "temporal_unavailable")
        # the ledger side keeps working
        assert (await c.get(f"/workspaces/{s.workspace}/storyboard", headers=h)).status_code == 200
