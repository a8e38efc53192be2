"""What the web studio needs from the API, tested over HTTP on the real stack: browser sessions
(HttpOnly cookie + CSRF, dev sign-in, token_expired), the served bundle (budget, provenance, CSP,
caching), thumbnails, optimistic concurrency, shot stages and cut staleness, and the SSE event
schemas with task outputs."""

from __future__ import annotations

import hashlib
import io
import json
import time
import uuid
from pathlib import Path

import httpx
import jwt
import pytest
from PIL import Image

from activities.ledger import stored_asset
from activities.thumbnails import make_thumbnails
from api.browser_session import SESSION_AUDIENCE, SESSION_ISSUER
from api.event_schemas import EVENT_DATA
from api.main import create_app
from api.routers.studio import DIST
from infra.ledger import unit_of_work
from infra.settings import Settings
from schema.enums import AssetKind, NodeType, TaskType
from schema.repositories import events as event_repo
from schema.repositories import nodes as node_repo
from schema.repositories import stages as stage_repo
from schema.repositories import tasks as task_repo
from tests.api.conftest import Stack, png_bytes, uid
from tests.support.sse import of, parse_sse

REPO = Path(__file__).resolve().parents[2]


def browser(stack: Stack, app=None) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    """A client with its own cookie jar (the shared one must not pick up a session)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app or stack.app), base_url="http://api.test", timeout=30
    )


# --- browser sessions -------------------------------------------------------------------------


async def test_dev_sign_in_sets_an_httponly_strict_cookie_and_csrf_guards_writes(stack: Stack) -> None:
    user = uid()
    async with browser(stack) as web:
        r = await web.post("/auth/dev-session", json={"user": user})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["user_id"] == user and body["role"] == "user"
        cookies = r.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("dd_session="))
        csrf = next(c for c in cookies if c.startswith("dd_csrf="))
        assert "HttpOnly" in session and "SameSite=strict" in session and "Path=/" in session
        assert "HttpOnly" not in csrf and "SameSite=strict" in csrf
        assert body["csrf_token"] == web.cookies["dd_csrf"]

        me = await web.get("/me")  # reads work with the cookie alone (also <img>, <video>, EventSource)
        assert me.status_code == 200 and me.json()["user_id"] == user

        r = await web.post("/workspaces", json={"title": "no csrf"})
        assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
        r = await web.post("/workspaces", json={"title": "wrong"}, headers={"X-CSRF-Token": "nope"})
        assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
        r = await web.post("/workspaces", json={"title": "ok"}, headers={"X-CSRF-Token": body["csrf_token"]})
        assert r.status_code == 201, r.text
        ws = r.json()["workspace"]["id"]

        # the bearer header still wins (scripts are unchanged), and sees the same user's data
        listed = await stack.client.get("/workspaces", headers=stack.auth(user))
        assert ws in [w["id"] for w in listed.json()]

        r = await web.delete("/auth/session", headers={"X-CSRF-Token": body["csrf_token"]})
        assert r.status_code == 204
        assert (await web.get("/me")).json()["code"] == "unauthorized"


async def test_bearer_token_sign_in_and_session_tokens_are_not_bearer_tokens(stack: Stack) -> None:
    user = uid()
    async with browser(stack) as web:
        assert (await web.post("/auth/session")).json()["code"] == "unauthorized"
        r = await web.post("/auth/session", headers=stack.auth(user))
        assert r.status_code == 200 and r.json()["user_id"] == user
        token = web.cookies["dd_session"]
    r = await stack.client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401  # the cookie's audience is not a bearer audience


async def test_expired_session_is_token_expired(stack: Stack) -> None:
    now = int(time.time())
    claims = {
        "sub": "old",
        "aud": SESSION_AUDIENCE,
        "iss": SESSION_ISSUER,
        "exp": now - 3600,
        "csrf": "x",
    }
    token = jwt.encode(claims, stack.settings.effective_jwt_secret, algorithm="HS256")
    async with browser(stack) as web:
        web.cookies.set("dd_session", token, domain="api.test")
        r = await web.get("/me")
    assert r.status_code == 401 and r.json()["code"] == "token_expired"


async def test_dev_sign_in_does_not_exist_in_prod(stack: Stack) -> None:
    settings = Settings(env="prod", jwt_secret="a-production-secret-that-is-long-enough-0123")
    app = create_app(settings, database_url=stack.db_url, background=False)
    async with browser(stack, app) as web:
        r = await web.post("/auth/dev-session", json={"user": "mallory"})
        assert r.status_code == 404 and r.json()["code"] == "dev_sign_in_disabled"
        assert (await web.get("/studio/config")).json()["dev_sign_in"] is False


# --- the served bundle ------------------------------------------------------------------------


def test_committed_bundle_is_within_budget_and_built_from_the_committed_sources() -> None:
    """`make studio` writes build-info.json; this checks it without node: every file is served
    from the package, the gzip sizes are under the budget, and the sources hash the same."""
    info = json.loads((DIST / "build-info.json").read_text())
    import gzip

    js = css = 0
    for name, meta in info["files"].items():
        data = (DIST / name).read_bytes()
        assert len(data) == meta["bytes"], name
        size = len(gzip.compress(data, compresslevel=9))
        js += size if name.endswith(".js") else 0
        css += size if name.endswith(".css") else 0
    budget = info["budget"]
    assert js <= budget["js_gzip"] and css <= budget["css_gzip"], (js, css, budget)
    assert sum(m["gzip"] for m in info["files"].values()) <= budget["total_gzip"]

    studio = REPO / "studio"
    digest = hashlib.sha256()
    entries = ["index.html", "package.json", "package-lock.json", "tsconfig.json", "vite.config.ts"]
    entries += ["src", "public", "scripts"]
    for entry in entries:
        path = studio / entry
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        # node sorts each directory's names as strings; rglob + sort by the POSIX path does the same
        files.sort(key=lambda p: [part for part in p.relative_to(studio).parts])
        for file in files:
            rel = file.relative_to(studio).as_posix()
            text = file.read_text(encoding="utf-8").replace("\r\n", "\n")
            digest.update(f"{rel}\0{text}\0".encode())
    assert digest.hexdigest() == info["source_sha256"], "studio/ changed: run `make studio` and commit"


async def test_studio_is_served_at_root_with_a_strict_csp_and_immutable_assets(stack: Stack) -> None:
    r = await stack.client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-cache"
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "https:" not in csp
    html = r.text
    assert "http://" not in html and "https://" not in html  # no CDN, no web font
    assets = [a for a in html.split('"') if a.startswith("/studio/assets/")]
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for path in assets:
        r = await stack.client.get(path)
        assert r.status_code == 200, path
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert "fonts.googleapis" not in r.text and "cdn." not in r.text
    assert (await stack.client.get("/studio/../api/main.py")).status_code == 404
    assert (await stack.client.get("/studio/nope.js")).json()["code"] == "not_found"
    config = (await stack.client.get("/studio/config")).json()
    assert config["dev_sign_in"] is True and config["temporal_ui_url"].startswith("http")


# --- thumbnails -------------------------------------------------------------------------------


def _video(tmp: Path) -> Path:
    from activities.media.ffmpeg import run_ffmpeg

    out = tmp / "clip.mp4"
    run_ffmpeg(
        ["-f", "lavfi", "-i", "testsrc=size=640x360:rate=12:duration=2", "-pix_fmt", "yuv420p", str(out)],
        expected_duration_s=2.0,
        timeout_s=60,
    )
    return out


async def test_thumbnails_are_webp_256_and_512_served_with_caching(stack: Stack, tmp_path: Path) -> None:
    owner = uid()
    seeded = stack.seed_workspace(owner, shots=3)
    big = io.BytesIO()
    Image.new("RGB", (1280, 720), (200, 40, 90)).save(big, "PNG")
    image = stack.storage.put_bytes(big.getvalue(), kind="image", ext=".png")
    video = stack.storage.put_file(_video(tmp_path), kind="video", ext=".mp4")
    image_thumbs, _ = make_thumbnails(stack.storage, image)
    video_thumbs, _ = make_thumbnails(stack.storage, video, video=True, duration_s=2.0)
    assert set(image_thumbs) == set(video_thumbs) == {"256", "512"}
    with unit_of_work(stack.db_url) as s:
        img = stored_asset(s, seeded.workspace, image, AssetKind.image, "image/png", thumbnails=image_thumbs)
        clip = stored_asset(s, seeded.workspace, video, AssetKind.video, "video/mp4", thumbnails=video_thumbs)
        ids = (str(img.id), str(clip.id))
    h = stack.auth(owner)
    base = f"/workspaces/{seeded.workspace}/assets"
    for asset_id in ids:
        meta = (await stack.client.get(f"{base}/{asset_id}", headers=h)).json()
        assert meta["thumbnail_url"].endswith(f"/assets/{asset_id}/thumbnail")
        for size in (256, 512):
            r = await stack.client.get(f"{base}/{asset_id}/thumbnail?size={size}", headers=h)
            assert r.status_code == 200 and r.headers["content-type"] == "image/webp"
            assert r.headers["cache-control"] == "private, max-age=31536000, immutable"
            with Image.open(io.BytesIO(r.content)) as thumb:
                assert thumb.format == "WEBP" and max(thumb.size) == size
            again = await stack.client.get(
                f"{base}/{asset_id}/thumbnail?size={size}", headers={**h, "If-None-Match": r.headers["etag"]}
            )
            assert again.status_code == 304
    r = await stack.client.get(f"{base}/{ids[0]}/thumbnail?size=300", headers=h)
    assert r.status_code == 422 and r.json()["code"] == "thumbnail_size_invalid"
    # another user's asset is a 404 like everything else
    r = await stack.client.get(f"{base}/{ids[0]}/thumbnail", headers=stack.auth(uid()))
    assert r.status_code == 404


def test_a_file_that_cannot_be_decoded_gets_no_thumbnail_and_no_error(stack: Stack) -> None:
    broken = stack.storage.put_bytes(b"not an image at all", kind="image", ext=".png")
    assert make_thumbnails(stack.storage, broken) == ({}, [])


# --- optimistic concurrency -------------------------------------------------------------------


async def test_two_tabs_cannot_overwrite_each_other(stack: Stack) -> None:
    owner = uid()
    seeded = stack.seed_workspace(owner, shots=3)
    h = stack.auth(owner)
    url = f"/workspaces/{seeded.workspace}/work-items/{seeded.shots[1]}"
    first = await stack.client.get(url, headers=h)
    version = first.json()["version"]
    assert first.headers["etag"] == f'"{version}"'
    tab_a = await stack.client.patch(
        url, json={"spec": {"narration": "tab A"}}, headers={**h, "If-Match": f'"{version}"'}
    )
    assert tab_a.status_code == 200 and tab_a.json()["version"] != version
    assert tab_a.headers["etag"] == f'"{tab_a.json()["version"]}"'
    tab_b = await stack.client.patch(
        url, json={"spec": {"narration": "tab B"}}, headers={**h, "If-Match": f'"{version}"'}
    )
    assert tab_b.status_code == 412
    body = tab_b.json()
    assert (
        body["code"] == "version_mismatch" and body["details"]["current_version"] == tab_a.json()["version"]
    )
    assert (await stack.client.get(url, headers=h)).json()["spec"]["narration"] == "tab A"
    # without If-Match (scripts) the edit applies as before
    assert (await stack.client.patch(url, json={"duration_s": 5}, headers=h)).status_code == 200
    ws = f"/workspaces/{seeded.workspace}"
    r = await stack.client.patch(ws, json={"title": "x"}, headers={**h, "If-Match": '"1"'})
    assert r.status_code == 412 and r.json()["code"] == "version_mismatch"


async def test_batch_edit_is_one_shot_update_through_the_router_and_refuses_a_stale_form(
    stack: Stack,
) -> None:
    """The board's batch edit: the fields people edit in bulk, on the picked shots only, as one
    undoable `shot.update` (a snapshot first); a form older than a shot's version changes nothing."""
    owner = uid()
    seeded = stack.seed_workspace(owner, shots=3)
    h, ws = stack.auth(owner), f"/workspaces/{seeded.workspace}"
    board = (await stack.client.get(f"{ws}/storyboard", headers=h)).json()
    versions = {s["id"]: s["version"] for s in board["shots"][:2]}
    snaps = len((await stack.client.get(f"{ws}/snapshots", headers=h)).json())
    patch = {
        "visual": "a lantern-lit alley",
        "style_override": "ink wash",
        "time_of_day": "dusk",
        "weather": "rain",
        "camera": {"movement": "push in"},
        "duration_s": 6,
    }
    body = {"work_item_ids": list(versions), "patch": patch, "versions": versions}
    r = await stack.client.post(f"{ws}/work-items/batch", json=body, headers=h)
    assert r.status_code == 200, r.text
    result = r.json()["results"][0]
    assert result["type"] == "shot.update" and result["status"] == "done"
    assert [t["work_item_id"] for t in result["touched"]["shots"]] == list(versions)
    after = (await stack.client.get(f"{ws}/storyboard", headers=h)).json()["shots"]
    for shot in after[:2]:
        spec = shot["spec"]
        assert (spec["visual"], spec["style_override"], spec["time_of_day"], spec["weather"]) == (
            "a lantern-lit alley",
            "ink wash",
            "dusk",
            "rain",
        )
        assert spec["camera"]["movement"] == "dolly in" and shot["duration_s"] == 6
    assert after[2]["spec"] == board["shots"][2]["spec"]
    assert len((await stack.client.get(f"{ws}/snapshots", headers=h)).json()) == snaps + 1

    # the same form again, from the versions it loaded: refused, nothing written
    body["patch"] = {"weather": "snow"}
    r = await stack.client.post(f"{ws}/work-items/batch", json=body, headers=h)
    assert r.status_code == 412 and r.json()["code"] == "version_mismatch", r.text
    assert set(r.json()["details"]["current_versions"]) == set(versions)
    weather = [
        s["spec"].get("weather")
        for s in (await stack.client.get(f"{ws}/storyboard", headers=h)).json()["shots"]
    ]
    assert weather[:2] == ["rain", "rain"]
    # bad input: the API's message; another user's shots are not found
    r = await stack.client.post(
        f"{ws}/work-items/batch",
        json={"work_item_ids": list(versions), "patch": {"duration_s": 60}},
        headers=h,
    )
    assert r.status_code == 422 and r.json()["message"]
    r = await stack.client.post(
        f"{ws}/work-items/batch",
        json={"work_item_ids": list(versions), "patch": patch},
        headers=stack.auth(uid()),
    )
    assert r.status_code == 404


