"""Child processes never outlive the process that started them (Linux PR_SET_PDEATHSIG), and a
stop request never lands between forking a child and recording it (`starting_a_child`)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Popen preexec_fn: the kernel sends SIGTERM to the child when its parent dies — precisely,
    when the *thread* that forked it ends, so start long-lived children from a long-lived thread."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def kill_group(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL a child started in its own process group (`process_group=0`), with everything it
    started, and reap it: for a server that hangs and ignores a polite signal."""
    if proc is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


class _Held:
    depth = 0
    pending: Callable[[], None] | None = None


@contextlib.contextmanager
def starting_a_child() -> Iterator[None]:
    """Around `Popen(...)` + keeping its handle: a stop request arriving meanwhile (see
    `interrupt_or_hold`) is acted on when the block ends, so the child is known and gets stopped."""
    _Held.depth += 1
    try:
        yield
    finally:
        _Held.depth -= 1
        if _Held.depth == 0 and _Held.pending is not None:
            pending, _Held.pending = _Held.pending, None
            pending()


def interrupt_or_hold(interrupt: Callable[[], None]) -> None:
    """Call `interrupt` (which raises) now, or at the end of the `starting_a_child` block in progress."""
    if _Held.depth:
        _Held.pending = interrupt
    else:
        interrupt()
