"""The issue's "done when", through HTTP only (a real uvicorn server): create a workspace, chat in
Agent mode to storyboard, grid, animate and compose it, commit a cell in a Pro-mode conversation,
follow progress over SSE across a reconnect (Last-Event-ID), download the MP4."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from tests.api.conftest import Stack, uid
from tests.support.sse import frames, of, parse_sse


async def follow_events(base: str, ws: str, headers: dict, seen: list[int], stop: asyncio.Event) -> int:
    """Follow the workspace stream; drop the connection every 15 events and resume with Last-Event-ID."""
    reconnects = 0
    async with httpx.AsyncClient(timeout=None) as client:
        while not stop.is_set():
            h = dict(headers)
            if seen:
                h["Last-Event-ID"] = str(seen[-1])
            got = 0
            async with client.stream("GET", f"{base}/workspaces/{ws}/events", headers=h) as r:
                assert r.status_code == 200
                async for frame in frames(r):
                    if frame.id is not None:
                        seen.append(int(frame.id))
                        got += 1
                    if got >= 15 or stop.is_set():
                        break
            reconnects += 1
    return reconnects


async def test_agent_and_pro_mode_through_the_contract(stack: Stack, live_url: str) -> None:
    user = uid()
    h = stack.auth(user)
    async with httpx.AsyncClient(base_url=live_url, timeout=120) as c:

        async def say(conv: str, text: str) -> list[tuple[str, Any]]:
            r = await c.post(
                f"/conversations/{conv}/messages", json={"text": text}, params={"follow": "true"}, headers=h
            )
            assert r.status_code == 200, r.text
            events = parse_sse(r.text)
            assert events[-1][0] == "done", events
            return events

        async def settle(events: list[tuple[str, Any]] | dict) -> None:
            ids = (
                [t["task_id"] for t in of(events, "task_started")]
                if isinstance(events, list)
                else [t for res in events["results"] for t in res["task_ids"]]
            )
            deadline = time.monotonic() + 120
            for task_id in ids:
                while (task := (await c.get(f"/workspaces/{ws}/tasks/{task_id}", headers=h)).json())[
                    "status"
                ] not in (
                    "succeeded",
                    "failed",
                    "canceled",
                ):
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.2)
                assert task["status"] == "succeeded", task

        ws = (await c.post("/workspaces", json={"title": "untitled"}, headers=h)).json()["workspace"]["id"]
        seen: list[int] = []
        stop = asyncio.Event()
        follower = asyncio.create_task(follow_events(live_url, ws, h, seen, stop))
        agent = (await c.post("/conversations", json={"workspace_id": ws}, headers=h)).json()["id"]

        events = await say(agent, "Make a 3-shot storyboard about a fox who steals the moon")
        await settle(events)
        board = (await c.get(f"/workspaces/{ws}/storyboard", headers=h)).json()
        assert len(board["shots"]) == 3 and board["workspace"]["title"]

        events = await say(agent, "Generate a 4-grid for all shots")
        assert of(events, "proposal")
        reply = (await c.post(f"/conversations/{agent}/confirm", json={"approve": True}, headers=h)).json()
        assert reply["status"] == "done", reply
        await settle(reply)

        shot_1 = board["shots"][0]["id"]
        pro = (
            await c.post(
                "/conversations", json={"workspace_id": ws, "mode": "pro", "work_item_id": shot_1}, headers=h
            )
        ).json()["id"]
        events = await say(pro, "commit #2")
        assert of(events, "done")[0]["status"] == "done", of(events, "assistant_text")
        grid = (
            await c.get(f"/workspaces/{ws}/work-items/{shot_1}/nodes", params={"type": "image"}, headers=h)
        ).json()
        assert (await c.get(f"/workspaces/{ws}/work-items/{shot_1}", headers=h)).json()[
            "selected_node_id"
        ] == next(n["id"] for n in grid if n["cell"] == 2)

        events = await say(agent, "Animate all shots")
        reply = (await c.post(f"/conversations/{agent}/confirm", json={"approve": True}, headers=h)).json()
        assert reply["status"] in ("done", "partial"), reply
        await settle(reply)
        events = await say(agent, "Compose a preview")
        await settle(events)
        compose = (await c.get(f"/workspaces/{ws}/tasks", params={"type": "compose"}, headers=h)).json()[0]
        mp4 = await c.get(compose["result_url"], headers=h)
        assert mp4.status_code == 200 and mp4.headers["content-type"] == "video/mp4"
        assert b"ftyp" in mp4.content[:16]

        history = (await c.get(f"/conversations/{agent}", headers=h)).json()
        assert len(history["messages"]) >= 10
        log = (await c.get(f"/workspaces/{ws}/events/log", params={"limit": 500}, headers=h)).json()
        deadline = time.monotonic() + 10
        while len(seen) < len(log) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        stop.set()
        await c.post(f"/workspaces/{ws}/snapshots", json={"note": "wake the stream"}, headers=h)
        reconnects = await asyncio.wait_for(follower, timeout=10)
    assert reconnects >= 2, "the follower should have reconnected at least once"
    ids = [e["id"] for e in log]
    assert seen[: len(ids)] == ids, "every event once, in order, across reconnects"
    assert len(seen) == len(set(seen))