async def test_usage_prices_measured_gpu_time_in_the_estimates_unit(stack: Stack) -> None:
    owner = uid()
    seeded = stack.seed_workspace(owner, shots=3)
    ws = uuid.UUID(seeded.workspace)
    with unit_of_work(stack.db_url) as s:
        row = task_repo.create(s, workspace_id=ws, type=TaskType.video, workflow_id=f"video-{uid()}")
        task_repo.mark_running(s, row.id)
        task_repo.mark_succeeded(s, row.id, result={}, gpu_seconds=12.5)
    usage = (await stack.client.get(f"/workspaces/{ws}/tasks/usage", headers=stack.auth(owner))).json()
    video = next(u for u in usage["by_type"] if u["type"] == "video")
    rate = stack.settings.gpu_second_usd
    assert video["gpu_seconds"] == 12.5 and video["rate_cost"] == round(12.5 * rate, 4) > 0
    assert usage["rate_cost"] == round(sum(u["rate_cost"] for u in usage["by_type"]), 4)


@pytest.mark.parametrize("kind", ["scene", "character", "track"])
async def test_scene_character_and_track_edits_refuse_a_stale_version(stack: Stack, kind: str) -> None:
    """Two tabs editing the same scene, character or track: the second, from the old version,
    gets 412 `version_mismatch` and the first one's change stays."""
    owner = uid()
    seeded = stack.seed_workspace(owner, shots=3)
    h, ws = stack.auth(owner), f"/workspaces/{seeded.workspace}"
    if kind == "track":
        url, field = f"{ws}/tracks/{seeded.track_b}", ("name",)
        tab_a, tab_b = {"name": "Z"}, {"name": "Y"}
    elif kind == "scene":
        url, field = f"{ws}/scenes/{seeded.scenes[0]}", ("title",)
        tab_a, tab_b = {"title": "tab A"}, {"title": "tab B"}
    else:
        url, field = f"{ws}/characters/{seeded.character}", ("profile", "look")
        tab_a, tab_b = {"profile": {"look": "tab A"}}, {"profile": {"look": "tab B"}}

    async def current() -> dict:  # type: ignore[type-arg]
        if kind != "track":
            got = await stack.client.get(url, headers=h)
            assert got.headers["etag"] == f'"{got.json()["version"]}"'
            return got.json()  # type: ignore[no-any-return]
        tracks = (await stack.client.get(f"{ws}/work-items/{seeded.shots[0]}/tracks", headers=h)).json()
        return next(t for t in tracks if t["id"] == seeded.track_b)  # type: ignore[no-any-return]

    def pick(body: dict) -> str:  # type: ignore[type-arg]
        return body[field[0]] if len(field) == 1 else body[field[0]][field[1]]  # type: ignore[no-any-return]

    version = (await current())["version"]
    a = await stack.client.patch(url, json=tab_a, headers={**h, "If-Match": f'"{version}"'})
    assert a.status_code == 200, a.text
    assert a.json()["version"] != version and a.headers["etag"] == f'"{a.json()["version"]}"'
    b = await stack.client.patch(url, json=tab_b, headers={**h, "If-Match": f'"{version}"'})
    assert b.status_code == 412 and b.json()["code"] == "version_mismatch", b.text
    assert b.json()["details"]["current_version"] == a.json()["version"]
    assert pick(await current()) == pick(tab_a)  # tab A's change stays
    ok = await stack.client.patch(url, json=tab_b, headers={**h, "If-Match": f'"{a.json()["version"]}"'})
    assert ok.status_code == 200 and pick(ok.json()) == pick(tab_b)


