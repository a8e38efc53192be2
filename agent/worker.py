"""How a worker runs the agent: its workflows, its activities and the LangGraph plugin.

Rule: the agent runs on the ``cpu`` pool (where every workflow runs). Register all three parts
on that pool's Worker — the graph's nodes become activities only through the plugin::

    deps = AgentDeps(database_url, client, queues, settings)
    Worker(client, task_queue=queues.cpu,
           workflows=[*WORKFLOWS, *AGENT_WORKFLOWS],
           activities=[*pipeline_activities, *agent_activities(deps)],
           plugins=[agent_plugin(deps)])

Both functions register `deps` for the worker's task queue (``deps.queues.cpu``), which is how the
module-level node functions find the ledger, the Temporal client and the planner.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.langgraph import LangGraphPlugin

from agent.activities import AgentDeps, ConversationActivities, register_deps
from agent.conversation import ConversationWorkflow
from agent.graph import GRAPH_NAME, build_graph
from agent.registry import check_registry

AGENT_WORKFLOWS: list[type] = [ConversationWorkflow]


def agent_activities(deps: AgentDeps) -> list[Any]:
    """The agent's plain activities (the message ledger); the graph's come with the plugin."""
    check_registry()  # every verb the planner may emit has an executor
    register_deps(deps)
    return [ConversationActivities(deps).record_turn]


def agent_plugin(deps: AgentDeps) -> LangGraphPlugin:
    """A LangGraphPlugin serving a fresh agent graph (context/plan/execute as activities)."""
    register_deps(deps)
    return LangGraphPlugin(
        graphs={GRAPH_NAME: build_graph()},
        default_activity_options={"start_to_close_timeout": timedelta(seconds=60)},
    )


def agent_worker_options(deps: AgentDeps) -> dict[str, Any]:
    """Keyword arguments to merge into the cpu pool's Worker: workflows, activities, plugins."""
    return {
        "workflows": list(AGENT_WORKFLOWS),
        "activities": agent_activities(deps),
        "plugins": [agent_plugin(deps)],
    }


__all__ = ["AGENT_WORKFLOWS", "AgentDeps", "agent_activities", "agent_plugin", "agent_worker_options"]
