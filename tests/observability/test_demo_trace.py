"""`directordeck demo` with the console exporter: the whole run is ONE trace — demo span → client
start → workflows → activities → provider calls — and every task and node row stores its id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from tests.support.ledger_rows import rows

REPO = Path(__file__).resolve().parents[2]


def test_demo_run_is_one_trace_and_rows_store_its_id(temporal_env, fresh_db_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIRECTORDECK_", "OTEL_", "LANGFUSE_"))}
    env.update(
        DATABASE_URL=fresh_db_url,
        TEMPORAL_ADDRESS=temporal_env.client.service_client.config.target_host,
        DIRECTORDECK_TASK_QUEUE_PREFIX=f"{uuid.uuid4()}-",
        DIRECTORDECK_DATA_DIR=str(tmp_path / "data"),
        DIRECTORDECK_OTEL_EXPORTER="console",
        PYTHONUNBUFFERED="1",
    )
    done = subprocess.run(
        [sys.executable, "-m", "launch.cli", "demo", "a fox steals the moon", "--shots", "3", "--json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    outcome = json.loads(done.stdout)  # stdout stays one JSON object: spans and logs go to stderr
    trace_id = outcome["trace_id"]
    assert len(trace_id) == 32
    objects = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    spans = [o for o in objects if "context" in o and "name" in o]
    logs = [o for o in objects if "msg" in o]

    assert {s["context"]["trace_id"] for s in spans} == {f"0x{trace_id}"}, "one trace for the whole run"
    names = [s["name"] for s in spans]
    for name, n in [
        ("demo", 1),
        ("StartWorkflow:project_pipeline", 1),
        ("RunWorkflow:project_pipeline", 1),
        ("RunWorkflow:shot", 3),
        ("RunActivity:render_grid", 3),
        ("images.render_grid", 3),
        ("voice.synthesize", 3),
        ("video.render", 3),
        ("compose.ffmpeg", 1),
        ("storyboard.generate", 1),
    ]:
        assert names.count(name) >= n, (name, sorted(set(names)))
    by_id = {s["context"]["span_id"]: s for s in spans}
    for span in spans:
        if span["attributes"].get("directordeck.kind"):  # a provider call: directly under its activity
            assert by_id[span["parent_id"]]["name"].startswith("RunActivity:"), span["name"]

    ws = outcome["workspace_id"]
    task_traces = {
        r.trace_id for r in rows(fresh_db_url, "select trace_id from task where workspace_id=:ws", ws=ws)
    }
    node_traces = {
        r.trace_id for r in rows(fresh_db_url, "select trace_id from node where workspace_id=:ws", ws=ws)
    }
    assert task_traces == {trace_id}
    assert node_traces == {trace_id}
    # log lines written inside the run's workflows and activities carry the same trace
    traced_logs = [line for line in logs if line.get("workflow_id")]
    assert all(line["trace_id"] in (None, trace_id) for line in traced_logs)
