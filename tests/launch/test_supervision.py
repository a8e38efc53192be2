"""`up` supervises what it runs, stops in bounded time and owns its data directory (issue 15 E).

Real process trees, real signals: `directordeck up` and `directordeck demo` run as subprocesses on a
temporary data directory. Before issue 15 a dead PostgreSQL or Temporal server was never restarted,
a SIGTERM during start-up could be ignored, two `up` on a fresh directory could both fail (one
deleted the other's initdb), an attached `demo` printed a traceback on any outage and a story with
invalid UTF-8 was a traceback.

The two kill tests start a whole stack and run a 3-shot pipeline: marked `slow` (~1 min each).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psutil
import psycopg
import pytest

from tests.support.storage_check import orphan_keys
from tests.support.up_process import CLI, REPO, processes_using
from tests.support.up_process import cli_env as _env

STOP_BOUND_S = 45.0  # launch/run.py STOP_DEADLINE_S (40 s) plus the interpreter's exit


class Up:
    """A `directordeck up` subprocess whose output is collected by a thread (pipes never fill)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [*CLI, "up"], env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, needle: str, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while needle not in self.output:
            if self.proc.poll() is not None:
                self._reader.join(5)
                if needle in self.output:
                    return
                raise AssertionError(f"up exited ({self.proc.returncode}) before {needle!r}:\n{self.output}")
            assert time.monotonic() < deadline, f"no {needle!r} in time:\n{self.output[-4000:]}"
            time.sleep(0.05)

    def child(self, match: Callable[[str], bool]) -> psutil.Process:
        for proc in psutil.Process(self.proc.pid).children(recursive=True):
            try:
                if match(" ".join(proc.cmdline())):
                    return proc
            except psutil.Error:
                continue
        raise AssertionError("no such child of up")

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, float]:
        """Signal `up` and wait; (exit code, seconds it took)."""
        began = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(STOP_BOUND_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"up ignored {sig} for {STOP_BOUND_S}s:\n{self.output[-4000:]}") from None
        self._reader.join(5)
        return code, time.monotonic() - began