# --- stages and staleness ---------------------------------------------------------------------


async def test_stale_clip_and_stale_cut_are_reported(stack: Stack) -> None:
    owner = uid()
    seeded = stack.seed_workspace(owner, shots=3)
    ws = uuid.UUID(seeded.workspace)
    shot1 = uuid.UUID(seeded.shots[0])
    with unit_of_work(stack.db_url) as s:
        clip_file = stack.storage.put_bytes(png_bytes(901), kind="video", ext=".mp4")
        asset = stored_asset(s, ws, clip_file, AssetKind.video, "video/mp4", duration_s=3.0)
        task = task_repo.create(
            s, workspace_id=ws, type=TaskType.video, work_item_id=shot1, workflow_id=f"v-{uid()}"
        )
        clip = node_repo.create_node(
            s,
            type=NodeType.video,
            work_item_id=shot1,
            parent_id=uuid.UUID(seeded.cells[0]),  # made from the selected cell
            payload={"source_node_id": seeded.cells[0]},
            asset_id=asset.id,
            task_id=task.id,
        )
        task_repo.mark_running(s, task.id)
        task_repo.mark_succeeded(s, task.id, result={"node_id": str(clip.id)})
        plan = [{"work_item_id": str(shot1), "video_node_id": str(clip.id), "voice_node_id": None}]
        missing = stage_repo.missing_from_compose(s, ws, plan)
        cut_file = stack.storage.put_bytes(png_bytes(902), kind="video", ext=".mp4")
        cut_asset = stored_asset(s, ws, cut_file, AssetKind.video, "video/mp4", duration_s=3.0)
        node_repo.create_node(
            s,
            type=NodeType.compose,
            work_item_id=None,
            workspace_id=ws,
            payload={"mode": "preview", "shots": plan, "missing_shots": missing},
            asset_id=cut_asset.id,
        )
    assert [m["idx"] for m in missing] == [2, 3]  # never dropped silently
    h = stack.auth(owner)
    stages = (await stack.client.get(f"/workspaces/{ws}/stages", headers=h)).json()
    first = stages["shots"][0]
    assert first["clip"]["status"] == "done" and first["clip"]["stale"] is False
    assert first["grid"]["status"] == "done" and first["grid"]["count"] == 4
    assert stages["shots"][1]["clip"]["status"] == "none"
    (cut,) = stages["cuts"]
    assert cut["stale"] is True and [m["idx"] for m in cut["missing_shots"]] == [2, 3]
    assert any("shot 2 was left out" in r for r in cut["reasons"])
    assert cut["content_url"].endswith(f"/assets/{cut_asset.id}/content")

    # another image is selected: the clip (and the cut made from it) are out of date
    r = await stack.client.post(f"/workspaces/{ws}/nodes/{seeded.cells[3]}/commit", headers=h)
    assert r.status_code == 200
    stages = (await stack.client.get(f"/workspaces/{ws}/stages", headers=h)).json()
    clip_stage = stages["shots"][0]["clip"]
    assert clip_stage["stale"] is True and "no longer selected" in clip_stage["reason"]
    assert any("shot 1 has no clip of its selected image" in r for r in stages["cuts"][0]["reasons"])
    assert (await stack.client.get(f"/workspaces/{ws}/stages", headers=stack.auth(uid()))).status_code == 404


