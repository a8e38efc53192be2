"""Authorization matrix: every route × another user's ids → 404 (never 403, never data).

Three ways to reach someone else's data are tried on every route that takes an id:
1. their workspace id (with their object ids) in the path;
2. my own workspace id with their object ids in the path;
3. my own ids in the path with their ids in the body (references, merges, forks, ...).
The table must cover every route of the app, so a new route cannot ship without its row.
"""

from __future__ import annotations

import re
from typing import Any

from tests.api.conftest import Seeded, Stack, uid

UNSCOPED = {
    ("GET", "/health"),
    ("GET", "/ready"),
    ("GET", "/me"),
    ("GET", "/workspaces"),
    ("POST", "/workspaces"),
    # sign-in and the studio's public config: no workspace is named
    ("POST", "/auth/session"),
    ("DELETE", "/auth/session"),
    ("POST", "/auth/dev-session"),
    ("GET", "/studio/config"),
}
# routes whose workspace comes from the body or the query (case 1 puts their workspace there)
BODY_SCOPED: dict[tuple[str, str], tuple[Any, dict[str, str]]] = {
    ("POST", "/conversations"): ({"workspace_id": "{workspace_id}", "mode": "agent"}, {}),
    ("GET", "/conversations"): (None, {"workspace_id": "{workspace_id}"}),
}

# (method, path) -> body (None: no body); bodies are valid so validation cannot answer first
ROUTES: dict[tuple[str, str], Any] = {
    ("GET", "/workspaces/{workspace_id}"): None,
    ("GET", "/workspaces/{workspace_id}/stages"): None,
    ("PATCH", "/workspaces/{workspace_id}"): {"title": "mine now"},
    ("DELETE", "/workspaces/{workspace_id}"): None,
    ("GET", "/workspaces/{workspace_id}/characters"): None,
    ("POST", "/workspaces/{workspace_id}/characters"): {"name": "Intruder"},
    ("GET", "/workspaces/{workspace_id}/characters/{character_id}"): None,
    ("PATCH", "/workspaces/{workspace_id}/characters/{character_id}"): {"profile": {"x": 1}},
    ("DELETE", "/workspaces/{workspace_id}/characters/{character_id}"): None,
    ("POST", "/workspaces/{workspace_id}/characters/{character_id}/references"): {"asset_id": "{asset_id}"},
    ("GET", "/workspaces/{workspace_id}/scenes"): None,
    ("POST", "/workspaces/{workspace_id}/scenes"): {"title": "x"},
    ("GET", "/workspaces/{workspace_id}/scenes/{scene_id}"): None,
    ("PATCH", "/workspaces/{workspace_id}/scenes/{scene_id}"): {"title": "x"},
    ("DELETE", "/workspaces/{workspace_id}/scenes/{scene_id}"): None,
    ("POST", "/workspaces/{workspace_id}/scenes/{scene_id}/reorder"): {"to": 1},
    ("GET", "/workspaces/{workspace_id}/storyboard"): None,
    ("GET", "/workspaces/{workspace_id}/work-items"): None,
    ("POST", "/workspaces/{workspace_id}/work-items"): {"spec": {"visual": "x"}},
    ("GET", "/workspaces/{workspace_id}/work-items/{work_item_id}"): None,
    ("PATCH", "/workspaces/{workspace_id}/work-items/{work_item_id}"): {"spec": {"visual": "pwned"}},
    ("DELETE", "/workspaces/{workspace_id}/work-items/{work_item_id}"): None,
    ("POST", "/workspaces/{workspace_id}/work-items/{work_item_id}/reorder"): {"to": 1},
    ("POST", "/workspaces/{workspace_id}/work-items/{work_item_id}/split"): {"parts": 2},
    ("POST", "/workspaces/{workspace_id}/work-items/merge"): {
        "work_item_ids": ["{work_item_id}", "{work_item_id_2}"]
    },
    ("POST", "/workspaces/{workspace_id}/work-items/batch"): {
        "work_item_ids": ["{work_item_id}"],
        "patch": {"weather": "pwned"},
    },
    ("GET", "/workspaces/{workspace_id}/work-items/{work_item_id}/tracks"): None,
    ("POST", "/workspaces/{workspace_id}/work-items/{work_item_id}/tracks"): {"from_node_id": "{node_id}"},
    ("GET", "/workspaces/{workspace_id}/work-items/{work_item_id}/nodes"): None,
    ("POST", "/workspaces/{workspace_id}/work-items/{work_item_id}/generate"): {"kind": "image"},
    ("PATCH", "/workspaces/{workspace_id}/tracks/{track_id}"): {"name": "Z"},
    ("DELETE", "/workspaces/{workspace_id}/tracks/{track_id}"): None,
    ("GET", "/workspaces/{workspace_id}/nodes/{node_id}"): None,
    ("GET", "/workspaces/{workspace_id}/nodes/{node_id}/children"): None,
    ("GET", "/workspaces/{workspace_id}/nodes/{node_id}/lineage"): None,
    ("GET", "/workspaces/{workspace_id}/nodes/{node_id}/references"): None,
    ("POST", "/workspaces/{workspace_id}/nodes/{node_id}/commit"): None,
    ("POST", "/workspaces/{workspace_id}/nodes/{node_id}/favorite"): {"tags": []},
    ("GET", "/workspaces/{workspace_id}/assets"): None,
    ("GET", "/workspaces/{workspace_id}/assets/{asset_id}"): None,
    ("GET", "/workspaces/{workspace_id}/assets/{asset_id}/content"): None,
    ("GET", "/workspaces/{workspace_id}/assets/{asset_id}/thumbnail"): None,
    ("GET", "/workspaces/{workspace_id}/tasks"): None,
    ("GET", "/workspaces/{workspace_id}/tasks/counts"): None,
    ("GET", "/workspaces/{workspace_id}/tasks/usage"): None,
    ("GET", "/workspaces/{workspace_id}/tasks/{task_id}"): None,
    ("POST", "/workspaces/{workspace_id}/tasks/{task_id}/cancel"): None,
    ("POST", "/workspaces/{workspace_id}/tasks/{task_id}/retry"): None,
    ("GET", "/workspaces/{workspace_id}/favorites"): None,
    ("PATCH", "/workspaces/{workspace_id}/favorites/{favorite_id}"): {"tags": ["x"]},
    ("DELETE", "/workspaces/{workspace_id}/favorites/{favorite_id}"): None,
    ("GET", "/workspaces/{workspace_id}/favorites/download"): None,
    ("GET", "/workspaces/{workspace_id}/snapshots"): None,
    ("POST", "/workspaces/{workspace_id}/snapshots"): {"note": "x"},
    ("GET", "/workspaces/{workspace_id}/snapshots/{snapshot_id}"): None,
    ("GET", "/workspaces/{workspace_id}/snapshots/{snapshot_id}/diff"): None,
    ("POST", "/workspaces/{workspace_id}/snapshots/{snapshot_id}/rollback"): None,
    ("POST", "/workspaces/{workspace_id}/generate/storyboard"): {"story": "a fox", "shot_count": 3},
    ("POST", "/workspaces/{workspace_id}/generate/grid"): {"shots": [1], "size": 4},
    ("POST", "/workspaces/{workspace_id}/generate/video"): {"shots": [1]},
    ("POST", "/workspaces/{workspace_id}/generate/voice"): {"shots": [1]},
    ("POST", "/workspaces/{workspace_id}/generate/music"): {"mood": "calm", "duration_s": 5},
    ("POST", "/workspaces/{workspace_id}/generate/compose"): {"mode": "preview"},
    ("POST", "/workspaces/{workspace_id}/exports"): {"selection": "favorites"},
    ("GET", "/workspaces/{workspace_id}/exports"): None,
    ("GET", "/workspaces/{workspace_id}/exports/{task_id}"): None,
    ("GET", "/workspaces/{workspace_id}/events"): None,
    ("GET", "/workspaces/{workspace_id}/events/log"): None,
    ("GET", "/conversations/{conversation_id}"): None,
    ("POST", "/conversations/{conversation_id}/messages"): {"text": "what is running?"},
    ("POST", "/conversations/{conversation_id}/confirm"): {"approve": True},
}

