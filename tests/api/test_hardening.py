"""Security probes from outside (issue 15): SSRF through webhook targets, cursor overflows, who may
read /metrics, expired vs forged tokens, the documented idempotency 409, one clock per transaction,
and `workspace.deleted` ending the event stream."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import select, text

from api import webhook_targets, webhooks
from infra.ledger import unit_of_work
from schema.api_models import Webhook
from schema.enums import TaskType
from schema.repositories import tasks as task_repo
from tests.api.conftest import Stack, uid
from tests.support.sse import frames

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


class Probe:
    """A loopback HTTP server that records every request; `/redirect` answers 302 to `/landing`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []
        probe = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                probe.calls.append((self.path, dict(self.headers)))
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "/landing")
                else:
                    self.send_response(204)
                self.end_headers()

            do_POST = do_GET = _any

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_port
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def paths(self) -> list[str]:
        return [p for p, _ in self.calls]

    def stop(self) -> None:
        self._server.shutdown()


@pytest.fixture
def probe() -> Iterator[Probe]:
    p = Probe()
    yield p
    p.stop()


@pytest.fixture
def no_allowlist(stack: Stack) -> Iterator[None]:
    """The production default: no network is exempt from the SSRF guard."""
    config = stack.app.state.services.config
    saved = config.webhook_allowed_networks
    config.webhook_allowed_networks = ()
    yield
    config.webhook_allowed_networks = saved


def _error(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code and body["message"] and body["request_id"], body
    return body


# --- SSRF -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://[::1]/hook",
        "http://[::ffff:169.254.169.254]/hook",
        "http://2130706433/hook",  # 127.0.0.1 as one decimal number
        "http://0.0.0.0/hook",
        "ftp://example.org/hook",
    ],
)
def test_forbidden_targets_are_refused(url: str) -> None:
    with pytest.raises(webhook_targets.WebhookTargetError):
        webhook_targets.check(url)


def test_allowlist_and_public_addresses() -> None:
    allowed = webhook_targets.parse_networks(["127.0.0.0/8"])
    target = webhook_targets.check("http://localhost:8123/x?y=1", allowed)
    assert target.connect_url == "http://127.0.0.1:8123/x?y=1" and target.host == "localhost:8123"
    assert target.server_name == "localhost"
    assert webhook_targets.check("https://93.184.215.14/hook").address == "93.184.215.14"
    with pytest.raises(webhook_targets.WebhookTargetError):  # the allowlist covers what it says only
        webhook_targets.check("http://169.254.169.254/", allowed)


async def test_webhook_targets_are_checked_when_set(stack: Stack, seeded, no_allowlist) -> None:
    c, user = stack.client, uid()
    h = stack.auth(user)
    for url in ("http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:8000/hook"):
        r = await c.post("/workspaces", json={"title": "t", "story": "a fox", "webhook_url": url}, headers=h)
        _error(r, 422, "webhook_target_forbidden")
    listed = (await c.get("/workspaces", headers=h)).json()
    assert listed == []  # nothing was created by the refused requests
    s = seeded(user)
    r = await c.post(
        f"/workspaces/{s.workspace}/generate/storyboard",
        json={"story": "a fox", "webhook_url": "http://10.0.0.7/hook"},
        headers=h,
    )
    _error(r, 422, "webhook_target_forbidden")


def _finished_task_with_hook(stack: Stack, workspace: str, owner: str, url: str) -> str:
    workflow_id = f"grid-ssrf-{uuid.uuid4()}"
    with unit_of_work(stack.db_url) as s:
        task = task_repo.create(
            s, workspace_id=uuid.UUID(workspace), type=TaskType.grid, workflow_id=workflow_id
        )
        webhooks.register(
            s, workspace_id=uuid.UUID(workspace), user_id=owner, workflow_ids=[workflow_id], url=url
        )
        task_repo.mark_running(s, task.id)
        task_repo.mark_succeeded(s, task.id, result={})
    return workflow_id


