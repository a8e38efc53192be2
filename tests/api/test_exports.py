"""`POST /workspaces/{id}/exports` against the real stack: 202 with the task, a real Worker runs
the `export` workflow, the zip downloads through the asset content route and unzips to the
expected files; typed errors for bad bodies, nothing to export and other users' workspaces."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import uuid
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from temporalio.worker import Worker

from activities.export import MANIFEST, ExportActivities
from activities.pipeline import PipelineActivities
from activities.providers.choice import choose_providers
from api.main import create_app
from infra.ledger import unit_of_work
from infra.queues import Queues
from schema.enums import TaskType
from schema.repositories import tasks as task_repo
from tests.api.conftest import Stack, api_test_config, uid
from tests.support.seeders import Project, seed_project
from workflows.export import ExportWorkflow


@dataclass
class ExportApi:
    client: httpx.AsyncClient
    stack: Stack

    def seed(self, **kwargs: Any) -> tuple[Project, dict[str, str]]:
        """A seeded project of a new user, and that user's auth headers."""
        owner = uid()
        with unit_of_work(self.stack.db_url) as session:
            project = seed_project(session, self.stack.storage, owner=owner, **kwargs)
        return project, self.stack.auth(owner)


@pytest.fixture(scope="module")
async def api(stack: Stack) -> AsyncIterator[ExportApi]:
    """The app on the stack's database and storage, with its own task queues and a cpu Worker
    that registers the export workflow and activity directly (until workers/pools.py does)."""
    queues = Queues.prefixed(f"exp-{uuid.uuid4().hex[:8]}-")
    pipeline = PipelineActivities(
        stack.db_url, stack.storage, choose_providers(stack.settings), stack.data_dir / "work"
    )
    export = ExportActivities(pipeline)
    app = create_app(
        stack.settings,
        database_url=stack.db_url,
        temporal_client=stack.temporal,
        queues=queues,
        storage=stack.storage,
        config=api_test_config(),
        background=False,
    )
    async with contextlib.AsyncExitStack() as exits:
        await exits.enter_async_context(
            Worker(
                stack.temporal,
                task_queue=queues.cpu,
                workflows=[ExportWorkflow],
                activities=[export.export_package, pipeline.start_task, pipeline.record_task],
            )
        )
        await exits.enter_async_context(app.router.lifespan_context(app))
        client = await exits.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test", timeout=30)
        )
        yield ExportApi(client, stack)


async def wait_done(c: httpx.AsyncClient, url: str, headers: dict[str, str]) -> dict[str, Any]:
    for _ in range(300):
        r = await c.get(url, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        if body["task"]["status"] in ("succeeded", "failed", "canceled"):
            return body  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)
    raise AssertionError(f"export did not finish: {body}")


