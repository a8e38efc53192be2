"""SSE event stream on a real uvicorn server: resume with Last-Event-ID loses nothing and repeats
nothing, NOTIFY wakes streams at once, pings keep idle streams alive."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid

import httpx

from infra.ledger import unit_of_work
from schema.repositories import events as event_repo
from tests.api.conftest import Stack, uid
from tests.support.sse import frames


def append(db_url: str, workspace: str, n: int, tag: str) -> list[int]:
    ids = []
    for i in range(n):
        with unit_of_work(db_url) as session:
            ids.append(event_repo.append(session, uuid.UUID(workspace), "test.tick", {"tag": tag, "i": i}))
    return ids


async def read_events(url: str, headers: dict, *, want: int, timeout: float = 20.0) -> list[tuple[int, dict]]:
    got: list[tuple[int, dict]] = []
    async with httpx.AsyncClient(timeout=timeout) as client, client.stream("GET", url, headers=headers) as r:
        assert r.status_code == 200, await r.aread()
        assert r.headers["content-type"].startswith("text/event-stream")
        async with asyncio.timeout(timeout):
            async for frame in frames(r):
                if frame.id is None:
                    continue
                got.append((int(frame.id), json.loads("\n".join(frame.data))))
                if len(got) >= want:
                    break
    return got


async def test_resume_with_last_event_id_loses_nothing_and_repeats_nothing(
    stack: Stack, live_url: str, seeded
) -> None:
    s = seeded(uid())
    h = stack.auth(s.owner)
    url = f"{live_url}/workspaces/{s.workspace}/events"
    with unit_of_work(stack.db_url) as session:
        before = [e.id for e in event_repo.since(session, uuid.UUID(s.workspace))]

    # writers in 3 threads append 3 x 30 events while the client reads, drops and reconnects
    threads = [
        threading.Thread(target=append, args=(stack.db_url, s.workspace, 30, f"w{k}")) for k in range(3)
    ]
    for t in threads:
        t.start()
    first = await read_events(url, h, want=len(before) + 25)
    last_seen = first[-1][0]
    await asyncio.sleep(0.2)  # more events commit while we are away
    for t in threads:
        await asyncio.to_thread(t.join)
    with unit_of_work(stack.db_url) as session:
        all_ids = [e.id for e in event_repo.since(session, uuid.UUID(s.workspace))]
    remaining = len([i for i in all_ids if i > last_seen])
    second = await read_events(url, {**h, "Last-Event-ID": str(last_seen)}, want=remaining)

    received = [i for i, _ in first] + [i for i, _ in second]
    assert received == sorted(received), "ids must arrive in increasing order"
    assert len(received) == len(set(received)), "no event twice"
    assert received == all_ids, "no event lost"
    assert {e["data"]["tag"] for _, e in second if e["kind"] == "test.tick"} <= {"w0", "w1", "w2"}
    # ?after= works for clients that cannot set headers (EventSource's first connect)
    third = await read_events(f"{url}?after={all_ids[-3]}", h, want=2)
    assert [i for i, _ in third] == all_ids[-2:]


async def test_notify_wakes_stream_and_pings_keep_it_open(stack: Stack, live_url: str, seeded) -> None:
    s = seeded(uid())
    h = stack.auth(s.owner)
    with unit_of_work(stack.db_url) as session:
        start = event_repo.latest_id(session, uuid.UUID(s.workspace))
    url = f"{live_url}/workspaces/{s.workspace}/events"
    pings = 0
    arrived: float | None = None
    async with (
        httpx.AsyncClient(timeout=20) as client,
        client.stream("GET", url, headers={**h, "Last-Event-ID": str(start)}) as r,
    ):
        sent_at: float | None = None
        async with asyncio.timeout(15):
            async for frame in frames(r):
                if any(c.startswith("ping") for c in frame.comments):
                    pings += 1
                    if sent_at is None and pings >= 2:  # idle for two ping intervals: now append
                        sent_at = time.monotonic()
                        await asyncio.to_thread(append, stack.db_url, s.workspace, 1, "late")
                if frame.id is not None:
                    arrived = time.monotonic() - (sent_at or time.monotonic())
                    assert json.loads(frame.data[0])["data"]["tag"] == "late"
                    break
    assert pings >= 2
    assert arrived is not None and arrived < 3.0  # woken by NOTIFY, not by the 5 s poll


async def test_event_stream_auth_and_bad_resume_point(stack: Stack, live_url: str, seeded) -> None:
    s = seeded(uid())
    async with httpx.AsyncClient(timeout=10) as client:
        url = f"{live_url}/workspaces/{s.workspace}/events"
        r = await client.get(url, headers=stack.auth(uid()))
        assert r.status_code == 404 and r.json()["code"] == "workspace_not_found"
        r = await client.get(url)
        assert r.status_code == 401
        r = await client.get(url, headers={**stack.auth(s.owner), "Last-Event-ID": "abc"})
        assert r.status_code == 422 and r.json()["code"] == "last_event_id_invalid"
