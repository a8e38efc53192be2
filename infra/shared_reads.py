"""Identical concurrent reads share one round trip, never one that started before they arrived.

Rule: a caller joins a read of its key only while that read has not started; a caller that comes
while its key's read is under way waits for the next one, which starts once the current one is
over and is shared by everyone who came in the meantime. So an answer is never older than the
request it answers (a write committed before the request is seen, as with a read of its own),
and at most one read per key is in flight. A failure goes to the callers of that read only;
the next caller starts a fresh read. A caller that goes away (cancelled) leaves the read running
for the others. One instance serves one event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class _Read(Generic[T]):
    def __init__(self) -> None:
        self.result: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        # a failure nobody awaited (every caller went away) is not reported as never retrieved
        self.result.add_done_callback(lambda f: f.cancelled() or f.exception())


class SharedReads:
    def __init__(self) -> None:
        self._waiting: dict[Hashable, _Read[Any]] = {}  # not started: callers may still join
        self._running: dict[Hashable, _Read[Any]] = {}  # started: too old for a newcomer
        self._tasks: set[asyncio.Task[None]] = set()

    async def read(self, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
        """`fetch()`'s answer, shared with the callers of `key` that came before it started."""
        shared = self._waiting.get(key)
        if shared is None:
            shared = self._waiting[key] = _Read()
            task = asyncio.ensure_future(self._run(key, shared, self._running.get(key), fetch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(shared.result)

    async def _run(
        self, key: Hashable, shared: _Read[T], before: _Read[Any] | None, fetch: Callable[[], Awaitable[T]]
    ) -> None:
        if before is not None:
            await asyncio.wait([before.result])  # its outcome is its own callers'
        del self._waiting[key]  # from here on, a newcomer waits for the next read
        self._running[key] = shared
        try:
            shared.result.set_result(await fetch())
        except asyncio.CancelledError:  # the loop is closing: its callers are cancelled too
            shared.result.cancel()
            raise
        except Exception as exc:  # handed to this read's callers
            shared.result.set_exception(exc)
        finally:
            if self._running.get(key) is shared:
                del self._running[key]