def _none_left(path: Path, within_s: float = 5.0) -> bool:
    """No process names `path` (children told to stop get a moment to finish exiting)."""
    deadline = time.monotonic() + within_s
    while processes_using(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _url(env: dict[str, str], what: str) -> str:
    if what == "db":
        return f"postgresql://postgres@127.0.0.1:{env['DIRECTORDECK_PG_PORT']}/directordeck"
    return f"http://127.0.0.1:{env['DIRECTORDECK_API_PORT']}"


def _query(env: dict[str, str], sql: str) -> list[tuple]:
    with psycopg.connect(_url(env, "db"), connect_timeout=2) as conn:
        return conn.execute(sql).fetchall()


def _ready(env: dict[str, str]) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{_url(env, 'api')}/ready", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _orphans(data_dir: Path, env: dict[str, str]) -> list[str]:
    return orphan_keys(data_dir / "storage", _url(env, "db"))


def _kill_mid_pipeline(tmp_path: Path, component: str, match: Callable[[str], bool]) -> None:
    data_dir = tmp_path / "data"
    env = _env(
        data_dir,
        DIRECTORDECK_MAINTENANCE_INTERVAL_S="1",
        DIRECTORDECK_JANITOR_GRACE_S="3",  # a file stored 3 s ago with no asset row is an orphan
        DIRECTORDECK_RECONCILE_GRACE_S="5",
        DIRECTORDECK_MIN_FREE_DISK_MB="0",
    )
    began = time.monotonic()
    up = Up(env)
    demo = None

    def mark(what: str) -> None:
        print(f"{time.monotonic() - began:6.1f}s {what}")  # shown when the test fails

    try:
        up.wait_for("Ready.")
        mark("up ready")
        demo = subprocess.Popen(
            [*CLI, "demo", "a fox steals the moon", "--shots", "3", "--json"],
            env={**env, "PYTHONFAULTHANDLER": "1"},
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 90
        while not _query(env, "select 1 from task where type='grid' and status='succeeded'"):
            assert demo.poll() is None, demo.communicate()
            assert time.monotonic() < deadline, "no grid finished"
            time.sleep(0.2)
        victim = up.child(match)
        victim.kill()  # SIGKILL mid-pipeline: what the OOM killer does
        mark(f"{component} killed")
        up.wait_for(f"component {component} died")
        up.wait_for(f"component {component} restarted", timeout_s=60)
        mark(f"{component} restarted")
        try:
            out, err = demo.communicate(timeout=150)
        except subprocess.TimeoutExpired:
            demo.send_signal(signal.SIGABRT)  # PYTHONFAULTHANDLER: every thread's stack to stderr
            out, err = demo.communicate(timeout=30)
            tail = f"{err[-6000:]}\n--- up:\n{up.output[-4000:]}"
            raise AssertionError(f"demo did not finish:\n{tail}") from None
        mark("demo finished")
        assert demo.returncode == 0 and out.strip(), f"{out!r}\n{err[-3000:]}"
        result = json.loads(out)
        assert result["status"] == "succeeded" and result["shots"] == 3, result
        assert Path(result["video_path"]).stat().st_size > 0

        assert _query(env, "select count(*) from task where status in ('queued', 'running')") == [(0,)]
        deadline = time.monotonic() + 20
        while orphans := _orphans(data_dir, env):  # the janitor's next pass collects what the outage left
            assert time.monotonic() < deadline, f"orphan files stay: {orphans}"
            time.sleep(0.5)
        assert not list((data_dir / "storage").rglob(".tmp-*"))
        mark("no orphans")
        status, body = _ready(env)
        assert status == 200, body
        assert body["checks"]["stack"]["components"][component]["restarts"] == 1
    finally:
        if demo is not None and demo.poll() is None:
            demo.kill()
        code, _ = up.stop()
        mark("up stopped")
    assert code == 0, up.output[-3000:]
    assert _none_left(tmp_path)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_up_restarts_postgres_killed_mid_pipeline_and_the_pipeline_finishes(tmp_path: Path) -> None:
    _kill_mid_pipeline(tmp_path, "postgres", lambda cmd: "bin/postgres" in cmd and " -D " in cmd)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_up_restarts_temporal_killed_mid_pipeline_and_the_pipeline_finishes(tmp_path: Path) -> None:
    _kill_mid_pipeline(tmp_path, "temporal", lambda cmd: "start-dev" in cmd)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_up_restarts_hung_postgres_temporal_and_api_processes(tmp_path: Path) -> None:
    """Hung, not dead: SIGSTOP the PostgreSQL postmaster, the Temporal server and the API process
    (with its uvicorn workers). Each is still alive, so only a liveness probe that waits for an
    answer notices; `up` kills and restarts each, and the stack answers again. Before, a stopped
    component was never detected: every database route hung, `/ready` with it."""
    data_dir = tmp_path / "data"
    env = _env(
        data_dir,
        DIRECTORDECK_LIVENESS_PROBE_S="1",  # 3 unanswered probes of 1 s: hung after ~6 s
        DIRECTORDECK_API_WORKERS="2",  # the API runs as its own process tree
        DIRECTORDECK_MIN_FREE_DISK_MB="0",
    )
    up = Up(env)
    try:
        up.wait_for("Ready.")
        api = up.child(lambda cmd: "uvicorn" in cmd and "launch.api_server:app" in cmd)
        hung = {
            "postgres": [up.child(lambda cmd: "bin/postgres" in cmd and " -D " in cmd)],
            "temporal": [up.child(lambda cmd: "start-dev" in cmd)],
            "api": [api, *api.children(recursive=True)],
        }
        for procs in hung.values():
            for proc in procs:
                proc.suspend()  # SIGSTOP: alive, holding its port, answering nothing
        up.wait_for("component postgres hung: it stopped answering", timeout_s=60)
        up.wait_for("component temporal hung: it stopped answering", timeout_s=60)
        up.wait_for("the API process stopped answering /health", timeout_s=60)
        for name in hung:
            up.wait_for(f"component {name} restarted (restart 1)", timeout_s=90)
        for procs in hung.values():  # the hung processes were killed, not left stopped
            for proc in procs:
                assert not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE, proc
        deadline, ready = time.monotonic() + 60, None
        while ready is None or ready[0] != 200:  # the database and Temporal answer the API again
            assert time.monotonic() < deadline, f"{ready}\n{up.output[-3000:]}"
            try:
                ready = _ready(env)
            except OSError as exc:  # a request the API took before the restarts may time out
                ready = (0, {"error": str(exc)})
                time.sleep(0.5)
        # the API's own process reports what `up`'s supervisor saw: each component restarted once
        components = ready[1]["checks"]["stack"]["components"]
        assert {name: components[name]["restarts"] for name in hung} == {name: 1 for name in hung}
        assert _query(env, "select count(*) from workspace") == [(0,)]  # the ledger answers again
    finally:
        code, _ = up.stop()
    assert code == 0, up.output[-3000:]
    assert _none_left(tmp_path)


@pytest.mark.timeout(240)
def test_sigterm_ends_up_in_bounded_time_at_every_start_up_stage(tmp_path: Path) -> None:
    """The start-up race: a stop request while PostgreSQL, Temporal, the migrations or the API are
    starting ends `up` promptly with nothing left running; the API port is held from the checks
    on, so a program that takes it "after the checks passed" cannot make `up` hang."""
    stages = ["checks       passed", "PostgreSQL   ", "Temporal     ", "Ready."]
    for i, stage in enumerate(stages):
        data_dir = tmp_path / f"data-{i}"
        env = _env(data_dir)
        up = Up(env)
        try:
            up.wait_for(stage)
            if stage.startswith("checks"):
                with pytest.raises(OSError):  # the late taker of the API port loses
                    import socket

                    with socket.socket() as late:
                        late.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                        late.bind(("127.0.0.1", int(env["DIRECTORDECK_API_PORT"])))
                        late.listen()
        finally:
            code, took = up.stop(signal.SIGTERM)
        assert took < STOP_BOUND_S, f"stage {stage!r}: {took:.1f}s"
        assert code in (0, 1), up.output[-3000:]  # 1: the watchdog had to force it
        assert "Traceback" not in up.output, up.output[-3000:]
        assert _none_left(data_dir), f"stage {stage!r} left processes behind: {processes_using(data_dir)}"


@pytest.mark.timeout(180)
def test_two_up_on_a_fresh_data_dir_one_runs_the_other_says_stack_locked(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = _env(data_dir)
    first, second = Up(env), Up(env)  # same directory, same ports, same instant
    try:
        deadline = time.monotonic() + 90
        while first.proc.poll() is None and second.proc.poll() is None:
            assert time.monotonic() < deadline, first.output + second.output
            time.sleep(0.05)
        loser, winner = (first, second) if first.proc.poll() is not None else (second, first)
        loser._reader.join(5)
        assert loser.proc.returncode == 2, loser.output
        errors = [line for line in loser.output.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "stack_locked" in errors[0] and "fix:" in errors[0], loser.output
        assert "Traceback" not in loser.output
        winner.wait_for("Ready.")
        assert _query(env, "select count(*) from workspace") == [(0,)]  # the winner's cluster is whole
        third = Up(env)  # and a later one still gets the same one-line answer
        assert third.proc.wait(60) == 2 and "stack_locked" in third.output
    finally:
        code, _ = winner.stop() if "winner" in locals() else first.stop()
        for other in (first, second):
            if other.proc.poll() is None:
                other.stop()
    assert code == 0
    assert _none_left(tmp_path)


def test_a_story_that_is_not_utf8_is_a_one_line_error(tmp_path: Path) -> None:
    env = _env(tmp_path / "data")
    done = subprocess.run(
        [os.fsencode(sys.executable), b"-m", b"launch.cli", b"demo", b"a fox \xff\xfe steals the moon"],
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=60,
    )
    stderr = done.stderr.decode(errors="replace")
    assert done.returncode == 2 and done.stdout == b"", stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert "argument_not_utf8" in stderr and "the story" in stderr and "fix:" in stderr
    assert not (tmp_path / "data").exists()  # refused before anything started


def test_a_lone_surrogate_in_a_story_is_refused_with_a_code() -> None:
    from schema.errors import BadInputError
    from schema.storyboard import validate_story_request

    with pytest.raises(BadInputError) as err:
        validate_story_request("a fox \udcff steals the moon", 3)
    assert err.value.code == "story_not_utf8"
