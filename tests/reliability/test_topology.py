"""A deployment's topology, proven with separate processes: two API replicas (uvicorn) that share
only PostgreSQL, one `directordeck worker --pool …` process per pool, every process with its own
empty data directory, storage on an S3-compatible server (moto's server mode, the S3 HTTP API on
a loopback port). A 3-shot project (the fewest a story may have) runs to a downloadable MP4 while
the image worker is killed mid-grid (a replacement boots, as a pod would); then an export; media
download through presigned URLs; idempotency and rate limits hold across the two replicas (they
live in PostgreSQL). Kept lean for CI: the processes boot at once, one pipeline, one export."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from api.auth import mint_dev_token
from infra.process import die_with_parent
from infra.search_attributes import start_options
from infra.settings import Settings
from tests.conftest import free_port
from tests.reliability.conftest import REPO, Cluster, WorkerProcess, query, scalar, wait_for
from workflows.contracts import PipelineInput
from workflows.project_pipeline import ProjectPipelineWorkflow

pytestmark = pytest.mark.timeout(480)  # every wait inside is bounded too

BUCKET = "directordeck-topology"
SECRET = "topology-test-secret-of-at-least-32-bytes"
POOLS = ("cpu", "gpu-image", "gpu-video", "tts")
RATE_BURST = 4
SHOTS = 3  # the fewest shots a story may have (schema/storyboard.py)


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    """moto's threaded server: the S3 HTTP API on a free loopback port, an empty bucket."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint, **_aws()).create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()


def _aws() -> dict[str, str]:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


class Topology:
    def __init__(self, cluster: Cluster, endpoint: str) -> None:
        self.cluster = cluster
        self.endpoint = endpoint
        self.procs: list[subprocess.Popen[bytes]] = []
        self.data_dirs: list[Path] = []

    def env(self, name: str) -> dict[str, str]:
        data = self.cluster.tmp / f"data-{name}"  # each process its own, empty
        data.mkdir()
        self.data_dirs.append(data)
        return self.cluster.env(
            DIRECTORDECK_DATA_DIR=str(data),
            DIRECTORDECK_ENV="prod",
            DIRECTORDECK_JWT_SECRET=SECRET,
            DIRECTORDECK_STORAGE_BACKEND="s3",
            DIRECTORDECK_S3_BUCKET=BUCKET,
            AWS_ENDPOINT_URL_S3=self.endpoint,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_REGION="us-east-1",
            DIRECTORDECK_API_RATE_PER_MINUTE="0.5",
            DIRECTORDECK_API_RATE_BURST=str(RATE_BURST),
            DIRECTORDECK_LOG_LEVEL="WARNING",
        )

    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        with open(self.cluster.tmp / f"{name}.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, *argv],
                cwd=REPO,
                env=self.env(name),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
            )
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        path = self.cluster.tmp / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def worker(self, pool: str, n: int = 0) -> WorkerProcess:
        """`directordeck worker --pool POOL`, started (await `.ready()`)."""
        name = f"worker-{pool}-{n}"
        proc = self.spawn(name, ["-m", "launch.cli", "worker", "--pool", pool])
        return WorkerProcess(pool, proc, self.cluster.tmp / f"{name}.log")

    async def api(self, n: int) -> str:
        port = free_port()
        name = f"api-{n}"
        proc = self.spawn(
            name,
            ["-m", "uvicorn", "--factory", "api.main:create_app", "--host", "127.0.0.1", "--port", str(port)],
        )
        url = f"http://127.0.0.1:{port}"

        async def healthy() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"API replica {n} exited:\n{self.log(name)}")
            with contextlib.suppress(httpx.HTTPError):
                async with httpx.AsyncClient(timeout=2) as c:
                    return (await c.get(f"{url}/openapi.json")).status_code == 200
            return False

        await wait_for(f"API replica {n}", healthy, 180, every_s=0.5)
        return url

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(Exception):
                proc.kill()
                proc.wait(timeout=10)


async def _task(c: httpx.AsyncClient, ws: str, task_id: str, h: dict[str, str]) -> dict:
    async def finished() -> dict | None:
        body = (await c.get(f"/workspaces/{ws}/tasks/{task_id}", headers=h)).json()
        return body if body["status"] in ("succeeded", "failed", "canceled") else None

    return await wait_for(f"task {task_id}", finished, 120, every_s=0.3)  # type: ignore[no-any-return]


async def _download(c: httpx.AsyncClient, url: str, h: dict[str, str]) -> tuple[bytes, str]:
    """GET an asset through the API: a 307 to a presigned S3 URL, followed without our token."""
    r = await c.get(url, headers=h)
    assert r.status_code == 307, r.text
    presigned = r.headers["location"]
    async with httpx.AsyncClient(timeout=60) as bare:
        got = await bare.get(presigned)
    assert got.status_code == 200, got.text
    return got.content, presigned


