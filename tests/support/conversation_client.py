"""Client-side helpers for conversations (what the API calls): start-or-reuse, send, confirm.

Rule: one call per user action — ``send_message`` is an Update-with-Start, so the first message
creates the conversation workflow and later ones reuse it (same id, ``USE_EXISTING``).
"""

from __future__ import annotations

from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from agent.conversation import (
    AgentReply,
    Confirmation,
    ConversationInput,
    ConversationState,
    ConversationWorkflow,
    UserMessage,
    conversation_workflow_id,
)


async def send_message(client: Client, inp: ConversationInput, text: str, *, task_queue: str) -> AgentReply:
    """Run one turn of the conversation `inp` describes (starting its workflow if needed)."""
    start = WithStartWorkflowOperation(
        ConversationWorkflow.run,
        inp,
        id=conversation_workflow_id(inp.conversation_id),
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        task_queue=task_queue,
    )
    return await client.execute_update_with_start_workflow(
        ConversationWorkflow.send_message, UserMessage(text), start_workflow_operation=start
    )


async def confirm(client: Client, conversation_id: str, approve: bool, note: str | None = None) -> AgentReply:
    handle = client.get_workflow_handle(conversation_workflow_id(conversation_id))
    return await handle.execute_update(ConversationWorkflow.confirm, Confirmation(approve=approve, note=note))


async def state(client: Client, conversation_id: str) -> ConversationState:
    handle = client.get_workflow_handle(conversation_workflow_id(conversation_id))
    return await handle.query(ConversationWorkflow.state)


__all__ = ["confirm", "send_message", "state"]
