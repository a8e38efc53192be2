"""API latency under load (run on demand, not in the suite).

    .venv/bin/pytest tests/bench/bench_api.py -s -p no:cacheprovider --override-ini addopts=
    BENCH_QUICK=1 ...   shorter runs

The API runs as its own uvicorn process (BENCH_API_WORKERS worker processes, default 1, as `up`
serves it with DIRECTORDECK_API_WORKERS) on a loopback port, against
the session's real PostgreSQL and Temporal dev server; the load generator is this process: 50
concurrent clients (BENCH_API_CLIENTS) on one event loop (httpx for the storyboard latency; for
chat a raw-socket SSE reader, `sse_post`, so the client's own parsing does not pose as server
latency on 2 cores). Measured:

- ``GET /workspaces/{id}/storyboard`` of a 60-shot project (scenes + shots + selected files);
- ``POST /conversations/{id}/messages`` to the first SSE event (each client its own Agent-mode
  conversation; the sentence plans to a read-only action so nothing heavy starts).

Printed: request count, errors, throughput, p50/p90/p99/max latency in ms.

Throughput is measured from outside with `wrk` (a compiled load generator: 1 thread, 50
connections; `apt-get install wrk`, the test skips with that hint when it is missing): a bare
FastAPI app with one JSON route and no middleware, served the same way (uvicorn, same processes), is
the reference; `/health` and the 60-shot storyboard are reported as ratios of its req/s.
The chat figures (first SSE event, `plan` event) are taken with 1 client and with 50.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.auth import mint_dev_token
from infra.ledger import dispose_engines
from infra.settings import Settings
from infra.storage import FileSystemStorage
from tests.api.conftest import seed_workspace
from tests.conftest import free_port

pytestmark = [pytest.mark.bench, pytest.mark.timeout(1800)]

QUICK = os.environ.get("BENCH_QUICK") == "1"
CLIENTS = int(os.environ.get("BENCH_API_CLIENTS", "50"))
DURATION_S = 3.0 if QUICK else 10.0
CHAT_ROUNDS = 1 if QUICK else 3
SECRET = "bench-secret-0123456789-0123456789-0123456789"

API_WORKERS = int(os.environ.get("BENCH_API_WORKERS", "1"))

# The API as `up` serves it with DIRECTORDECK_API_WORKERS = API_WORKERS (1: one process; more:
# `uvicorn --workers N` with launch.api_server's factory); the limiter is lifted by env.
SERVER = """
import sys, uvicorn
uvicorn.run("launch.api_server:app", factory=True, workers=int(sys.argv[2]), host="127.0.0.1",
            port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


# The reference: one JSON route, no middleware, served the same way (same number of processes).
BARE_APP = """
from fastapi import FastAPI
app = FastAPI()
@app.get("/health")
async def health():
    return {"status": "ok"}
"""
BARE_SERVER = """
import sys, uvicorn
uvicorn.run("bare_app:app", workers=int(sys.argv[2]), host="127.0.0.1", port=int(sys.argv[1]),
            log_level="warning", access_log=False, app_dir=sys.argv[3])
"""
WRK_CONNECTIONS = 50
WRK_DURATION_S = 3 if QUICK else 8


def stop(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM a child, give it `grace_s` to exit, then SIGKILL it."""
    proc.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(grace_s)
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples) or [0.0]

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))] * 1000

    return {
        "p50_ms": pick(0.50),
        "p90_ms": pick(0.90),
        "p99_ms": pick(0.99),
        "max_ms": ordered[-1] * 1000,
        "mean_ms": statistics.fmean(ordered) * 1000,
    }


def report(name: str, latencies: list[float], errors: int, wall_s: float) -> dict[str, Any]:
    figures = {
        "requests": len(latencies),
        "errors": errors,
        "clients": CLIENTS,
        "wall_s": round(wall_s, 2),
        "rps": round(len(latencies) / wall_s, 1) if wall_s else 0.0,
        **{k: round(v, 1) for k, v in percentiles(latencies).items()},
    }
    print(
        f"\n{name}: {figures['requests']} requests ({errors} errors) from {CLIENTS} clients in "
        f"{figures['wall_s']} s = {figures['rps']} req/s | p50 {figures['p50_ms']} ms, "
        f"p90 {figures['p90_ms']} ms, p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms",
        flush=True,
    )
    return figures


async def hammer(
    clients: int, duration_s: float, one: Callable[[httpx.AsyncClient, int], Awaitable[bool]]
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        stop_at = time.monotonic() + duration_s
        started = time.monotonic()

        async def client(n: int) -> None:
            nonlocal errors
            while time.monotonic() < stop_at:
                t0 = time.perf_counter()
                ok = await one(http, n)
                if ok:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors += 1

        await asyncio.gather(*(client(n) for n in range(clients)))
        wall = time.monotonic() - started
    return latencies, errors, wall


async def sse_post(
    host: str, port: int, path: str, headers: dict[str, str], body: dict[str, Any]
) -> tuple[int, list[tuple[str, float]]]:
    """POST over a raw socket and read the SSE answer to its end: (status, [(event, perf_counter)]).

    A load generator as thin as the protocol allows (no HTTP client library, no SSE parser: the
    `event:` lines are picked out of the chunked body as they arrive), so with 50 streams on 2
    cores the figures are the server's, not the client's."""
    payload = json.dumps(body).encode()
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    head += ["Content-Type: application/json", f"Content-Length: {len(payload)}", "", ""]
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write("\r\n".join(head).encode() + payload)
        await writer.drain()
        status_line = await reader.readline()
        status_code = int(status_line.split()[1])
        events: list[tuple[str, float]] = []
        while line := await reader.readline():
            if line.startswith(b"event:"):
                events.append((line[6:].strip().decode(), time.perf_counter()))
        return status_code, events
    finally:
        writer.close()


@pytest.fixture(scope="module")
async def api_server(temporal_env, pg, pg_template_url: str) -> AsyncIterator[dict[str, Any]]:
    name = f"dd_bench_api_{uuid.uuid4().hex[:8]}"
    pg.ensure_database(name, template="dd_template")
    db_url = pg.url(name)
    data_dir = Path(tempfile.mkdtemp(prefix="dd-bench-api-"))
    port = free_port()
    prefix = f"bench-api-{uuid.uuid4().hex[:6]}-"
    target = temporal_env.client.service_client.config.target_host
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "TEMPORAL_ADDRESS": target,
        "DIRECTORDECK_DATA_DIR": str(data_dir),
        "DIRECTORDECK_JWT_SECRET": SECRET,
        "DIRECTORDECK_TASK_QUEUE_PREFIX": prefix,
        "DIRECTORDECK_API_RATE_PER_MINUTE": "1e9",  # measure the API, not the limiter
        "DIRECTORDECK_API_RATE_BURST": str(10**9),
    }
    if API_WORKERS > 1:  # as launch.api_server does: one metrics view over the workers
        env["PROMETHEUS_MULTIPROC_DIR"] = str(data_dir / "metrics")
        (data_dir / "metrics").mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port), str(API_WORKERS)], env=env, cwd=Path.cwd()
    )
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as probe:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if (await probe.get(f"{base}/health")).status_code == 200:
                    break
            assert proc.poll() is None, "the API process exited"
            await asyncio.sleep(0.1)
    settings = Settings(data_dir=data_dir, jwt_secret=SECRET)
    try:
        yield {
            "base": base,
            "db_url": db_url,
            "data_dir": data_dir,
            "settings": settings,
            "prefix": prefix,
            "temporal": temporal_env.client,
            "workers": API_WORKERS,
            "env": env,
        }
    finally:
        stop(proc, 10)
        dispose_engines(db_url)
        pg.drop_database(name)


async def _wait_up(proc: subprocess.Popen[bytes], url: str) -> None:
    async with httpx.AsyncClient() as probe:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if (await probe.get(url)).status_code == 200:
                    return
            assert proc.poll() is None, "the server process exited"
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never answered")


_WRK_LATENCY = re.compile(r"^\s*(50|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_WRK_RPS = re.compile(r"Requests/sec:\s*([\d.]+)")
_WRK_NON2XX = re.compile(r"Non-2xx or 3xx responses:\s*(\d+)")


def wrk(
    url: str,
    headers: dict[str, str] | None = None,
    *,
    duration_s: int = WRK_DURATION_S,
    paths: list[str] | None = None,
) -> dict[str, Any]:
    """One bounded `wrk` run on a loopback URL: req/s, p50/p90/p99 latency (ms), non-2xx count.
    `paths`: the requests go round these paths in turn (a Lua request script)."""
    cmd = ["wrk", "-t1", f"-c{WRK_CONNECTIONS}", f"-d{duration_s}s", "--latency", "--timeout", "10s"]
    scratch = Path(tempfile.mkdtemp(prefix="dd-wrk-"))
    if paths:
        script = scratch / "paths.lua"
        quoted = ", ".join(f'"{p}"' for p in paths)
        script.write_text(
            f"local paths = {{{quoted}}}\nlocal i = 0\n"
            "request = function()\n  i = i + 1\n  return wrk.format('GET', paths[(i % #paths) + 1])\nend\n"
        )
        cmd += ["-s", str(script)]
    for k, v in (headers or {}).items():
        cmd += ["-H", f"{k}: {v}"]
    try:
        out = subprocess.run(
            [*cmd, url], capture_output=True, text=True, timeout=duration_s + 60, check=True
        ).stdout
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    lat = {f"p{q}_ms": round(float(v) * scale[u], 2) for q, v, u in _WRK_LATENCY.findall(out)}
    rps = _WRK_RPS.search(out)
    non2xx = _WRK_NON2XX.search(out)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        **lat,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
    }


async def test_wrk_health_and_storyboard_vs_bare_fastapi(
    api_server: dict[str, Any], figures: dict[str, Any]
) -> None:
    if shutil.which("wrk") is None:
        pytest.skip(
            "wrk is not installed (Debian/Ubuntu: apt-get install wrk): the API throughput rows are skipped"
        )
    user = "bench-wrk"
    storage = FileSystemStorage(api_server["data_dir"] / "storage")
    seeded = await asyncio.to_thread(
        seed_workspace, api_server["db_url"], storage, user, shots=60, title="wrk"
    )
    token = mint_dev_token(user, settings=api_server["settings"])
    auth = {"Authorization": f"Bearer {token}"}
    storyboard = f"{api_server['base']}/workspaces/{seeded.workspace}/storyboard"
    port = free_port()
    bare_dir = Path(tempfile.mkdtemp(prefix="dd-bench-bare-"))
    (bare_dir / "bare_app.py").write_text(BARE_APP)
    bare = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(port), str(API_WORKERS), str(bare_dir)])
    try:
        await _wait_up(bare, f"http://127.0.0.1:{port}/health")
        for url, h in (
            (f"http://127.0.0.1:{port}/health", None),
            (f"{api_server['base']}/health", None),
            (storyboard, auth),
        ):
            await asyncio.to_thread(wrk, url, h, duration_s=1)  # warm-up: connections, pools, caches
        bare_fig = await asyncio.to_thread(wrk, f"http://127.0.0.1:{port}/health")
        health = await asyncio.to_thread(wrk, f"{api_server['base']}/health")
        board = await asyncio.to_thread(wrk, storyboard, auth)
        # the same load spread over 10 workspaces: no two concurrent GETs share a revision probe
        others = [
            await asyncio.to_thread(
                seed_workspace, api_server["db_url"], storage, user, shots=60, title=f"wrk {n}"
            )
            for n in range(10)
        ]
        paths = [f"/workspaces/{o.workspace}/storyboard" for o in others]
        for path in paths:
            httpx.get(f"{api_server['base']}{path}", headers=auth)  # build each body once
        spread = await asyncio.to_thread(wrk, storyboard, auth, paths=paths)
    finally:
        stop(bare, 10)
    result = {
        "tool": f"wrk -t1 -c{WRK_CONNECTIONS} -d{WRK_DURATION_S}s",
        "api_processes": api_server["workers"],
        "bare": bare_fig,
        "health": health,
        "storyboard": board,
        "storyboard_bytes": len(httpx.get(storyboard, headers=auth).content),
        "health_vs_bare": round(health["rps"] / bare_fig["rps"], 3),
        "storyboard_vs_bare": round(board["rps"] / bare_fig["rps"], 3),
        "storyboard_10_workspaces": spread,
        "storyboard_10_workspaces_vs_bare": round(spread["rps"] / bare_fig["rps"], 3),
    }
    figures["api_wrk"] = result
    for name in ("bare", "health", "storyboard", "storyboard_10_workspaces"):
        fig = result[name]
        print(
            f"\nwrk {name}: {fig['rps']} req/s, p50 {fig.get('p50_ms')} ms, p99 {fig.get('p99_ms')} ms",
            flush=True,
        )
    assert bare_fig["non_2xx"] == health["non_2xx"] == board["non_2xx"] == spread["non_2xx"] == 0
    assert min(bare_fig["rps"], health["rps"], board["rps"]) > 0


async def test_get_storyboard_60_shots(api_server: dict[str, Any]) -> None:
    user = "bench-reader"
    storage = FileSystemStorage(api_server["data_dir"] / "storage")
    seeded = await asyncio.to_thread(
        seed_workspace, api_server["db_url"], storage, user, shots=60, title="bench"
    )
    token = mint_dev_token(user, settings=api_server["settings"])
    url = f"{api_server['base']}/workspaces/{seeded.workspace}/storyboard"
    headers = {"Authorization": f"Bearer {token}"}

    async def one(http: httpx.AsyncClient, _: int) -> bool:
        r = await http.get(url, headers=headers)
        return r.status_code == 200 and len(r.json()["shots"]) == 60

    await hammer(CLIENTS, 1.0, one)  # warm-up: connections, pools, caches
    latencies, errors, wall = await hammer(CLIENTS, DURATION_S, one)
    figures = report("GET 60-shot storyboard", latencies, errors, wall)
    assert errors == 0 and figures["requests"] > CLIENTS


@contextlib.asynccontextmanager
async def cpu_worker_process(env: dict[str, str]) -> AsyncIterator[None]:
    """The cpu worker pool (conversation workflow, planner) as `directordeck worker --pool cpu` runs
    it: a process of its own, so the planner does not share this load generator's interpreter."""
    log = Path(env["DIRECTORDECK_DATA_DIR"]) / "cpu-worker.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "launch.cli", "worker", "--pool", "cpu"],
            env=env,
            cwd=Path.cwd(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        for _ in range(1200):  # it prints "polling" once its client is connected
            if "polling" in log.read_text(errors="replace"):
                break
            assert proc.poll() is None, f"the worker exited: {log.read_text(errors='replace')[-2000:]}"
            await asyncio.sleep(0.1)
        yield
    finally:
        stop(proc, 20)


async def test_chat_message_to_first_sse_event(api_server: dict[str, Any], figures: dict[str, Any]) -> None:
    pytest.importorskip("agent.conversation", reason="the conversation workflow is not installed")
    settings = api_server["settings"]
    storage = FileSystemStorage(api_server["data_dir"] / "storage")
    async with cpu_worker_process(api_server["env"]):  # its own process, as `up` runs it
        users = [f"bench-chat-{n}" for n in range(CLIENTS)]
        tokens = {u: mint_dev_token(u, settings=settings) for u in users}
        conversations: dict[int, str] = {}
        async with httpx.AsyncClient(base_url=api_server["base"], timeout=60) as http:
            for n, user in enumerate(users):
                h = {"Authorization": f"Bearer {tokens[user]}"}
                seeded = await asyncio.to_thread(
                    seed_workspace, api_server["db_url"], storage, user, shots=3, title="chat"
                )
                r = await http.post(
                    "/conversations", json={"workspace_id": seeded.workspace, "mode": "agent"}, headers=h
                )
                assert r.status_code == 201, r.text
                conversations[n] = r.json()["id"]

        latencies: list[float] = []
        plan_latencies: list[float] = []
        turn_latencies: list[float] = []
        errors = 0

        host, port = api_server["base"].removeprefix("http://").split(":")

        async def first_event(n: int) -> None:
            nonlocal errors
            h = {"Authorization": f"Bearer {tokens[users[n]]}", "Accept": "text/event-stream"}
            path = f"/conversations/{conversations[n]}/messages"
            t0 = time.perf_counter()
            try:
                status_code, events = await sse_post(host, int(port), path, h, {"text": "what is running?"})
            except (OSError, asyncio.IncompleteReadError):
                errors += 1
                return
            if status_code != 200 or not events:
                errors += 1
                return
            latencies.append(events[0][1] - t0)  # the first event, whatever it is (`received`)
            for kind, at in events[1:]:
                if kind == "assistant_text":
                    turn_latencies.append(at - t0)
                elif kind == "plan":
                    plan_latencies.append(at - t0)
                elif kind == "error":
                    errors += 1

        chat: dict[str, Any] = {}
        for label, clients in (("one_client", 1), ("many_clients", CLIENTS)):
            latencies.clear()
            plan_latencies.clear()
            turn_latencies.clear()
            started = time.monotonic()
            for _ in range(CHAT_ROUNDS if clients > 1 else 10 * CHAT_ROUNDS):
                await asyncio.gather(*(first_event(n) for n in range(clients)))
            wall = time.monotonic() - started
            chat[label] = {
                "clients": clients,
                "first_event": report(
                    f"{clients} client(s): chat message -> first SSE event", latencies, errors, wall
                ),
                "plan": report(
                    f"{clients} client(s): chat message -> plan event", plan_latencies, errors, wall
                ),
                "turn": report(
                    f"{clients} client(s): chat message -> assistant_text", turn_latencies, errors, wall
                ),
            }
        figures["chat"] = chat
        assert errors == 0 and chat["many_clients"]["first_event"]["requests"] == CLIENTS * CHAT_ROUNDS
