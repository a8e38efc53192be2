"""Agent-mode and Pro-mode conversations, driven through the conversation workflow's Updates.

Rules:
- a conversation belongs to its creator and to one workspace (Pro mode: one work item and,
  optionally, one of its tracks); another user's conversation answers 404;
- ``POST /conversations/{id}/messages`` sends the message as the workflow's ``send_message``
  Update (Update-with-Start: the first message starts ``conversation-<id>``) and answers with an
  SSE stream of typed events:

    received        {conversation_id}: the server has the message (sent at once, before anything
                    reaches the agent, so a client sees the turn start even on a busy server)
    accepted        the turn is durably queued (the workflow accepted the update)
    progress        ledger events of the workspace while the turn runs (task.queued, ...)
    plan            {intent, actions} the agent decided on: streamed as soon as the planner has
                    a valid plan (its `turn.planned` ledger event, in a workspace), before the
                    actions run; otherwise with the reply
    proposal        {proposal, message} when the turn waits for confirmation
    action_result   one per action: {type, status, data, task_ids, workflow_ids, error}
    task_started    one per started task: {task_id, workflow_id, type}
    assistant_text  {text}: what the agent says
    done            {status, turn_id, snapshot_id, undo, workspace_id, focus} — always last
    error           {code, message} instead of the rest when the turn could not run

  ``?follow=true`` keeps the stream open after ``assistant_text`` with ``progress`` events of the
  tasks this turn started, until they all end (or ``follow_s`` passes), then ``done``.
- an ``Idempotency-Key`` becomes the Update id: a repeated request re-attaches to the same turn
  (never a second turn); the same key with another text is 422 ``idempotency_key_reused``;
- the history (``GET /conversations/{id}``) is read from the ledger, where the workflow stores
  every message; ``pending`` is the proposal still waiting for ``POST .../confirm``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool
from temporalio.client import (
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from agent.state import PLANNED_EVENT
from api.deps import (
    CallerDep,
    IdempotencyDep,
    RateLimited,
    ServicesDep,
    SessionDep,
    load_workspace,
    scoped,
    scoped_track,
)
from api.errors import ApiError, not_found, responses
from api.presenters import add_task_links, links
from api.schemas import (
    ConfirmCreate,
    ConversationCreate,
    ConversationHistory,
    ConversationOut,
    ConversationReply,
    MessageCreate,
    MessageOut,
)
from api.sse import event_payload, sse_json
from infra.search_attributes import start_options
from schema.db import unit_of_work
from schema.enums import ConversationMode, MessageRole, WorkItemType
from schema.models import Conversation, Message, Track, WorkItem
from schema.repositories import conversations as conversation_repo
from schema.repositories import events as event_repo
from services import project as project_service

router = APIRouter(prefix="/conversations", tags=["conversations"])

FINAL_TASK_EVENTS = {"task.succeeded", "task.failed", "task.canceled"}
TURN_TIMEOUT_S = 600.0

SSE_RESPONSES = {
    200: {
        "description": "text/event-stream of typed events: received, accepted, progress, plan, proposal, "
        "action_result, task_started, assistant_text, done (or error)",
        "content": {"text/event-stream": {}},
    },
    **responses(409, 429, 503),
}


def _conversation(
    session: Any, caller: Any, conversation_id: uuid.UUID, *, write: bool = True
) -> Conversation:
    """The caller's conversation (admins may read anyone's; only the owner talks in it)."""
    conversation = (
        conversation_repo.get(session, conversation_id)
        if caller.is_admin and not write
        else conversation_repo.get_for_owner(session, caller.user_id, conversation_id)
    )
    if conversation is None:
        raise not_found("conversation", conversation_id)
    load_workspace(session, caller, conversation.workspace_id, write=write)  # still theirs
    return conversation


@router.post(
    "", response_model=ConversationOut, status_code=status.HTTP_201_CREATED, responses=responses(409)
)
def create_conversation(body: ConversationCreate, caller: CallerDep, session: SessionDep) -> Conversation:
    """An Agent-mode chat on a workspace, or a Pro-mode chat bound to one shot/draft (and track)."""
    workspace = load_workspace(session, caller, body.workspace_id)
    if body.mode == ConversationMode.pro and body.work_item_id is None:
        raise ApiError(422, "pro_needs_work_item", "a Pro-mode conversation is bound to a work item")
    if body.work_item_id is not None:
        scoped(session, WorkItem, body.work_item_id, workspace, "work_item")
    if body.track_id is not None:
        if body.work_item_id is None:
            raise ApiError(422, "track_needs_work_item", "a track is chosen together with its work item")
        scoped_track(session, body.track_id, workspace)
    from agent.conversation import conversation_workflow_id

    conversation = project_service.create_conversation(
        session,
        workspace,
        owner_id=caller.user_id,
        mode=body.mode,
        work_item_id=body.work_item_id,
        track_id=body.track_id,
        title=body.title,
        workflow_id_for=conversation_workflow_id,
    )
    session.commit()
    return conversation


@router.get("", response_model=list[ConversationOut])
def list_conversations(
    caller: CallerDep,
    session: SessionDep,
    workspace_id: uuid.UUID,
    mode: ConversationMode | None = None,
    work_item_id: uuid.UUID | None = None,
) -> list[Conversation]:
    """Your conversations in a workspace, newest first."""
    workspace = load_workspace(session, caller, workspace_id, write=False)
    return conversation_repo.list_for_workspace(
        session,
        workspace.id,
        owner_id=None if caller.is_admin else caller.user_id,
        mode=mode,
        work_item_id=work_item_id,
    )


@router.get("/{conversation_id}", response_model=ConversationHistory)
def get_conversation(
    conversation_id: uuid.UUID,
    caller: CallerDep,
    session: SessionDep,
    after_seq: Annotated[
        int, Query(ge=0, le=2**31 - 1, description="Only messages after this sequence number")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 500,
) -> ConversationHistory:
    """The conversation with its messages (oldest first) and the proposal still awaiting an answer."""
    conversation = _conversation(session, caller, conversation_id, write=False)
    messages = conversation_repo.messages(session, conversation.id, after_seq=after_seq, limit=limit)
    last = session.scalar(
        select(Message)
        .where(Message.conversation_id == conversation.id, Message.role == MessageRole.assistant)
        .order_by(Message.seq.desc())
        .limit(1)
    )
    reply = ((last.data or {}).get("reply") or {}) if last is not None else {}
    out = ConversationHistory.model_validate(
        {
            **ConversationOut.model_validate(conversation).model_dump(),
            "messages": [MessageOut.model_validate(m) for m in messages],
        }
    )
    if reply.get("status") == "awaiting_confirmation":
        out.pending = {"proposal": reply.get("proposal"), "message": last.content if last else ""}
    return out


# --- turns ------------------------------------------------------------------------------------


def _input(session: Any, conversation: Conversation) -> Any:
    from agent.conversation import ConversationInput

    track_name = None
    if conversation.track_id is not None:
        track = session.get(Track, conversation.track_id)
        track_name = track.name if track is not None else None
    item = session.get(WorkItem, conversation.work_item_id) if conversation.work_item_id else None
    return ConversationInput(
        conversation_id=str(conversation.id),
        user_id=conversation.owner_id,
        workspace_id=str(conversation.workspace_id),
        mode=conversation.mode.value,
        work_item_id=str(item.id) if item is not None else None,
        track=track_name or ("A" if item is not None and item.type == WorkItemType.draft else None),
    )


def _reply_events(reply: Any, *, streamed_plan: dict[str, Any] | None = None) -> list[ServerSentEvent]:
    """The typed events of a finished turn (everything but `done`); `plan` only if the stream has
    not shown this very plan already (a re-planned turn sends the plan it ran)."""
    plan = {"intent": reply.intent, "actions": reply.actions}
    out = [] if plan == streamed_plan else [sse_json("plan", plan)]
    if reply.status == "awaiting_confirmation":
        out.append(sse_json("proposal", {"proposal": reply.proposal, "message": reply.message}))
    for result in reply.results:
        out.append(sse_json("action_result", result))
    for result in reply.results:
        if result.get("status") == "started":
            kinds = result.get("type", "").split(".")[-1]
            for task_id, workflow_id in zip(
                result.get("task_ids") or [], result.get("workflow_ids") or [], strict=False
            ):
                out.append(
                    sse_json("task_started", {"task_id": task_id, "workflow_id": workflow_id, "type": kinds})
                )
    out.append(sse_json("assistant_text", {"text": reply.message}))
    return out


def _done(reply: Any) -> ServerSentEvent:
    return sse_json(
        "done",
        {
            "status": reply.status,
            "turn_id": reply.turn_id,
            "snapshot_id": reply.snapshot_id,
            "undo": reply.undo,
            "workspace_id": reply.workspace_id,
            "focus": reply.focus,
        },
    )


def _started_task_ids(reply: Any) -> set[str]:
    return {t for r in reply.results if r.get("status") == "started" for t in (r.get("task_ids") or [])}


@router.post(
    "/{conversation_id}/messages",
    response_class=EventSourceResponse,
    responses=SSE_RESPONSES,
    dependencies=[RateLimited],
)
async def send_message(
    request: Request,
    conversation_id: uuid.UUID,
    body: MessageCreate,
    caller: CallerDep,
    services: ServicesDep,
    idem: IdempotencyDep,
    follow: Annotated[
        bool, Query(description="Also stream the started tasks' progress until they end")
    ] = False,
    follow_s: Annotated[float, Query(gt=0, le=3600, description="Longest time to follow tasks")] = 600.0,
) -> EventSourceResponse:
    """Send a message; the answer is an SSE stream of the turn's typed events (see the module doc)."""

    def prepare() -> tuple[Any, int]:  # after `received`: the turn's input, where its events start
        with unit_of_work(services.sessions) as session:
            return _input(session, conversation), event_repo.latest_id(session, conversation.workspace_id)

    # the one read the status code depends on (404), before the stream: a statement on the loop
    conversation = await services.read_async(
        lambda conn: conversation_repo.get_for_owner_async(conn, caller.user_id, conversation_id)
    )
    if conversation is None:
        raise not_found("conversation", conversation_id)
    # our own id for the Update when no Idempotency-Key names one: the planner announces this
    # turn's plan under it (a `turn.planned` ledger event), so the stream can show it at once
    update_id = await idem.reserve_stream() if idem.key is not None else None
    update_id = update_id or str(uuid.uuid4())
    client = await services.temporal()
    hub = request.app.state.event_hub
    poll_s = services.config.sse_poll_s

    urls = links(request)

    def fetch(after: int) -> list[dict[str, Any]]:
        with unit_of_work(services.sessions) as s:
            rows = [event_payload(e) for e in event_repo.since(s, conversation.workspace_id, after, 200)]
            add_task_links(s, conversation.workspace_id, rows, urls)
            return rows

    async def stream() -> AsyncIterator[ServerSentEvent]:
        yield sse_json("received", {"conversation_id": str(conversation.id)})  # at once
        try:
            inp, start_event = await run_in_threadpool(prepare)
        except (ApiError, SQLAlchemyError) as exc:
            yield sse_json(
                "error", {"code": "database_unavailable", "message": f"the ledger is unreachable: {exc}"}
            )
            return
        from agent.conversation import ConversationWorkflow, UserMessage, conversation_workflow_id

        operation = WithStartWorkflowOperation(
            ConversationWorkflow.run,
            inp,
            id=conversation_workflow_id(str(conversation.id)),
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            task_queue=services.queues.cpu,
            **start_options(
                services.settings.temporal_search_attributes and inp.workspace_id is not None,
                str(inp.workspace_id),
                "conversation",
                work_item_id=inp.work_item_id,
                user_id=inp.user_id,
            ),
        )
        try:
            handle = await client.start_update_with_start_workflow(
                ConversationWorkflow.send_message,
                UserMessage(body.text),
                start_workflow_operation=operation,
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                id=update_id,
            )
        except WorkflowUpdateFailedError as exc:
            cause = getattr(exc.cause, "message", None) or str(exc)
            yield sse_json("error", {"code": "message_rejected", "message": cause})
            return
        except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:
            # (a client disconnect also surfaces here: the SDK turns our cancellation into it)
            yield sse_json(
                "error", {"code": "temporal_unavailable", "message": f"the agent is unreachable: {exc}"}
            )
            return
        yield sse_json("accepted", {"conversation_id": str(conversation.id), "update_id": handle.id})

        wake = hub.subscribe(conversation.workspace_id)
        result = asyncio.ensure_future(handle.result())
        result.add_done_callback(lambda f: f.cancelled() or f.exception())  # never "not retrieved"
        last = start_event
        finished: set[str] = set()  # tasks whose final event was already streamed
        plan: dict[str, Any] | None = None  # the plan streamed from the planner's ledger event
        deadline = time.monotonic() + TURN_TIMEOUT_S
        try:
            while True:
                wake.clear()
                for item in await asyncio.to_thread(fetch, last):
                    last = item["id"]
                    data = item.get("data") or {}
                    if item["kind"] == PLANNED_EVENT and data.get("update_id") == handle.id:
                        if plan is None:  # (a retried planner may announce twice: the first one)
                            plan = {"intent": data.get("intent") or "", "actions": data.get("actions") or []}
                            yield sse_json("plan", plan)
                        continue
                    if item["kind"] in FINAL_TASK_EVENTS:
                        finished.add(str(data.get("task_id") or ""))
                    yield sse_json("progress", item, str(item["id"]))
                if result.done() or time.monotonic() > deadline:
                    break
                waiter = asyncio.ensure_future(wake.wait())
                await asyncio.wait({result, waiter}, timeout=poll_s, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
            if not result.done():
                result.cancel()
                yield sse_json("error", {"code": "turn_timeout", "message": "the turn is still running"})
                return
            try:
                reply = result.result()
            except WorkflowUpdateFailedError as exc:
                cause = getattr(exc.cause, "message", None) or str(exc)
                yield sse_json("error", {"code": "turn_failed", "message": cause})
                return
            except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:
                yield sse_json("error", {"code": "temporal_unavailable", "message": str(exc)})
                return
            for event in _reply_events(reply, streamed_plan=plan):
                yield event
            pending = _started_task_ids(reply) - finished
            if follow and pending:
                follow_until = time.monotonic() + follow_s
                while pending and time.monotonic() < follow_until:
                    wake.clear()
                    for item in await asyncio.to_thread(fetch, last):
                        last = item["id"]
                        task_id = str((item.get("data") or {}).get("task_id") or "")
                        if task_id in pending:
                            yield sse_json("progress", item, str(item["id"]))
                            if item["kind"] in FINAL_TASK_EVENTS:
                                pending.discard(task_id)
                    if pending:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(wake.wait(), timeout=poll_s)
            yield _done(reply)
        finally:
            if not result.done():
                result.cancel()  # the turn itself goes on in the workflow
            hub.unsubscribe(conversation.workspace_id, wake)

    return EventSourceResponse(
        stream(),
        ping=services.config.sse_ping_s,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post(
    "/{conversation_id}/confirm",
    response_model=ConversationReply,
    responses=responses(409, 503),
)
async def confirm(
    conversation_id: uuid.UUID,
    body: ConfirmCreate,
    caller: CallerDep,
    services: ServicesDep,
    session: SessionDep,
) -> ConversationReply:
    """Answer the pending proposal (approve runs it — a snapshot is taken first; decline drops it).
    Returns the agent's reply for that turn."""
    conversation = await run_in_threadpool(_conversation, session, caller, conversation_id)
    await run_in_threadpool(session.close)
    from agent.conversation import Confirmation, ConversationWorkflow, conversation_workflow_id

    client = await services.temporal()
    handle = client.get_workflow_handle(conversation_workflow_id(str(conversation.id)))
    try:
        reply = await handle.execute_update(
            ConversationWorkflow.confirm, Confirmation(approve=body.approve, note=body.note)
        )
    except WorkflowUpdateFailedError as exc:
        raise ApiError(409, "nothing_to_confirm", "no proposal is waiting for confirmation") from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise ApiError(409, "nothing_to_confirm", "no proposal is waiting for confirmation") from exc
        raise ApiError(503, "temporal_unavailable", "the agent is unreachable") from exc
    return ConversationReply.model_validate(reply, from_attributes=True)