# --- SSE schemas and task outputs -------------------------------------------------------------


def test_every_emitted_event_kind_has_a_schema() -> None:
    import re

    kinds: set[str] = set()
    for folder in ("api", "activities", "agent", "schema", "workflows"):
        for path in (REPO / folder).rglob("*.py"):
            text = path.read_text()
            kinds |= set(re.findall(r'emit\(\s*session,\s*[\w.]+,\s*"([a-z_]+\.[a-z_]+)"', text))
            kinds |= set(re.findall(r'append\(\s*\w+,\s*[\w.]+,\s*"([a-z_]+\.[a-z_]+)"', text))
    kinds |= {f"task.{s}" for s in ("queued", "running", "succeeded", "failed", "canceled")}
    assert kinds, "no event kinds found"
    assert kinds <= set(EVENT_DATA), sorted(kinds - set(EVENT_DATA))


async def test_openapi_lists_every_sse_event(stack: Stack) -> None:
    doc = (await stack.client.get("/openapi.json")).json()
    events = doc["paths"]["/workspaces/{workspace_id}/events"]["get"]["responses"]["200"]["content"]
    listed = events["text/event-stream"]["x-sse-events"]
    assert set(listed) == set(EVENT_DATA)
    for ref in listed.values():
        assert ref["$ref"].split("/")[-1] in doc["components"]["schemas"]
    chat = doc["paths"]["/conversations/{conversation_id}/messages"]["post"]["responses"]["200"]["content"]
    assert set(chat["text/event-stream"]["x-sse-events"]) >= {"proposal", "done", "error", "assistant_text"}
    assert "TaskOutputRef" in doc["components"]["schemas"]
    # an action result names what it touched (the studio's result links), in both contracts
    schemas = doc["components"]["schemas"]
    assert set(schemas["Touched"]["properties"]) == {"shots", "nodes", "tasks", "exports"}
    assert "touched" in schemas["ActionResultOut"]["properties"]
    assert "touched" in schemas["ChatActionResult"]["properties"]
    assert "progress" in schemas["TaskProgress"]["properties"]


