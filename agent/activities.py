"""What the agent's activities need (AgentDeps), how they find it, and the message ledger activity.

Rules: LangGraph nodes run as activities through ``temporalio-langgraph``, which requires them to
be module-level functions; they find their dependencies (ledger URL, Temporal client, queues,
planner) in a per-process registry keyed by the worker's task queue, filled by
:func:`agent.worker.agent_plugin` / :func:`agent.worker.agent_activities`. Outside an activity
(in-process graph runs, tests) the ``"local"`` entry is used. Chat messages are written to the
ledger here — not kept in workflow history — once per (turn, phase): a retried attempt finds its
messages after the workflow's sequence watermark and does not write them again.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

from temporalio import activity
from temporalio.client import Client

from agent.planner.base import Planner, choose_planner
from infra.ledger import unit_of_work
from infra.queues import Queues
from infra.settings import Settings
from schema.enums import ConversationMode, MessageRole
from schema.repositories import conversations, nodes, tracks, work_items, workspaces
from services.router import ActionRouter

LOCAL = "local"
PAGE = 500


@dataclass
class AgentDeps:
    """Everything the agent's activities use; one per worker (or per in-process graph run)."""

    database_url: str
    client: Client
    queues: Queues
    settings: Settings
    planner: Planner | None = None
    _router: ActionRouter | None = field(default=None, repr=False)

    def get_planner(self) -> Planner:
        if self.planner is None:
            self.planner = choose_planner(self.settings.google_api_key)
        return self.planner

    def get_router(self) -> ActionRouter:
        if self._router is None:
            self._router = ActionRouter(self.database_url, self.client, self.queues, self.settings)
        return self._router


_REGISTRY: dict[str, AgentDeps] = {}


def register_deps(deps: AgentDeps, key: str | None = None) -> str:
    """Make `deps` the dependencies of activities on task queue `key` (default: deps.queues.cpu,
    where the conversation workflow and its node activities run)."""
    key = key or deps.queues.cpu
    _REGISTRY[key] = deps
    return key


def unregister_deps(key: str) -> None:
    _REGISTRY.pop(key, None)


def current_deps() -> AgentDeps:
    """The dependencies of the running activity's worker (or the local ones outside activities)."""
    if activity.in_activity():
        found = _REGISTRY.get(activity.info().task_queue)
        if found is not None:
            return found
    if LOCAL in _REGISTRY:
        return _REGISTRY[LOCAL]
    if len(_REGISTRY) == 1:
        return next(iter(_REGISTRY.values()))
    raise RuntimeError(
        "no AgentDeps registered for this worker: build it with agent.worker.agent_plugin(deps)"
    )


# --- the message ledger -----------------------------------------------------------------------


@dataclass
class RecordTurnInput:
    workflow_id: str
    user_id: str
    workspace_id: str | None
    mode: str
    turn_id: str
    phase: str  # "turn" (a user message) | "confirm" (an answer to a proposal)
    user_text: str
    assistant_text: str
    assistant_data: dict[str, Any] = field(default_factory=dict)
    work_item_id: str | None = None
    track: str | None = None
    after_seq: int = 0  # the workflow's watermark: messages up to here are known


class ConversationActivities:
    """Ledger writes of the conversation workflow that are not graph nodes."""

    def __init__(self, deps: AgentDeps) -> None:
        self.deps = deps

    @activity.defn(name="agent.record_turn")
    async def record_turn(self, inp: RecordTurnInput) -> int:
        """Store the turn's user and assistant messages; returns the new sequence watermark
        (unchanged when the conversation has no workspace yet)."""
        return await asyncio.to_thread(self._record, inp)

    def _record(self, inp: RecordTurnInput) -> int:
        if not inp.workspace_id:
            return inp.after_seq
        with unit_of_work(self.deps.database_url) as session:
            ws = workspaces.get_for_owner(session, inp.user_id, uuid.UUID(inp.workspace_id))
            if ws is None:
                return inp.after_seq
            item = work_items.get(session, uuid.UUID(inp.work_item_id)) if inp.work_item_id else None
            if item is not None and item.workspace_id != ws.id:
                item = None
            track = (
                tracks.get_by_name(session, item.id, inp.track) if item is not None and inp.track else None
            )
            mode = ConversationMode.pro if inp.mode == "pro" and item is not None else ConversationMode.agent
            conv = conversations.create(
                session,
                workspace_id=ws.id,
                owner_id=inp.user_id,
                mode=mode,
                work_item_id=item.id if item is not None else None,
                track_id=track.id if track is not None else None,
                workflow_id=inp.workflow_id,
            )
            if conv.work_item_id is not None and track is not None and conv.track_id != track.id:
                conversations.bind_track(session, conv.id, track.id)
            known = _messages_after(session, conv.id, inp.after_seq)
            seen = {((m.data or {}).get("turn_id"), (m.data or {}).get("phase"), m.role) for m in known}
            last = max([inp.after_seq, *(m.seq for m in known)])
            tag = {"turn_id": inp.turn_id, "phase": inp.phase}
            if inp.user_text and (inp.turn_id, inp.phase, MessageRole.user) not in seen:
                last = conversations.append_message(
                    session, conv.id, role=MessageRole.user, content=inp.user_text, data=tag
                ).seq
            if (inp.turn_id, inp.phase, MessageRole.assistant) not in seen:
                node_id = _produced_node(session, ws.id, inp.assistant_data)
                last = conversations.append_message(
                    session,
                    conv.id,
                    role=MessageRole.assistant,
                    content=inp.assistant_text,
                    data={**tag, "reply": inp.assistant_data},
                    node_id=node_id,
                    track_id=conv.track_id,
                ).seq
            return last


def _messages_after(session: Any, conversation_id: uuid.UUID, after_seq: int) -> list[Any]:
    """Every message after the watermark (paged: a restarted chain's watermark is 0)."""
    out: list[Any] = []
    while True:
        page = conversations.messages(session, conversation_id, after_seq=after_seq, limit=PAGE)
        out.extend(page)
        if len(page) < PAGE:
            return out
        after_seq = page[-1].seq


def _produced_node(session: Any, workspace_id: uuid.UUID, reply: dict[str, Any]) -> uuid.UUID | None:
    """The node a reply is about (a commit, a favorite, a fork point), when there is exactly one."""
    ids = {
        str(r.get("data", {}).get("node_id") or r.get("data", {}).get("from_node_id") or "")
        for r in reply.get("results", [])
    } - {""}
    if len(ids) != 1:
        return None
    try:
        node = nodes.get(session, uuid.UUID(ids.pop()))
    except ValueError:
        return None
    return node.id if node is not None and node.workspace_id == workspace_id else None


__all__ = [
    "LOCAL",
    "AgentDeps",
    "ConversationActivities",
    "RecordTurnInput",
    "current_deps",
    "register_deps",
    "unregister_deps",
]
