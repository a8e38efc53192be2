"""Generation through the ActionRouter on the real stack: the seed contract (project → storyboard
task, prompt update, image/video per shot, task status with result URL), compose and download,
idempotent starts, proposals, cancel and retry, and a signed webhook from a real task."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx

from api.main import create_app
from infra.queues import Queues
from tests.api.conftest import Stack, api_test_config, pipeline_workers, uid
from tests.support.api_rig import SECRET, Receiver, wait_task


async def test_seed_contract_end_to_end(stack: Stack) -> None:
    c, user = stack.client, uid()
    h = stack.auth(user)
    receiver = Receiver()
    receiver.start()
    try:
        # create project -> storyboard task (with a signed completion callback)
        r = await c.post(
            "/workspaces",
            json={
                "title": "Fox",
                "story": "a fox steals the moon",
                "shot_count": 3,
                "webhook_url": f"{receiver.url}/storyboard",
            },
            headers=h,
        )
        assert r.status_code == 201, r.text
        ws = r.json()["workspace"]["id"]
        board = r.json()["storyboard"]
        assert board["mode"] == "execute" and len(board["task_ids"]) == 1 and board["workflow_ids"]
        task = await wait_task(c, h, ws, board["task_ids"][0])
        assert task["status"] == "succeeded", task
        shots = (await c.get(f"/workspaces/{ws}/work-items", params={"type": "shot"}, headers=h)).json()
        assert len(shots) == 3
        deadline = time.monotonic() + 10
        while not receiver.for_path("/storyboard"):
            assert time.monotonic() < deadline, "no webhook"
            await asyncio.sleep(0.1)
        headers, body = receiver.for_path("/storyboard")[0]
        raw = next(b for p, _, b in receiver.calls if p == "/storyboard")
        from api.webhooks import verify

        assert verify(SECRET, raw, headers["X-DirectorDeck-Signature"])
        assert body["task"]["id"] == task["id"] and body["task"]["status"] == "succeeded"
    finally:
        receiver.stop()

    # update a shot's prompt and narration
    shot = shots[0]["id"]
    r = await c.patch(
        f"/workspaces/{ws}/work-items/{shot}",
        json={"spec": {"visual": "the fox on a rooftop at night", "narration": "The moon is gone."}},
        headers=h,
    )
    assert r.status_code == 200
    # generate an image (a 4-grid) for the shot -> task status with result URL
    r = await c.post(f"/workspaces/{ws}/work-items/{shot}/generate", json={"kind": "image"}, headers=h)
    assert r.status_code == 202, r.text
    grid_task = await wait_task(c, h, ws, r.json()["task_ids"][0])
    assert grid_task["status"] == "succeeded", grid_task
    assert grid_task["result_url"] and len(grid_task["outputs"]) == 4
    png = await c.get(grid_task["result_url"].replace("http://api.test", ""), headers=h)
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    cell = grid_task["outputs"][1]["node_id"]
    node = (await c.get(f"/workspaces/{ws}/nodes/{cell}", headers=h)).json()
    assert node["payload"] and node["task_id"] == grid_task["id"]
    # pick a cell, then generate the video for the shot
    assert (await c.post(f"/workspaces/{ws}/nodes/{cell}/commit", headers=h)).status_code == 200
    r = await c.post(f"/workspaces/{ws}/work-items/{shot}/generate", json={"kind": "video"}, headers=h)
    assert r.status_code == 202, r.text
    video_task = await wait_task(c, h, ws, r.json()["task_ids"][0])
    assert video_task["status"] == "succeeded", video_task
    clip = await c.get(
        video_task["result_url"].replace("http://api.test", ""), headers={**h, "Range": "bytes=0-99"}
    )
    assert clip.status_code == 206 and len(clip.content) == 100
    lineage = (
        await c.get(f"/workspaces/{ws}/nodes/{video_task['outputs'][0]['node_id']}/lineage", headers=h)
    ).json()
    assert lineage[0]["node"]["id"] == cell  # the clip says where it came from

    # compose what is selected -> an MP4 to download
    r = await c.post(f"/workspaces/{ws}/generate/compose", json={"mode": "preview"}, headers=h)
    assert r.status_code == 202, r.text
    composed = await wait_task(c, h, ws, r.json()["task_ids"][0], timeout=120)
    assert composed["status"] == "succeeded", composed
    mp4 = await c.get(composed["result_url"].replace("http://api.test", ""), headers=h)
    assert (
        mp4.status_code == 200 and mp4.headers["content-type"] == "video/mp4" and b"ftyp" in mp4.content[:16]
    )
    events = (await c.get(f"/workspaces/{ws}/events/log", params={"limit": 500}, headers=h)).json()
    kinds = {e["kind"] for e in events}
    assert {"task.queued", "task.running", "task.succeeded", "actions.applied"} <= kinds


async def test_generation_is_idempotent_and_mirrors_the_dsl(stack: Stack, seeded) -> None:
    s = seeded(uid(), shots=3)
    c = stack.client
    h = {**stack.auth(s.owner), "Idempotency-Key": f"grid-{uuid.uuid4()}"}
    url = f"/workspaces/{s.workspace}/generate/grid"
    body = {"shots": "2", "size": 4, "prompt": "from a low angle"}
    first = await c.post(url, json=body, headers=h)
    assert first.status_code == 202, first.text
    again = await c.post(url, json=body, headers=h)
    assert again.status_code == 202 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["task_ids"] == first.json()["task_ids"]
    assert again.json()["workflow_ids"] == first.json()["workflow_ids"]
    other = await c.post(url, json={**body, "size": 9}, headers=h)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    task = await wait_task(c, stack.auth(s.owner), s.workspace, first.json()["task_ids"][0])
    assert task["status"] == "succeeded" and task["work_item_id"] == s.shots[1]
    grids = (
        await c.get(f"/workspaces/{s.workspace}/tasks", params={"type": "grid"}, headers=stack.auth(s.owner))
    ).json()
    assert len(grids) == 2  # the seeded one and ours: the repeat started nothing
    # DSL validation and target resolution answer 422 with their codes
    r = await c.post(url, json={"shots": [99]}, headers=stack.auth(s.owner))
    assert r.status_code == 422 and r.json()["code"] == "target_unresolved", r.text
    r = await c.post(url, json={"shots": [1], "size": 5}, headers=stack.auth(s.owner))
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    # a costly batch asked for as a proposal starts nothing
    r = await c.post(
        f"/workspaces/{s.workspace}/generate/video",
        params={"confirmed": "false"},
        json={"shots": "all"},
        headers=stack.auth(s.owner),
    )
    assert r.status_code == 202, r.text
    assert r.json()["mode"] == "propose" and r.json()["task_ids"] == [] and r.json()["proposal"]


async def test_cancel_and_retry_through_the_router(stack: Stack, seeded) -> None:
    s = seeded(uid(), shots=2)
    queues = Queues.prefixed(f"idle-{uuid.uuid4().hex[:6]}-")  # nobody polls these yet
    app = create_app(
        stack.settings,
        database_url=stack.db_url,
        temporal_client=stack.temporal,
        queues=queues,
        storage=stack.storage,
        config=api_test_config(),
        background=False,
    )
    h = stack.auth(s.owner)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test") as c:
        r = await c.post(f"/workspaces/{s.workspace}/generate/grid", json={"shots": [2]}, headers=h)
        assert r.status_code == 202, r.text
        task_id = r.json()["task_ids"][0]
        assert (await c.get(f"/workspaces/{s.workspace}/tasks/{task_id}", headers=h)).json()[
            "status"
        ] == "queued"
        r = await c.post(f"/workspaces/{s.workspace}/tasks/{task_id}/retry", headers=h)
        assert r.status_code == 409 and r.json()["code"] == "task_not_failed"
        r = await c.post(f"/workspaces/{s.workspace}/tasks/{task_id}/cancel", headers=h)
        assert r.status_code == 202, r.text
        assert r.json()["results"][0]["data"]["canceled_task_ids"] == [task_id]
        async with pipeline_workers(
            stack.temporal, stack.db_url, stack.settings, stack.storage, None, queues
        ):
            canceled = await wait_task(c, h, s.workspace, task_id)
            assert canceled["status"] == "canceled"
            r = await c.post(f"/workspaces/{s.workspace}/tasks/{task_id}/retry", headers=h)
            assert r.status_code == 202, r.text
            again = r.json()["task_ids"][0]
            assert again != task_id
            done = await wait_task(c, h, s.workspace, again)
            assert done["status"] == "succeeded" and done["payload"].get("retry_of") == task_id
        r = await c.post(f"/workspaces/{s.workspace}/tasks/{again}/cancel", headers=h)
        assert r.status_code == 202 and r.json()["results"][0]["data"]["canceled_task_ids"] == []


async def test_music_route_makes_background_music_checks_input_and_ownership(stack: Stack, seeded) -> None:
    s = seeded(uid(), shots=2)
    c, h = stack.client, stack.auth(s.owner)
    url = f"/workspaces/{s.workspace}/generate/music"
    r = await c.post(url, json={"mood": "紧张", "duration_s": 4}, headers=h)
    assert r.status_code == 202, r.text
    started = r.json()["results"][0]
    assert started["status"] == "started"
    assert started["data"]["summary"] == "started tense background music (4 s)"
    task = await wait_task(c, h, s.workspace, r.json()["task_ids"][0])
    assert task["status"] == "succeeded", task
    assert task["type"] == "music" and task["result"]["mood"] == "tense"
    [output] = task["outputs"]
    assert output["type"] == "audio_music" and task["result_url"]
    wav = await c.get(task["result_url"].replace("http://api.test", ""), headers=h)
    assert wav.status_code == 200 and wav.content[:4] == b"RIFF" and wav.content[8:12] == b"WAVE"
    node = (await c.get(f"/workspaces/{s.workspace}/nodes/{output['node_id']}", headers=h)).json()
    assert node["payload"]["key"] == "D minor" and node["payload"]["mood_requested"] == "紧张"
    # bad input answers 422 with a code, and starts nothing
    for body in ({"duration_s": 0.5}, {"duration_s": 601}, {"mood": ""}, {"mood": "calm", "tempo": 90}):
        bad = await c.post(url, json=body, headers=h)
        assert bad.status_code == 422 and bad.json()["code"] == "validation_error", (body, bad.text)
    # someone else's workspace does not exist for me
    other = await c.post(url, json={"mood": "calm"}, headers=stack.auth(uid()))
    assert other.status_code == 404 and other.json()["code"] == "workspace_not_found", other.text
    musics = (await c.get(f"/workspaces/{s.workspace}/tasks", params={"type": "music"}, headers=h)).json()
    assert len(musics) == 1
    # compose with music still needs clips first (the seeded shots have none)
    r = await c.post(f"/workspaces/{s.workspace}/generate/compose", json={"music": True}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "nothing_to_compose", r.text
