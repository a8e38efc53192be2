"""`up`'s supervisor: every component that dies is restarted with backoff, and says so.

Rules: a component is a child process (PostgreSQL, the Temporal dev server) or an in-process task
(the API server, each worker pool, the maintenance loop). When one dies while the stack is not
stopping, the supervisor logs one line (`component <name> died: <why>; restarting in <n>s`), counts
it (`directordeck_component_restarts_total`), marks it down (`directordeck_component_up` 0, and the
`stack` check of `/ready` fails), waits the backoff (1 s doubling to 30 s; back to 1 s once the
component stayed up a minute) and restarts it. A child process that is alive but stops answering
its liveness probe (infra/liveness.py: its own protocol, with a timeout) HUNG_AFTER times in a row
is hung: logged as `component <name> hung: …`, SIGKILLed and restarted the same way. Restarts of
child processes run in daemon threads so a stop request never waits on one (each component's
restarts run on a thread of its own that lives as long as the process: a child's parent-death
signal follows the thread that started it). An API in its own process sees the supervisor's view
through a file (`publish_health` / `read_health`). Nothing here decides *whether* to stop: `stop`
does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from infra.metrics import COMPONENT_RESTARTS, COMPONENT_UP

log = logging.getLogger("directordeck.supervisor")

T = TypeVar("T")

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
STABLE_AFTER_S = 60.0  # up this long: the next failure starts the backoff over
POLL_S = 0.5
PROBE_EVERY_S = 5.0  # liveness probe period (DIRECTORDECK_LIVENESS_PROBE_S); each waits as long
HUNG_AFTER = 3  # probes in a row unanswered: the component is hung, killed and restarted


@dataclass
class Component:
    name: str
    state: str = "starting"  # starting | up | down
    restarts: int = 0
    last_error: str | None = None
    up_since: float | None = None
    backoff_s: float = BACKOFF_FIRST_S

    def view(self) -> dict[str, Any]:
        return {"state": self.state, "restarts": self.restarts, "last_error": self.last_error}


@dataclass
class Supervisor:
    components: dict[str, Component] = field(default_factory=dict)

    def component(self, name: str) -> Component:
        if name not in self.components:
            self.components[name] = Component(name)
            COMPONENT_UP.labels(name).set(0)
        return self.components[name]

    def mark_up(self, name: str) -> None:
        c = self.component(name)
        c.state, c.up_since = "up", time.monotonic()
        COMPONENT_UP.labels(name).set(1)

    def mark_down(self, name: str, why: str, *, hung: bool = False) -> float:
        """Record a death (or a hang); answer how long to wait before the restart."""
        c = self.component(name)
        if c.up_since is not None and time.monotonic() - c.up_since > STABLE_AFTER_S:
            c.backoff_s = BACKOFF_FIRST_S
        wait = c.backoff_s
        c.backoff_s = min(BACKOFF_MAX_S, c.backoff_s * 2)
        c.state, c.last_error, c.up_since = "down", why[:300], None
        COMPONENT_UP.labels(name).set(0)
        log.error(
            "component %s %s: %s; restarting in %.0fs",
            name,
            "hung" if hung else "died",
            why,
            wait,
            extra={"component": name},
        )
        return wait

    def mark_restarted(self, name: str) -> None:
        c = self.component(name)
        c.restarts += 1
        COMPONENT_RESTARTS.labels(name).inc()
        self.mark_up(name)
        log.warning("component %s restarted (restart %d)", name, c.restarts, extra={"component": name})

    def health(self) -> dict[str, Any]:
        """The `stack` check of /ready: ok when every component is up."""
        down = [c.name for c in self.components.values() if c.state != "up"]
        restarts = sum(c.restarts for c in self.components.values())
        detail = "all components up" if not down else f"down: {', '.join(down)}"
        if restarts:
            detail += f"; {restarts} restart{'s' if restarts > 1 else ''} so far"
        return {
            "ok": not down,
            "detail": detail,
            "components": {c.name: c.view() for c in self.components.values()},
        }

    async def watch_process(
        self,
        name: str,
        alive: Callable[[], bool],
        restart: Callable[[], None],
        stop: asyncio.Event,
        *,
        answers: Callable[[], bool] | None = None,
        kill: Callable[[], None] | None = None,
        probe_every_s: float = PROBE_EVERY_S,
    ) -> None:
        """Poll a child process; restart it (blocking `restart`, in a daemon thread) when it died.
        With a liveness probe (`answers`, blocking and bounded by its own timeout, and `kill`), a
        process that stays alive but leaves HUNG_AFTER probes in a row unanswered is hung: it is
        killed, then restarted like a dead one."""
        self.mark_up(name)
        misses, next_probe = 0, time.monotonic() + probe_every_s
        while not stop.is_set():
            why = "the process exited"
            if alive():
                if answers is None or kill is None or time.monotonic() < next_probe:
                    await _sleep_unless(stop, POLL_S)
                    continue
                answered = await in_daemon_thread(answers, lane=f"probe:{name}")
                next_probe = time.monotonic() + probe_every_s
                misses = 0 if answered or not alive() else misses + 1
                if misses < HUNG_AFTER or stop.is_set():
                    continue
                why = f"it stopped answering ({misses} liveness probes in a row); killed"
                await in_daemon_thread(kill, lane=name)
                misses = 0
            wait = self.mark_down(name, why, hung=why != "the process exited")
            while not stop.is_set():
                if await _sleep_unless(stop, wait):
                    return
                try:
                    await in_daemon_thread(restart, lane=name)
                except Exception as exc:
                    wait = self.mark_down(name, f"restart failed: {_first_line(exc)}")
                    continue
                self.mark_restarted(name)
                next_probe = time.monotonic() + probe_every_s
                break

    async def keep_running(self, name: str, run: Callable[[], Awaitable[Any]], stop: asyncio.Event) -> None:
        """Run `run()` until `stop`; when it ends or raises before that, run it again after backoff."""
        first = True
        while not stop.is_set():
            if first:
                self.mark_up(name)
            else:
                self.mark_restarted(name)
            first = False
            try:
                await run()
                why = "it returned"
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # SystemExit from uvicorn too: the stack outlives it
                why = _first_line(exc)
            if stop.is_set():
                return
            if await _sleep_unless(stop, self.mark_down(name, why)):
                return


HEALTH_FILE_ENV = "DIRECTORDECK_STACK_HEALTH_FILE"
HEALTH_STALE_S = 10.0  # a report older than this: the supervisor itself stopped answering


async def publish_health(
    supervisor: Supervisor, path: Path, stop: asyncio.Event, every_s: float = 1.0
) -> None:
    """Write the supervisor's view to `path` (atomically) every `every_s`, for an API that runs in
    its own process (`DIRECTORDECK_API_WORKERS` > 1) and reads it with `read_health`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    while not stop.is_set():
        with contextlib.suppress(OSError):
            tmp.write_text(json.dumps(supervisor.health()))
            os.replace(tmp, path)
        await _sleep_unless(stop, every_s)
    with contextlib.suppress(OSError):
        path.unlink()