async def _hook_when(stack: Stack, workflow_id: str, done, timeout: float = 10.0) -> Webhook:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        with unit_of_work(stack.db_url) as s:
            hook = s.scalar(select(Webhook).where(Webhook.workflow_id == workflow_id))
            s.expunge_all()
        if hook is not None and done(hook):
            return hook
        assert time.monotonic() < deadline, (
            f"webhook still {hook and hook.status}: {hook and hook.last_error}"
        )
        await asyncio.sleep(0.1)


async def test_webhook_target_is_checked_again_when_sent(
    stack: Stack, seeded, probe: Probe, no_allowlist
) -> None:
    """A target stored while it was acceptable (or whose name now resolves elsewhere) is not sent."""
    s = seeded(uid())
    workflow_id = _finished_task_with_hook(stack, s.workspace, s.owner, f"http://localhost:{probe.port}/x")
    hook = await _hook_when(stack, workflow_id, lambda h: h.status == "failed")
    assert hook.last_error.startswith("webhook_target_forbidden") and hook.attempts == 1
    assert probe.calls == []


async def test_webhook_redirects_are_not_followed_and_the_checked_address_is_used(
    stack: Stack, seeded, probe: Probe
) -> None:
    s = seeded(uid())
    redirected = _finished_task_with_hook(
        stack, s.workspace, s.owner, f"http://localhost:{probe.port}/redirect"
    )
    named = _finished_task_with_hook(stack, s.workspace, s.owner, f"http://localhost:{probe.port}/named")
    await _hook_when(stack, named, lambda h: h.status == "delivered")
    hook = await _hook_when(stack, redirected, lambda h: h.last_error is not None)
    assert hook.status != "delivered" and hook.last_error == "HTTP 302"
    assert "/landing" not in probe.paths()
    headers = dict(next(h for p, h in probe.calls if p == "/named"))
    assert headers["host"] == f"localhost:{probe.port}"


# --- cursors ---------------------------------------------------------------------------------


async def test_cursor_overflow_probes_are_4xx_with_a_code(stack: Stack, seeded, live_url: str) -> None:
    s = seeded(uid())
    h = stack.auth(s.owner)
    c = stack.client
    huge = "99999999999999999999999"
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(
            f"{live_url}/workspaces/{s.workspace}/events", headers={**h, "Last-Event-ID": huge}
        )
        _error(r, 422, "last_event_id_invalid")
        r = await client.get(
            f"{live_url}/workspaces/{s.workspace}/events", headers={**h, "Last-Event-ID": str(2**63)}
        )
        _error(r, 422, "last_event_id_invalid")
    _error(
        await c.get(f"/workspaces/{s.workspace}/events", params={"after": huge}, headers=h),
        422,
        "validation_error",
    )
    _error(
        await c.get(f"/workspaces/{s.workspace}/events/log", params={"after": huge}, headers=h),
        422,
        "validation_error",
    )
    _error(
        await c.get(f"/conversations/{s.conversation}", params={"after_seq": huge}, headers=h),
        422,
        "validation_error",
    )
    _error(await c.get("/workspaces", params={"offset": huge}, headers=h), 422, "validation_error")
    # the largest id is accepted (and finds nothing after it)
    r = await c.get(f"/workspaces/{s.workspace}/events/log", params={"after": 2**63 - 1}, headers=h)
    assert r.status_code == 200 and r.json() == []


# --- /metrics --------------------------------------------------------------------------------


