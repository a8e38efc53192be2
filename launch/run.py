"""Long-running commands: `up` (the whole embedded stack) and `worker --pool NAME`.

Rules: `up` supervises what it runs (infra/supervisor.py): PostgreSQL, the Temporal dev server, the
API, each worker pool and the maintenance loop are restarted with backoff when they die, and
reported by a log line, `directordeck_component_*` metrics and the `stack` check of `/ready`;
PostgreSQL, the Temporal server and a separate API process are also probed for liveness
(infra/liveness.py) and restarted when they hang.
SIGINT/SIGTERM end `up` within STOP_DEADLINE_S whatever state start-up is in (see `_Stopper`).
"""

from __future__ import annotations

import _thread
import asyncio
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from infra.errors import StackError
from infra.process import interrupt_or_hold
from infra.settings import Settings
from infra.stack import EmbeddedServices, Endpoints, install_stop_signals, read_running_stack
from infra.temporal_client import connect

STOP_DEADLINE_S = 40.0  # a stop request ends `up` within this, whatever it was doing
_REDELIVER = signal.SIGUSR2  # a stop request swallowed by a finalizer is delivered again by this
REDELIVERY_DELAY_S = 0.005  # … this long after, when the main thread has left the finalizer


class _StopRequested(BaseException):
    """Raised in the main thread by SIGINT/SIGTERM while `up` is still starting (no event loop)."""


class _Stopper:
    """SIGINT/SIGTERM handling of `up`, from the first line on. The first signal asks to stop: while
    starting, it raises `_StopRequested` (whatever is half started is stopped by the unwinding);
    once serving, it sets the loop's stop event. Either way a watchdog thread SIGKILLs the children
    and exits if the orderly stop overruns STOP_DEADLINE_S; a second signal does that at once.
    A signal that lands inside a finalizer (a connection's `__del__` run by the garbage collector)
    has its `_StopRequested` swallowed by Python; `sys.unraisablehook` catches that and delivers the
    stop again in the main thread, so it is neither lost nor printed as a traceback."""

    def __init__(self, services: EmbeddedServices, deadline_s: float = STOP_DEADLINE_S) -> None:
        self.services = services
        self.deadline_s = deadline_s
        self.requested = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop: asyncio.Event | None = None
        self.final = False  # the orderly stop runs: a first signal lets it finish (watchdog armed)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        signal.signal(_REDELIVER, self._on_redelivery)
        self._unraisable_before = sys.unraisablehook
        sys.unraisablehook = self._on_unraisable

    def serving(self, loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
        self.loop, self.stop = loop, stop
        if self.requested.is_set():
            stop.set()

    def stopping(self) -> None:
        self.loop = self.stop = None
        self.final = True

    def _on_signal(self, signum: int, _frame: object) -> None:
        if self.requested.is_set():
            self._force(f"second {signal.Signals(signum).name}")
        self.requested.set()
        threading.Thread(target=self._watchdog, name="directordeck-stop-watchdog", daemon=True).start()
        self._act()

    def _act(self) -> None:
        if self.loop is not None and self.stop is not None:
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self.stop.set)
            return
        if not self.final:
            interrupt_or_hold(_raise_stop)  # never between forking a child and recording it

    def _on_unraisable(self, unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, _StopRequested):
            # from another thread, so `_on_redelivery` runs in the main thread once this hook (and
            # most likely the finalizer) has returned; landing in a finalizer again repeats this
            threading.Thread(target=_redeliver, name="directordeck-stop-redelivery", daemon=True).start()
            return
        self._unraisable_before(unraisable)

    def _on_redelivery(self, _signum: int, _frame: object) -> None:
        if self.requested.is_set():
            self._act()

    def _watchdog(self) -> None:
        time.sleep(self.deadline_s)
        self._force(f"the stop took longer than {self.deadline_s:.0f}s")

    def _force(self, why: str) -> None:
        print(f"error: stop_forced: {why}; children killed — fix: none needed", file=sys.stderr, flush=True)
        self.services.kill()
        os._exit(1)


def _raise_stop() -> None:
    raise _StopRequested


def _redeliver() -> None:
    time.sleep(REDELIVERY_DELAY_S)
    _thread.interrupt_main(_REDELIVER)


def _watch_server(
    supervisor: Any,
    name: str,
    server: Any,
    answers: Callable[[str, int, float], bool],
    stop: asyncio.Event,
    probe_s: float,
) -> Awaitable[None]:
    """Supervise one embedded server (PostgreSQL or Temporal): restarted when it dies, killed and
    restarted when its own protocol stops answering on its port."""
    return supervisor.watch_process(
        name,
        lambda: server.process is not None and server.process.poll() is None,
        server.start,
        stop,
        answers=lambda: answers("127.0.0.1", server.port, probe_s),
        kill=server.kill,
        probe_every_s=probe_s,
    )


