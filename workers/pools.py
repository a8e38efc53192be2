"""Worker pools: which activities run on which task queue, with what concurrency.

Rules: one task queue per pool (`cpu`, `gpu-image`, `gpu-video`, `tts`) so image, video and CPU work
scale independently (background music is numpy synthesis and export packages are zip writing:
both run on `cpu`, beside compose); the `cpu` pool also runs every workflow; a pool's activity
concurrency is its slot count (GPU pools: the GPU slots); `directordeck up` runs all pools in one
process — the GPU providers keep one resident model per kind (gpu_pool), so the image and video
pools sharing that process never unload each other's model.
GPU pools send heartbeats at most GPU_HEARTBEAT_EVERY_S apart (the SDK otherwise throttles them to
80 % of the heartbeat timeout), so a cancel reaches a denoising loop within about a second; on
shutdown the workers drain (Temporal's graceful shutdown) and then the resident models are freed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from activities.export import ExportActivities
from activities.pipeline import PipelineActivities
from activities.runtime import GPU_HEARTBEAT_EVERY_S
from infra.queues import POOLS, QUEUE_CPU, QUEUE_GPU_IMAGE, QUEUE_GPU_VIDEO, QUEUE_TTS, Queues
from infra.settings import Settings
from workflows.compose import ComposeWorkflow
from workflows.export import ExportWorkflow
from workflows.grid import GridWorkflow
from workflows.music import MusicWorkflow
from workflows.project_pipeline import ProjectPipelineWorkflow
from workflows.shot import ShotWorkflow
from workflows.shot_video import ShotVideoWorkflow
from workflows.storyboard import StoryboardWorkflow
from workflows.voice import VoiceWorkflow

WORKFLOWS: Sequence[type] = (
    StoryboardWorkflow,
    GridWorkflow,
    VoiceWorkflow,
    ShotVideoWorkflow,
    MusicWorkflow,
    ComposeWorkflow,
    ExportWorkflow,
    ShotWorkflow,
    ProjectPipelineWorkflow,
)


@dataclass(frozen=True)
class PoolSpec:
    name: str
    concurrency: int


def pool_specs(settings: Settings) -> dict[str, PoolSpec]:
    return {
        QUEUE_CPU: PoolSpec(QUEUE_CPU, settings.pool_concurrency_cpu),
        QUEUE_GPU_IMAGE: PoolSpec(QUEUE_GPU_IMAGE, settings.pool_concurrency_gpu_image),
        QUEUE_GPU_VIDEO: PoolSpec(QUEUE_GPU_VIDEO, settings.pool_concurrency_gpu_video),
        QUEUE_TTS: PoolSpec(QUEUE_TTS, settings.pool_concurrency_tts),
    }


def pool_activities(pool: str, acts: PipelineActivities) -> list:
    export = ExportActivities(acts)  # shares the ledger, storage, work dir and task mirroring
    return {
        QUEUE_CPU: [
            acts.storyboard,
            acts.generate_music,
            acts.compose,
            export.export_package,
            acts.start_task,
            acts.record_task,
        ],
        QUEUE_GPU_IMAGE: [acts.render_grid],
        QUEUE_GPU_VIDEO: [acts.render_video],
        QUEUE_TTS: [acts.synthesize_voice],
    }[pool]


def build_worker(
    client: Client,
    pool: str,
    acts: PipelineActivities,
    settings: Settings,
    queues: Queues | None = None,
    *,
    with_agent: bool = True,
) -> Worker:
    """One pool's Worker; the cpu pool also runs every workflow and the agent (LangGraph plugin)."""
    if pool not in POOLS:
        raise ValueError(f"unknown pool {pool!r}; choose one of {', '.join(POOLS)}")
    queues = queues or Queues.prefixed(settings.task_queue_prefix)
    spec = pool_specs(settings)[pool]
    queue = getattr(queues, pool.replace("-", "_"))
    workflows: list[type] = []
    activities = pool_activities(pool, acts)
    plugins: list = []
    concurrency = spec.concurrency
    if pool == QUEUE_CPU:
        workflows = list(WORKFLOWS)
        if with_agent:
            from agent.worker import AgentDeps, agent_worker_options

            agent = agent_worker_options(AgentDeps(acts.database_url, client, queues, settings))
            workflows += agent["workflows"]
            activities += agent["activities"]
            plugins = agent["plugins"]
            concurrency += 4  # agent steps are short; keep them from queueing behind compose
    gpu: dict = {}
    if pool in (QUEUE_GPU_IMAGE, QUEUE_GPU_VIDEO):
        gpu["max_heartbeat_throttle_interval"] = timedelta(seconds=GPU_HEARTBEAT_EVERY_S)
    return Worker(
        client,
        task_queue=queue,
        workflows=workflows,
        activities=activities,
        plugins=plugins,
        max_concurrent_activities=concurrency,
        graceful_shutdown_timeout=timedelta(seconds=10),
        **gpu,
    )


def _free_gpu_models() -> None:
    """Unload the resident diffusers models once the GPU pools have drained (no torch: nothing)."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return
    from activities.providers import gpu_pool

    gpu_pool.evict_all(timeout_s=30)


async def run_pools(
    client: Client,
    pools: Sequence[str],
    acts: PipelineActivities,
    settings: Settings,
    stop: asyncio.Event,
    queues: Queues | None = None,
) -> None:
    """Run the given pools until `stop` is set, then shut them down gracefully."""
    workers = [build_worker(client, pool, acts, settings, queues) for pool in pools]
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
    await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
    if any(pool in (QUEUE_GPU_IMAGE, QUEUE_GPU_VIDEO) for pool in pools):
        await asyncio.to_thread(_free_gpu_models)
    for task in tasks:
        if task in done and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    stopper.cancel()
