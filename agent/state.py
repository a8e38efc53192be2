"""The agent graph's state: one turn's worth of JSON, reset at the start of every turn.

Rules: every value is plain JSON (it crosses activity boundaries and lives in the workflow's
in-memory checkpoint); the chat history is NOT here — messages live in the ledger, and each turn
re-reads the workspace through the context builder, so the state never grows with the
conversation.
"""

from __future__ import annotations

from typing import Any, TypedDict

MAX_PLAN_ATTEMPTS = 3  # the first plan + up to two repair rounds


class TurnRequest(TypedDict):
    turn_id: str  # <conversation workflow id>/<n>: also the router's idempotency key
    text: str
    user_id: str
    workspace_id: str | None
    mode: str  # agent | pro
    focus: dict[str, Any]  # {"work_item_id", "track"}


class AgentState(TypedDict, total=False):
    request: TurnRequest
    context: dict[str, Any]  # PlanningContext dict (+ shot_index) from the context builder
    candidate: dict[str, Any] | None  # the planner's last (unvalidated) turn
    errors: list[str]  # validator errors of the candidate
    attempts: int  # planner calls this turn
    turn: dict[str, Any] | None  # the validated Turn (JSON)
    outcome: dict[str, Any] | None  # the router's TurnResult (JSON)
    approval: dict[str, Any] | None  # {"approve": bool, "note": str | None}
    reply: dict[str, Any] | None  # what the user is told (see agent.conversation.AgentReply)


def initial_state(request: TurnRequest) -> AgentState:
    """Every per-turn key, reset (the checkpointer keeps the thread's last state otherwise)."""
    return AgentState(
        request=request,
        context={},
        candidate=None,
        errors=[],
        attempts=0,
        turn=None,
        outcome=None,
        approval=None,
        reply=None,
    )


__all__ = ["MAX_PLAN_ATTEMPTS", "AgentState", "TurnRequest", "initial_state"]
