"""The supervisor restarts what dies and what hangs, and says so (real child processes, real
signals, real sockets; no stack needed). `up` runs it for PostgreSQL, the Temporal server, the API
and every worker pool (tests/launch/test_supervision.py proves it on a whole stack)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest

from infra import liveness
from infra.supervisor import HUNG_AFTER, Supervisor
from tests.conftest import free_port


class HttpChild:
    """`python -m http.server` on a free loopback port: a child process that answers, or not."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.pids: list[int] = []

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(self.port), "--bind", "127.0.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.pids.append(self.proc.pid)
        deadline = time.monotonic() + 20
        while not self.answers():
            assert time.monotonic() < deadline, "http.server did not start"
            time.sleep(0.05)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def answers(self) -> bool:
        return liveness.http_health_answers("127.0.0.1", self.port, 0.3, path="/")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def child() -> Iterator[HttpChild]:
    server = HttpChild()
    server.start()
    yield server
    for pid in server.pids:
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()


def _restarts(supervisor: Supervisor, name: str) -> int:
    component = supervisor.components.get(name)
    return component.restarts if component is not None else 0


async def _until(what: str, check, timeout_s: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_dead_child_is_restarted_and_a_hung_one_is_killed_then_restarted(
    child: HttpChild, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="directordeck.supervisor")
    supervisor, stop = Supervisor(), asyncio.Event()
    watch = asyncio.create_task(
        supervisor.watch_process(
            "web", child.alive, child.start, stop, answers=child.answers, kill=child.kill, probe_every_s=0.3
        )
    )
    try:
        first = child.pids[-1]
        psutil.Process(first).kill()  # dead: restarted
        await _until("a restart", lambda: _restarts(supervisor, "web") == 1)
        assert child.pids[-1] != first and child.answers()

        second = psutil.Process(child.pids[-1])
        second.suspend()  # hung: alive, port open, no answer
        await _until("the hang to be noticed", lambda: _restarts(supervisor, "web") == 2)
        assert not second.is_running() or second.status() == psutil.STATUS_ZOMBIE  # killed, not left stopped
        assert child.answers() and supervisor.health()["ok"]
    finally:
        stop.set()
        await watch
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("component web died: the process exited") for m in messages), messages
    hung = [m for m in messages if m.startswith("component web hung: it stopped answering")]
    assert hung and f"({HUNG_AFTER} liveness probes in a row)" in hung[0], messages


async def test_an_answering_child_is_left_alone(child: HttpChild) -> None:
    """Probes that are answered restart nothing."""
    supervisor, stop = Supervisor(), asyncio.Event()
    watch = asyncio.create_task(
        supervisor.watch_process(
            "web", child.alive, child.start, stop, answers=child.answers, kill=child.kill, probe_every_s=0.2
        )
    )
    await asyncio.sleep(2.0)
    stop.set()
    await watch
    assert supervisor.components["web"].state == "up" and _restarts(supervisor, "web") == 0
    assert len(child.pids) == 1


async def test_an_in_process_component_that_dies_is_run_again(caplog: pytest.LogCaptureFixture) -> None:
    """A worker pool (an in-process task under `up`) that raises is run again after the backoff."""
    caplog.set_level(logging.WARNING, logger="directordeck.supervisor")
    supervisor, stop = Supervisor(), asyncio.Event()
    runs: list[float] = []

    async def pool() -> None:
        runs.append(time.monotonic())
        if len(runs) == 1:
            raise ConnectionError("lost the Temporal server")
        await stop.wait()

    task = asyncio.create_task(supervisor.keep_running("worker:cpu", pool, stop))
    await _until("the second run", lambda: len(runs) == 2)
    assert runs[1] - runs[0] >= 0.9  # the first backoff is 1 s
    assert supervisor.health()["components"]["worker:cpu"] == {
        "state": "up",
        "restarts": 1,
        "last_error": "lost the Temporal server",
    }
    stop.set()
    await task
    messages = [r.getMessage() for r in caplog.records]
    assert "component worker:cpu died: lost the Temporal server; restarting in 1s" in messages


def test_liveness_probes_need_an_answer_not_just_a_connection() -> None:
    """A socket that accepts connections (the kernel queues them) but never answers is not alive."""
    import socket

    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)  # never accepted, never answered
        port = mute.getsockname()[1]
        began = time.monotonic()
        assert not liveness.postgres_answers("127.0.0.1", port, 0.3)
        assert not liveness.grpc_answers("127.0.0.1", port, 0.3)
        assert not liveness.http_health_answers("127.0.0.1", port, 0.3)
        assert time.monotonic() - began < 3  # each probe is bounded by its timeout
    assert not liveness.postgres_answers("127.0.0.1", free_port(), 0.3)  # nothing listens


async def test_liveness_probes_recognise_real_postgres_and_temporal(pg, temporal_env) -> None:  # type: ignore[no-untyped-def]
    assert liveness.postgres_answers("127.0.0.1", pg.port, 2.0)
    host, port = temporal_env.client.service_client.config.target_host.rsplit(":", 1)
    assert liveness.grpc_answers(host, int(port), 2.0)
    assert not liveness.grpc_answers("127.0.0.1", pg.port, 1.0)  # PostgreSQL does not speak HTTP/2


async def test_an_api_process_reads_the_supervisors_view_and_a_stale_one_is_not_ready(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    from infra.supervisor import HEALTH_STALE_S, publish_health, read_health

    path = tmp_path / "run" / "stack-health.json"
    assert read_health(path)["ok"] is False  # no report yet
    supervisor, stop = Supervisor(), asyncio.Event()
    supervisor.mark_up("postgres")
    supervisor.mark_down("temporal", "the process exited")
    publishing = asyncio.create_task(publish_health(supervisor, path, stop, every_s=0.05))
    await _until("a report", path.exists)
    seen = read_health(path)
    assert seen["ok"] is False and seen["components"]["temporal"]["state"] == "down"
    supervisor.mark_restarted("temporal")
    await _until("the fresh report", lambda: read_health(path)["ok"])
    assert read_health(path)["components"]["temporal"]["restarts"] == 1
    stop.set()
    await publishing
    assert not path.exists()  # a stopped `up` leaves no report behind
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"ok": true, "detail": "all components up", "components": {}}')
    old = time.time() - HEALTH_STALE_S - 5
    os.utime(path, (old, old))
    stale = read_health(path)  # `up` stopped reporting (hung or gone): not ready
    assert stale["ok"] is False and "has not reported" in stale["detail"]