def read_health(path: Path, stale_s: float = HEALTH_STALE_S) -> dict[str, Any]:
    """The `stack` check from a file `publish_health` keeps fresh; not ok when missing or stale."""
    try:
        age = time.time() - path.stat().st_mtime
        health: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"ok": False, "detail": "the supervisor's report is missing", "components": {}}
    if age > stale_s:
        return {**health, "ok": False, "detail": f"the supervisor has not reported for {age:.0f}s"}
    return health


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep `seconds`; True if `stop` was set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


def _first_line(exc: BaseException) -> str:
    text = (getattr(exc, "problem", None) or str(exc) or type(exc).__name__).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class _Lane:
    """One long-lived daemon thread running blocking calls in order. A child process started by a
    thread gets its parent-death signal (infra/process.py, PR_SET_PDEATHSIG) when *that thread*
    ends, so a restarted server must be spawned by a thread that lives as long as the process."""

    def __init__(self, name: str) -> None:
        self.calls: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        threading.Thread(target=self._run, name=f"directordeck-{name}", daemon=True).start()

    def _run(self) -> None:
        while True:
            self.calls.get()()


_lanes: dict[str, _Lane] = {}
_lanes_lock = threading.Lock()


async def in_daemon_thread(fn: Callable[[], T], lane: str = "restarts") -> T:
    """Run blocking `fn` on the long-lived daemon thread `lane`: unlike the default executor, the
    event loop's shutdown never waits for it (a stop request during a 30 s restart stays prompt),
    and children it starts are not signalled when a short-lived thread exits."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    with _lanes_lock:
        runner = _lanes.get(lane) or _lanes.setdefault(lane, _Lane(lane))

    def settle(value: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def run() -> None:
        try:
            value, error = fn(), None
        except BaseException as exc:
            value, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(settle, value, error)

    runner.calls.put(run)
    return await future
