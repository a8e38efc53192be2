"""The one place that runs FFmpeg (the binary shipped by imageio-ffmpeg).

Rule: an FFmpeg child never outlives the call that started it. `run_ffmpeg` kills and reaps the
child on cancellation, timeout and on *any* exception that reaches it (KeyboardInterrupt, an
exception raised asynchronously into the thread, a progress callback that raises). Progress and
cancellation callbacks are only ever called from the calling thread, so a Temporal activity may
heartbeat from them. Failures become `MediaToolError` with the stderr tail.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from infra.process import die_with_parent
from schema.errors import (
    CancelledByUser,
    DirectorDeckError,
    MediaToolError,
    MediaToolKilled,
    NoSpaceError,
    ProviderUnavailableError,
)

__all__ = ["POLL_INTERVAL_S", "ffmpeg_exe", "live_ffmpeg_pids", "run_ffmpeg"]

POLL_INTERVAL_S = 0.1  # how often cancellation and progress are checked while FFmpeg runs
STDERR_TAIL_LINES = 30
_PROGRESS_MIN_STEP = 0.005  # report progress changes of at least half a percent
_PROGRESS_MAX_SILENCE_S = 2.0  # ...or at least this often, so heartbeats keep flowing

_live: set[subprocess.Popen[bytes]] = set()
_live_lock = threading.Lock()


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the FFmpeg binary bundled with imageio-ffmpeg (or $IMAGEIO_FFMPEG_EXE)."""
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as exc:  # imageio-ffmpeg raises RuntimeError when it finds no binary
        raise ProviderUnavailableError(
            f"No FFmpeg binary found ({exc}); install imageio-ffmpeg or set IMAGEIO_FFMPEG_EXE.",
            code="ffmpeg_unavailable",
        ) from exc
    if not os.access(exe, os.X_OK):
        raise ProviderUnavailableError(f"FFmpeg at {exe} is not executable.", code="ffmpeg_unavailable")
    return str(exe)


def live_ffmpeg_pids() -> list[int]:
    """PIDs of FFmpeg children started by this process that are still running (for tests/ops)."""
    with _live_lock:
        return [p.pid for p in _live if p.poll() is None]


def _kill_all_at_exit() -> None:
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        _kill(proc)


atexit.register(_kill_all_at_exit)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill and reap; safe to call twice and from `finally` blocks."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL is not ignorable; never hang here
        proc.wait(timeout=10)


def _pump_stderr(stream: IO[bytes], tail: collections.deque[str]) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip()
        if line:
            tail.append(line)


def _pump_progress(stream: IO[bytes], state: dict[str, float]) -> None:
    """Parse `-progress pipe:1` key=value blocks; keep the latest out_time in seconds."""
    for raw in iter(stream.readline, b""):
        key, _, value = raw.decode("ascii", "replace").strip().partition("=")
        if key in ("out_time_us", "out_time_ms"):  # both are microseconds (historic naming)
            try:
                state["out_time_s"] = max(0.0, int(value) / 1_000_000)
            except ValueError:
                continue
        elif key == "progress" and value == "end":
            state["ended"] = 1.0


def _describe(args: Sequence[str]) -> str:
    text = " ".join(args)
    return text if len(text) <= 400 else text[:400] + " …"


ENOSPC_EXIT = 228  # AVERROR(ENOSPC) as an exit status (-28 & 0xff)


def _exit_error(returncode: int, stderr_tail: str, args: Sequence[Any]) -> DirectorDeckError:
    """The typed error for a non-zero exit: killed by a signal (retryable), no space left (its own
    code `no_space`, retryable), else `ffmpeg_failed` (the input: not retried)."""
    detail = f"command: ffmpeg {_describe(args)}\n{stderr_tail}"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "unknown signal"
        return MediaToolKilled(f"FFmpeg was killed by signal {-returncode} ({name}).\n{detail}")
    if returncode == ENOSPC_EXIT or "No space left on device" in stderr_tail:
        return NoSpaceError(f"No space left on device while FFmpeg was writing.\n{detail}")
    return MediaToolError(f"FFmpeg exited with status {returncode}.\n{detail}", code="ffmpeg_failed")


def run_ffmpeg(
    args: Sequence[str],
    *,
    expected_duration_s: float | None,
    on_progress: Callable[[float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    timeout_s: float | None = None,
    cwd: Path | str | None = None,
) -> list[str]:
    """Run `ffmpeg <args>` to completion, reporting progress in 0..1 and honouring cancellation;
    returns the last lines FFmpeg printed (a measuring filter's summary, say).

    `args` are FFmpeg arguments without the binary (e.g. from ffmpeg-python's `get_args()`).
    Raises `CancelledByUser` when `cancelled()` turns true (checked every 0.1 s), `MediaToolError`
    (code 'ffmpeg_failed' or 'ffmpeg_timeout') otherwise.
    """
    if cancelled is not None and cancelled():
        raise CancelledByUser("Cancelled before FFmpeg started.")
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-progress", "pipe:1", "-nostats", *map(str, args)]
    tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
    state: dict[str, float] = {}
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=str(cwd) if cwd is not None else None,
        close_fds=True,
        preexec_fn=die_with_parent,  # a SIGKILLed worker leaves no FFmpeg behind
    )
    readers: list[threading.Thread] = []
    try:  # from here on, every exit path kills and reaps the child (see `finally`)
        with _live_lock:
            _live.add(proc)
        assert proc.stdout is not None and proc.stderr is not None
        readers = [
            threading.Thread(
                target=_pump_stderr, args=(proc.stderr, tail), name="ffmpeg-stderr", daemon=True
            ),
            threading.Thread(
                target=_pump_progress, args=(proc.stdout, state), name="ffmpeg-progress", daemon=True
            ),
        ]
        for reader in readers:
            reader.start()
        started = time.monotonic()
        last_fraction = -1.0
        last_report = started
        while True:
            try:
                returncode = proc.wait(timeout=POLL_INTERVAL_S)
                break
            except subprocess.TimeoutExpired:
                pass
            if cancelled is not None and cancelled():
                _kill(proc)
                raise CancelledByUser("FFmpeg stopped: the job was cancelled.")
            now = time.monotonic()
            if timeout_s is not None and now - started > timeout_s:
                _kill(proc)
                raise MediaToolError(
                    f"FFmpeg ran longer than {timeout_s:.0f} s and was stopped: {_describe(args)}",
                    code="ffmpeg_timeout",
                )
            if on_progress is not None and expected_duration_s and expected_duration_s > 0:
                fraction = min(0.999, state.get("out_time_s", 0.0) / expected_duration_s)
                if (
                    fraction - last_fraction >= _PROGRESS_MIN_STEP
                    or now - last_report >= _PROGRESS_MAX_SILENCE_S
                ):
                    on_progress(max(fraction, 0.0))
                    last_fraction, last_report = fraction, now
        for reader in readers:
            reader.join(timeout=5)  # EOF follows exit; the stderr tail is complete after this
        if returncode != 0:
            stderr_tail = "\n".join(tail)
            err = _exit_error(returncode, stderr_tail, args)
            err.stderr_tail = stderr_tail  # type: ignore[attr-defined]
            err.returncode = returncode  # type: ignore[attr-defined]
            raise err
        if on_progress is not None:
            on_progress(1.0)
        return list(tail)
    finally:
        _kill(proc)
        with _live_lock:
            _live.discard(proc)
        for reader in readers:
            reader.join(timeout=2)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
