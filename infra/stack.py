"""The embedded stack: PostgreSQL + Temporal dev server + migrations + workers + API in one tree.

Rules: pre-flight checks run before anything starts, so a bad port, data directory or remote URL
fails with one line naming the fix and leaves nothing running; the data directory is locked
(`up.lock`, an flock the kernel drops when the process dies) for as long as the stack runs, so a
second `up` (or a `demo` starting its own stack) fails with `stack_locked` instead of racing the
first one's initdb; the API port is bound and listening from the checks on (handed to the server
later), so no other program can take it in between; children die with their parent (PDEATHSIG)
and are stopped in reverse order on Ctrl-C/SIGTERM; all state lives in the data directory, so a
second `up` sees the same ledger and the same workflows.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse

import psycopg

from infra.dburl import libpq_url, sqlalchemy_url
from infra.errors import StackError
from infra.postgres import EmbeddedPostgres
from infra.settings import Settings
from infra.temporal_server import TemporalDevServer, port_in_use

STATE_FILE = "stack.json"
LOCK_FILE = "up.lock"


@dataclass
class Endpoints:
    database_url: str
    temporal_address: str
    temporal_ui_url: str | None
    api_url: str | None
    pid: int


def check_data_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-probe-{uuid.uuid4().hex}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise StackError(
            f"data directory {path} is not writable ({exc.strerror})",
            fix="set DIRECTORDECK_DATA_DIR to a folder you can write to",
        ) from exc


def check_port_free(port: int, what: str, variable: str) -> None:
    if port_in_use(port):
        raise StackError(
            f"port {port} ({what}) is already in use",
            fix=f"stop the program using it, or set {variable} to a free port",
        )


def reserve_port(host: str, port: int, what: str, variable: str) -> socket.socket:
    """Bind and listen on `port` now, so it stays ours until the server is handed the socket."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise StackError(
            f"port {port} ({what}) is already in use",
            fix=f"stop the program using it, or set {variable} to a free port",
            code="port_in_use",
        ) from exc
    sock.set_inheritable(False)
    return sock


class DataDirLock:
    """An exclusive flock on `<data dir>/up.lock`, held while a stack runs on that directory."""

    def __init__(self, data_path: Path) -> None:
        self.path = data_path / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise StackError(
                f"another DirectorDeck stack (pid {holder}) is starting or running on {self.path.parent}",
                fix="use that stack, stop it, or set DIRECTORDECK_DATA_DIR to another folder",
                code="stack_locked",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def check_database_reachable(url: str) -> None:
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=3) as conn:
            conn.execute("select 1")
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StackError(
            f"cannot reach DATABASE_URL ({first})",
            fix="check the URL, credentials and that the server is running, or unset DATABASE_URL "
            "to use the embedded PostgreSQL",
        ) from exc


def check_temporal_reachable(address: str) -> None:
    parsed = urlparse(f"//{address}")
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 7233
    try:
        with socket.create_connection((host, port), timeout=3):
            return
    except OSError as exc:
        raise StackError(
            f"cannot reach TEMPORAL_ADDRESS {address} ({exc.strerror or exc})",
            fix="start that Temporal server, or unset TEMPORAL_ADDRESS to use the embedded dev server",
        ) from exc


def read_running_stack(settings: Settings) -> Endpoints | None:
    """The endpoints of a live `up` for this data directory, if one is running."""
    state = settings.data_path / STATE_FILE
    try:
        data = json.loads(state.read_text())
        os.kill(int(data["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return Endpoints(**data)


class EmbeddedServices:
    """Starts what is not configured remotely; stops only what it started."""

    def __init__(
        self,
        settings: Settings,
        *,
        api: bool = True,
        ui: bool = True,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.api = api
        self.ui = ui
        self.say = say or (lambda _line: None)
        self.postgres: EmbeddedPostgres | None = None
        self.temporal: TemporalDevServer | None = None
        self.endpoints: Endpoints | None = None
        self.api_socket: socket.socket | None = None  # listening since the checks (`api=True`)
        self.lock = DataDirLock(settings.data_path)

    def preflight(self) -> None:
        s = self.settings
        check_data_dir(s.data_path)
        self.lock.acquire()
        try:
            self._checks()
        except BaseException:
            self.release()
            raise

    def _checks(self) -> None:
        s = self.settings
        running = read_running_stack(s)
        if running is not None:
            raise StackError(
                f"a DirectorDeck stack (pid {running.pid}) already runs on {s.data_path}",
                fix="use that stack, stop it with Ctrl-C, or set DIRECTORDECK_DATA_DIR to another folder",
            )
        if s.database_url:
            check_database_reachable(s.database_url)
        else:
            check_port_free(s.pg_port, "embedded PostgreSQL", "DIRECTORDECK_PG_PORT")
        if s.temporal_address:
            check_temporal_reachable(s.temporal_address)
        else:
            check_port_free(s.temporal_port, "Temporal dev server", "DIRECTORDECK_TEMPORAL_PORT")
            if self.ui:
                check_port_free(s.temporal_ui_port, "Temporal Web UI", "DIRECTORDECK_TEMPORAL_UI_PORT")
        if self.api:
            self.api_socket = reserve_port(s.api_host, s.api_port, "API", "DIRECTORDECK_API_PORT")

    def start(self) -> Endpoints:
        self.preflight()
        s = self.settings
        try:
            self.say(f"  checks       passed; {s.data_path} locked")
            if s.database_url:
                database_url = sqlalchemy_url(s.database_url)
            else:
                self.postgres = EmbeddedPostgres(s.pg_data_path, s.pg_port)
                self.postgres.start()
                database_url = self.postgres.url()
                self.say(f"  PostgreSQL   127.0.0.1:{s.pg_port}")
            if s.temporal_address:
                temporal_address, ui_url = s.temporal_address, None
            else:
                self.temporal = TemporalDevServer(
                    s.temporal_db_path,
                    port=s.temporal_port,
                    ui_port=s.temporal_ui_port,
                    namespace=s.temporal_namespace,
                    headless=not self.ui,
                )
                self.temporal.start()
                temporal_address = self.temporal.address
                ui_url = s.temporal_ui_url if self.ui else None
                self.say(f"  Temporal     {temporal_address}")
            from migrations.apply import upgrade

            upgrade(database_url)
            self.say("  migrations   applied")
        except BaseException:
            self.stop()
            raise
        api_url = f"http://{s.api_host}:{s.api_port}" if self.api else None
        self.endpoints = Endpoints(database_url, temporal_address, ui_url, api_url, os.getpid())
        (s.data_path / STATE_FILE).write_text(json.dumps(asdict(self.endpoints)))
        return self.endpoints

    def stop(self) -> None:
        state = self.settings.data_path / STATE_FILE
        if self.endpoints is not None:
            with contextlib.suppress(FileNotFoundError):
                state.unlink()
        if self.temporal is not None:
            self.temporal.stop()
            self.temporal = None
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None
        self.release()

    def kill(self) -> None:
        """Last resort of a stop that overran its time: SIGKILL the children, release the lock."""
        for server in (self.temporal, self.postgres):
            proc = server.process if server is not None else None
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(OSError):
                    proc.kill()
        self.release()

    def release(self) -> None:
        if self.api_socket is not None:
            self.api_socket.close()
            self.api_socket = None
        self.lock.release()

    @contextlib.contextmanager
    def running(self) -> Iterator[Endpoints]:
        endpoints = self.start()
        try:
            yield endpoints
        finally:
            self.stop()


def install_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
