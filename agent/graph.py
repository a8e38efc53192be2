"""The agent graph (LangGraph ``StateGraph``), with per-node placement for temporalio-langgraph.

Rule: :func:`build_graph` returns a NEW graph each call — ``LangGraphPlugin`` rewires the nodes
of the graph it is given in place, so each plugin (each Worker) needs its own. Node metadata says
where each node runs: ``context``, ``plan`` and ``execute`` as activities (timeouts, retries,
a readable summary in the Temporal UI), ``validate``, ``approve`` and ``respond`` inside the
workflow. The same graph also compiles and runs in-process (tests, scripts).

    START → context → plan → validate ─┬─ errors, attempts left ──→ plan
                                       ├─ errors / no actions ────→ respond → END
                                       └─ actions ──→ execute ─┬─ proposal ─→ approve ─┬─ yes → execute
                                                               └─ done ────→ respond   └─ no ──→ respond
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from langgraph.graph import END, START, StateGraph
from temporalio.common import RetryPolicy

from agent import nodes
from agent.state import AgentState

GRAPH_NAME = "directordeck-agent"

LEDGER_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=5,
)
PLANNER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=20),
    maximum_attempts=3,
    non_retryable_error_types=["GeminiUnavailable"],
)


def _text_summary(prefix: str) -> Any:
    def summary(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        try:
            state = args[0]
            text = " ".join(str(state["request"]["text"]).split())
            return f"{prefix}: {text[:80]}"
        except Exception:  # must never raise: it runs in workflow context
            return prefix

    return summary


def _activity(timeout: timedelta, retry: RetryPolicy, summary: Any) -> dict[str, Any]:
    return {
        "execute_in": "activity",
        "start_to_close_timeout": timeout,
        "retry_policy": retry,
        "summary_fn": summary,
    }


def build_graph() -> StateGraph:
    g: StateGraph = StateGraph(AgentState)
    g.add_node(
        "context",
        nodes.load_context,
        metadata=_activity(timedelta(seconds=30), LEDGER_RETRY, _text_summary("context")),
    )
    g.add_node(
        "plan", nodes.plan, metadata=_activity(timedelta(seconds=120), PLANNER_RETRY, _text_summary("plan"))
    )
    g.add_node("validate", nodes.validate, metadata={"execute_in": "workflow"})
    g.add_node("approve", nodes.approve, metadata={"execute_in": "workflow"})
    g.add_node(
        "execute",
        nodes.execute,
        metadata=_activity(timedelta(seconds=60), LEDGER_RETRY, _text_summary("execute")),
    )
    g.add_node("respond", nodes.respond, metadata={"execute_in": "workflow"})
    g.add_edge(START, "context")
    g.add_edge("context", "plan")
    g.add_edge("plan", "validate")
    g.add_conditional_edges("validate", nodes.after_validate, ["plan", "execute", "respond"])
    g.add_conditional_edges("execute", nodes.after_execute, ["approve", "respond"])
    g.add_conditional_edges("approve", nodes.after_approve, ["execute", "respond"])
    g.add_edge("respond", END)
    return g


__all__ = ["GRAPH_NAME", "build_graph"]
