from __future__ import annotations

from tests.api.conftest import Stack, uid


async def test_health_and_me(stack: Stack) -> None:
    r = await stack.client.get("/health")
    assert r.status_code == 200
    user = uid()
    r = await stack.client.get("/me", headers=stack.auth(user))
    assert r.status_code == 200, r.text
    assert r.json() == {"user_id": user, "role": "user"}


async def test_seed_and_storyboard(stack: Stack, seeded) -> None:
    s = seeded(uid(), shots=3)
    r = await stack.client.get(f"/workspaces/{s.workspace}/storyboard", headers=stack.auth(s.owner))
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["shots"]) == 3
    assert body["shots"][0]["selected_url"]
