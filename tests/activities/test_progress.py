"""A running activity's progress reaches the ledger: the task row's `progress` and `task.progress`
events (what the studio's queue bars move with), on real PostgreSQL in Temporal's activity test
environment (real heartbeats, no worker)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from temporalio.testing import ActivityEnvironment

from activities.contracts import TaskRef
from activities.pipeline import PipelineActivities
from activities.providers.choice import choose_providers
from activities.runtime import REPORT_STEP, run_blocking
from infra.ledger import unit_of_work
from infra.settings import Settings
from infra.storage import FileSystemStorage
from schema.enums import TaskStatus, TaskType, WorkspaceType
from schema.repositories import events as event_repo
from schema.repositories import tasks as task_repo
from schema.repositories import workspaces as workspace_repo


def _pipeline(db_url: str, data_dir: Path) -> PipelineActivities:
    settings = Settings(data_dir=data_dir)
    return PipelineActivities(
        db_url, FileSystemStorage(data_dir / "storage"), choose_providers(settings), data_dir / "work"
    )


async def test_a_running_activity_reports_progress_to_its_task_row_and_events(
    fresh_db_url: str, data_dir: Path
) -> None:
    acts = _pipeline(fresh_db_url, data_dir)
    with unit_of_work(fresh_db_url) as s:
        ws = workspace_repo.create(s, owner_id="alice", type=WorkspaceType.narrative_project, title="p")
        ws_id = ws.id
    task = TaskRef(
        workspace_id=str(ws_id), workflow_id=f"compose-{uuid.uuid4().hex[:8]}", task_type="compose"
    )

    def work(progress, cancelled) -> str:  # type: ignore[no-untyped-def]
        # two steps, each outlasting a heartbeat (1 s), then a step too small to report
        for fraction in (0.2, 0.6, 0.6 + REPORT_STEP / 2):
            progress(fraction)
            time.sleep(1.3)
        return "made"

    async def activity_body() -> str:
        await acts._begin(task, {})
        return await run_blocking(work)

    assert await ActivityEnvironment().run(activity_body) == "made"

    with unit_of_work(fresh_db_url) as s:
        row = task_repo.get_by_workflow_id(s, task.workflow_id)
        assert row is not None
        reported = [e.data for e in event_repo.since(s, ws_id) if e.kind == "task.progress"]
        row_status, row_type, row_progress, row_id = row.status, row.type, row.progress, str(row.id)
    assert row_status == TaskStatus.running and row_type == TaskType.compose
    assert reported, "no task.progress event"
    values = [d["progress"] for d in reported]
    assert values == sorted(values) and values[-1] == 0.6  # moves forward only; 0.625 is < one step
    assert row_progress == 0.6
    assert all(d["task_id"] == row_id and d["type"] == "compose" for d in reported)


async def test_progress_of_a_task_that_ended_is_not_reported(fresh_db_url: str, data_dir: Path) -> None:
    acts = _pipeline(fresh_db_url, data_dir)
    with unit_of_work(fresh_db_url) as s:
        ws = workspace_repo.create(s, owner_id="alice", type=WorkspaceType.narrative_project, title="p")
        row = task_repo.create(s, workspace_id=ws.id, type=TaskType.video, workflow_id="video-ended")
        task_repo.mark_running(s, row.id)
        task_repo.mark_failed(s, row.id, "ffmpeg_failed", "boom")
        ws_id = ws.id
    acts._set_progress(TaskRef(str(ws_id), "video-ended", "video"), 0.5)
    with unit_of_work(fresh_db_url) as s:
        kinds = [e.kind for e in event_repo.since(s, ws_id)]
        ended = task_repo.get_by_workflow_id(s, "video-ended")
        assert ended is not None and ended.progress == 0.0
    assert "task.progress" not in kinds
