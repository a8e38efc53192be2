"""The agent graph's nodes and routers: context → plan → validate → (approve) → execute → respond.

Rules: ``load_context``, ``plan`` and ``execute`` do I/O and run as Temporal activities; the
others are pure and deterministic (they run inside the workflow): ``validate`` only checks the
candidate against the Action DSL, ``approve`` is the ONLY place that calls ``interrupt()`` and has
no side effects before it, ``respond`` only formats. Routers are ``async`` (a sync router would be
sent to a thread pool, which a workflow cannot use).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from langgraph.types import interrupt
from pydantic import ValidationError

from agent.activities import current_deps
from agent.context import build_context
from agent.planner.offline import EXECUTE_AT, READ_ONLY
from agent.state import MAX_PLAN_ATTEMPTS, PLANNED_EVENT, AgentState, TurnRequest
from infra.ledger import unit_of_work
from schema.actions import Turn
from schema.domain_errors import DomainError
from schema.repositories import events as event_repo
from services.execution import Caller, failed_turn
from services.resolve import Focus

log = logging.getLogger(__name__)

# --- activities -------------------------------------------------------------------------------


async def load_context(state: AgentState) -> dict[str, Any]:
    """The bounded workspace summary the planner sees (activity: reads the ledger)."""
    req = state["request"]
    deps = current_deps()

    def read() -> dict[str, Any]:
        with unit_of_work(deps.database_url) as session:
            return build_context(session, req["user_id"], req.get("workspace_id"), Focus(**req["focus"]))

    context = await asyncio.to_thread(read)
    if req.get("question"):
        context["question"] = req["question"]  # the next sentence may answer it
    return {"context": context}


async def plan(state: AgentState) -> dict[str, Any]:
    """Sentence → candidate turn (activity: the LLM call, or the offline grammar). A candidate that
    passes `validate` (the same rule the workflow applies next) and has actions is announced at once
    as a `turn.planned` ledger event, so the chat stream shows the plan before it is executed."""
    req = state["request"]
    deps = current_deps()
    candidate = await deps.get_planner().aplan(
        req["text"],
        state.get("context") or {},
        feedback=state.get("errors") or None,
        previous=state.get("candidate"),
    )
    turn = (await validate({"candidate": candidate}))["turn"]
    if turn and turn.get("actions") and req.get("workspace_id") and req.get("update_id"):
        await asyncio.to_thread(_announce_plan, deps.database_url, req, turn)
    return {"candidate": candidate, "attempts": (state.get("attempts") or 0) + 1}


def _announce_plan(database_url: str, req: TurnRequest, turn: dict[str, Any]) -> None:
    """Best effort: a ledger hiccup must not fail planning (the reply still carries the plan)."""
    data = {
        "turn_id": req["turn_id"],
        "update_id": req.get("update_id"),
        "intent": turn.get("intent") or "",
        "actions": turn.get("actions") or [],
    }
    try:
        with unit_of_work(database_url) as session:
            event_repo.append(session, uuid.UUID(str(req["workspace_id"])), PLANNED_EVENT, data)
    except Exception as exc:
        log.warning("could not announce the plan of %s: %s", req["turn_id"], exc)


async def execute(state: AgentState) -> dict[str, Any]:
    """Hand the validated turn to the ActionRouter (activity: ledger + Temporal). The turn id is
    the router's idempotency key, so a retried attempt returns the first attempt's outcome."""
    req = state["request"]
    turn = Turn.model_validate(state["turn"])
    approved = bool((state.get("approval") or {}).get("approve"))
    try:
        result = (
            await current_deps()
            .get_router()
            .run(
                Caller(req["user_id"]),
                req.get("workspace_id"),
                turn,
                confirmed=approved,
                focus=Focus(**req["focus"]),
                idempotency_key=req["turn_id"],
            )
        )
    except DomainError as err:  # e.g. the workspace is not the caller's
        result = failed_turn(turn, err.code, err.message)
    return {"outcome": result.to_dict()}


# --- workflow-side nodes --------------------------------------------------------------------


def _errors(exc: ValidationError) -> list[str]:
    out = []
    for e in exc.errors()[:5]:
        where = ".".join(str(x) for x in e["loc"])
        out.append(f"{where}: {e['msg']}" if where else e["msg"])
    return out


async def validate(state: AgentState) -> dict[str, Any]:
    """Candidate → Turn, or the errors to feed back to the planner. The confirmation rule is
    re-applied here: a planner cannot downgrade a destructive turn to ``execute``, and a turn whose
    planner is not sure (confidence under :data:`EXECUTE_AT`) is proposed, never executed."""
    try:
        turn = Turn.model_validate(state.get("candidate") or {})
    except ValidationError as exc:
        return {"turn": None, "errors": _errors(exc)}
    unsure = turn.confidence is not None and turn.confidence < EXECUTE_AT
    writes = any(a.type not in READ_ONLY for a in turn.actions)
    if turn.decide_mode() == "propose" or (unsure and writes):
        turn = turn.model_copy(update={"mode": "propose"})
    return {"turn": turn.model_dump(mode="json", by_alias=True, exclude_none=True), "errors": []}


async def approve(state: AgentState) -> dict[str, Any]:
    """Ask the user (``interrupt()``); resumes with ``{"approve": bool, "note": str?}``."""
    outcome = state.get("outcome") or {}
    turn = state.get("turn") or {}
    proposal = outcome.get("proposal") or {}
    answer = interrupt(
        {
            "kind": "confirmation",
            "turn_id": state["request"]["turn_id"],
            "question": turn.get("message") or turn.get("intent") or "Go ahead?",
            "reason": proposal.get("reason"),
            "preview": proposal.get("preview", []),
            "proposal": proposal,
        }
    )
    if isinstance(answer, dict):
        return {"approval": {"approve": bool(answer.get("approve")), "note": answer.get("note")}}
    return {"approval": {"approve": bool(answer), "note": None}}


async def respond(state: AgentState) -> dict[str, Any]:
    """What the user is told: what changed, what started, what failed, and how to undo."""
    req = state["request"]
    turn = state.get("turn") or {}
    outcome = state.get("outcome") or {}
    approval = state.get("approval")
    base: dict[str, Any] = {
        "turn_id": req["turn_id"],
        "intent": turn.get("intent") or "",
        "actions": turn.get("actions") or [],
        "results": [],
        "proposal": None,
        "snapshot_id": None,
        "workspace_id": req.get("workspace_id"),
        "focus": dict(req["focus"]),
        "undo": None,
        "planner": turn.get("planner"),
        "confidence": turn.get("confidence"),
        "evidence": list(turn.get("evidence") or []),
        "question": None,
    }
    if state.get("errors"):
        first = state["errors"][0]
        return {
            "reply": {
                **base,
                "status": "invalid",
                "message": f"I could not turn that into a valid action ({first}). Nothing was changed.",
            }
        }
    if not turn.get("actions"):
        message = turn.get("message") or "I can't do that yet."
        return {
            "reply": {**base, "status": "no_action", "message": message, "question": turn.get("question")}
        }
    if approval is not None and not approval.get("approve"):
        note = approval.get("note")
        message = "OK, I did not do it. Nothing was changed." + (f" ({note})" if note else "")
        return {"reply": {**base, "status": "declined", "message": message}}
    results = outcome.get("results") or []
    lines = []
    for r in results:
        summary = (r.get("data") or {}).get("summary") or r["type"]
        if r["status"] == "failed":
            error = r.get("error") or {}
            if error.get("code") not in ("rolled_back", "not_run"):
                lines.append(f"✗ {r['type']}: {error.get('message') or 'failed'}")
        elif r["status"] == "started":
            lines.append(f"▶ {summary}")
        else:
            lines.append(f"✓ {summary}")
    failed = [r for r in results if r["status"] == "failed"]
    if failed:
        status = "failed" if len(failed) == len(results) else "partial"
        if any((r.get("error") or {}).get("code") in ("rolled_back", "not_run") for r in failed):
            lines.append("Nothing was changed.")
    else:
        status = "done"
    snapshot_id = outcome.get("snapshot_id")
    undo = None
    if snapshot_id and status != "failed":
        undo = 'A snapshot was taken first: say "undo" to go back.'
        lines.append(undo)
    focus = dict(req["focus"])
    for r in results:
        if r["status"] != "failed" and (r.get("data") or {}).get("focus"):
            focus = dict(r["data"]["focus"])
    return {
        "reply": {
            **base,
            "status": status,
            "message": "\n".join(lines) or turn.get("message") or "Done.",
            "results": results,
            "snapshot_id": snapshot_id,
            "workspace_id": outcome.get("workspace_id") or req.get("workspace_id"),
            "focus": focus,
            "undo": undo,
        }
    }


# --- routers --------------------------------------------------------------------------------


async def after_validate(state: AgentState) -> str:
    if state.get("errors"):
        return "plan" if (state.get("attempts") or 0) < MAX_PLAN_ATTEMPTS else "respond"
    return "execute" if (state.get("turn") or {}).get("actions") else "respond"


async def after_execute(state: AgentState) -> str:
    outcome = state.get("outcome") or {}
    if outcome.get("mode") == "propose" and state.get("approval") is None:
        return "approve"
    return "respond"


async def after_approve(state: AgentState) -> str:
    return "execute" if (state.get("approval") or {}).get("approve") else "respond"


__all__ = [
    "after_approve",
    "after_execute",
    "after_validate",
    "approve",
    "execute",
    "load_context",
    "plan",
    "respond",
    "validate",
]
