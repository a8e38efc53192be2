"""The `export` workflow on a real Temporal dev server, a real Worker on a uuid task queue and a
real PostgreSQL database: the zip becomes an archive asset, the task row carries the result,
nothing to export fails once with its code, a retry lands on the same asset, a cancel stops
the build."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import time
import uuid
import zipfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.worker import Worker

from activities.contracts import ExportResult
from activities.export import MANIFEST, ExportActivities
from activities.pipeline import PipelineActivities
from activities.providers.choice import choose_providers
from infra.ledger import unit_of_work
from infra.queues import Queues
from infra.settings import Settings
from infra.storage import FileSystemStorage
from schema.enums import AssetKind, NodeType, WorkspaceType
from schema.errors import TransientProviderError
from schema.repositories import favorites as favorite_repo
from schema.repositories import nodes as node_repo
from schema.repositories import storyboard as storyboard_repo
from schema.repositories import workspaces as workspace_repo
from tests.support.ledger_rows import rows, save_history, scalar
from tests.support.seeders import Project, put, seed_project
from workflows.contracts import ExportWorkflowInput
from workflows.export import ExportWorkflow


class SlowStorage(FileSystemStorage):
    """Test double at the edge: storage whose reads take a while (a remote bucket)."""

    delay_s = 0.5

    def local_path(self, key: str) -> Path:
        time.sleep(self.delay_s)
        return super().local_path(key)


@dataclass
class ExportRig:
    client: object
    queues: Queues
    db_url: str
    storage: FileSystemStorage
    work_dir: Path

    def seed(self, **kwargs: object) -> Project:
        with unit_of_work(self.db_url) as session:
            return seed_project(session, self.storage, **kwargs)  # type: ignore[arg-type]

    async def export(
        self, ws: str, selection: str = "selected", naming: str | None = None
    ) -> tuple[str, object]:
        wf_id = f"export-{ws}-{uuid.uuid4()}"
        handle = await self.client.start_workflow(  # type: ignore[attr-defined]
            ExportWorkflow.run,
            ExportWorkflowInput(workspace_id=ws, selection=selection, naming=naming, queues=self.queues),
            id=wf_id,
            task_queue=self.queues.cpu,
        )
        return wf_id, handle


@pytest.fixture
def export_rig(
    temporal_env, fresh_db_url: str, task_queue: str, data_dir: Path
) -> Callable[..., contextlib.AbstractAsyncContextManager[ExportRig]]:
    @contextlib.asynccontextmanager
    async def factory(
        activities_cls: type[ExportActivities] = ExportActivities,
        storage_cls: type[FileSystemStorage] = FileSystemStorage,
    ) -> AsyncIterator[ExportRig]:
        settings = Settings(data_dir=data_dir)
        storage = storage_cls(data_dir / "storage")
        pipeline = PipelineActivities(fresh_db_url, storage, choose_providers(settings), data_dir / "work")
        export = activities_cls(pipeline)
        queues = Queues.prefixed(f"{task_queue}-")
        # the cpu pool's share of this: the workflow, its activity and the task-row mirroring
        async with Worker(
            temporal_env.client,
            task_queue=queues.cpu,
            workflows=[ExportWorkflow],
            activities=[export.export_package, pipeline.start_task, pipeline.record_task],
        ):
            yield ExportRig(temporal_env.client, queues, fresh_db_url, storage, data_dir / "work")

    return factory


def archive_assets(db_url: str, ws: str) -> list:
    return rows(
        db_url,
        "select id, storage_key, mime, size_bytes from asset where workspace_id=:ws and kind='archive'",
        ws=ws,
    )


async def test_export_stores_a_zip_asset_and_records_the_task(export_rig) -> None:
    async with export_rig() as rig:
        project = rig.seed(title="Fox")
        wf_id, handle = await rig.export(project.workspace, "selected", "{shot}-{kind}")
        result: ExportResult = await handle.result()
        await save_history(rig.client, wf_id, "export")
    assert result.files == 5 and result.missing == 1 and result.selection == "selected"
    [asset] = archive_assets(rig.db_url, project.workspace)
    assert str(asset.id) == result.asset_id and asset.mime == "application/zip"
    assert asset.size_bytes == result.size_bytes
    archive = zipfile.ZipFile(io.BytesIO(rig.storage.local_path(asset.storage_key).read_bytes()))
    assert archive.namelist() == [
        "01-image.png",
        "01-video.mp4",
        "01-voice.wav",
        "02-video.mp4",
        "all-compose.mp4",
        MANIFEST,
    ]
    manifest = json.loads(archive.read(MANIFEST))
    assert manifest["naming"] == "{shot}-{kind}" and manifest["files"] == 5
    [task] = rows(rig.db_url, "select * from task where workflow_id=:wf", wf=wf_id)
    assert task.status == "succeeded" and task.type == "export" and task.progress == 1.0
    assert task.result["asset_id"] == result.asset_id
    assert task.result["files"] == 5 and task.result["size_bytes"] == result.size_bytes
    assert task.retries == 0
    assert list(rig.work_dir.glob("export-*.zip")) == []  # the temp file is gone


async def test_nothing_to_export_fails_once_with_its_code(export_rig) -> None:
    async with export_rig() as rig:
        with unit_of_work(rig.db_url) as session:
            ws = workspace_repo.create(session, owner_id="t", type=WorkspaceType.narrative_project, title="e")
            storyboard_repo.replace_storyboard(
                session, ws.id, {"title": "t", "scenes": [{"title": "s", "shots": [{"visual": "v"}]}]}
            )
            ws_id = str(ws.id)
        wf_id, handle = await rig.export(ws_id, "favorites")
        with pytest.raises(WorkflowFailureError) as err:
            await handle.result()
    cause = err.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "nothing_to_export"
    [task] = rows(rig.db_url, "select status, error, retries from task where workflow_id=:wf", wf=wf_id)
    assert task.status == "failed" and task.error["code"] == "nothing_to_export"
    assert task.retries == 0  # non-retryable: one attempt
    assert archive_assets(rig.db_url, ws_id) == []


class CrashOnce(ExportActivities):
    """The worker 'dies' once while writing the ledger: before or after the commit."""

    mode = "after_commit"
    crashed = False

    def _write_export(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if CrashOnce.mode == "before_commit" and not CrashOnce.crashed:
            CrashOnce.crashed = True
            raise TransientProviderError("simulated crash before commit")
        result = super()._write_export(*args, **kwargs)
        if not CrashOnce.crashed:
            CrashOnce.crashed = True
            raise TransientProviderError("simulated crash after commit")
        return result


@pytest.mark.parametrize("mode", ["before_commit", "after_commit"])
async def test_a_retried_attempt_lands_on_the_same_asset(export_rig, mode: str) -> None:
    CrashOnce.mode, CrashOnce.crashed = mode, False
    async with export_rig(activities_cls=CrashOnce) as rig:
        project = rig.seed()
        wf_id, handle = await rig.export(project.workspace, "favorites")
        result: ExportResult = await handle.result()
    assert CrashOnce.crashed
    [asset] = archive_assets(rig.db_url, project.workspace)
    assert str(asset.id) == result.asset_id
    [task] = rows(rig.db_url, "select status, result, retries from task where workflow_id=:wf", wf=wf_id)
    assert task.status == "succeeded" and task.result["asset_id"] == result.asset_id
    # after the commit the task is final: the retry returns the committed result, unchanged
    assert task.retries == (1 if mode == "before_commit" else 0)
    archives = list((rig.storage.root / "archive").rglob("*.zip"))
    assert [p.name for p in archives] == [Path(asset.storage_key).name]  # no orphan from attempt 1


async def test_cancel_mid_export_ends_canceled(export_rig) -> None:
    async with export_rig(storage_cls=SlowStorage) as rig:
        project = rig.seed()
        with unit_of_work(rig.db_url) as session:  # 40 favorites: about 20 s of slow reads
            shot = uuid.UUID(project.shots[1])
            for n in range(40):
                asset = put(
                    session,
                    rig.storage,
                    uuid.UUID(project.workspace),
                    f"fav-{n}".encode() * 99,
                    AssetKind.image,
                )
                node = node_repo.create_node(
                    session, work_item_id=shot, type=NodeType.image, asset_id=asset.id
                )
                favorite_repo.add(session, shot, node_id=node.id, tags=[f"t{n}"])
        wf_id, handle = await rig.export(project.workspace, "favorites")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status = scalar(rig.db_url, "select status from task where workflow_id=:wf", wf=wf_id)
            if status == "running":
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)  # a few files in
        cancelled_at = time.monotonic()
        await handle.cancel()  # type: ignore[attr-defined]
        with pytest.raises(WorkflowFailureError) as err:
            await handle.result()
        stopped_after = time.monotonic() - cancelled_at
    assert isinstance(err.value.cause, CancelledError)
    assert stopped_after < 10.0  # the heartbeat timeout (the SDK throttles heartbeats to 8 s)
    assert scalar(rig.db_url, "select status from task where workflow_id=:wf", wf=wf_id) == "canceled"
    assert archive_assets(rig.db_url, project.workspace) == []
    assert list(rig.work_dir.glob("export-*.zip")) == []
