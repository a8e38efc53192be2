"""API latency under load (run on demand, not in the suite).

    .venv/bin/pytest tests/bench/bench_api.py -s -p no:cacheprovider --override-ini addopts=
    BENCH_QUICK=1 ...   shorter runs

The API runs as its own uvicorn process (one worker, like one replica) on a loopback port, against
the session's real PostgreSQL and Temporal dev server; the load generator is this process: 50
concurrent httpx clients (BENCH_API_CLIENTS) on one event loop. Measured:

- ``GET /workspaces/{id}/storyboard`` of a 60-shot project (scenes + shots + selected files);
- ``POST /conversations/{id}/messages`` to the first SSE event (each client its own Agent-mode
  conversation; the sentence plans to a read-only action so nothing heavy starts).

Printed: request count, errors, throughput, p50/p90/p99/max latency in ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
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
from infra.queues import Queues
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

SERVER = """
import sys, uvicorn
from api.main import create_app
from api.services import ApiConfig
from infra.settings import Settings
from workflows.contracts import Queues
settings = Settings()
config = ApiConfig.from_settings(settings)
config.rate_per_minute, config.rate_burst = 1e9, 10**9  # measure the API, not the limiter
app = create_app(settings, config=config, queues=Queues.prefixed(sys.argv[2]))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

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
    }
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port), prefix], env=env, cwd=Path.cwd())
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
        }
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()
        dispose_engines(db_url)
        pg.drop_database(name)


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


async def test_chat_message_to_first_sse_event(api_server: dict[str, Any]) -> None:
    pytest.importorskip("agent.conversation", reason="the conversation workflow is not installed")
    from tests.api.conftest import chat_workers

    settings = api_server["settings"]
    storage = FileSystemStorage(api_server["data_dir"] / "storage")
    async with chat_workers(
        api_server["temporal"],
        api_server["db_url"],
        settings,
        storage,
        None,
        Queues.prefixed(api_server["prefix"]),
    ):
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
        turn_latencies: list[float] = []
        errors = 0

        async def first_event(http: httpx.AsyncClient, n: int) -> None:
            nonlocal errors
            h = {"Authorization": f"Bearer {tokens[users[n]]}", "Accept": "text/event-stream"}
            t0 = time.perf_counter()
            try:
                async with http.stream(
                    "POST",
                    f"/conversations/{conversations[n]}/messages",
                    json={"text": "what is running?"},
                    headers=h,
                ) as r:
                    if r.status_code != 200:
                        errors += 1
                        return
                    first = True
                    async for line in r.aiter_lines():  # read to the end: the turn finishes
                        if first and line.startswith("event:"):
                            latencies.append(time.perf_counter() - t0)
                            first = False
                        elif line.startswith("event:"):
                            kind = line.partition(":")[2].strip()
                            if kind == "assistant_text":
                                turn_latencies.append(time.perf_counter() - t0)
                            elif kind == "error":
                                errors += 1
            except httpx.HTTPError:
                errors += 1

        limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=api_server["base"], timeout=120, limits=limits) as http:
            for _ in range(CHAT_ROUNDS):
                await asyncio.gather(*(first_event(http, n) for n in range(CLIENTS)))
        wall = time.monotonic() - started
        figures = report("POST chat message -> first SSE event (accepted)", latencies, errors, wall)
        report("POST chat message -> assistant_text (whole agent turn)", turn_latencies, errors, wall)
        assert errors == 0 and figures["requests"] == CLIENTS * CHAT_ROUNDS
