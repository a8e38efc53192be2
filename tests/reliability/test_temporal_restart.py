"""Stop and restart the Temporal dev server (SQLite file) in the middle of a project pipeline: the
run finishes after the restart, with nothing lost and nothing doubled."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.service import RPCError

from infra.errors import StackError
from infra.temporal_client import data_converter
from infra.temporal_server import TemporalDevServer
from tests.conftest import free_port
from tests.reliability.conftest import Cluster, query, scalar, wait_for
from workflows.contracts import PipelineInput
from workflows.project_pipeline import ProjectPipelineWorkflow

pytestmark = pytest.mark.timeout(200)  # every wait inside is bounded too


async def result_across_outages(handle, timeout_s: float):  # type: ignore[no-untyped-def]
    """The workflow's result; calls that hit the server while it is down are retried."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await asyncio.wait_for(handle.result(), max(1.0, deadline - time.monotonic()))
        except RPCError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def start_server(tmp_path: Path, attempts: int = 3) -> TemporalDevServer:
    """A dev server of our own on a free port (another free port if a neighbour took that one)."""
    for attempt in range(attempts):
        server = TemporalDevServer(
            db_file=tmp_path / f"temporal-{attempt}.sqlite", port=free_port(), headless=True
        )
        try:
            await asyncio.to_thread(server.start)
        except StackError:
            continue
        if server.process is not None and server.process.poll() is None:
            return server
        await asyncio.to_thread(server.stop)
    raise AssertionError(f"no Temporal dev server would start:\n{server_log(server)}")


def server_log(server: TemporalDevServer) -> str:
    log = server.db_file.with_suffix(".log")
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"


async def test_pipeline_finishes_after_the_temporal_server_restarts(
    fresh_db_url: str, tmp_path: Path
) -> None:
    server = await start_server(tmp_path)
    try:
        client = await Client.connect(server.address, data_converter=data_converter())
        data_dir = tmp_path / "data"
        data_dir.mkdir()
        cluster = Cluster(client, fresh_db_url, data_dir, f"{uuid.uuid4()}-", server.address, tmp_path)
        db = cluster.db_url
        async with cluster.in_process(["cpu", "gpu-image", "gpu-video", "tts"]):
            ws = cluster.new_workspace()
            handle = await client.start_workflow(
                ProjectPipelineWorkflow.run,
                PipelineInput(
                    workspace_id=ws,
                    story="a fox steals the moon",
                    shot_count=3,
                    grid_size=4,
                    shot_concurrency=3,
                    queues=cluster.queues,
                ),
                id=f"pipeline-{ws}",
                task_queue=cluster.queues.cpu,
            )

            def shots_underway() -> bool:
                done = scalar(
                    db,
                    "select count(*) from task where workspace_id=:ws and type='grid' and status='succeeded'",
                    ws=ws,
                )
                return bool(done)

            await wait_for("the first grid to finish", shots_underway, 60, every_s=0.1)
            await asyncio.to_thread(server.stop)  # SIGTERM: the server goes away mid-run
            down_at = time.monotonic()
            assert (
                scalar(db, "select status from task where workflow_id=:wf", wf=f"pipeline-{ws}") == "running"
            )
            await asyncio.sleep(2.0)  # workers and client see it gone
            await asyncio.to_thread(server.start)  # same SQLite file, same port
            assert server.process is not None and server.process.poll() is None, server_log(server)
            result = await result_across_outages(handle, 150)
            print(f"pipeline finished {time.monotonic() - down_at:.1f}s after the server went down")
    except BaseException:
        print(server_log(server))  # shown by pytest when the test fails
        raise
    finally:
        await asyncio.to_thread(server.stop)

    assert result.status == "succeeded" and [s.status for s in result.shots] == ["succeeded"] * 3
    with contextlib.closing(sqlite3.connect(server.db_file)) as sqlite:  # the history survived in WAL mode
        assert sqlite.execute("pragma journal_mode").fetchone()[0] == "wal"
    counts = dict(query(db, "select type, count(*) from node where workspace_id=:ws group by type", ws=ws))
    assert counts == {"grid_group": 3, "image": 12, "audio_voice": 3, "video": 3, "compose": 1}
    statuses = dict(
        query(db, "select status, count(*) from task where workspace_id=:ws group by status", ws=ws)
    )
    assert statuses == {"succeeded": 12}
    assert cluster.orphan_files() == []