async def test_post_export_then_download_the_zip(api: ExportApi) -> None:
    p, h = api.seed(title="Fox")
    c = api.client
    base = f"/workspaces/{p.workspace}/exports"
    r = await c.post(base, json={"selection": "selected", "naming": "{shot}-{kind}"}, headers=h)
    assert r.status_code == 202, r.text
    body = r.json()
    task = body["task"]
    assert task["type"] == "export" and task["status"] in ("queued", "running", "succeeded")
    assert task["workflow_id"].startswith(f"export-{p.workspace}-")
    assert body["selection"] == "selected" and body["naming"] == "{shot}-{kind}"
    done = await wait_done(c, f"{base}/{task['id']}", h)
    assert done["task"]["status"] == "succeeded", done
    assert done["files"] == 5 and done["download_url"] == done["task"]["result_url"]
    assert done["download_url"].endswith(f"/assets/{done['asset_id']}/content")
    r = await c.get(done["download_url"], headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert r.headers["etag"] == f'"{hashlib.sha256(r.content).hexdigest()}"'
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    assert archive.namelist() == [
        "01-image.png",
        "01-video.mp4",
        "01-voice.wav",
        "02-video.mp4",
        "all-compose.mp4",
        MANIFEST,
    ]
    manifest = json.loads(archive.read(MANIFEST))
    for item in manifest["items"]:
        if "file" in item:
            assert hashlib.sha256(archive.read(item["file"])).hexdigest() == item["content_hash"]
    asset = (await c.get(f"/workspaces/{p.workspace}/assets/{done['asset_id']}", headers=h)).json()
    assert asset["kind"] == "archive" and asset["mime"] == "application/zip"
    listed = (await c.get(base, headers=h)).json()
    assert [e["task"]["id"] for e in listed] == [task["id"]]
    generic = (await c.get(f"/workspaces/{p.workspace}/tasks/{task['id']}", headers=h)).json()
    assert generic["status"] == "succeeded" and generic["result"]["asset_id"] == done["asset_id"]


async def test_favorites_export_and_idempotency_key(api: ExportApi) -> None:
    p, h = api.seed()
    c = api.client
    base = f"/workspaces/{p.workspace}/exports"
    key = {"Idempotency-Key": f"exp-{uuid.uuid4()}"}
    first = await c.post(base, json={"selection": "favorites"}, headers={**h, **key})
    again = await c.post(base, json={"selection": "favorites"}, headers={**h, **key})
    assert first.status_code == again.status_code == 202
    assert again.json()["task"]["id"] == first.json()["task"]["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    other = await c.post(base, json={"selection": "selected"}, headers={**h, **key})
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    done = await wait_done(c, f"{base}/{first.json()['task']['id']}", h)
    archive = zipfile.ZipFile(io.BytesIO((await c.get(done["download_url"], headers=h)).content))
    names = archive.namelist()
    assert len(names) == 3 and all(n.startswith("shot-01/") for n in names[:-1])
    # the on-the-fly download builds the same layout from the same code
    direct = await c.get(f"/workspaces/{p.workspace}/favorites/download", headers=h)
    assert zipfile.ZipFile(io.BytesIO(direct.content)).namelist() == names


async def test_bad_requests_answer_4xx_with_a_code(api: ExportApi) -> None:
    p, h = api.seed()
    c = api.client
    base = f"/workspaces/{p.workspace}/exports"
    r = await c.post(base, json={"selection": "everything"}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    assert r.json()["details"][0]["loc"] == ["body", "selection"]
    r = await c.post(base, json={"selection": "selected", "extra": 1}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    r = await c.post(base, json={"naming": "{title.__class__}"}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "naming_invalid"
    empty = (await c.post("/workspaces", json={"title": "empty"}, headers=h)).json()["workspace"]["id"]
    r = await c.post(f"/workspaces/{empty}/exports", json={"selection": "favorites"}, headers=h)
    # like nothing_to_compose: the request is valid, the workspace is not ready for it
    assert r.status_code == 409 and r.json()["code"] == "nothing_to_export"
    assert (await c.get(f"/workspaces/{empty}/exports", headers=h)).json() == []
    assert (await c.get(f"/workspaces/{empty}/tasks", headers=h)).json() == []  # nothing was queued


async def test_other_users_workspace_answers_404(api: ExportApi) -> None:
    (alice, ha), (bob, hb) = api.seed(), api.seed()
    c = api.client
    r = await c.post(f"/workspaces/{bob.workspace}/exports", json={"selection": "favorites"}, headers=ha)
    assert r.status_code == 404 and r.json()["code"] == "workspace_not_found"
    assert (await c.get(f"/workspaces/{bob.workspace}/exports", headers=ha)).status_code == 404
    mine = await c.post(f"/workspaces/{bob.workspace}/exports", json={"selection": "favorites"}, headers=hb)
    task_id = mine.json()["task"]["id"]
    await wait_done(c, f"/workspaces/{bob.workspace}/exports/{task_id}", hb)
    # bob's export through alice's workspace: 404 like any other scoped id
    r = await c.get(f"/workspaces/{alice.workspace}/exports/{task_id}", headers=ha)
    assert r.status_code == 404 and r.json()["code"] == "export_not_found"
    # a task that is not an export is not found here
    with unit_of_work(api.stack.db_url) as session:
        grid = task_repo.create(session, workspace_id=uuid.UUID(alice.workspace), type=TaskType.grid)
        grid_id = str(grid.id)
    r = await c.get(f"/workspaces/{alice.workspace}/exports/{grid_id}", headers=ha)
    assert r.status_code == 404 and r.json()["code"] == "export_not_found"
    r = await c.get(f"/workspaces/{alice.workspace}/exports/{uuid.uuid4()}", headers=ha)
    assert r.status_code == 404 and r.json()["code"] == "export_not_found"
    assert (await c.post(f"/workspaces/{bob.workspace}/exports", json={}, headers={})).status_code == 401
