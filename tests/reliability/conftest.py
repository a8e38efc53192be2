"""Fault-injection harness: real PostgreSQL, real Temporal, real worker processes, real signals.

Rules: every wait is bounded (`wait_for` raises with what it was waiting for); every process a
test starts is killed at teardown (and dies with the test process: PR_SET_PDEATHSIG); a worker
runs as `python -m launch.cli worker --pool NAME`, exactly as an operator runs it, on task queues
prefixed with a uuid so tests never see each other's work.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
from sqlalchemy import create_engine, text
from temporalio.client import Client

from activities.pipeline import PipelineActivities
from infra.process import die_with_parent
from infra.queues import Queues
from infra.settings import Settings
from tests.support.storage_check import orphan_keys
from workers.pools import build_worker

REPO = Path(__file__).resolve().parents[2]


async def wait_for(what: str, check: Callable[[], Any], timeout_s: float, every_s: float = 0.2) -> Any:
    """Poll `check` (sync or async) until it returns something truthy; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        await asyncio.sleep(every_s)


def query(db_url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params))
    finally:
        engine.dispose()


def scalar(db_url: str, sql: str, **params: Any) -> Any:
    found = query(db_url, sql, **params)
    return found[0][0] if found else None


def ffmpeg_children(pid: int) -> list[psutil.Process]:
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [c for c in children if _is_ffmpeg(c)]


def _is_ffmpeg(proc: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        return "ffmpeg" in proc.name().lower()
    return False


def live_ffmpeg_touching(path: Path) -> list[psutil.Process]:
    """FFmpeg processes (anyone's children, orphans included) whose command line names `path`."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            named = "ffmpeg" in (proc.info["name"] or "").lower()
            mine = any(str(path) in arg for arg in proc.info["cmdline"] or [])
            if named and mine and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
    return found


def blocked_writers(db_url: str, table: str) -> list[int]:
    """Backends of this database waiting for a lock while writing to `table`."""
    rows = query(
        db_url,
        """select pid from pg_stat_activity
           where datname = current_database() and wait_event_type = 'Lock'
             and query ilike :pattern""",
        pattern=f"insert into {table}%",
    )
    return [r[0] for r in rows]


@dataclass
class WorkerProcess:
    pool: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def ready(self, timeout_s: float = 60.0) -> None:
        def polling() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker {self.pool} exited with {self.proc.returncode}:\n{self.log()}")
            return "polling" in self.log()

        await wait_for(f"worker {self.pool} to start", polling, timeout_s)

    def sigkill(self) -> None:
        """What the OOM killer or a lost node does: no shutdown hooks, no goodbye to Temporal."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@dataclass
class Cluster:
    """One test's share of the world: its database, data directory and task-queue prefix."""

    client: Client
    db_url: str
    data_dir: Path
    prefix: str
    temporal_address: str
    tmp: Path
    workers: list[WorkerProcess] = field(default_factory=list)

    @property
    def queues(self) -> Queues:
        return Queues.prefixed(self.prefix)

    @property
    def settings(self) -> Settings:
        return Settings(data_dir=self.data_dir, task_queue_prefix=self.prefix)

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DIRECTORDECK_", "DATABASE_URL", "TEMPORAL_", "OTEL_", "LANGFUSE_"))
        }
        env.update(
            DATABASE_URL=self.db_url,
            TEMPORAL_ADDRESS=self.temporal_address,
            DIRECTORDECK_TASK_QUEUE_PREFIX=self.prefix,
            DIRECTORDECK_DATA_DIR=str(self.data_dir),
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    async def start_worker(self, pool: str, timeout_s: float = 60.0) -> WorkerProcess:
        """`directordeck worker --pool POOL` in its own process; returns once it polls."""
        worker = self.spawn_worker(pool)
        await worker.ready(timeout_s)
        return worker

    def spawn_worker(self, pool: str) -> WorkerProcess:
        """Start the process without waiting for it (a replacement pod booting as the old one dies)."""
        log_path = self.tmp / f"worker-{pool}-{len(self.workers)}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "launch.cli", "worker", "--pool", pool],
                cwd=REPO,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
            )
        worker = WorkerProcess(pool, proc, log_path)
        self.workers.append(worker)
        return worker

    def acts(self) -> PipelineActivities:
        """Activities for in-process pools: same database, storage and work directory as the
        worker processes (both built from the same settings)."""
        return PipelineActivities.from_settings(self.settings, self.db_url)

    @contextlib.asynccontextmanager
    async def in_process(self, pools: Sequence[str], client: Client | None = None) -> AsyncIterator[None]:
        acts = self.acts()
        async with contextlib.AsyncExitStack() as stack:
            for pool in pools:
                worker = build_worker(client or self.client, pool, acts, self.settings, self.queues)
                await stack.enter_async_context(worker)
            yield

    def new_workspace(self, title: str = "reliability") -> str:
        from infra.ledger import unit_of_work
        from schema.enums import WorkspaceType
        from schema.repositories import workspaces as workspace_repo

        with unit_of_work(self.db_url) as session:
            return str(
                workspace_repo.create(
                    session, owner_id="tester", type=WorkspaceType.narrative_project, title=title
                ).id
            )

    def stored_files(self, kind: str | None = None) -> list[Path]:
        root = self.data_dir / "storage"
        files = [p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".tmp-")]
        return [p for p in files if kind is None or p.relative_to(root).parts[0] == kind]

    def orphan_files(self) -> list[Path]:
        """Stored files that no asset row refers to (as its file or a thumbnail)."""
        root = self.data_dir / "storage"
        return [root / key for key in orphan_keys(root, self.db_url)]


@pytest.fixture
async def cluster(temporal_env, fresh_db_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    c = Cluster(
        client=temporal_env.client,
        db_url=fresh_db_url,
        data_dir=data_dir,
        prefix=f"{uuid.uuid4()}-",
        temporal_address=temporal_env.client.service_client.config.target_host,
        tmp=tmp_path,
    )
    try:
        yield c
    finally:
        for worker in c.workers:
            with contextlib.suppress(Exception):
                worker.proc.kill()
                worker.proc.wait(timeout=10)


@pytest.fixture
def locked_table(fresh_db_url: str) -> Iterator[Callable[[str], Any]]:
    """Hold a table lock from a separate connection: writers to it queue up behind it (reads go on),
    which parks an activity exactly at its ledger write — after its files are stored."""
    import psycopg

    from infra.dburl import libpq_url

    conns: list[psycopg.Connection] = []

    def lock(table: str) -> psycopg.Connection:
        conn = psycopg.connect(libpq_url(fresh_db_url))
        conn.execute(f"lock table {table} in share mode")  # blocks INSERT/UPDATE, not SELECT
        conns.append(conn)
        return conn

    yield lock
    for conn in conns:
        with contextlib.suppress(Exception):
            conn.rollback()
            conn.close()
