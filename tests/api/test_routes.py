"""Route tests against the real stack: every resource's happy path and its typed errors."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from typing import Any

from sqlalchemy import text

from api.schemas import Links, SceneOut, StoryboardOut, StoryboardShot, WorkspaceOut
from infra.ledger import unit_of_work
from schema.repositories import nodes as node_repo
from schema.repositories import storyboard as storyboard_repo
from schema.repositories import workspaces as workspace_repo
from tests.api.conftest import Stack, uid


async def test_workspace_crud(stack: Stack) -> None:
    c, user = stack.client, uid()
    h = stack.auth(user)
    r = await c.post(
        "/workspaces",
        json={"title": "Fox", "meta": {"aspect_ratio": "16:9", "language": "en"}, "rules": {"no": ["gore"]}},
        headers=h,
    )
    assert r.status_code == 201, r.text
    ws = r.json()["workspace"]
    assert ws["owner_id"] == user and ws["type"] == "narrative_project" and r.json()["storyboard"] is None
    r = await c.patch(
        f"/workspaces/{ws['id']}",
        json={"meta": {"language": "zh", "aspect_ratio": None}, "style": "ink wash", "title": "Fox 2"},
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert r.json()["meta"] == {"language": "zh"}
    assert r.json()["style"] == "ink wash" and r.json()["title"] == "Fox 2"
    assert r.json()["rules"] == {"no": ["gore"]}
    listed = (await c.get("/workspaces", headers=h)).json()
    assert [w["id"] for w in listed] == [ws["id"]]
    draft = await c.post("/workspaces", json={"title": "Board", "type": "draft_space"}, headers=h)
    assert draft.status_code == 201
    assert len((await c.get("/workspaces", headers=h)).json()) == 2
    assert (await c.delete(f"/workspaces/{ws['id']}", headers=h)).status_code == 204
    r = await c.get(f"/workspaces/{ws['id']}", headers=h)
    assert r.status_code == 404 and r.json()["code"] == "workspace_not_found"
    r = await c.post("/workspaces", json={"title": "x", "type": "draft_space", "story": "a fox"}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "story_needs_narrative_project"


async def test_characters_and_scenes(stack: Stack, seeded) -> None:
    s = seeded(uid())
    c, h = stack.client, stack.auth(s.owner)
    base = f"/workspaces/{s.workspace}"
    r = await c.post(f"{base}/characters", json={"name": "Moon", "profile": {"age": 3}}, headers=h)
    assert r.status_code == 201, r.text
    moon = r.json()["id"]
    r = await c.post(f"{base}/characters", json={"name": "Moon"}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "character_name_taken"
    r = await c.patch(f"{base}/characters/{moon}", json={"locks": {"face": "round"}}, headers=h)
    assert r.json()["locks"] == {"face": "round"} and r.json()["profile"] == {"age": 3}
    r = await c.post(f"{base}/characters/{moon}/references", json={"asset_id": s.assets[0]}, headers=h)
    assert r.status_code == 200 and r.json()["reference_asset_ids"] == [s.assets[0]]
    names = [x["name"] for x in (await c.get(f"{base}/characters", headers=h)).json()]
    assert names == ["Fox", "Moon"]
    assert (await c.delete(f"{base}/characters/{moon}", headers=h)).status_code == 204

    r = await c.post(f"{base}/scenes", json={"title": "prologue", "at_idx": 1}, headers=h)
    assert r.status_code == 201 and r.json()["idx"] == 1
    prologue = r.json()["id"]
    scenes = (await c.get(f"{base}/scenes", headers=h)).json()
    assert [x["idx"] for x in scenes] == [1, 2, 3] and scenes[0]["id"] == prologue
    r = await c.post(f"{base}/scenes/{prologue}/reorder", json={"to": 3}, headers=h)
    assert [x["id"] for x in r.json()][-1] == prologue
    r = await c.patch(
        f"{base}/scenes/{prologue}", json={"spec": {"mood": "calm"}, "goal": "set up"}, headers=h
    )
    assert r.json()["spec"] == {"mood": "calm"} and r.json()["goal"] == "set up"
    assert (await c.delete(f"{base}/scenes/{prologue}", headers=h)).status_code == 204
    assert len((await c.get(f"{base}/scenes", headers=h)).json()) == 2


async def test_work_items_order_split_merge(stack: Stack, seeded) -> None:
    s = seeded(uid(), shots=3)
    c, h = stack.client, stack.auth(s.owner)
    base = f"/workspaces/{s.workspace}"
    r = await c.post(
        f"{base}/work-items", json={"spec": {"visual": "new first"}, "duration_s": 4, "at_idx": 1}, headers=h
    )
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["idx"] == 1 and new["type"] == "shot"
    shots = (await c.get(f"{base}/work-items", params={"type": "shot"}, headers=h)).json()
    assert [x["id"] for x in shots] == [new["id"], *s.shots]
    # the seed contract: update a shot's prompt and narration (merge patch)
    r = await c.patch(
        f"{base}/work-items/{s.shots[0]}",
        json={"spec": {"visual": "a fox at night", "narration": "It was dark."}},
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert r.json()["spec"]["visual"] == "a fox at night" and r.json()["spec"]["narration"] == "It was dark."
    r = await c.patch(f"{base}/work-items/{s.shots[0]}", json={"duration_s": None}, headers=h)
    assert r.json()["duration_s"] is None
    r = await c.patch(f"{base}/work-items/{s.shots[0]}", json={"duration_s": 99}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "validation_error" and r.json()["details"]
    r = await c.post(f"{base}/work-items/{new['id']}/reorder", json={"to": 4}, headers=h)
    assert r.status_code == 200 and r.json()[-1]["id"] == new["id"]
    r = await c.post(f"{base}/work-items/{s.shots[1]}/split", json={"parts": 3}, headers=h)
    assert r.status_code == 200, r.text
    parts = r.json()
    assert [p["idx"] for p in parts] == [2, 3, 4] and parts[0]["id"] == s.shots[1]
    r = await c.post(f"{base}/work-items/merge", json={"work_item_ids": [p["id"] for p in parts]}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == s.shots[1] and r.json()["duration_s"] == 3.0
    r = await c.post(f"{base}/work-items/merge", json={"work_item_ids": [s.shots[0], s.shots[2]]}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "shots_not_consecutive"
    assert (await c.delete(f"{base}/work-items/{new['id']}", headers=h)).status_code == 204
    board = (await c.get(f"{base}/storyboard", headers=h)).json()
    assert [x["idx"] for x in board["shots"]] == [1, 2, 3]
    assert board["total_duration_s"] == 6.0
    assert board["shots"][0]["selected_asset_id"] == s.assets[0]


async def test_drafts(stack: Stack) -> None:
    c, user = stack.client, uid()
    h = stack.auth(user)
    ws = (await c.post("/workspaces", json={"title": "b", "type": "draft_space"}, headers=h)).json()[
        "workspace"
    ]
    base = f"/workspaces/{ws['id']}"
    r = await c.post(
        f"{base}/work-items", json={"type": "draft", "tags": ["cat"], "spec": {"visual": "x"}}, headers=h
    )
    assert r.status_code == 201 and r.json()["idx"] is None and r.json()["tags"] == ["cat"]
    r = await c.patch(f"{base}/work-items/{r.json()['id']}", json={"tags": ["dog", "dog"]}, headers=h)
    assert r.json()["tags"] == ["dog"]
    r = await c.post(f"{base}/work-items", json={"type": "shot"}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "shots_need_narrative_project"
    r = await c.post(f"{base}/scenes", json={"title": "x"}, headers=h)
    assert r.status_code == 409


async def test_tracks_nodes_lineage_references(stack: Stack, seeded) -> None:
    s = seeded(uid())
    c, h = stack.client, stack.auth(s.owner)
    base = f"/workspaces/{s.workspace}"
    shot = s.shots[0]
    tracks = (await c.get(f"{base}/work-items/{shot}/tracks", headers=h)).json()
    assert [(t["name"], t["is_main"]) for t in tracks] == [("A", True), ("B", False)]
    r = await c.post(
        f"{base}/work-items/{shot}/tracks", json={"from_node_id": s.cells[3], "name": "night"}, headers=h
    )
    assert r.status_code == 201 and r.json()["name"] == "night"
    night = r.json()["id"]
    r = await c.post(
        f"{base}/work-items/{shot}/tracks", json={"from_node_id": s.cells[3], "name": "night"}, headers=h
    )
    assert r.status_code == 409 and r.json()["code"] == "track_name_taken"
    r = await c.patch(f"{base}/tracks/{night}", json={"name": "C"}, headers=h)
    assert r.json()["name"] == "C"
    r = await c.delete(f"{base}/tracks/{night}", headers=h)
    assert r.status_code == 200 and r.json() == {"deleted_node_ids": [], "kept_node_ids": []}

    node = (await c.get(f"{base}/nodes/{s.cells[1]}", headers=h)).json()
    assert node["cell"] == 2 and node["asset"]["content_url"].endswith(f"/assets/{node['asset_id']}/content")
    children = (await c.get(f"{base}/nodes/{s.group}/children", headers=h)).json()
    assert [n["cell"] for n in children] == [1, 2, 3, 4]
    anc = (await c.get(f"{base}/nodes/{s.cells[1]}/lineage", headers=h)).json()
    assert [(e["depth"], e["node"]["id"]) for e in anc] == [(1, s.group)]
    desc = (
        await c.get(f"{base}/nodes/{s.group}/lineage", params={"direction": "descendants"}, headers=h)
    ).json()
    assert len(desc) == 4
    nodes = (await c.get(f"{base}/work-items/{shot}/nodes", params={"track_id": s.track}, headers=h)).json()
    assert len(nodes) == 5

    with unit_of_work(stack.db_url) as session:  # track B's iteration used A's cell 4 as a reference
        child = node_repo.create_node(
            session,
            type="image",
            work_item_id=uuid.UUID(shot),
            track_id=uuid.UUID(s.track_b),
            parent_id=uuid.UUID(s.cells[1]),
        )
        node_repo.add_reference(session, child.id, uuid.UUID(s.cells[3]), "style")
    out = (await c.get(f"{base}/nodes/{child.id}/references", headers=h)).json()
    assert [(e["role"], e["node"]["id"]) for e in out] == [("style", s.cells[3])]
    inc = (await c.get(f"{base}/nodes/{s.cells[3]}/references", params={"direction": "in"}, headers=h)).json()
    assert [e["node"]["id"] for e in inc] == [str(child.id)]

    r = await c.post(f"{base}/nodes/{s.cells[1]}/commit", headers=h)
    assert r.status_code == 200 and r.json()["selected_node_id"] == s.cells[1]
    r = await c.post(f"{base}/nodes/{s.group}/commit", headers=h)
    assert r.status_code == 200  # a grid group is a node of the shot too
    r = await c.post(f"{base}/nodes/{s.cells[1]}/favorite", json={"tags": ["pick"]}, headers=h)
    assert r.status_code == 201 and r.json()["tags"] == ["pick"]
    events = (await c.get(f"{base}/events/log", headers=h)).json()
    kinds = [e["kind"] for e in events]
    assert "track.forked" in kinds and "node.committed" in kinds and "favorite.added" in kinds
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)


async def test_asset_download_range_etag(stack: Stack, seeded) -> None:
    s = seeded(uid())
    c, h = stack.client, stack.auth(s.owner)
    base = f"/workspaces/{s.workspace}/assets"
    listed = (await c.get(base, headers=h)).json()
    assert {a["id"] for a in listed} == set(s.assets)
    meta = (await c.get(f"{base}/{s.assets[0]}", headers=h)).json()
    r = await c.get(f"{base}/{s.assets[0]}/content", headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.headers["etag"] == f'"{meta["content_hash"]}"' and r.headers["accept-ranges"] == "bytes"
    import hashlib

    assert hashlib.sha256(r.content).hexdigest() == meta["content_hash"]
    size = len(r.content)
    part = await c.get(f"{base}/{s.assets[0]}/content", headers={**h, "Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == r.content[:10]
    assert part.headers["content-range"] == f"bytes 0-9/{size}"
    tail = await c.get(f"{base}/{s.assets[0]}/content", headers={**h, "Range": "bytes=-5"})
    assert tail.status_code == 206 and tail.content == r.content[-5:]
    same = await c.get(f"{base}/{s.assets[0]}/content", headers={**h, "If-None-Match": r.headers["etag"]})
    assert same.status_code == 304 and same.content == b""
    bad = await c.get(f"{base}/{s.assets[0]}/content", headers={**h, "Range": f"bytes={size + 10}-"})
    assert bad.status_code == 416 and bad.json()["code"] == "range_not_satisfiable"
    assert bad.headers["content-range"] == f"bytes */{size}"
    r = await c.get(f"{base}/{s.assets[0]}/thumbnail", headers=h)
    assert r.status_code == 404 and r.json()["code"] == "thumbnail_not_found"


async def test_tasks_and_result_url(stack: Stack, seeded) -> None:
    s = seeded(uid())
    c, h = stack.client, stack.auth(s.owner)
    base = f"/workspaces/{s.workspace}/tasks"
    r = await c.get(f"{base}/{s.task}", headers=h)
    assert r.status_code == 200, r.text
    task = r.json()
    assert task["status"] == "succeeded" and task["progress"] == 1.0
    assert len(task["outputs"]) == 4 and task["result_url"] == task["outputs"][0]["url"]
    blob = await c.get(task["result_url"].replace("http://api.test", ""), headers=h)
    assert blob.status_code == 200
    assert [t["id"] for t in (await c.get(base, params={"status": "succeeded"}, headers=h)).json()] == [
        s.task
    ]
    assert (await c.get(base, params={"status": ["queued", "running"]}, headers=h)).json() == []
    assert (await c.get(base, params={"type": "video"}, headers=h)).json() == []
    assert (await c.get(f"{base}/counts", headers=h)).json() == {"counts": {"succeeded": 1}}
    r = await c.get(base, params={"status": "bogus"}, headers=h)
    assert r.status_code == 422 and r.json()["details"][0]["loc"] == ["query", "status", 0]


async def test_favorites_zip_per_shot(stack: Stack, seeded) -> None:
    s = seeded(uid(), shots=3)
    c, h = stack.client, stack.auth(s.owner)
    base = f"/workspaces/{s.workspace}"
    await c.post(f"{base}/nodes/{s.cells[0]}/favorite", json={"tags": ["a"]}, headers=h)
    favs = (await c.get(f"{base}/favorites", headers=h)).json()
    assert len(favs) == 2
    assert [
        f["id"] for f in (await c.get(f"{base}/favorites", params={"tag": "hero"}, headers=h)).json()
    ] == [s.favorite]
    r = await c.patch(f"{base}/favorites/{s.favorite}", json={"tags": ["final"]}, headers=h)
    assert r.json()["tags"] == ["final"]
    r = await c.get(f"{base}/favorites/download", headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    names = set(archive.namelist())
    assert "manifest.json" in names and len(names) == 3
    assert all(n.startswith("shot-01/") for n in names - {"manifest.json"})
    manifest = json.loads(archive.read("manifest.json"))
    assert {i["shot"] for i in manifest["items"]} == {1}
    assert (await c.delete(f"{base}/favorites/{s.favorite}", headers=h)).status_code == 204
    assert len((await c.get(f"{base}/favorites", headers=h)).json()) == 1


async def test_snapshots_diff_and_rollback(stack: Stack, seeded) -> None:
    s = seeded(uid(), shots=3)
    c, h = stack.client, stack.auth(s.owner)
    base = f"/workspaces/{s.workspace}"
    r = await c.post(f"{base}/snapshots", json={"note": "before neon"}, headers=h)
    assert r.status_code == 201
    snap = r.json()["id"]
    await c.patch(f"{base}/work-items/{s.shots[1]}", json={"spec": {"visual": "neon night"}}, headers=h)
    await c.post(f"{base}/nodes/{s.cells[2]}/commit", headers=h)
    await c.post(f"{base}/work-items/{s.shots[2]}/reorder", json={"to": 1}, headers=h)
    await c.patch(f"/workspaces/{s.workspace}", json={"style": "neon"}, headers=h)
    diff = (await c.get(f"{base}/snapshots/{snap}/diff", headers=h)).json()
    changed = {d["work_item_id"]: d for d in diff["changed"]}
    assert {ch["field"] for ch in changed[s.shots[1]]["changes"]} == {"spec"}
    assert {ch["field"] for ch in changed[s.shots[0]]["changes"]} == {"selected_node_id"}
    assert changed[s.shots[2]]["idx_before"] == 3 and changed[s.shots[2]]["idx_after"] == 1
    assert [w["field"] for w in diff["workspace_changes"]] == ["style"]
    assert diff["added"] == [] and diff["removed"] == [] and diff["against"] == "current"
    between = (await c.get(f"{base}/snapshots/{s.snapshot}/diff", params={"against": snap}, headers=h)).json()
    assert between["changed"] == []
    r = await c.post(f"{base}/snapshots/{snap}/rollback", headers=h)
    assert r.status_code == 200, r.text
    assert sorted(r.json()["restored_work_item_ids"]) == sorted(s.shots)
    safety = r.json()["safety_snapshot_id"]
    board = (await c.get(f"{base}/storyboard", headers=h)).json()
    assert [x["id"] for x in board["shots"]] == s.shots
    assert board["shots"][1]["spec"]["visual"] != "neon night"
    assert board["shots"][0]["selected_node_id"] == s.cells[0]
    assert board["workspace"]["style"] is None
    assert (await c.get(f"{base}/snapshots/{snap}/diff", headers=h)).json()["changed"] == []
    listed = [x["id"] for x in (await c.get(f"{base}/snapshots", headers=h)).json()]
    assert listed[:2] == [safety, snap]
    detail = (await c.get(f"{base}/snapshots/{safety}", headers=h)).json()
    assert len(detail["data"]["work_items"]) == 3


async def test_storyboard_etag_answers_304_until_the_storyboard_changes(stack: Stack) -> None:
    c, user = stack.client, uid()
    h = stack.auth(user)
    s = stack.seed_workspace(user, shots=3, title="etag")
    base = f"/workspaces/{s.workspace}"
    first = await c.get(f"{base}/storyboard", headers=h)
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    etag = first.headers["etag"]
    assert len(first.json()["shots"]) == 3
    same = await c.get(f"{base}/storyboard", headers={**h, "If-None-Match": etag})
    assert same.status_code == 304 and same.content == b"" and same.headers["etag"] == etag
    await c.patch(f"{base}/work-items/{s.shots[1]}", json={"spec": {"visual": "neon night"}}, headers=h)
    changed = await c.get(f"{base}/storyboard", headers={**h, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert changed.json()["shots"][1]["spec"]["visual"] == "neon night"
    other = stack.auth(uid())  # the ETag never opens another user's workspace
    assert (await c.get(f"{base}/storyboard", headers={**other, "If-None-Match": etag})).status_code == 404


async def test_storyboard_copy_is_served_only_while_the_workspace_revision_is_unchanged(stack: Stack) -> None:
    c, user = stack.client, uid()
    h = stack.auth(user)
    s = stack.seed_workspace(user, shots=3, title="cached")
    base = f"/workspaces/{s.workspace}"
    first = await c.get(f"{base}/storyboard", headers=h)
    documents = stack.app.state.services.documents
    kept = [k for k in documents.cached_keys() if k[1] == uuid.UUID(s.workspace)]
    assert len(kept) == 1  # this process kept the body it built
    again = await c.get(f"{base}/storyboard", headers=h)
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    # an edit through the API (a ledger event in the same transaction) is seen at once
    await c.patch(base, json={"title": "renamed"}, headers=h)
    renamed = await c.get(f"{base}/storyboard", headers=h)
    assert renamed.json()["workspace"]["title"] == "renamed"
    # writes that emitted no event still move the revision: a shot's updated_at ...
    with unit_of_work(stack.db_url) as db:
        db.execute(
            text("UPDATE work_item SET duration_s = 9.5, updated_at = now() WHERE id = :id"),
            {"id": s.shots[2]},
        )
    assert (await c.get(f"{base}/storyboard", headers=h)).json()["shots"][2]["duration_s"] == 9.5
    # ... and a scene that went away (its shots keep their place, with no scene)
    with unit_of_work(stack.db_url) as db:
        db.execute(text("DELETE FROM scene WHERE workspace_id = :ws AND idx = 2"), {"ws": s.workspace})
    assert len((await c.get(f"{base}/storyboard", headers=h)).json()["scenes"]) == 1
    # the copy never opens the workspace to another user
    assert (await c.get(f"{base}/storyboard", headers=stack.auth(uid()))).status_code == 404


async def test_storyboard_read_survives_its_pooled_connections_being_cut(stack: Stack) -> None:
    c, user = stack.client, uid()
    h = stack.auth(user)
    s = stack.seed_workspace(user, shots=2, title="cut")
    base = f"/workspaces/{s.workspace}"
    assert (await c.get(f"{base}/storyboard", headers=h)).status_code == 200  # a pooled connection now
    with unit_of_work(stack.db_url) as db:  # as a database restart would: every other session ends
        cut = db.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    assert cut >= 1
    again = await c.get(f"{base}/storyboard", headers=h)  # the dead connection is retried once
    assert again.status_code == 200, again.text
    assert len(again.json()["shots"]) == 2


def _storyboard_through_the_response_models(db_url: str, workspace_id: str, base: str) -> dict[str, Any]:
    """The storyboard as the ORM + pydantic path renders it: the oracle for the SQL-built body."""
    urls = Links(base)
    with unit_of_work(db_url) as s:
        ws = workspace_repo.get(s, uuid.UUID(workspace_id))
        assert ws is not None
        shots = []
        for item, _node, asset in node_repo.selected_versions(s, ws.id):
            shot = StoryboardShot.model_validate(item)
            if asset is not None:
                shot.selected_asset_id = asset.id
                shot.selected_url = urls.asset_content(ws.id, asset.id)
                if asset.thumbnail_key:
                    shot.thumbnail_url = urls.asset_thumbnail(ws.id, asset.id)
            shots.append(shot)
        out = StoryboardOut(
            workspace=WorkspaceOut.model_validate(ws),
            scenes=[SceneOut.model_validate(sc) for sc in storyboard_repo.list_scenes(s, ws.id)],
            shots=shots,
            total_duration_s=round(sum(x.duration_s or 0.0 for x in shots), 3),
        )
        return json.loads(out.model_dump_json())  # type: ignore[no-any-return]


async def test_storyboard_built_in_postgresql_equals_the_response_models_rendering(stack: Stack) -> None:
    c, user = stack.client, uid()
    h = stack.auth(user)
    s = stack.seed_workspace(user, shots=5, title='quote " backslash \\ 狐狸 <tag>')
    base = f"/workspaces/{s.workspace}"
    with unit_of_work(stack.db_url) as db:  # the edge cases of the JSON the database writes
        db.execute(
            text(
                "UPDATE work_item SET duration_s = 2.25, tags = '[\"a\", 1.5, null]',"
                ' spec = spec || \'{"narration": "line \\"one\\"\\n二", "n": 3.0}\','
                " created_at = date_trunc('second', created_at) WHERE id = :id"
            ),
            {"id": s.shots[1]},
        )
        db.execute(text("UPDATE asset SET thumbnail_key = 'thumb/x.jpg' WHERE id = :id"), {"id": s.assets[0]})
        db.execute(
            text('UPDATE workspace SET meta = \'{"language": "zh"}\', cost_limit = 7 WHERE id = :id'),
            {"id": s.workspace},
        )
    r = await c.get(f"{base}/storyboard", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    expected = _storyboard_through_the_response_models(stack.db_url, s.workspace, "http://api.test")
    assert body == expected  # same keys, same values, timestamps as the same strings
    assert list(body) == list(expected) and list(body["shots"][0]) == list(expected["shots"][0])
    assert all(isinstance(x["duration_s"], float) for x in body["shots"])
    first, second = body["shots"][0], body["shots"][1]
    assert first["selected_url"].endswith(f"/assets/{s.assets[0]}/content") and first["thumbnail_url"]
    assert second["selected_url"] is None and "." not in second["created_at"]
    assert body["total_duration_s"] == 14.25
    StoryboardOut.model_validate(body)  # and it is what the OpenAPI document promises
    admin = stack.auth(uid(), role="admin")  # admins read anyone's storyboard; others get 404
    assert (await c.get(f"{base}/storyboard", headers=admin)).json() == body
    missing = await c.get(f"{base}/storyboard", headers=stack.auth(uid()))
    assert missing.status_code == 404 and missing.json()["code"] == "workspace_not_found"
