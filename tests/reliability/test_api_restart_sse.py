"""Kill and restart the API process while a client follows a workspace's SSE stream: the client
reconnects with Last-Event-ID and receives every event exactly once, in order."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import uuid

import httpx
import pytest

from api.auth import mint_dev_token
from infra.ledger import unit_of_work
from infra.process import die_with_parent
from infra.settings import Settings
from schema.enums import WorkspaceType
from schema.repositories import events as event_repo
from schema.repositories import workspaces as workspace_repo
from tests.conftest import free_port
from tests.reliability.conftest import REPO, Cluster, wait_for
from tests.support.sse import frames

UVICORN = [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory"]

pytestmark = pytest.mark.timeout(120)  # every wait inside is bounded too


class ApiProcess:
    """`uvicorn api.main:create_app --factory` as its own process, on a fixed port."""

    def __init__(self, cluster: Cluster, port: int) -> None:
        self.cluster = cluster
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = cluster.tmp / "api.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [*UVICORN, "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
                cwd=REPO,
                env=self.cluster.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
            )

        async def healthy() -> bool:
            assert self.proc is not None and self.proc.poll() is None, self.log_path.read_text()
            with contextlib.suppress(httpx.HTTPError):
                async with httpx.AsyncClient(timeout=2) as client:
                    return (await client.get(f"{self.url}/health")).status_code == 200
            return False

        await wait_for("the API to answer /health", healthy, 60, every_s=0.3)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def append(db_url: str, workspace: str, n: int, tag: str) -> list[int]:
    ids = []
    for i in range(n):
        with unit_of_work(db_url) as session:
            ids.append(event_repo.append(session, uuid.UUID(workspace), "test.tick", {"tag": tag, "i": i}))
    return ids


class Follower:
    """An SSE client that reconnects like EventSource: on any error, again with Last-Event-ID."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url = url
        self.headers = headers
        self.received: list[int] = []
        self.tags: list[str] = []
        self.connections = 0
        self.resumed_from: list[int | None] = []

    @property
    def last(self) -> int | None:
        return self.received[-1] if self.received else None

    async def run(self) -> None:
        while True:
            headers = dict(self.headers)
            if self.last is not None:
                headers["Last-Event-ID"] = str(self.last)
            try:
                async with (
                    httpx.AsyncClient(timeout=httpx.Timeout(5.0, read=30.0)) as client,
                    client.stream("GET", self.url, headers=headers) as response,
                ):
                    response.raise_for_status()
                    self.connections += 1
                    self.resumed_from.append(self.last)
                    async for frame in frames(response):
                        if frame.id is not None:
                            self.received.append(int(frame.id))
                            self.tags.append(frame.data[0])
            except (httpx.HTTPError, OSError):
                await asyncio.sleep(0.3)


async def test_sse_client_resumes_across_an_api_restart_without_gaps_or_repeats(cluster: Cluster) -> None:
    db = cluster.db_url
    with unit_of_work(db) as session:
        ws = str(
            workspace_repo.create(session, owner_id="alice", type=WorkspaceType.draft_space, title="sse").id
        )
    token = mint_dev_token("alice", settings=Settings())
    api = ApiProcess(cluster, free_port())
    await api.start()
    follower = Follower(f"{api.url}/workspaces/{ws}/events", {"Authorization": f"Bearer {token}"})
    task = asyncio.create_task(follower.run())
    try:
        sent = await asyncio.to_thread(append, db, ws, 5, "before")
        await wait_for("the first events", lambda: len(follower.received) >= 5, 20)

        api.kill()  # mid-stream: no goodbye to the client
        sent += await asyncio.to_thread(append, db, ws, 10, "while-down")
        await asyncio.sleep(0.5)
        await api.start()  # same port, new process
        sent += await asyncio.to_thread(append, db, ws, 5, "after")
        await wait_for("every event", lambda: len(follower.received) >= len(sent), 30)
        await asyncio.sleep(0.5)  # nothing more may arrive: no repeats
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        api.stop()

    assert follower.received == sent, "every event once, in order"
    assert follower.connections >= 2 and follower.resumed_from[1] == sent[4]
    with unit_of_work(db) as session:
        assert [e.id for e in event_repo.since(session, uuid.UUID(ws), 0, 500)] == sent
