"""The API as its own process with several uvicorn workers (`up` with DIRECTORDECK_API_WORKERS > 1):
real processes on a real port, the session's PostgreSQL and Temporal dev server."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid
from pathlib import Path

import psutil
import pytest

from api.auth import mint_dev_token
from infra.settings import Settings
from infra.storage import FileSystemStorage
from launch.api_server import ApiProcess
from tests.api.conftest import seed_workspace
from tests.conftest import free_port

SECRET = "api-server-test-secret-0123456789-0123456789"


@pytest.fixture
def database_url(pg, pg_template_url: str):  # type: ignore[no-untyped-def]
    name = f"dd_api_server_{uuid.uuid4().hex[:8]}"
    pg.ensure_database(name, template="dd_template")
    yield pg.url(name)
    pg.drop_database(name)


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read()


def test_api_runs_as_several_worker_processes_sharing_the_ledger_and_one_metrics_view(
    tmp_path: Path, database_url: str, temporal_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    for name, value in {
        "DIRECTORDECK_DATA_DIR": str(tmp_path / "data"),
        "DIRECTORDECK_JWT_SECRET": SECRET,
        "DIRECTORDECK_API_PORT": str(port),
        "DIRECTORDECK_API_WORKERS": "2",
        "DIRECTORDECK_METRICS_TOKEN": "metrics-token-for-the-test",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.api_workers == 2
    seeded = seed_workspace(database_url, FileSystemStorage(tmp_path / "storage"), "ann", shots=6, title="w")
    token = mint_dev_token("ann", settings=settings)
    api = ApiProcess(settings, database_url, temporal_env.client.service_client.config.target_host)
    api.start()
    try:
        assert api.proc is not None
        workers = [p for p in psutil.Process(api.proc.pid).children() if "python" in p.name().lower()]
        assert len(workers) >= 2, "uvicorn should have started two worker processes"
        base = f"http://127.0.0.1:{port}"
        storyboard = f"{base}/workspaces/{seeded.workspace}/storyboard"
        for _ in range(20):  # a new connection each time: the kernel spreads them over the workers
            status, body = _get(storyboard, token)
            assert status == 200 and len(json.loads(body)["shots"]) == 6
        assert any(api.metrics_dir.iterdir()), "the workers write their counters to the shared directory"
        _, metrics = _get(f"{base}/metrics", "metrics-token-for-the-test")
        served = re.findall(
            rb'directordeck_http_requests_total\{[^}]*route="/workspaces/\{workspace_id\}/storyboard"'
            rb'[^}]*status="200"[^}]*\} ([0-9.]+)',
            metrics,
        )
        assert sum(float(v) for v in served) == 20.0, "one view of every worker's requests"
    finally:
        api.stop()
    assert api.exited() is not None
    assert not api.metrics_dir.exists()
