"""Replay guard for the conversation workflow (LangGraph running inside it, via the plugin).

The history is recorded from a real run with
`DD_RECORD_HISTORIES=1 pytest tests/agent/test_conversation.py -k propose` and committed
under tests/agent/histories/. A change to the workflow, the graph's shape or the
workflow-side nodes that would break running conversations fails here.
"""

from __future__ import annotations

from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from agent.activities import AgentDeps, unregister_deps
from agent.worker import AGENT_WORKFLOWS, agent_plugin
from infra.queues import Queues
from infra.settings import Settings
from infra.temporal_client import data_converter

HISTORY = Path(__file__).parent / "histories" / "conversation.json"


async def test_the_recorded_conversation_replays() -> None:
    history = WorkflowHistory.from_json("replay-conversation", HISTORY.read_text())
    queues = Queues.prefixed("replay-")
    deps = AgentDeps("postgresql://replay.invalid/none", None, queues, Settings())  # type: ignore[arg-type]
    try:
        replayer = Replayer(
            workflows=AGENT_WORKFLOWS, plugins=[agent_plugin(deps)], data_converter=data_converter()
        )
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    finally:
        unregister_deps(queues.cpu)
    assert result.replay_failure is None
