"""`directordeck bench [--quick] [--json FILE] [--only GROUP]`: run the benchmarks in tests/bench.

Rule: benchmarks are measured on demand, never by timed unit tests; they run from a checkout (the
benchmark code lives beside the tests and uses the same real PostgreSQL + Temporal harness).
Groups (`--only`): compose, api, chat, pipeline (anything else is passed to pytest as `-k`).
MoviePy (the compose baseline) pins Pillow < 12, so it gets its own environment, `.venv-moviepy`,
created here on first use with the pinned requirement; without it the MoviePy rows are skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

from infra.errors import StackError

REPO = Path(__file__).resolve().parents[1]
MOVIEPY_VENV = REPO / ".venv-moviepy"
MOVIEPY_REQUIREMENT = "moviepy==2.2.1"  # the same pin as tests/bench/moviepy_compose.py
GROUPS: dict[str, list[str]] = {
    "compose": ["tests/bench/bench_compose.py"],
    "api": ["tests/bench/bench_api.py", "-k", "not chat"],
    "chat": ["tests/bench/bench_api.py", "-k", "chat"],
    "pipeline": ["tests/bench/bench_pipeline.py"],
}


def moviepy_python() -> Path | None:
    """The MoviePy environment's interpreter, creating the environment on first use."""
    python = MOVIEPY_VENV / "bin" / "python"
    stamp = MOVIEPY_VENV / f".installed-{MOVIEPY_REQUIREMENT}"
    if stamp.is_file() and python.is_file():
        return python
    print(f"bench: creating {MOVIEPY_VENV.name} with {MOVIEPY_REQUIREMENT} (once)", flush=True)
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(MOVIEPY_VENV)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", MOVIEPY_REQUIREMENT], check=True, timeout=900
        )
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"bench: no MoviePy environment ({exc}); the MoviePy comparison is skipped", flush=True)
        return None
    stamp.touch()
    return python


def run_bench(*, quick: bool, json_path: Path | None, only: str | None) -> int:
    bench_dir = REPO / "tests" / "bench"
    if not bench_dir.is_dir():
        raise StackError(
            "the benchmarks are not in this installation", fix="run `directordeck bench` from a checkout"
        )
    env = dict(os.environ)
    if quick:
        env["BENCH_QUICK"] = "1"
    if json_path is not None:
        env["BENCH_JSON"] = str(json_path.resolve())
    if only in (None, "compose") and "BENCH_MOVIEPY_PYTHON" not in env:
        python = moviepy_python()
        if python is not None:
            env["BENCH_MOVIEPY_PYTHON"] = str(python)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-s",
        "-q",
        "-p",
        "no:cacheprovider",
        "--override-ini",
        "addopts=-p no:anyio",
    ]
    if only in GROUPS:
        cmd += GROUPS[only]
    else:
        cmd.append("tests/bench")
        if only:
            cmd += ["-k", only]
    return subprocess.call(cmd, cwd=REPO, env=env)
