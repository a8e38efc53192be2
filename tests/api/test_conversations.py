"""Agent-mode and Pro-mode conversations through the API: SSE turns, proposals and confirm,
history, idempotent messages."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import Stack, uid
from tests.support.api_rig import wait_task
from tests.support.sse import of, parse_sse


async def say(
    c: httpx.AsyncClient, h: dict, conversation: str, text: str, **params: Any
) -> list[tuple[str, Any]]:
    r = await c.post(f"/conversations/{conversation}/messages", json={"text": text}, params=params, headers=h)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    return parse_sse(r.text)


async def test_agent_mode_turn_proposal_confirm_and_history(stack: Stack, seeded) -> None:
    s = seeded(uid(), shots=3)
    c, h = stack.client, stack.auth(s.owner)
    r = await c.post("/conversations", json={"workspace_id": s.workspace, "mode": "agent"}, headers=h)
    assert r.status_code == 201, r.text
    conv = r.json()
    assert conv["workflow_id"] == f"conversation-{conv['id']}" and conv["mode"] == "agent"

    events = await say(c, h, conv["id"], "Make shot 2 last 5 seconds")
    kinds = [k for k, _ in events]
    assert kinds[0] == "accepted" and kinds[-1] == "done", kinds
    assert kinds.index("plan") < kinds.index("action_result") < kinds.index("assistant_text")
    assert of(events, "plan")[0]["actions"][0]["type"] == "shot.update"
    assert of(events, "done")[0]["status"] == "done"
    assert any(p["kind"] == "actions.applied" for p in of(events, "progress"))
    shot = (await c.get(f"/workspaces/{s.workspace}/work-items/{s.shots[1]}", headers=h)).json()
    assert shot["duration_s"] == 5.0

    events = await say(c, h, conv["id"], "Animate all shots")
    assert of(events, "proposal") and of(events, "done")[0]["status"] == "awaiting_confirmation"
    history = (await c.get(f"/conversations/{conv['id']}", headers=h)).json()
    assert history["pending"] and history["pending"]["proposal"]
    assert [m["role"] for m in history["messages"]] == ["user", "assistant", "user", "assistant"]
    assert history["messages"][0]["content"] == "Make shot 2 last 5 seconds"

    r = await c.post(f"/conversations/{conv['id']}/confirm", json={"approve": True}, headers=h)
    assert r.status_code == 200, r.text
    reply = r.json()
    assert reply["status"] == "done" and reply["snapshot_id"]
    started = [t for res in reply["results"] for t in res["task_ids"]]
    assert started, reply  # a clip for every shot that has a picture (the seeded shot 1)
    r = await c.post(f"/conversations/{conv['id']}/confirm", json={"approve": True}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "nothing_to_confirm"
    history = (await c.get(f"/conversations/{conv['id']}", headers=h)).json()
    assert history["pending"] is None and len(history["messages"]) == 6
    listed = (await c.get("/conversations", params={"workspace_id": s.workspace}, headers=h)).json()
    assert conv["id"] in {x["id"] for x in listed}
    for task_id in started:  # let the video jobs finish before the next test shares the workers
        await wait_task(c, h, s.workspace, task_id, timeout=120)


async def test_pro_mode_grid_then_commit_with_follow(stack: Stack, seeded) -> None:
    s = seeded(uid(), shots=2)
    c, h = stack.client, stack.auth(s.owner)
    r = await c.post(
        "/conversations",
        json={"workspace_id": s.workspace, "mode": "pro", "work_item_id": s.shots[1]},
        headers=h,
    )
    assert r.status_code == 201, r.text
    conv = r.json()["id"]
    events = await say(c, h, conv, "Generate a 4-grid", follow="true")
    started = of(events, "task_started")
    assert len(started) == 1 and started[0]["type"] == "grid"
    finals = [p for p in of(events, "progress") if p["kind"] == "task.succeeded"]
    assert [p["data"]["task_id"] for p in finals] == [started[0]["task_id"]]
    kinds = [k for k, _ in events]
    assert kinds.index("assistant_text") < kinds.index("done") == len(kinds) - 1
    events = await say(c, h, conv, "commit #2")
    assert of(events, "done")[0]["status"] == "done", of(events, "assistant_text")
    task = (await c.get(f"/workspaces/{s.workspace}/tasks/{started[0]['task_id']}", headers=h)).json()
    cell_2 = next(o["node_id"] for o in task["outputs"] if o["cell"] == 2)
    shot = (await c.get(f"/workspaces/{s.workspace}/work-items/{s.shots[1]}", headers=h)).json()
    assert shot["selected_node_id"] == cell_2


async def test_messages_idempotency_validation_and_scope(stack: Stack, seeded) -> None:
    s = seeded(uid(), shots=2)
    c, h = stack.client, stack.auth(s.owner)
    conv = (await c.post("/conversations", json={"workspace_id": s.workspace}, headers=h)).json()["id"]
    keyed = {**h, "Idempotency-Key": "msg-1"}
    first = await say(c, keyed, conv, "What is running?")
    again = await say(c, keyed, conv, "What is running?")
    assert of(first, "accepted")[0]["update_id"] == of(again, "accepted")[0]["update_id"]
    assert of(first, "done")[0]["turn_id"] == of(again, "done")[0]["turn_id"]
    history = (await c.get(f"/conversations/{conv}", headers=h)).json()
    assert len(history["messages"]) == 2  # one turn, not two
    r = await c.post(f"/conversations/{conv}/messages", json={"text": "Something else"}, headers=keyed)
    assert r.status_code == 422 and r.json()["code"] == "idempotency_key_reused"
    r = await c.post(f"/conversations/{conv}/messages", json={"text": ""}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    r = await c.post("/conversations", json={"workspace_id": s.workspace, "mode": "pro"}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "pro_needs_work_item"
    other = stack.auth(uid())
    assert (await c.get(f"/conversations/{conv}", headers=other)).status_code == 404
    r = await c.post(f"/conversations/{conv}/messages", json={"text": "hi"}, headers=other)
    assert r.status_code == 404 and r.json()["code"] == "conversation_not_found"
