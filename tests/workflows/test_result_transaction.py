"""One transaction per result (issue 15): a retried activity whose output bytes differ from the
committed attempt's adds no asset row and leaves no file behind; a write that fails commits
nothing (no asset without its node, no node without its task update)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from activities.contracts import TaskRef, VoiceInput
from activities.pipeline import PipelineActivities
from activities.providers.choice import choose_providers
from infra.ledger import unit_of_work
from infra.settings import Settings
from infra.storage import FileSystemStorage
from schema.enums import NodeType, TaskStatus, TaskType, WorkspaceType
from schema.models import Asset, Event, Node, Task
from schema.repositories import storyboard as storyboard_repo
from schema.repositories import tasks as task_repo
from schema.repositories import workspaces as workspace_repo


def _voice_task(db_url: str) -> tuple[VoiceInput, str]:
    with unit_of_work(db_url) as s:
        ws = workspace_repo.create(s, owner_id="u", type=WorkspaceType.narrative_project, title="t")
        written = storyboard_repo.replace_storyboard(
            s,
            ws.id,
            {"title": "t", "scenes": [{"title": "a", "shots": [{"visual": "v", "narration": "hi"}]}]},
        )
        wf = f"voice-{uuid.uuid4()}"
        task = task_repo.create(s, workspace_id=ws.id, type=TaskType.voice, workflow_id=wf)
        task_repo.mark_running(s, task.id)
        shot = written[0]
        return VoiceInput(TaskRef(str(ws.id), wf, TaskType.voice.value, str(shot.id)), str(shot.id)), str(
            ws.id
        )


def _counts(db_url: str, workspace: str) -> tuple[int, int, int]:
    with unit_of_work(db_url) as s:
        ws = uuid.UUID(workspace)
        assets = s.scalar(select(func.count()).select_from(Asset).where(Asset.workspace_id == ws))
        nodes = s.scalar(
            select(func.count())
            .select_from(Node)
            .where(Node.workspace_id == ws, Node.type == NodeType.audio_voice)
        )
        events = s.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.workspace_id == ws, Event.kind == "task.succeeded")
        )
        return int(assets or 0), int(nodes or 0), int(events or 0)


async def test_a_retry_with_different_bytes_leaks_no_asset_and_no_file(
    fresh_db_url: str, tmp_path: Path
) -> None:
    storage = FileSystemStorage(tmp_path / "storage")
    acts = PipelineActivities(
        fresh_db_url, storage, choose_providers(Settings(data_dir=tmp_path)), tmp_path / "w"
    )
    inp, workspace = _voice_task(fresh_db_url)
    shot = acts._shot(inp.work_item_id)
    first = storage.put_bytes(b"RIFF first attempt", kind="audio", ext=".wav")
    done = await acts._write([first], acts._write_voice, inp, shot, "hi", "en", 1.0, first)
    assert _counts(fresh_db_url, workspace) == (1, 1, 1)
    # the activity is retried (its completion was lost) and the provider answers other bytes
    second = storage.put_bytes(b"RIFF second attempt, other bytes", kind="audio", ext=".wav")
    again = await acts._write([second], acts._write_voice, inp, shot, "hi", "en", 1.2, second)
    assert again.node_id == done.node_id
    assets, nodes, _ = _counts(fresh_db_url, workspace)
    assert (assets, nodes) == (1, 1)  # before: 2 assets, one of them in no node
    assert storage.exists(first.key) and not storage.exists(second.key)


async def test_a_failed_write_commits_nothing_and_keeps_no_file(fresh_db_url: str, tmp_path: Path) -> None:
    storage = FileSystemStorage(tmp_path / "storage")
    acts = PipelineActivities(
        fresh_db_url, storage, choose_providers(Settings(data_dir=tmp_path)), tmp_path / "w"
    )
    inp, workspace = _voice_task(fresh_db_url)
    shot = acts._shot(inp.work_item_id)
    with unit_of_work(fresh_db_url) as s:  # the task was settled meanwhile: the final update refuses
        task_repo.mark_canceled(s, inp.task.workflow_id)
    stored = storage.put_bytes(b"RIFF late", kind="audio", ext=".wav")
    with pytest.raises(Exception):  # noqa: B017 - whatever the ledger raises, nothing may stay
        await acts._write([stored], acts._write_voice, inp, shot, "hi", "en", 1.0, stored)
    assert _counts(fresh_db_url, workspace) == (0, 0, 0)
    assert not storage.exists(stored.key)
    with unit_of_work(fresh_db_url) as s:
        assert (
            s.scalar(select(Task.status).where(Task.workflow_id == inp.task.workflow_id))
            == TaskStatus.canceled
        )


async def test_below_the_disk_guard_nothing_is_rendered(fresh_db_url: str, tmp_path: Path) -> None:
    from schema.errors import DiskFullError

    storage = FileSystemStorage(tmp_path / "storage")
    settings = Settings(data_dir=tmp_path)
    acts = PipelineActivities(
        fresh_db_url, storage, choose_providers(settings), tmp_path / "w", min_free_disk_mb=10**9
    )
    rendered: list[Path] = []
    with pytest.raises(DiskFullError) as err:
        await acts._render_to_storage(
            ".wav", "audio", __import__("contextlib").nullcontext(), lambda p, *_: rendered.append(p)
        )
    assert err.value.code == "disk_full" and err.value.retryable and rendered == []
    assert list((tmp_path / "w").iterdir()) == []