async def _serve(settings: Settings, services: EmbeddedServices, stopper: _Stopper) -> None:
    import uvicorn

    from activities.pipeline import PipelineActivities
    from api.main import create_app
    from infra import liveness
    from infra.gc_tuning import settle_heap_for_serving
    from infra.metrics import BacklogPoller, register_ledger_collector
    from infra.queues import POOLS, Queues
    from infra.supervisor import Supervisor
    from workers.maintenance import maintain
    from workers.pools import run_pools

    endpoints = services.endpoints
    assert endpoints is not None and services.api_socket is not None
    stop = asyncio.Event()
    stopper.serving(asyncio.get_running_loop(), stop)
    supervisor = Supervisor()
    client = await connect(settings, endpoints.temporal_address)
    acts = PipelineActivities.from_settings(settings, endpoints.database_url)
    register_ledger_collector(endpoints.database_url)  # tasks / durations / GPU seconds at /metrics
    app = create_app(
        settings, database_url=endpoints.database_url, temporal_client=client, stack_health=supervisor.health
    )
    settle_heap_for_serving()
    servers: list[uvicorn.Server] = []
    api_started = asyncio.Event()

    async def serve_api_in_process() -> None:
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                log_level="warning",
                log_config=None,  # uvicorn's records go through configure_logging's JSON handler
            )
        )
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        servers[:] = [server]
        assert services.api_socket is not None
        watcher = asyncio.create_task(_flag_when_started(server, api_started))
        try:
            await server.serve(sockets=[services.api_socket.dup()])  # the port is ours since the checks
        finally:
            watcher.cancel()

    async def serve_api_processes() -> None:  # DIRECTORDECK_API_WORKERS > 1
        await _serve_api_processes(settings, services, stop, api_started)

    serve_api = serve_api_in_process if settings.api_workers <= 1 else serve_api_processes
    publishing = None
    if settings.api_workers > 1:  # the API's own process reads the supervisor's view from a file
        from infra.supervisor import publish_health
        from launch.api_server import stack_health_file

        publishing = asyncio.create_task(publish_health(supervisor, stack_health_file(settings), stop))
    if settings.api_workers > 1 and settings.metrics_port:
        from infra.metrics import start_metrics_server

        start_metrics_server(settings.metrics_port)  # the pools' own series; the API sums its workers
    tasks = [
        asyncio.create_task(supervisor.keep_running("api", serve_api, stop)),
        *(
            asyncio.create_task(
                supervisor.keep_running(
                    f"worker:{pool}", lambda pool=pool: run_pools(client, [pool], acts, settings, stop), stop
                )
            )
            for pool in POOLS
        ),
        asyncio.create_task(
            supervisor.keep_running("maintenance", lambda: maintain(client, acts, settings, stop), stop)
        ),
        asyncio.create_task(
            BacklogPoller.for_queues(client, Queues.prefixed(settings.task_queue_prefix)).run(stop)
        ),
    ]
    probe_s = settings.liveness_probe_s
    for name, server, answers in (
        ("postgres", services.postgres, liveness.postgres_answers),
        ("temporal", services.temporal, liveness.grpc_answers),
    ):
        if server is not None:
            tasks.append(asyncio.create_task(_watch_server(supervisor, name, server, answers, stop, probe_s)))
    waiting = asyncio.create_task(stop.wait())
    await asyncio.wait(
        [asyncio.create_task(api_started.wait()), waiting], return_when=asyncio.FIRST_COMPLETED
    )
    if api_started.is_set():
        _print_ready(settings, endpoints)
    await stop.wait()
    for server in servers:
        server.should_exit = True
    if publishing is not None:
        tasks.append(publishing)
    _, pending = await asyncio.wait(tasks, timeout=STOP_DEADLINE_S / 2)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _flag_when_started(server: Any, started: asyncio.Event) -> None:
    while not server.started:
        await asyncio.sleep(0.05)
    started.set()


async def _serve_api_processes(
    settings: Settings, services: Any, stop: asyncio.Event, started: asyncio.Event
) -> None:
    """The API as `uvicorn --workers N` on the socket `up` bound at its checks (launch/api_server.py);
    this process keeps the worker pools and serves their own series on DIRECTORDECK_METRICS_PORT.
    Returns (and so is restarted by the supervisor) when the API process exits on its own."""
    from infra.supervisor import HUNG_AFTER, in_daemon_thread
    from launch.api_server import ApiProcess

    endpoints = services.endpoints
    api = ApiProcess(settings, endpoints.database_url, endpoints.temporal_address, sock=services.api_socket)
    await asyncio.to_thread(api.start)
    started.set()
    probe_s, misses = settings.liveness_probe_s, 0
    next_probe = time.monotonic() + probe_s
    try:
        while not stop.is_set() and api.exited() is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
            if stop.is_set() or time.monotonic() < next_probe:
                continue
            answered = await in_daemon_thread(lambda: api.answers(probe_s), lane="probe:api")
            next_probe = time.monotonic() + probe_s
            misses = 0 if answered or api.exited() is not None else misses + 1
            if misses >= HUNG_AFTER:  # alive but deaf: kill it; the supervisor starts a new one
                await asyncio.to_thread(api.kill)
                raise StackError(
                    f"the API process stopped answering /health ({misses} liveness probes in a row); killed",
                    fix="see the log above",
                )
        if api.exited() is not None and not stop.is_set():
            raise StackError(f"the API process exited with code {api.exited()}", fix="see the log above")
    finally:
        await asyncio.to_thread(api.stop)


def _print_ready(settings: Settings, endpoints: Endpoints) -> None:
    print(f"  Studio       {endpoints.api_url}/  (dev sign-in: any user name)", flush=True)
    print(f"  API docs     {endpoints.api_url}/docs", flush=True)
    if endpoints.temporal_ui_url:
        print(f"  Temporal UI  {endpoints.temporal_ui_url}", flush=True)
    if settings.api_workers > 1:
        print(f"  API          {settings.api_workers} worker processes", flush=True)
    print(f"  data         {settings.data_path}", flush=True)
    print("Ready. Ctrl-C to stop.", flush=True)


def run_up(settings: Settings) -> int:
    services = EmbeddedServices(settings, api=True, ui=True, say=lambda line: print(line, flush=True))
    stopper = _Stopper(services)
    print("Starting DirectorDeck (embedded PostgreSQL, Temporal dev server, workers, API)…", flush=True)
    try:
        services.start()  # cleans up what it started if it fails or a stop is requested meanwhile
        asyncio.run(_serve(settings, services, stopper))
    except _StopRequested:
        pass
    finally:
        stopper.stopping()  # a signal now lets the orderly stop finish; the watchdog bounds it
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
