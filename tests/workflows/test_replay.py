"""Replay guard: every workflow type replays its committed history without non-determinism.

Histories are recorded from a real run with `DD_RECORD_HISTORIES=1 pytest tests/workflows/test_pipeline.py`
and committed under tests/workflows/histories/. A change to workflow code that would break running
workflows fails here; use `workflow.patched` for such changes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from infra.temporal_client import data_converter
from workers.pools import WORKFLOWS

HISTORY_DIR = Path(__file__).parent / "histories"
EXPECTED = [
    "project_pipeline",
    "shot",
    "storyboard",
    "grid",
    "voice",
    "shot_video",
    "compose",
    "compose_music",  # compose that makes its own background music in a child workflow
    "music",
    "export",
]


def test_every_workflow_type_has_a_committed_history() -> None:
    recorded = {p.stem for p in HISTORY_DIR.glob("*.json")}
    assert set(EXPECTED) <= recorded, f"missing histories: {set(EXPECTED) - recorded}"
    registered = {getattr(w, "__temporal_workflow_definition").name for w in WORKFLOWS}
    assert registered <= set(EXPECTED), f"workflows without a guarded history: {registered - set(EXPECTED)}"


@pytest.mark.parametrize("name", EXPECTED)
async def test_replay(name: str) -> None:
    path = HISTORY_DIR / f"{name}.json"
    history = WorkflowHistory.from_json(f"replay-{name}", path.read_text())
    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=data_converter())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
