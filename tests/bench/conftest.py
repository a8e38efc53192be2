"""Benchmark harness: one ledger database and one work directory for the whole bench session.

The figures each bench test measures are collected here and printed as one table at the end of
the run (also written as JSON when BENCH_JSON=FILE is set). BENCH_QUICK=1 shrinks every size.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.bench.pipeline_figures import BenchSizes, bench_sizes, format_table, machine_info, write_json
from tests.conftest import clone_database

FIGURES: dict[str, Any] = {}


@pytest.fixture(scope="session")
def sizes() -> BenchSizes:
    return bench_sizes()


@pytest.fixture(scope="session")
def figures(sizes: BenchSizes) -> dict[str, Any]:
    """Where each bench test puts its part of the figures (printed and written at session end)."""
    FIGURES.setdefault("machine", machine_info())
    FIGURES["quick"] = sizes.quick
    return FIGURES


@pytest.fixture(scope="session")
def bench_dir() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="dd-bench-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def bench_db_url(pg, pg_template_url: str) -> Iterator[str]:  # type: ignore[no-untyped-def]
    name = f"dd_bench_{uuid.uuid4().hex[:12]}"
    url = clone_database(pg, name)
    yield url
    from infra.ledger import dispose_engines

    dispose_engines(url)
    pg.drop_database(name)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    """Collect `bench_*.py` here (the default pattern only knows test_*.py); a file named on the
    command line is collected by pytest itself, so it is left alone (no double collection)."""
    if parent.session.isinitpath(file_path):
        return None
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    if not FIGURES or set(FIGURES) <= {"machine", "quick"}:
        return
    with contextlib.suppress(OSError, AttributeError, KeyError):
        FIGURES["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    terminalreporter.section("DirectorDeck benchmark")
    terminalreporter.write(format_table(FIGURES))
    target = os.environ.get("BENCH_JSON")
    if target:
        write_json(FIGURES, target)
        terminalreporter.write_line(f"figures written to {target}")
