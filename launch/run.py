"""Long-running commands: `up` (the whole embedded stack) and `worker --pool NAME`."""

from __future__ import annotations

import asyncio
import contextlib
import os

from infra.errors import StackError
from infra.settings import Settings
from infra.stack import EmbeddedServices, Endpoints, install_stop_signals, read_running_stack
from infra.temporal_client import connect


async def _serve(settings: Settings, endpoints: Endpoints) -> None:
    import uvicorn

    from activities.pipeline import PipelineActivities
    from api.main import create_app
    from infra.queues import POOLS
    from workers.pools import run_pools

    stop = asyncio.Event()
    install_stop_signals(stop)
    client = await connect(settings, endpoints.temporal_address)
    acts = PipelineActivities.from_settings(settings, endpoints.database_url)
    workers = asyncio.create_task(run_pools(client, POOLS, acts, settings, stop))
    from infra.metrics import BacklogPoller, register_ledger_collector
    from infra.queues import Queues

    register_ledger_collector(endpoints.database_url)  # tasks / durations / GPU seconds at /metrics
    backlog = asyncio.create_task(
        BacklogPoller.for_queues(client, Queues.prefixed(settings.task_queue_prefix)).run(stop)
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, database_url=endpoints.database_url, temporal_client=client),
            host=settings.api_host,
            port=settings.api_port,
            log_level="warning",
            log_config=None,  # uvicorn's records go through configure_logging's JSON handler
        )
    )
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    api = asyncio.create_task(server.serve())
    while not server.started and not api.done():
        await asyncio.sleep(0.05)
    if api.done():
        stop.set()
        await workers
        raise StackError(f"the API could not start on {endpoints.api_url}", fix="see the log above")
    print(f"  API docs     {endpoints.api_url}/docs", flush=True)
    if endpoints.temporal_ui_url:
        print(f"  Temporal UI  {endpoints.temporal_ui_url}", flush=True)
    print(f"  data         {settings.data_path}", flush=True)
    print("Ready. Ctrl-C to stop.", flush=True)
    await asyncio.wait([workers, api, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    server.should_exit = True
    await asyncio.gather(workers, api, backlog, return_exceptions=True)


def run_up(settings: Settings) -> int:
    services = EmbeddedServices(settings, api=True, ui=True)
    print("Starting DirectorDeck (embedded PostgreSQL, Temporal dev server, workers, API)…", flush=True)
    endpoints = services.start()
    try:
        asyncio.run(_serve(settings, endpoints))
    finally:
        services.stop()
    print("Stopped cleanly.", flush=True)
    return 0


def resolve_endpoints(settings: Settings) -> tuple[str, str]:
    """Database URL and Temporal address of the configured or running stack."""
    running = read_running_stack(settings)
    database_url = settings.database_url or (running.database_url if running else None)
    temporal = settings.temporal_address or (running.temporal_address if running else None)
    if not database_url or not temporal:
        raise StackError(
            f"no ledger database / Temporal server is configured or running for {settings.data_path}",
            fix="run `directordeck up` first, or set DATABASE_URL and TEMPORAL_ADDRESS",
        )
    return database_url, temporal


def run_worker(settings: Settings, pool: str, *, device: str | None = None) -> int:
    from activities.pipeline import PipelineActivities
    from infra.queues import QUEUE_CPU
    from workers.pools import run_pools

    if device:
        os.environ["DIRECTORDECK_DEVICE"] = device
    database_url, temporal = resolve_endpoints(settings)

    async def main() -> None:
        stop = asyncio.Event()
        install_stop_signals(stop)
        client = await connect(settings, temporal)
        if settings.metrics_port:
            from infra.metrics import start_metrics_server

            start_metrics_server(settings.metrics_port)
        acts = PipelineActivities.from_settings(settings, database_url, device=device)
        print(f"worker pool {pool!r} polling {temporal}; Ctrl-C to stop", flush=True)
        upkeep = None
        if pool == QUEUE_CPU:  # the cpu pool settles the ledger and collects files (workers/maintenance.py)
            from workers.maintenance import maintain

            upkeep = asyncio.create_task(maintain(client, acts, settings, stop))
        try:
            await run_pools(client, [pool], acts, settings, stop)
        finally:
            stop.set()
            if upkeep is not None:
                await asyncio.gather(upkeep, return_exceptions=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    return 0