# Case 3: my own path ids, their ids inside the body (or query)
BODY_REFERENCES: list[tuple[str, str, Any, dict[str, str]]] = [
    (
        "POST",
        "/workspaces/{workspace_id}/characters/{character_id}/references",
        {"asset_id": "{their:asset_id}"},
        {},
    ),
    ("POST", "/workspaces/{workspace_id}/work-items", {"scene_id": "{their:scene_id}"}, {}),
    ("PATCH", "/workspaces/{workspace_id}/work-items/{work_item_id}", {"scene_id": "{their:scene_id}"}, {}),
    (
        "POST",
        "/workspaces/{workspace_id}/work-items/merge",
        {"work_item_ids": ["{work_item_id}", "{their:work_item_id}"]},
        {},
    ),
    (
        "POST",
        "/workspaces/{workspace_id}/work-items/batch",
        {"work_item_ids": ["{work_item_id}", "{their:work_item_id}"], "patch": {"weather": "pwned"}},
        {},
    ),
    (
        "POST",
        "/workspaces/{workspace_id}/work-items/{work_item_id}/tracks",
        {"from_node_id": "{their:node_id}"},
        {},
    ),
    (
        "GET",
        "/workspaces/{workspace_id}/work-items/{work_item_id}/nodes",
        None,
        {"track_id": "{their:track_id}"},
    ),
    ("POST", "/workspaces/{workspace_id}/snapshots", {"work_item_id": "{their:work_item_id}"}, {}),
    (
        "GET",
        "/workspaces/{workspace_id}/snapshots/{snapshot_id}/diff",
        None,
        {"against": "{their:snapshot_id}"},
    ),
    (
        "POST",
        "/workspaces/{workspace_id}/generate/grid",
        {"shots": [1], "work_item_id": "{their:work_item_id}"},
        {},
    ),
]


