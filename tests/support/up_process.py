"""Running `directordeck` as a person does: the CLI command line, an isolated environment (own data
directory and free ports) and the processes still using a folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psutil

from tests.conftest import free_port

CLI = [sys.executable, "-m", "launch.cli"]
REPO = Path(__file__).resolve().parents[2]


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment without DirectorDeck/Temporal/database settings, plus a data
    directory and free ports of its own."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DIRECTORDECK_", "DATABASE_URL", "TEMPORAL_"))
    }
    env.update(
        DIRECTORDECK_DATA_DIR=str(data_dir),
        DIRECTORDECK_API_PORT=str(free_port()),
        DIRECTORDECK_PG_PORT=str(free_port()),
        DIRECTORDECK_TEMPORAL_PORT=str(free_port()),
        DIRECTORDECK_TEMPORAL_UI_PORT=str(free_port()),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def processes_using(path: Path) -> list[psutil.Process]:
    """Live processes (zombies excepted) whose command line names `path`."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmd = " ".join(proc.info.get("cmdline") or [])
        if str(path) in cmd and proc.pid != os.getpid() and proc.info.get("status") != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found
