"""`conversation`: one durable workflow per chat (id ``conversation-<conversation_id>``).

Rules:
- each user message is an Update (``send_message``) that runs the agent graph once and returns the
  turn's structured reply; turns run one at a time (a lock), in arrival order;
- the graph runs through ``temporalio-langgraph``: context, planner and router nodes are
  activities, the rest runs here; its checkpointer is an ``InMemorySaver`` with thread id = this
  workflow id — Temporal's history is the one durable record, replay rebuilds the saver;
- a proposal stops the graph at ``interrupt()``; ``confirm`` (Update, or the ``confirm_signal``
  Signal) resumes it; a new message while a proposal waits declines the proposal first, unless the
  message itself is a yes/no;
- messages are stored in the ledger by an activity after every reply, not kept in workflow state;
- after ``max_turns_per_run`` turns (and no proposal pending, no turn running) the workflow
  continues as new, carrying only ids, the focus and the message watermark;
- an idle conversation ends after ``idle_timeout_s``; the next message starts it again (same id).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command
    from temporalio.langgraph import graph

    from agent.activities import ConversationActivities, RecordTurnInput
    from agent.graph import GRAPH_NAME
    from agent.state import TurnRequest, initial_state

MAX_MESSAGE_CHARS = 4000
RECORD_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=500), maximum_attempts=10)
_YES = re.compile(
    r"^\s*(?:y|yes|yep|yeah|sure|ok|okay|confirm(?:ed)?|go ahead|do it|proceed|approve[d]?|"
    r"确认|好的?|是的?|可以|行|执行|同意)\s*[.!。！]*\s*$",
    re.I,
)
_NO = re.compile(
    r"^\s*(?:n|no|nope|cancel|stop|don'?t|do not|never ?mind|abort|decline[d]?|"
    r"取消|不要|不用|算了|别|不)\s*[.!。！]*\s*$",
    re.I,
)


def conversation_workflow_id(conversation_id: str) -> str:
    return f"conversation-{conversation_id}"


@dataclass
class ConversationInput:
    conversation_id: str
    user_id: str
    workspace_id: str | None = None  # None until project.create (Agent mode)
    mode: str = "agent"  # agent | pro
    work_item_id: str | None = None  # Pro mode: the bound shot or draft
    track: str | None = None  # Pro mode: the current track
    max_turns_per_run: int = 40
    idle_timeout_s: int = 7 * 24 * 3600
    turns_before: int = 0  # turns of earlier runs (continue-as-new)
    last_seq: int = 0  # ledger message watermark


@dataclass
class UserMessage:
    text: str


@dataclass
class Confirmation:
    approve: bool
    note: str | None = None


@dataclass
class AgentReply:
    """What one turn (or one confirmation) did. ``status``: done | partial | failed |
    awaiting_confirmation | declined | no_action | invalid | error."""

    turn_id: str
    status: str
    message: str
    intent: str = ""
    actions: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    proposal: dict[str, Any] | None = None
    snapshot_id: str | None = None
    workspace_id: str | None = None
    focus: dict[str, Any] = field(default_factory=dict)
    undo: str | None = None


@dataclass
class ConversationState:
    workflow_id: str
    user_id: str
    workspace_id: str | None
    mode: str
    focus: dict[str, Any]
    turns: int
    pending: dict[str, Any] | None
    last_reply: AgentReply | None
    closed: bool


@workflow.defn(name="conversation")
class ConversationWorkflow:
    @workflow.init
    def __init__(self, inp: ConversationInput) -> None:
        self._inp = inp
        self._workspace_id = inp.workspace_id
        self._focus: dict[str, Any] = {"work_item_id": inp.work_item_id, "track": inp.track}
        self._turns = 0  # this run
        self._seq = inp.last_seq
        self._pending: dict[str, Any] | None = None  # {"turn_id", "text", "payload"}
        self._last_reply: AgentReply | None = None
        self._closed = False
        self._lock = asyncio.Lock()
        self._events = 0
        self._app: Any = None

    # --- lifecycle ------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: ConversationInput) -> ConversationState:
        while True:
            seen = self._events

            def woken(seen: int = seen) -> bool:
                return self._closed or self._can_roll_over() or self._events != seen

            try:
                await workflow.wait_condition(
                    woken,
                    timeout=timedelta(seconds=inp.idle_timeout_s),
                )
            except TimeoutError:
                if self._pending is None and not self._lock.locked():
                    self._closed = True
            if not (self._closed or self._can_roll_over()):
                continue
            await workflow.wait_condition(workflow.all_handlers_finished)
            if self._closed:
                return self.state()
            if self._can_roll_over():
                break
        workflow.continue_as_new(
            ConversationInput(
                conversation_id=inp.conversation_id,
                user_id=inp.user_id,
                workspace_id=self._workspace_id,
                mode=inp.mode,
                work_item_id=self._focus.get("work_item_id"),
                track=self._focus.get("track"),
                max_turns_per_run=inp.max_turns_per_run,
                idle_timeout_s=inp.idle_timeout_s,
                turns_before=inp.turns_before + self._turns,
                last_seq=self._seq,
            )
        )

    def _can_roll_over(self) -> bool:
        return (
            self._turns >= self._inp.max_turns_per_run and self._pending is None and not self._lock.locked()
        )

    @workflow.signal
    def close(self) -> None:
        self._closed = True

    @workflow.query
    def state(self) -> ConversationState:
        return ConversationState(
            workflow_id=workflow.info().workflow_id,
            user_id=self._inp.user_id,
            workspace_id=self._workspace_id,
            mode=self._inp.mode,
            focus=dict(self._focus),
            turns=self._inp.turns_before + self._turns,
            pending=None if self._pending is None else self._pending["payload"],
            last_reply=self._last_reply,
            closed=self._closed,
        )

    # --- turns ----------------------------------------------------------------------------

    @workflow.update
    async def send_message(self, msg: UserMessage) -> AgentReply:
        async with self._lock:
            self._events += 1
            if self._pending is not None:
                if _YES.match(msg.text):
                    return await self._resume(Confirmation(approve=True), msg.text)
                if _NO.match(msg.text):
                    return await self._resume(Confirmation(approve=False), msg.text)
                await self._resume(Confirmation(approve=False, note="superseded by a new message"), "")
            self._turns += 1
            info = workflow.info()  # the chain's first run id keeps a restarted conversation's ids new
            turn_id = (
                f"{info.workflow_id}/{info.first_execution_run_id}/{self._inp.turns_before + self._turns}"
            )
            request = TurnRequest(
                turn_id=turn_id,
                text=msg.text,
                user_id=self._inp.user_id,
                workspace_id=self._workspace_id,
                mode=self._inp.mode,
                focus=dict(self._focus),
            )
            reply = await self._invoke(initial_state(request), turn_id, msg.text)
            await self._record(turn_id, "turn", msg.text, reply)
            return reply

    @send_message.validator
    def _check_message(self, msg: UserMessage) -> None:
        if self._closed:
            raise ValueError("this conversation is closed")
        if not msg.text.strip():
            raise ValueError("the message is empty")
        if len(msg.text) > MAX_MESSAGE_CHARS:
            raise ValueError(f"the message is longer than {MAX_MESSAGE_CHARS} characters")

    @workflow.update
    async def confirm(self, answer: Confirmation) -> AgentReply:
        async with self._lock:
            self._events += 1
            if self._pending is None:  # answered meanwhile (e.g. by a "yes" message)
                return self._last_reply or AgentReply(
                    turn_id="", status="no_action", message="Nothing to confirm."
                )
            return await self._resume(answer, "confirm" if answer.approve else "cancel")

    @confirm.validator
    def _check_confirm(self, answer: Confirmation) -> None:
        if self._pending is None:
            raise ValueError("nothing is waiting for confirmation")

    @workflow.signal
    async def confirm_signal(self, answer: Confirmation) -> None:
        """Fire-and-forget confirmation; the reply is in ``state().last_reply`` and the ledger."""
        async with self._lock:
            self._events += 1
            if self._pending is not None:
                await self._resume(answer, "confirm" if answer.approve else "cancel")

    # --- graph ----------------------------------------------------------------------------

    def _graph(self) -> Any:
        if self._app is None:
            self._app = graph(GRAPH_NAME).compile(checkpointer=InMemorySaver())
        return self._app

    def _config(self) -> dict[str, Any]:
        return {"configurable": {"thread_id": workflow.info().workflow_id}, "recursion_limit": 40}

    async def _resume(self, answer: Confirmation, text: str) -> AgentReply:
        assert self._pending is not None
        turn_id = self._pending["turn_id"]
        command: Command[Any] = Command(resume={"approve": answer.approve, "note": answer.note})
        reply = await self._invoke(command, turn_id, text)
        await self._record(turn_id, "confirm", text, reply)
        return reply

    async def _invoke(self, graph_input: Any, turn_id: str, text: str) -> AgentReply:
        self._pending = None
        try:
            out = await self._graph().ainvoke(graph_input, self._config())
        except ActivityError as exc:  # an activity gave up (planner down, ledger unreachable)
            workflow.logger.warning("turn %s failed: %s", turn_id, exc)
            reply = AgentReply(
                turn_id=turn_id,
                status="error",
                message="Something went wrong on my side; nothing was changed. Please try again.",
                workspace_id=self._workspace_id,
                focus=dict(self._focus),
            )
            self._last_reply = reply
            return reply
        interrupts = out.get("__interrupt__") or []
        if interrupts:
            payload = dict(interrupts[0].value)
            self._pending = {"turn_id": turn_id, "text": text, "payload": payload}
            turn = out.get("turn") or {}
            question = payload.get("question") or "Go ahead?"
            reason = payload.get("reason")
            reply = AgentReply(
                turn_id=turn_id,
                status="awaiting_confirmation",
                message=f"{question}\nWhy I ask first: {reason}. Reply “confirm” or “cancel”."
                if reason
                else f"{question}\nReply “confirm” or “cancel”.",
                intent=turn.get("intent") or "",
                actions=turn.get("actions") or [],
                results=(out.get("outcome") or {}).get("results") or [],
                proposal=payload.get("proposal"),
                workspace_id=self._workspace_id,
                focus=dict(self._focus),
            )
        else:
            reply = AgentReply(**out["reply"])
            self._workspace_id = reply.workspace_id or self._workspace_id
            if reply.focus:
                self._focus = {
                    "work_item_id": reply.focus.get("work_item_id"),
                    "track": reply.focus.get("track"),
                }
        self._last_reply = reply
        return reply

    async def _record(self, turn_id: str, phase: str, text: str, reply: AgentReply) -> None:
        try:
            self._seq = await self._record_activity(turn_id, phase, text, reply)
        except ActivityError as exc:  # the reply stands; only its ledger copy is missing
            workflow.logger.warning("could not store the messages of %s: %s", turn_id, exc)

    async def _record_activity(self, turn_id: str, phase: str, text: str, reply: AgentReply) -> int:
        return await workflow.execute_activity_method(
            ConversationActivities.record_turn,
            RecordTurnInput(
                workflow_id=workflow.info().workflow_id,
                user_id=self._inp.user_id,
                workspace_id=self._workspace_id,
                mode=self._inp.mode,
                turn_id=turn_id,
                phase=phase,
                user_text=text,
                assistant_text=reply.message,
                assistant_data={
                    "status": reply.status,
                    "intent": reply.intent,
                    "results": reply.results,
                    "snapshot_id": reply.snapshot_id,
                    "proposal": reply.proposal,
                },
                work_item_id=self._focus.get("work_item_id"),
                track=self._focus.get("track"),
                after_seq=self._seq,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RECORD_RETRY,
        )


__all__ = [
    "AgentReply",
    "Confirmation",
    "ConversationInput",
    "ConversationState",
    "ConversationWorkflow",
    "UserMessage",
    "conversation_workflow_id",
]