async def test_task_events_carry_their_outputs(stack: Stack, live_url: str) -> None:
    owner = uid()
    seeded = stack.seed_workspace(owner, shots=3)
    ws = uuid.UUID(seeded.workspace)
    with unit_of_work(stack.db_url) as s:
        last = event_repo.latest_id(s, ws)
        event_repo.append(
            s, ws, "task.succeeded", {"task_id": seeded.task, "workflow_id": "grid-seed", "type": "grid"}
        )
    async with (
        httpx.AsyncClient(base_url=live_url, timeout=30) as http,
        http.stream("GET", f"/workspaces/{ws}/events?after={last}", headers=stack.auth(owner)) as stream,
    ):
        async for line in stream.aiter_lines():
            if line.startswith("data:"):
                event = json.loads(line[5:])
                break
    assert event["kind"] == "task.succeeded"
    data = event["data"]
    assert data["task_url"].endswith(f"/workspaces/{ws}/tasks/{seeded.task}")
    assert sorted(o["cell"] for o in data["outputs"]) == [1, 2, 3, 4]
    assert {o["node_id"] for o in data["outputs"]} == set(seeded.cells)
    assert all(o["url"].endswith("/content") for o in data["outputs"])


async def test_chat_results_carry_the_ids_they_touched_in_the_stream_and_the_history(stack: Stack) -> None:
    """What the studio's result links are made of: the `action_result` event's `touched`, and the
    same in the stored conversation (a reload rebuilds the links from it)."""
    owner = uid()
    seeded = stack.seed_workspace(owner, shots=3)
    h = stack.auth(owner)
    conv = (
        await stack.client.post(
            "/conversations", json={"workspace_id": seeded.workspace, "mode": "agent"}, headers=h
        )
    ).json()["id"]
    r = await stack.client.post(
        f"/conversations/{conv}/messages", json={"text": "Make shot 2 last 5 seconds"}, headers=h
    )
    assert r.status_code == 200, r.text
    [result] = of(parse_sse(r.text), "action_result")
    assert result["type"] == "shot.update" and result["status"] == "done"
    assert result["touched"]["shots"] == [{"work_item_id": seeded.shots[1], "idx": 2}]
    history = (await stack.client.get(f"/conversations/{conv}", headers=h)).json()
    reply = next(m for m in history["messages"] if m["role"] == "assistant")["data"]["reply"]
    assert reply["results"][0]["touched"] == result["touched"]


@pytest.mark.parametrize("bad", ["", "a b", "x" * 65])
async def test_dev_sign_in_rejects_bad_names_with_the_api_message(stack: Stack, bad: str) -> None:
    async with browser(stack) as web:
        r = await web.post("/auth/dev-session", json={"user": bad})
    assert r.status_code == 422 and r.json()["code"] in ("validation_error", "user_name_invalid")
