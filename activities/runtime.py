"""How an activity runs blocking work: in a thread, heartbeating, cancellable, with coded errors.

Rules: the async side heartbeats the latest progress every second (every half second for GPU
activities, whose workers also send heartbeats at most that far apart: workers/pools.py), so
Temporal can deliver a cancellation within one heartbeat interval; on cancellation the worker
thread is told to stop and awaited — so an FFmpeg child is killed before the activity reports
`canceled` — then CancelledError is re-raised; a DirectorDeckError becomes an ApplicationError
whose `type` is its stable code, non-retryable when the error says a retry cannot help; a write
that failed with ENOSPC anywhere (storage, a temp file) is `no_space`, retried like a full disk.
The activity's progress also goes to its ``progress_sink`` (the task row and a ``task.progress``
event: activities/pipeline.py) whenever it moved by ``REPORT_STEP`` since the last report, at
most once per heartbeat; a sink that fails is logged and never fails the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import errno
import functools
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from schema.domain_errors import DomainError
from schema.errors import CancelledByUser, DirectorDeckError, NoSpaceError

T = TypeVar("T")
P = ParamSpec("P")

Progress = Callable[[float], None]
Cancelled = Callable[[], bool]

HEARTBEAT_EVERY_S = 1.0
GPU_HEARTBEAT_EVERY_S = 0.5  # GPU activities: a cancel reaches the denoising loop sooner
REPORT_STEP = 0.05  # progress reported to the ledger in steps of at least this much

log = logging.getLogger(__name__)

ProgressSink = Callable[[float], Awaitable[None]]
progress_sink: contextvars.ContextVar[ProgressSink | None] = contextvars.ContextVar(
    "progress_sink", default=None
)
"""Where the running activity's progress is reported (set by the activity for its task)."""


async def run_blocking(
    work: Callable[[Progress, Cancelled], T], *, heartbeat_every_s: float = HEARTBEAT_EVERY_S
) -> T:
    stop = threading.Event()
    latest = {"progress": 0.0}

    def on_progress(fraction: float) -> None:
        latest["progress"] = max(0.0, min(1.0, float(fraction)))

    context = contextvars.copy_context()  # the thread sees the activity's span and log ids
    future = asyncio.get_running_loop().run_in_executor(None, context.run, work, on_progress, stop.is_set)
    sink, reported = progress_sink.get(), 0.0
    try:
        while True:
            done, _ = await asyncio.wait({future}, timeout=heartbeat_every_s)
            progress = latest["progress"]
            activity.heartbeat({"progress": progress})
            if done:
                return future.result()
            if sink is not None and progress - reported >= REPORT_STEP:
                reported = progress
                try:
                    await sink(progress)
                except Exception as exc:  # progress is a nicety: the work goes on
                    log.warning("reporting progress failed: %s", exc)
    except asyncio.CancelledError:
        stop.set()
        with contextlib.suppress(BaseException):
            await asyncio.shield(future)
        raise


def coded(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Translate domain errors into Temporal application errors with stable types."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except CancelledByUser as err:
            raise asyncio.CancelledError() from err
        except DirectorDeckError as err:
            raise ApplicationError(err.message, type=err.code, non_retryable=not err.retryable) from err
        except DomainError as err:  # repository invariant violations, missing rows
            raise ApplicationError(err.message, type=err.code, non_retryable=True) from err
        except OSError as err:
            if err.errno != errno.ENOSPC:
                raise
            raise ApplicationError(f"No space left on device: {err}", type=NoSpaceError.code) from err

    return wrapper
