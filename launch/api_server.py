"""The API as its own supervised process with several uvicorn worker processes (`up` with
DIRECTORDECK_API_WORKERS > 1).

Rules: one API process's event loop and GIL cap its throughput at one core, so on a machine with
cores to spare `up` runs `uvicorn --workers N` on the API port instead of serving in-process.
Every worker builds its app from the environment (`app()`, the factory): the ledger URL and the
Temporal address are passed as DATABASE_URL / TEMPORAL_ADDRESS. Nothing the workers share lives
in them: rate-limit buckets, idempotency keys and webhook leases are in PostgreSQL, SSE streams
resume from the ledger's event ids. Prometheus counters are summed over the workers through a
PROMETHEUS_MULTIPROC_DIR that is created empty for each start and removed at stop. The child dies
with its parent (PR_SET_PDEATHSIG); if it exits on its own, `up` stops.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from infra.errors import StackError
from infra.liveness import http_health_answers
from infra.metrics import MULTIPROC_ENV
from infra.process import die_with_parent
from infra.settings import Settings, get_settings
from infra.supervisor import HEALTH_FILE_ENV, read_health

STOP_GRACE_S = 15.0


def app() -> Any:
    """The uvicorn factory each worker process calls: logging, tracing, then the app."""
    from api.main import create_app
    from infra.gc_tuning import settle_heap_for_serving
    from infra.logging import configure_logging
    from infra.telemetry import setup_tracing

    settings = get_settings()
    configure_logging(settings)
    setup_tracing(settings, "api")
    health_file = os.environ.get(HEALTH_FILE_ENV)  # `up`'s supervisor: the `stack` check of /ready
    stack_health = (lambda: read_health(Path(health_file))) if health_file else None
    built = create_app(settings, stack_health=stack_health)
    settle_heap_for_serving()
    return built


def command(settings: Settings, workers: int, fd: int | None = None) -> list[str]:
    """uvicorn on the API port, or on an inherited listening socket (`fd`: `up` bound it at its checks)."""
    where = (
        ["--fd", str(fd)]
        if fd is not None
        else ["--host", settings.api_host, "--port", str(settings.api_port)]
    )
    return [
        sys.executable,
        "-m",
        "uvicorn",
        f"{__name__}:app",
        "--factory",
        "--workers",
        str(workers),
        *where,
        "--log-level",
        "warning",
        "--no-access-log",
        "--timeout-graceful-shutdown",
        str(int(STOP_GRACE_S) - 5),
    ]


def stack_health_file(settings: Settings) -> Path:
    """Where this `up` publishes its supervisor's view for the API process (infra/supervisor.py)."""
    return settings.data_path / "run" / f"stack-health-{os.getpid()}.json"


class ApiProcess:
    """`uvicorn --workers N` for this stack's ledger and Temporal server, started and stopped by `up`."""

    def __init__(
        self,
        settings: Settings,
        database_url: str,
        temporal_address: str,
        *,
        sock: socket.socket | None = None,
    ) -> None:
        self.settings = settings
        self.sock = sock
        self.workers = settings.api_workers
        self.metrics_dir = settings.data_path / "run" / f"api-metrics-{os.getpid()}"
        self.health_file = stack_health_file(settings)
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "TEMPORAL_ADDRESS": temporal_address,
            MULTIPROC_ENV: str(self.metrics_dir),
            HEALTH_FILE_ENV: str(self.health_file),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *, ready_timeout_s: float = 60.0) -> None:
        shutil.rmtree(self.metrics_dir, ignore_errors=True)
        self.metrics_dir.mkdir(parents=True)
        fd = self.sock.fileno() if self.sock is not None else None
        self.proc = subprocess.Popen(
            command(self.settings, self.workers, fd),
            env=self.env,
            cwd=Path.cwd(),
            preexec_fn=die_with_parent,
            pass_fds=(fd,) if fd is not None else (),
        )
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StackError(
                    f"the API process exited with code {self.proc.returncode}", fix="see the log above"
                )
            if self.answers():
                return
            time.sleep(0.1)
        self.stop()
        raise StackError(f"the API did not answer within {ready_timeout_s:.0f} s", fix="see the log above")

    def answers(self, timeout_s: float = 1.0) -> bool:
        """/health answers 200 within `timeout_s` (infra/liveness.py)."""
        host = "127.0.0.1" if self.settings.api_host in ("0.0.0.0", "") else self.settings.api_host
        return http_health_answers(host, self.settings.api_port, timeout_s)

    def exited(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def kill(self) -> None:
        """SIGKILL the API process and its uvicorn workers (a hung process ignores SIGTERM)."""
        if self.proc is None:
            return
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    child.kill()
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        """SIGTERM (uvicorn drains open requests), then SIGKILL after the grace period."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.metrics_dir, ignore_errors=True)