def ids_of(s: Seeded) -> dict[str, str]:
    return {
        "workspace_id": s.workspace,
        "character_id": s.character,
        "scene_id": s.scenes[0],
        "work_item_id": s.shots[0],
        "work_item_id_2": s.shots[1],
        "track_id": s.track_b,
        "node_id": s.cells[1],
        "asset_id": s.assets[0],
        "task_id": s.task,
        "favorite_id": s.favorite,
        "snapshot_id": s.snapshot,
        "conversation_id": s.conversation,
    }


def fill(template: Any, mine: dict[str, str], theirs: dict[str, str], path_ids: dict[str, str]) -> Any:
    if isinstance(template, str):

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name.startswith("their:"):
                return theirs[name[6:]]
            return path_ids[name]

        return re.sub(r"\{([a-z_:0-9]+)\}", sub, template)
    if isinstance(template, list):
        return [fill(x, mine, theirs, path_ids) for x in template]
    if isinstance(template, dict):
        return {k: fill(v, mine, theirs, path_ids) for k, v in template.items()}
    return template


def assert_404(r: Any, label: str) -> None:
    assert r.status_code == 404, f"{label}: {r.status_code} {r.text[:300]}"
    body = r.json()
    assert set(body) == {"code", "message", "request_id"}, f"{label}: {body}"
    assert body["code"].endswith("not_found"), f"{label}: {body}"


def test_table_covers_every_route(stack: Stack) -> None:
    routes = {
        (method.upper(), path)
        for path, operations in stack.app.openapi()["paths"].items()
        for method in operations
    }
    assert routes - UNSCOPED - set(BODY_SCOPED) == set(ROUTES), "add new routes to the authorization matrix"


async def test_other_users_ids_answer_404_everywhere(stack: Stack, seeded) -> None:
    alice, bob = seeded(uid(), shots=3), seeded(uid(), shots=3)
    mine, theirs = ids_of(alice), ids_of(bob)
    c, h = stack.client, stack.auth(alice.owner)
    checked = 0
    for (method, path), body in ROUTES.items():
        # 1. their workspace (and their objects)
        url = fill(path, mine, theirs, theirs)
        r = await c.request(method, url, json=fill(body, mine, theirs, theirs) if body else None, headers=h)
        assert_404(r, f"{method} {url} (their workspace)")
        checked += 1
        # 2. my workspace, their object ids
        params = set(re.findall(r"\{([a-z_]+)\}", path)) - {"workspace_id"}
        if params and "workspace_id" in path:
            path_ids = {**theirs, "workspace_id": alice.workspace}
            url = fill(path, mine, theirs, path_ids)
            r = await c.request(
                method, url, json=fill(body, mine, theirs, path_ids) if body else None, headers=h
            )
            assert_404(r, f"{method} {url} (their object in my workspace)")
            checked += 1
    for (method, path), (body, query) in BODY_SCOPED.items():
        r = await c.request(
            method,
            path,
            json=fill(body, mine, theirs, theirs) if body is not None else None,
            params=fill(query, mine, theirs, theirs),
            headers=h,
        )
        assert_404(r, f"{method} {path} (their workspace in the body/query)")
        checked += 1
    # 3. their ids inside my requests' bodies and queries
    for method, path, body, query in BODY_REFERENCES:
        url = fill(path, mine, theirs, mine)
        r = await c.request(
            method,
            url,
            json=fill(body, mine, theirs, mine) if body is not None else None,
            params=fill(query, mine, theirs, mine),
            headers=h,
        )
        assert_404(r, f"{method} {url} (their id in my body)")
        checked += 1
    assert checked > 100
    # nothing of bob's changed, nothing of alice's either
    hb = stack.auth(bob.owner)
    board = (await c.get(f"/workspaces/{bob.workspace}/storyboard", headers=hb)).json()
    assert [s["id"] for s in board["shots"]] == bob.shots
    assert board["workspace"]["title"] == "seeded"
    assert board["shots"][0]["spec"]["visual"] != "pwned"
    assert [
        t["name"]
        for t in (
            await c.get(f"/workspaces/{bob.workspace}/work-items/{bob.shots[0]}/tracks", headers=hb)
        ).json()
    ] == ["A", "B"]
    assert len((await c.get(f"/workspaces/{bob.workspace}/favorites", headers=hb)).json()) == 1
    assert (await c.get(f"/workspaces/{alice.workspace}", headers=h)).status_code == 200
    assert len((await c.get(f"/workspaces/{alice.workspace}/characters", headers=h)).json()) == 1
