"""The CLI's output contract: a reader that stops early (a pipe into `head`) is not an error."""

from __future__ import annotations

import subprocess
import sys

from tests.support.up_process import REPO


def test_a_reader_that_closes_the_pipe_early_gets_no_traceback() -> None:
    cli = subprocess.Popen(
        [sys.executable, "-m", "launch.cli", "schema", "actions"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert cli.stdout is not None and cli.stderr is not None
    first = cli.stdout.readline()  # as `| head -1` does: read a line, then go away
    cli.stdout.close()
    stderr = cli.stderr.read().decode(errors="replace")
    assert cli.wait(timeout=60) == 0, stderr
    assert first.strip() == b"{"
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
