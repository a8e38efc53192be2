"""Fill a real small disk: the data directory is a 64 MiB tmpfs (needs root to mount; skipped
elsewhere), with real PostgreSQL, real Temporal and real workers.

Below the disk guard's threshold new generation is refused with `disk_full` (the API's 507, the
activity's retryable error), and `doctor` and `/ready` say so; with the guard off and the disk
really full, the write fails with its own code `no_space`; nothing stored is corrupted and no temp
file stays; once space is freed the waiting work finishes and the API accepts work again. Before
issue 15 a full disk surfaced as "FFmpeg exited with status 228" (or a bare OSError) and grids
were rendered whatever the free space.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import time
from pathlib import Path

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle

from api.auth import mint_dev_token
from api.main import create_app
from infra.settings import Settings
from launch.doctor import _disk
from tests.support.ledger_rows import rows, scalar
from tests.support.seeders import _storyboard
from tests.support.tmpfs import mounted_tmpfs
from workflows.contracts import GridWorkflowInput
from workflows.grid import GridWorkflow

MiB = 1024 * 1024
GUARD_MB = 16


@pytest.fixture
def data_dir(tmp_path: Path):  # type: ignore[no-untyped-def]
    """The rig's data directory on a real 64 MiB filesystem."""
    with mounted_tmpfs(tmp_path / "data", "64m") as mount:
        yield mount


def _fill(path: Path, leave_bytes: int) -> None:
    """Append to `path` until at most `leave_bytes` are free (0: until the disk refuses)."""
    chunk = os.urandom(MiB)
    with open(path, "ab", buffering=0) as fh:  # unbuffered: a refused write is not retried at close
        while (free := shutil.disk_usage(path.parent).free) > leave_bytes:
            try:
                fh.write(chunk[: max(4096, min(MiB, free - leave_bytes))])
            except OSError:
                return  # the disk is full


async def _last_failure(handle: WorkflowHandle, code: str, timeout_s: float = 40.0) -> int:
    """Wait until the workflow's pending activity last failed with `code`; its attempt number."""
    deadline = time.monotonic() + timeout_s
    seen = None
    while time.monotonic() < deadline:
        desc = await handle.describe()
        for pending in desc.raw_description.pending_activities:
            seen = pending.last_failure.application_failure_info.type
            if seen == code:
                return int(pending.attempt)
        await asyncio.sleep(0.3)
    raise AssertionError(f"no pending activity failed with {code!r} (last: {seen!r})")


def _intact(db_url: str, storage: Path, ws: str) -> None:
    """Every asset row's file is there with the bytes its hash names; no temp file stays."""
    assets = rows(db_url, "select storage_key, content_hash from asset where workspace_id=:ws", ws=ws)
    assert assets
    for key, sha in assets:
        assert hashlib.sha256((storage / key).read_bytes()).hexdigest() == sha, key
    assert not [p for p in storage.rglob("*") if p.name.startswith(".tmp-") or ".partial." in p.name]


async def test_a_filled_small_disk_refuses_with_disk_full_then_no_space_and_recovers(
    make_rig, data_dir: Path
) -> None:
    settings = Settings(data_dir=data_dir, min_free_disk_mb=GUARD_MB)
    ballast = data_dir / "ballast.bin"
    async with make_rig() as rig:
        rig.acts.min_free_disk_mb = GUARD_MB
        ws, shots = await _storyboard(rig, shots=3)  # the fewest a story may have
        await rig.client.execute_workflow(
            GridWorkflow.run,
            GridWorkflowInput(
                workspace_id=ws, work_item_id=shots[0], size=4, select_cell=1, queues=rig.queues
            ),
            id=rig.wf_id(f"grid-{shots[0]}"),
            task_queue=rig.queues.cpu,
        )
        storage = data_dir / "storage"
        _intact(rig.db_url, storage, ws)
        app = create_app(
            settings,
            database_url=rig.db_url,
            temporal_client=rig.client,
            queues=rig.queues,
            storage=rig.acts.storage,
            background=False,
        )
        auth = {"Authorization": f"Bearer {mint_dev_token('tester', settings=settings)}"}
        grid_url = f"/workspaces/{ws}/generate/grid"
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as api:
            # 1. below the guard: disk_full everywhere, liveness untouched
            _fill(ballast, leave_bytes=(GUARD_MB // 2) * MiB)
            check = _disk(settings)
            assert check.status == "FAIL" and check.detail.startswith("disk_full:"), check
            ready = await api.get("/ready")
            assert ready.status_code == 503, ready.text
            checks = ready.json()["checks"]
            assert (
                checks["disk"]["code"] == "disk_full"
                and checks["database"]["ok"]
                and checks["temporal"]["ok"]
            )
            assert (await api.get("/health")).status_code == 200
            tasks_before = scalar(rig.db_url, "select count(*) from task where workspace_id=:ws", ws=ws)
            refused = await api.post(grid_url, json={"shots": [2], "size": 4}, headers=auth)
            assert refused.status_code == 507 and refused.json()["code"] == "disk_full", refused.text
            assert (
                scalar(rig.db_url, "select count(*) from task where workspace_id=:ws", ws=ws) == tasks_before
            )
            # a grid already under way when the disk filled waits (retryable), renders nothing
            waiting = await rig.client.start_workflow(
                GridWorkflow.run,
                GridWorkflowInput(
                    workspace_id=ws, work_item_id=shots[1], size=4, select_cell=1, queues=rig.queues
                ),
                id=rig.wf_id(f"grid-{shots[1]}"),
                task_queue=rig.queues.cpu,
            )
            await _last_failure(waiting, "disk_full")

            # 2. no guard, and the disk really full: the write fails with its own code
            rig.acts.min_free_disk_mb = 0
            _fill(ballast, leave_bytes=0)
            await _last_failure(waiting, "no_space")
            assert (await waiting.describe()).status == WorkflowExecutionStatus.RUNNING
            _intact(rig.db_url, storage, ws)  # nothing stored was corrupted, no temp file stays

            # 3. space freed: the waiting grid finishes, readiness and new work come back
            ballast.unlink()
            rig.acts.min_free_disk_mb = GUARD_MB
            result = await asyncio.wait_for(waiting.result(), timeout=90)
            assert len(result.image_node_ids) == 4
            assert _disk(settings).status == "ok"
            assert (await api.get("/ready")).status_code == 200
            accepted = await api.post(grid_url, json={"shots": [2], "size": 4}, headers=auth)
            assert accepted.status_code == 202, accepted.text
            deadline = time.monotonic() + 90
            while scalar(
                rig.db_url,
                "select count(*) from task where workspace_id=:ws and status in ('queued', 'running')"
                " and type <> 'agent_turn'",
                ws=ws,
            ):
                assert time.monotonic() < deadline, "the accepted grid never finished"
                await asyncio.sleep(0.3)
    statuses = dict(
        rows(
            rig.db_url,
            "select status, count(*) from task where workspace_id=:ws and type <> 'agent_turn' group by 1",
            ws=ws,
        )
    )
    assert set(statuses) == {"succeeded"}, statuses
    _intact(rig.db_url, storage, ws)
    assert [p for p in (data_dir / "work").glob("*") if p.is_file()] == []  # no temp render stays
