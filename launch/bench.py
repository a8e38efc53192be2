"""`directordeck bench [--quick] [--json FILE] [--only GROUP]`: run the benchmarks in tests/bench.

Rule: benchmarks are measured on demand, never by timed unit tests; they run from a checkout (the
benchmark code lives beside the tests and uses the same real PostgreSQL + Temporal harness).
Groups (`--only`): compose, api, chat, pipeline (anything else is passed to pytest as `-k`).
MoviePy (the compose baseline) comes with the `bench` extra (`pip install -e '.[bench]'`, which
`make bench` runs); without it the MoviePy rows are skipped, saying so.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from infra.errors import StackError

REPO = Path(__file__).resolve().parents[1]
GROUPS: dict[str, list[str]] = {
    "compose": ["tests/bench/bench_compose.py"],
    "api": ["tests/bench/bench_api.py", "-k", "not chat"],
    "chat": ["tests/bench/bench_api.py", "-k", "chat"],
    "pipeline": ["tests/bench/bench_pipeline.py"],
}


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
    if only in (None, "compose") and importlib.util.find_spec("moviepy") is None:
        print("bench: MoviePy is not installed: the MoviePy rows are skipped (pip install -e '.[bench]')")
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
