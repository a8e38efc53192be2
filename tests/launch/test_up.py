"""`directordeck up` as a person runs it: a real process tree, real signals, real ports."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import psutil
import psycopg

from tests.conftest import free_port
from tests.support.up_process import CLI, REPO, cli_env, processes_using

_env = cli_env
_processes_using = processes_using


def _run_fail(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "up"], env=env, cwd=REPO, capture_output=True, text=True, timeout=60)


def _assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0]
    assert "fix:" in errors[0]


def test_port_in_use_is_one_line_error_and_nothing_left_running(tmp_path: Path) -> None:
    env = _env(tmp_path / "data")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", int(env["DIRECTORDECK_API_PORT"])))
        busy.listen()
        result = _run_fail(env)
    _assert_one_line_error(result, env["DIRECTORDECK_API_PORT"], "DIRECTORDECK_API_PORT")
    assert _processes_using(tmp_path) == []


def test_unwritable_data_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = _run_fail(_env(blocker / "data"))
    _assert_one_line_error(result, "not writable", "DIRECTORDECK_DATA_DIR")


def test_unreachable_database_url(tmp_path: Path) -> None:
    result = _run_fail(_env(tmp_path / "data", DATABASE_URL=f"postgresql://u@127.0.0.1:{free_port()}/x"))
    _assert_one_line_error(result, "DATABASE_URL")
    assert _processes_using(tmp_path) == []


def test_unreachable_temporal_address(tmp_path: Path) -> None:
    result = _run_fail(_env(tmp_path / "data", TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}"))
    _assert_one_line_error(result, "TEMPORAL_ADDRESS")
    assert _processes_using(tmp_path) == []


def _start(env: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [*CLI, "up"], env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 90
    lines = []
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "Ready." in line:
            return proc
        if proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError("up did not become ready:\n" + "".join(lines))


def _stop(proc: subprocess.Popen[str]) -> list[int]:
    children = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 0
    return children


def test_up_serves_ui_and_api_stops_cleanly_and_keeps_data(tmp_path: Path) -> None:
    env = _env(tmp_path / "data")
    proc = _start(env)
    try:
        api = f"http://127.0.0.1:{env['DIRECTORDECK_API_PORT']}"
        assert urllib.request.urlopen(f"{api}/health", timeout=5).status == 200
        assert urllib.request.urlopen(f"{api}/docs", timeout=5).status == 200
        with urllib.request.urlopen(f"{api}/", timeout=5) as studio:  # the web studio
            assert studio.status == 200 and b"/studio/assets/" in studio.read()
        ui = f"http://127.0.0.1:{env['DIRECTORDECK_TEMPORAL_UI_PORT']}"
        assert urllib.request.urlopen(ui, timeout=10).status == 200
        db = f"postgresql://postgres@127.0.0.1:{env['DIRECTORDECK_PG_PORT']}/directordeck"
        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute("insert into workspace (owner_id, type, title) values ('me', 'draft_space', 'kept')")
    finally:
        children = _stop(proc)
    assert children, "up should have started PostgreSQL and Temporal as children"
    assert not [
        pid for pid in children if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"
    ]

    proc = _start(env)  # a second `up` on the same data directory
    try:
        with psycopg.connect(db) as conn:
            titles = [r[0] for r in conn.execute("select title from workspace")]
    finally:
        _stop(proc)
    assert titles == ["kept"]