async def test_two_api_replicas_and_a_worker_per_pool_on_s3_run_a_project_through_a_worker_crash(
    cluster: Cluster, s3_endpoint: str
) -> None:
    topo = Topology(cluster, s3_endpoint)
    started = time.monotonic()
    marks: list[str] = []

    def mark(what: str) -> None:
        marks.append(f"{time.monotonic() - started:6.1f}s {what}")

    try:
        workers = {pool: topo.worker(pool) for pool in POOLS}  # every process boots at once
        *_, replica_a, replica_b = await asyncio.gather(
            *(w.ready(180) for w in workers.values()), topo.api(0), topo.api(1)
        )
        mark("processes up")
        settings = Settings(env="prod", jwt_secret=SECRET)
        user = f"user-{uuid.uuid4().hex[:8]}"
        h = {"Authorization": f"Bearer {mint_dev_token(user, settings=settings)}"}
        a = httpx.AsyncClient(base_url=replica_a, timeout=60)
        b = httpx.AsyncClient(base_url=replica_b, timeout=60)
        async with a, b:
            r = await a.post("/workspaces", json={"title": "Fox & Moon"}, headers=h)
            assert r.status_code == 201, r.text
            ws = r.json()["workspace"]["id"]
            assert (await b.get(f"/workspaces/{ws}", headers=h)).status_code == 200  # one ledger

            # the project, as `directordeck demo` starts it against a deployment
            handle = await cluster.client.start_workflow(
                ProjectPipelineWorkflow.run,
                PipelineInput(
                    workspace_id=ws,
                    story="a fox steals the moon",
                    shot_count=SHOTS,
                    shot_concurrency=SHOTS,
                    queues=cluster.queues,
                ),
                id=f"pipeline-{ws}",
                task_queue=cluster.queues.cpu,
                **start_options(True, ws, "pipeline", user_id=user, title="Fox & Moon"),
            )
            db = cluster.db_url
            running_grid = (
                "select count(*) from task where workspace_id=:ws and type='grid' and status='running'"
            )

            async def grid_running() -> bool:
                if (await handle.describe()).close_time is not None:  # ended early: say why
                    raise AssertionError(f"the pipeline ended before any grid ran: {await handle.result()}")
                return bool(scalar(db, running_grid, ws=ws))

            await wait_for("a grid to be running", grid_running, 120)
            mark("a grid running")
            replacement = topo.worker("gpu-image", 1)  # the replacement pod boots as the old one dies
            workers["gpu-image"].sigkill()  # a lost node: no goodbye to Temporal
            await replacement.ready(120)
            mark("replacement worker up")
            result = await asyncio.wait_for(handle.result(), 240)
            mark("pipeline done")
            assert result.status == "succeeded", result
            assert [s.status for s in result.shots] == ["succeeded"] * SHOTS

            grids = query(
                db, "select retries, status from task where workspace_id=:ws and type='grid'", ws=ws
            )
            assert [g.status for g in grids] == ["succeeded"] * SHOTS
            assert any(g.retries >= 1 for g in grids)  # the killed attempt was retried elsewhere

            # the MP4: through replica B, a presigned URL on the S3 server
            [compose] = (await b.get(f"/workspaces/{ws}/tasks", params={"type": "compose"}, headers=h)).json()
            mp4, presigned = await _download(b, compose["result_url"], h)
            assert presigned.startswith(s3_endpoint) and "Signature" in presigned
            assert b"ftyp" in mp4[:16]
            keys = {
                r.storage_key: r.content_hash
                for r in query(db, "select storage_key, content_hash from asset")
            }
            assert hashlib.sha256(mp4).hexdigest() in keys.values()

            # an export: posted to A, replayed on B with the same Idempotency-Key
            key = {"Idempotency-Key": f"topology-{uuid.uuid4()}"}
            body = {"formats": ["media", "otio", "srt"]}
            first = await a.post(f"/workspaces/{ws}/exports", json=body, headers={**h, **key})
            again = await b.post(f"/workspaces/{ws}/exports", json=body, headers={**h, **key})
            assert first.status_code == again.status_code == 202, (first.text, again.text)
            assert again.json()["task"]["id"] == first.json()["task"]["id"]
            assert again.headers.get("idempotent-replayed") == "true"
            done = await _task(b, ws, first.json()["task"]["id"], h)
            assert done["status"] == "succeeded", done
            export = (await a.get(f"/workspaces/{ws}/exports/{done['id']}", headers=h)).json()
            package, _ = await _download(a, export["download_url"], h)
            names = zipfile.ZipFile(io.BytesIO(package)).namelist()
            mark("export downloaded")
            assert "timeline.otio" in names and "subtitles.srt" in names and "compose.mp4" in names

            # one rate budget for both replicas (burst RATE_BURST, refilled at 0.5/min)
            answers = []
            for n in range(2 * RATE_BURST):
                replica, name = (a, "a") if n % 2 else (b, "b")
                r = await replica.post(f"/workspaces/{ws}/exports", json={"formats": ["srt"]}, headers=h)
                answers.append((name, r.status_code))
            accepted = [x for x in answers if x[1] == 202]
            assert len(accepted) < RATE_BURST  # the first export already spent a token
            assert {name for name, code in answers if code == 429} == {"a", "b"}

        # storage lived on the S3 server only: no process kept media in a data directory of its own
        s3 = boto3.client("s3", endpoint_url=s3_endpoint, **_aws())
        stored = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
        assert set(keys) <= stored
        for data in topo.data_dirs:
            assert not (data / "storage").exists(), data
    finally:
        topo.stop()
        print("\n".join(marks))
        if os.environ.get("DD_TOPOLOGY_LOGS"):
            for log in sorted(cluster.tmp.glob("*.log")):
                print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
