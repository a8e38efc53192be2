"""SharedReads: one round trip for concurrent callers, never an answer older than the request."""

from __future__ import annotations

import asyncio

import pytest

from infra.shared_reads import SharedReads


class Source:
    """A value that callers read through a slow statement; each statement can be held open."""

    def __init__(self) -> None:
        self.value = 0
        self.statements = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail_next = False

    async def fetch(self) -> int:
        self.statements += 1
        seen = self.value  # what the statement sees when it is sent
        await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("server closed the connection")
        return seen


async def settle() -> None:
    """Let every ready task run (a caller's read, then the read it started)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_concurrent_callers_share_one_statement() -> None:
    reads, source = SharedReads(), Source()
    answers = await asyncio.gather(*(reads.read("ws", source.fetch) for _ in range(50)))
    assert answers == [0] * 50
    assert source.statements == 1


async def test_a_caller_arriving_mid_read_gets_a_newer_read_shared_with_its_peers() -> None:
    reads, source = SharedReads(), Source()
    source.gate.clear()
    first = asyncio.ensure_future(reads.read("ws", source.fetch))
    await settle()  # the first statement is sent, seeing value 0
    assert source.statements == 1
    source.value = 1  # a write commits while that statement is under way
    later = [asyncio.ensure_future(reads.read("ws", source.fetch)) for _ in range(10)]
    await settle()
    assert source.statements == 1  # the next read waits for the current one to end
    source.gate.set()
    assert await first == 0
    assert await asyncio.gather(*later) == [1] * 10  # never the answer sent before they came
    assert source.statements == 2


async def test_keys_do_not_share() -> None:
    reads, source = SharedReads(), Source()
    await asyncio.gather(reads.read("a", source.fetch), reads.read("b", source.fetch))
    assert source.statements == 2


async def test_a_failure_reaches_that_reads_callers_and_the_next_caller_reads_afresh() -> None:
    reads, source = SharedReads(), Source()
    source.fail_next = True
    callers = (reads.read("ws", source.fetch) for _ in range(3))
    results = await asyncio.gather(*callers, return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert await reads.read("ws", source.fetch) == 0
    assert source.statements == 2


async def test_a_caller_that_goes_away_leaves_the_read_to_the_others() -> None:
    reads, source = SharedReads(), Source()
    source.gate.clear()
    quitter = asyncio.ensure_future(reads.read("ws", source.fetch))
    stayer = asyncio.ensure_future(reads.read("ws", source.fetch))
    await settle()
    quitter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await quitter
    source.gate.set()
    assert await stayer == 0
    assert source.statements == 1
