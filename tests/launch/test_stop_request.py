"""`up`'s stop request in-process: a SIGTERM that lands inside a finalizer is not lost."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator

import pytest

from launch import run

_HANDLED = (signal.SIGINT, signal.SIGTERM, run._REDELIVER)


class _Services:
    def kill(self) -> None:
        raise AssertionError("a single stop request must not force anything")


@pytest.fixture
def stopper() -> Iterator[run._Stopper]:
    handlers = {sig: signal.getsignal(sig) for sig in _HANDLED}
    hook = sys.unraisablehook
    try:
        yield run._Stopper(_Services(), deadline_s=86_400)  # type: ignore[arg-type]
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        sys.unraisablehook = hook


class _SignalledWhileFinalized:
    """A garbage-collected object (like a psycopg connection) whose `__del__` is running when the
    signal's Python handler gets its turn: Python swallows whatever that handler raises there."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(10_000):  # the handler runs here, inside the finalizer
            pass


def test_a_stop_request_swallowed_by_a_finalizer_is_delivered_again(
    stopper: run._Stopper, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(run._StopRequested):
        _SignalledWhileFinalized()  # dropped at once: its __del__ runs and takes the signal
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the redelivered stop interrupts this, after the finalizer
            pass
        pytest.fail("the stop request was lost in the finalizer")
    assert stopper.requested.is_set()
    assert "Traceback" not in capsys.readouterr().err


def test_other_unraisable_exceptions_still_reach_the_previous_hook(stopper: run._Stopper) -> None:
    seen: list[BaseException | None] = []
    stopper._unraisable_before = lambda unraisable: seen.append(unraisable.exc_value)

    class _Failing:
        def __del__(self) -> None:
            raise ValueError("a finalizer's own error")

    _Failing()
    assert len(seen) == 1 and isinstance(seen[0], ValueError)
