"""The embedded stack: PostgreSQL + Temporal dev server + migrations + workers + API in one tree.

Rules: pre-flight checks run before anything starts, so a bad port, data directory or remote URL
fails with one line naming the fix and leaves nothing running; children die with their parent
(PDEATHSIG) and are stopped in reverse order on Ctrl-C/SIGTERM; all state lives in the data
directory, so a second `up` sees the same ledger and the same workflows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import uuid
from collections.abc import Iterator
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

    def __init__(self, settings: Settings, *, api: bool = True, ui: bool = True) -> None:
        self.settings = settings
        self.api = api
        self.ui = ui
        self.postgres: EmbeddedPostgres | None = None
        self.temporal: TemporalDevServer | None = None
        self.endpoints: Endpoints | None = None

    def preflight(self) -> None:
        s = self.settings
        check_data_dir(s.data_path)
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
            check_port_free(s.api_port, "API", "DIRECTORDECK_API_PORT")

    def start(self) -> Endpoints:
        self.preflight()
        s = self.settings
        try:
            if s.database_url:
                database_url = sqlalchemy_url(s.database_url)
            else:
                self.postgres = EmbeddedPostgres(s.pg_data_path, s.pg_port)
                self.postgres.start()
                database_url = self.postgres.url()
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
            from migrations.apply import upgrade

            upgrade(database_url)
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
