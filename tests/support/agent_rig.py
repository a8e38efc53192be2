"""Agent runtime rig: real Temporal dev server, real PostgreSQL (own database per test), real
Workers for every pipeline pool plus the agent (workflows, activities, LangGraph plugin) on uuid
task queues, offline providers and the offline planner unless a test passes its own."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from temporalio.worker import Worker

from activities.pipeline import PipelineActivities
from activities.providers.choice import choose_providers
from agent.activities import LOCAL, AgentDeps, register_deps, unregister_deps
from agent.worker import AGENT_WORKFLOWS, agent_activities, agent_plugin
from infra.ledger import unit_of_work
from infra.queues import POOLS, QUEUE_CPU, Queues
from infra.settings import Settings
from infra.storage import FileSystemStorage
from schema.enums import WorkspaceType
from schema.repositories import storyboard
from schema.repositories import workspaces as workspace_repo
from services.router import ActionRouter
from workers.pools import WORKFLOWS, build_worker, pool_activities, pool_specs

OWNER = "alice"


@dataclass
class AgentRig:
    client: Any
    queues: Queues
    db_url: str
    settings: Settings
    acts: PipelineActivities
    deps: AgentDeps
    stack: contextlib.AsyncExitStack

    @property
    def router(self) -> ActionRouter:
        return self.deps.get_router()

    def workspace(self, shots: int = 3, *, owner: str = OWNER, cost_limit: int | None = None) -> str:
        """A narrative project with `shots` shots (night-free specs) owned by `owner`."""
        with unit_of_work(self.db_url) as session:
            ws = workspace_repo.create(
                session,
                owner_id=owner,
                type=WorkspaceType.narrative_project,
                title="fox",
                cost_limit=cost_limit,
            )
            if shots:
                storyboard.replace_storyboard(
                    session,
                    ws.id,
                    {
                        "title": "fox",
                        "scenes": [
                            {
                                "title": "rooftops",
                                "shots": [
                                    {
                                        "visual": f"the fox on rooftop {i}",
                                        "narration": f"line {i}",
                                        "duration_s": 4.0,
                                    }
                                    for i in range(1, shots + 1)
                                ],
                            }
                        ],
                    },
                )
            return str(ws.id)

    async def agent_worker(self, deps: AgentDeps | None = None) -> Worker:
        """A second cpu-pool Worker with only the agent parts (for restart tests)."""
        deps = deps or self.deps
        return Worker(
            self.client,
            task_queue=self.queues.cpu,
            workflows=list(AGENT_WORKFLOWS),
            activities=agent_activities(deps),
            plugins=[agent_plugin(deps)],
        )


def cpu_worker(
    client: Any, acts: PipelineActivities, settings: Settings, queues: Queues, deps: AgentDeps
) -> Worker:
    """The cpu pool's Worker with the agent registered the way workers/pools.py should."""
    return Worker(
        client,
        task_queue=queues.cpu,
        workflows=[*WORKFLOWS, *AGENT_WORKFLOWS],
        activities=[*pool_activities(QUEUE_CPU, acts), *agent_activities(deps)],
        plugins=[agent_plugin(deps)],
        max_concurrent_activities=pool_specs(settings)[QUEUE_CPU].concurrency + 4,
    )


@pytest.fixture
def make_agent_rig(
    temporal_env: Any, fresh_db_url: str, task_queue: str, data_dir: Path
) -> Callable[..., contextlib.AbstractAsyncContextManager[AgentRig]]:
    @contextlib.asynccontextmanager
    async def factory(
        *,
        pools: Sequence[str] = POOLS,
        planner: Any = None,
        agent_worker: bool = True,
    ) -> AsyncIterator[AgentRig]:
        settings = Settings(data_dir=data_dir)
        acts = PipelineActivities(
            fresh_db_url,
            FileSystemStorage(data_dir / "storage"),
            choose_providers(settings),
            data_dir / "work",
        )
        queues = Queues.prefixed(f"{task_queue}-")
        client = temporal_env.client
        deps = AgentDeps(fresh_db_url, client, queues, settings, planner=planner)
        register_deps(deps, LOCAL)
        try:
            async with contextlib.AsyncExitStack() as stack:
                for pool in pools:
                    if pool == QUEUE_CPU:
                        if agent_worker:
                            await stack.enter_async_context(cpu_worker(client, acts, settings, queues, deps))
                        else:
                            await stack.enter_async_context(
                                build_worker(client, pool, acts, settings, queues, with_agent=False)
                            )
                    else:
                        await stack.enter_async_context(build_worker(client, pool, acts, settings, queues))
                yield AgentRig(client, queues, fresh_db_url, settings, acts, deps, stack)
        finally:
            unregister_deps(LOCAL)
            unregister_deps(queues.cpu)

    return factory


def new_id() -> str:
    return str(uuid.uuid4())
