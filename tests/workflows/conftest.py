"""Workflow test rig: real Temporal dev server, real PostgreSQL (own database), real Workers for
every pool on uuid task queues, offline providers (optionally wrapped by a test double at the edge)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from activities.pipeline import PipelineActivities
from activities.providers.choice import choose_providers
from infra.ledger import unit_of_work
from infra.queues import POOLS, Queues
from infra.settings import Settings
from infra.storage import FileSystemStorage
from schema.enums import WorkspaceType
from schema.repositories import workspaces as workspace_repo
from workers.pools import build_worker
from workflows.contracts import PipelineInput
from workflows.project_pipeline import ProjectPipelineWorkflow


@dataclass
class Rig:
    client: object
    queues: Queues
    acts: PipelineActivities
    db_url: str
    data_dir: Path

    def new_workspace(self, title: str = "test") -> str:
        with unit_of_work(self.db_url) as session:
            ws = workspace_repo.create(
                session, owner_id="tester", type=WorkspaceType.narrative_project, title=title
            )
            return str(ws.id)

    def wf_id(self, prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4()}"

    async def start_pipeline(
        self, *, shots: int = 3, concurrency: int = 3, grid_size: int = 4, title: str = "test"
    ) -> tuple[str, Any]:
        """A new workspace and its project pipeline ("a fox steals the moon"), started: (ws, handle)."""
        ws = self.new_workspace(title)
        handle = await self.client.start_workflow(  # type: ignore[attr-defined]
            ProjectPipelineWorkflow.run,
            PipelineInput(
                workspace_id=ws,
                story="a fox steals the moon",
                shot_count=shots,
                grid_size=grid_size,
                shot_concurrency=concurrency,
                queues=self.queues,
            ),
            id=f"pipeline-{ws}",
            task_queue=self.queues.cpu,
        )
        return ws, handle


@pytest.fixture
def make_rig(
    temporal_env, fresh_db_url: str, task_queue: str, data_dir: Path
) -> Callable[..., contextlib.AbstractAsyncContextManager[Rig]]:
    @contextlib.asynccontextmanager
    async def factory(
        acts_factory: Callable[..., PipelineActivities] = PipelineActivities, **settings_overrides: object
    ) -> AsyncIterator[Rig]:
        settings = Settings(data_dir=data_dir, **settings_overrides)
        acts = acts_factory(
            fresh_db_url,
            FileSystemStorage(data_dir / "storage"),
            choose_providers(settings),
            data_dir / "work",
        )
        queues = Queues.prefixed(f"{task_queue}-")
        client = temporal_env.client
        async with contextlib.AsyncExitStack() as stack:
            for pool in POOLS:
                await stack.enter_async_context(build_worker(client, pool, acts, settings, queues))
            yield Rig(client, queues, acts, fresh_db_url, data_dir)

    return factory