async def test_metrics_need_the_metrics_token_or_an_admin(stack: Stack, seeded) -> None:
    c = stack.client
    s = seeded(uid())
    config = stack.app.state.services.config
    saved, config.metrics_token = config.metrics_token, "scrape-secret-0123456789"
    try:
        _error(await c.get("/metrics"), 401, "unauthorized")
        _error(await c.get("/metrics", headers=stack.auth(s.owner)), 403, "metrics_forbidden")
        _error(await c.get("/metrics", headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
        for headers in ({"Authorization": "Bearer scrape-secret-0123456789"}, stack.auth("ops", "admin")):
            r = await c.get("/metrics", headers=headers)
            assert r.status_code == 200 and "directordeck_tasks" in r.text
            assert s.owner not in r.text and s.workspace not in r.text  # never a per-user figure
    finally:
        config.metrics_token = saved


# --- tokens, OpenAPI, clocks ---------------------------------------------------------------


def test_cli_token_with_an_empty_user_is_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "launch.cli", "token", "--user", ""],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: token_user_empty:"), done.stderr


async def test_idempotency_409_is_documented_with_retry_after(stack: Stack) -> None:
    spec = (await stack.client.get("/openapi.json")).json()
    keyed = [
        (path, method, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if any(p.get("name") == "Idempotency-Key" for p in op.get("parameters", []))
    ]
    assert len(keyed) >= 5
    for path, method, op in keyed:
        conflict = op["responses"].get("409")
        assert conflict and "Retry-After" in conflict.get("headers", {}), (method, path)
        assert "idempotency_request_in_progress" in conflict["description"]


async def test_concurrent_requests_with_one_key_answer_once_or_409_with_retry_after(stack: Stack) -> None:
    c, user = stack.client, uid()
    h = {**stack.auth(user), "Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    answers = await asyncio.gather(
        *(c.post("/workspaces", json={"title": "race"}, headers=h) for _ in range(6))
    )
    created = {r.json()["workspace"]["id"] for r in answers if r.status_code == 201}
    assert len(created) == 1, [r.text for r in answers]
    for r in answers:
        assert r.status_code in (201, 409), r.text
        if r.status_code == 409:
            assert (
                r.json()["code"] == "idempotency_request_in_progress" and int(r.headers["retry-after"]) >= 1
            )


async def test_new_rows_are_not_updated_before_they_were_created(stack: Stack, seeded) -> None:
    s = seeded(uid())
    r = await stack.client.post("/workspaces", json={"title": "clock"}, headers=stack.auth(s.owner))
    ws = r.json()["workspace"]
    assert ws["updated_at"] >= ws["created_at"]
    with unit_of_work(stack.db_url) as session:
        time.sleep(0.01)  # the transaction's start (now()) is now clearly before the inserts
        task = task_repo.create(
            session,
            workspace_id=uuid.UUID(s.workspace),
            type=TaskType.grid,
            workflow_id=f"clock-{uuid.uuid4()}",
        )
        task_repo.mark_running(session, task.id)
        task_repo.mark_succeeded(session, task.id, result={})
        task_id = task.id
    with unit_of_work(stack.db_url) as session:
        bad = session.execute(
            text(
                "select 'workspace', count(*) from workspace where updated_at < created_at union all "
                "select 'work_item', count(*) from work_item where updated_at < created_at union all "
                "select 'node', count(*) from node where updated_at < created_at union all "
                "select 'task', count(*) from task where updated_at < created_at or queued_at > started_at "
                "or started_at > finished_at"
            )
        ).all()
        assert all(n == 0 for _, n in bad), bad
        row = session.execute(
            text(
                "select created_at, queued_at, started_at, finished_at, updated_at from task where id = :id"
            ),
            {"id": task_id},
        ).one()
        assert row.created_at <= row.started_at <= row.finished_at <= row.updated_at


# --- workspace.deleted -----------------------------------------------------------------------


async def test_deleting_a_workspace_ends_its_stream_with_workspace_deleted(
    stack: Stack, seeded, live_url: str
) -> None:
    s = seeded(uid())
    h = stack.auth(s.owner)
    seen: list[tuple[str | None, dict]] = []
    url = f"{live_url}/workspaces/{s.workspace}/events"
    async with httpx.AsyncClient(timeout=20) as client, client.stream("GET", url, headers=h) as r:
        assert r.status_code == 200
        started = time.monotonic()
        async with asyncio.timeout(15):
            async for frame in frames(r):
                if frame.event == "seed.done":
                    r2 = await stack.client.delete(f"/workspaces/{s.workspace}", headers=h)
                    assert r2.status_code == 204
                if frame.event:
                    seen.append((frame.event, json.loads("\n".join(frame.data))))
        # the loop ended because the server closed the stream
    assert seen[-1][0] == "workspace.deleted" and seen[-1][1]["data"]["workspace_id"] == s.workspace
    assert time.monotonic() - started < 5  # woken by NOTIFY, not a slow poll


# --- /ready and the disk guard ---------------------------------------------------------------


async def test_ready_checks_the_database_temporal_and_the_disk_guard(stack: Stack, seeded) -> None:
    c = stack.client
    r = await c.get("/ready")
    assert r.status_code == 200, r.text
    assert {k: v["ok"] for k, v in r.json()["checks"].items()} == {
        "database": True,
        "temporal": True,
        "disk": True,
    }
    s = seeded(uid())
    h = stack.auth(s.owner)
    with unit_of_work(stack.db_url) as session:
        tasks_before = session.scalar(
            text("select count(*) from task where workspace_id = :ws"), {"ws": s.workspace}
        )
    saved = stack.settings.min_free_disk_mb
    stack.settings.min_free_disk_mb = 10**9  # a threshold no disk meets: the guard trips
    try:
        r = await c.get("/ready")
        assert r.status_code == 503 and r.json()["code"] == "not_ready"
        assert r.json()["checks"]["disk"]["code"] == "disk_full"
        r = await c.post(f"/workspaces/{s.workspace}/generate/storyboard", json={"story": "a fox"}, headers=h)
        _error(r, 507, "disk_full")
        assert (await c.get("/health")).status_code == 200  # liveness is not readiness
    finally:
        stack.settings.min_free_disk_mb = saved
    with unit_of_work(stack.db_url) as session:  # nothing was started while the disk was "full"
        after = session.scalar(
            text("select count(*) from task where workspace_id = :ws"), {"ws": s.workspace}
        )
    assert after == tasks_before
    assert (await c.get("/ready")).status_code == 200  # space is back: ready again


async def test_ready_says_the_database_is_down_while_health_stays_up(stack: Stack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from api.main import create_app
    from infra.settings import Settings
    from tests.conftest import free_port

    dead = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing"
    app = create_app(
        Settings(data_dir=tmp_path), database_url=dead, temporal_client=stack.temporal, background=False
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as http:
        assert (await http.get("/health")).status_code == 200
        r = await http.get("/ready")
    assert r.status_code == 503
    checks = r.json()["checks"]
    assert checks["database"]["ok"] is False and checks["temporal"]["ok"] is True


async def test_ready_answers_in_bounded_time_when_the_database_and_temporal_hang(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Hung, not dead: servers that accept connections (the kernel queues them) but never answer.
    `/ready` still answers 503 within its per-check timeout instead of hanging with them."""
    import socket

    from api.main import READY_TIMEOUT_S, create_app
    from infra.settings import Settings

    with socket.socket() as mute_db, socket.socket() as mute_temporal:
        for mute in (mute_db, mute_temporal):
            mute.bind(("127.0.0.1", 0))
            mute.listen(16)  # never accepted, never answered
        app = create_app(
            Settings(data_dir=tmp_path),
            database_url=f"postgresql+psycopg://postgres@127.0.0.1:{mute_db.getsockname()[1]}/hung",
            temporal_address=f"127.0.0.1:{mute_temporal.getsockname()[1]}",
            background=False,
        )
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as http:
            began = time.monotonic()
            r = await asyncio.wait_for(http.get("/ready"), timeout=30)
            took = time.monotonic() - began
            assert (await http.get("/health")).status_code == 200
    assert r.status_code == 503 and r.json()["code"] == "not_ready", r.text
    checks = r.json()["checks"]
    assert checks["database"]["ok"] is False and checks["temporal"]["ok"] is False
    assert took < READY_TIMEOUT_S + 2, took
