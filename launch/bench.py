"""`directordeck bench [--quick] [--json FILE]`: run the benchmarks in tests/bench and print the table.

Rule: benchmarks are measured on demand, never by timed unit tests; they run from a checkout (the
benchmark code lives beside the tests and uses the same real PostgreSQL + Temporal harness).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from infra.errors import StackError

REPO = Path(__file__).resolve().parents[1]


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
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "tests/bench",
        "-s",
        "-q",
        "-p",
        "no:cacheprovider",
        "--override-ini",
        "addopts=-p no:anyio",
    ]
    if only:
        cmd += ["-k", only]
    return subprocess.call(cmd, cwd=REPO, env=env)
