"""API test stack: the real app on real PostgreSQL + real Temporal + real workers, per session.

One database (cloned from the migrated template), one set of workers on uuid task queues, one app
(its lifespan running: LISTEN/NOTIFY hub, webhook poller), reached through httpx's ASGI transport —
or, for streams, through a real uvicorn server on a free loopback port (`live_url`). Test data is
written with the ledger repositories (`seed_workspace`), so route tests do not wait on generation.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from activities.ledger import stored_asset
from activities.pipeline import PipelineActivities
from activities.providers.choice import choose_providers
from api.auth import mint_dev_token
from api.main import create_app
from api.services import ApiConfig
from infra.ledger import dispose_engines, unit_of_work
from infra.queues import POOLS, Queues
from infra.settings import Settings
from infra.storage import FileSystemStorage
from schema.enums import AssetKind, TaskType, WorkspaceType
from schema.repositories import conversations as conversation_repo
from schema.repositories import events as event_repo
from schema.repositories import favorites as favorite_repo
from schema.repositories import nodes as node_repo
from schema.repositories import snapshots as snapshot_repo
from schema.repositories import storyboard as storyboard_repo
from schema.repositories import tasks as task_repo
from schema.repositories import tracks as track_repo
from schema.repositories import workspaces as workspace_repo
from tests.conftest import free_port
from workers.pools import build_worker


def png_bytes(seed: int) -> bytes:
    from io import BytesIO

    from PIL import Image

    buf = BytesIO()
    Image.new("RGB", (8, 8), ((seed * 37) % 256, (seed * 91) % 256, (seed * 13) % 256)).save(buf, "PNG")
    return buf.getvalue()


@dataclass
class Seeded:
    """Ids of one seeded workspace (a narrative project with a storyboard, a grid, a fork...)."""

    owner: str
    workspace: str
    scenes: list[str]
    shots: list[str]
    track: str
    track_b: str
    group: str
    cells: list[str]
    assets: list[str]
    character: str
    favorite: str
    snapshot: str
    task: str
    conversation: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Stack:
    app: Any
    client: httpx.AsyncClient
    settings: Settings
    db_url: str
    data_dir: Path
    queues: Queues
    temporal: Any
    storage: FileSystemStorage

    def token(self, user: str, role: str = "user") -> str:
        return mint_dev_token(user, role, settings=self.settings)

    def auth(self, user: str, role: str = "user") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user, role)}"}

    def seed_workspace(self, owner: str, *, shots: int = 3, title: str = "seeded") -> Seeded:
        return seed_workspace(self.db_url, self.storage, owner, shots=shots, title=title)


def seed_workspace(db_url: str, storage: FileSystemStorage, owner: str, *, shots: int, title: str) -> Seeded:
    with unit_of_work(db_url) as s:
        ws = workspace_repo.create(s, owner_id=owner, type=WorkspaceType.narrative_project, title=title)
        board = {
            "title": title,
            "scenes": [
                {
                    "title": f"scene {k + 1}",
                    "shots": [
                        {"visual": f"shot {k}-{i}", "narration": f"line {k}-{i}", "duration_s": 3.0}
                        for i in range((shots + 1) // 2 if k == 0 else shots // 2)
                    ],
                }
                for k in range(2 if shots > 1 else 1)
            ],
        }
        written = storyboard_repo.replace_storyboard(s, ws.id, board)
        first = written[0]
        track = track_repo.get_or_create(s, first.id, "A")
        asset_ids = []
        cells = []
        for n in range(1, 5):
            obj = storage.put_bytes(png_bytes(hash((str(ws.id), n)) % 1000), kind="image", ext=".png")
            asset = stored_asset(s, ws.id, obj, AssetKind.image, "image/png", width=8, height=8)
            asset_ids.append(asset.id)
            cells.append({"cell": n, "asset_id": asset.id, "payload": {"prompt": f"cell {n}"}})
        task = task_repo.create(
            s, workspace_id=ws.id, type=TaskType.grid, workflow_id=f"grid-seed-{uuid.uuid4()}"
        )
        grid = node_repo.create_grid(
            s,
            work_item_id=first.id,
            track_id=track.id,
            parent_id=None,
            payload={"prompt": "p"},
            cells=cells,
            task_id=task.id,
        )
        task_repo.mark_running(s, task.id)
        task_repo.mark_succeeded(s, task.id, result={"group_node_id": str(grid.group.id)})
        node_repo.select_node(s, first.id, grid.cells[0].id)
        track_b = track_repo.fork(s, first.id, grid.cells[1].id)
        from schema.repositories import characters as character_repo

        character = character_repo.create(s, ws.id, name="Fox", profile={"look": "red"})
        favorite = favorite_repo.add(s, first.id, node_id=grid.cells[2].id, tags=["hero"])
        snapshot = snapshot_repo.take(s, ws.id, "seed", created_by=owner)
        conv_id = uuid.uuid4()
        conversation = conversation_repo.create(
            s, workspace_id=ws.id, owner_id=owner, mode="agent", workflow_id=f"conversation-{conv_id}"
        )
        event_repo.append(s, ws.id, "seed.done", {"shots": len(written)})
        return Seeded(
            owner=owner,
            workspace=str(ws.id),
            scenes=[str(sc.id) for sc in written.scenes],
            shots=[str(w.id) for w in written],
            track=str(track.id),
            track_b=str(track_b.id),
            group=str(grid.group.id),
            cells=[str(c.id) for c in grid.cells],
            assets=[str(a) for a in asset_ids],
            character=str(character.id),
            favorite=str(favorite.id),
            snapshot=str(snapshot.id),
            task=str(task.id),
            conversation=str(conversation.id),
        )


def api_test_config() -> ApiConfig:
    return ApiConfig.from_settings(
        Settings(),
        rate_per_minute=100_000,
        rate_burst=100_000,
        sse_ping_s=1.0,
        sse_poll_s=5.0,  # streams must be woken by NOTIFY (test_sse checks the latency)
        webhook_poll_s=0.2,
        webhook_secret="test-webhook-secret",
        public_url="http://api.test",
    )


@pytest.fixture(scope="session")
def api_db_url(pg, pg_template_url: str):  # type: ignore[no-untyped-def]
    name = f"dd_api_{uuid.uuid4().hex[:8]}"
    pg.ensure_database(name, template="dd_template")
    url = pg.url(name)
    yield url
    dispose_engines(url)


@pytest.fixture(scope="session")
async def stack(temporal_env, api_db_url: str) -> AsyncIterator[Stack]:
    data_dir = Path(tempfile.mkdtemp(prefix="dd-api-"))
    settings = Settings(data_dir=data_dir)
    storage = FileSystemStorage(data_dir / "storage")
    acts = PipelineActivities(api_db_url, storage, choose_providers(settings), data_dir / "work")
    queues = Queues.prefixed(f"api-{uuid.uuid4().hex[:8]}-")
    client = temporal_env.client
    app = create_app(
        settings,
        database_url=api_db_url,
        temporal_client=client,
        queues=queues,
        storage=storage,
        config=api_test_config(),
    )
    async with contextlib.AsyncExitStack() as exits:
        await exits.enter_async_context(pipeline_workers(client, api_db_url, settings, storage, acts, queues))
        await exits.enter_async_context(app.router.lifespan_context(app))
        http = await exits.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test", timeout=30)
        )
        yield Stack(app, http, settings, api_db_url, data_dir, queues, client, storage)
    shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.asynccontextmanager
async def pipeline_workers(
    client: Any,
    db_url: str,
    settings: Settings,
    storage: FileSystemStorage,
    acts: PipelineActivities | None,
    queues: Queues,
    *,
    pools: tuple[str, ...] = POOLS,
) -> AsyncIterator[None]:
    """Real workers for every pool; the cpu pool also runs the agent (conversation workflow,
    its activities and the LangGraph plugin) the way workers/pools.py wires it."""
    from temporalio.worker import Worker

    from infra.queues import QUEUE_CPU
    from workers.pools import WORKFLOWS, pool_activities, pool_specs

    acts = acts or PipelineActivities(
        db_url, storage, choose_providers(settings), settings.data_path / "work"
    )
    async with contextlib.AsyncExitStack() as exits:
        for pool in pools:
            if pool != QUEUE_CPU or not agent_installed() or agent_in_pools():
                await exits.enter_async_context(build_worker(client, pool, acts, settings, queues))
                continue
            from agent.activities import AgentDeps
            from agent.worker import AGENT_WORKFLOWS, agent_activities, agent_plugin

            deps = AgentDeps(db_url, client, queues, settings)
            worker = Worker(
                client,
                task_queue=queues.cpu,
                workflows=[*WORKFLOWS, *AGENT_WORKFLOWS],
                activities=[*pool_activities(QUEUE_CPU, acts), *agent_activities(deps)],
                plugins=[agent_plugin(deps)],
                max_concurrent_activities=pool_specs(settings)[QUEUE_CPU].concurrency + 4,
            )
            await exits.enter_async_context(worker)
        yield


def agent_installed() -> bool:
    try:
        import agent.worker  # noqa: F401
    except ImportError:
        return False
    return True


def agent_in_pools() -> bool:
    """True once workers/pools.py registers the conversation workflow itself."""
    from workers.pools import WORKFLOWS

    return any(getattr(w, "__name__", "") == "ConversationWorkflow" for w in WORKFLOWS)


chat_workers = pipeline_workers  # the benchmark's name for it


@pytest.fixture(scope="session")
async def live_url(stack: Stack) -> AsyncIterator[str]:
    """The same app behind a real uvicorn server on a loopback port (for SSE)."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(stack.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    server.force_exit = True
    with contextlib.suppress(Exception):
        await asyncio.wait_for(task, timeout=5)


@pytest.fixture
def seeded(stack: Stack) -> Callable[..., Seeded]:
    def make(owner: str = "alice", **kwargs: Any) -> Seeded:
        return stack.seed_workspace(owner, **kwargs)

    return make


def uid() -> str:
    return f"u-{uuid.uuid4().hex[:8]}"


__all__ = ["Seeded", "Stack", "png_bytes", "uid"]
