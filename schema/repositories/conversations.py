"""Conversations (Agent chats on a workspace, Pro chats on one work item and track) and messages.

Rule: a Pro conversation is bound to a work item (and optionally one of its tracks); message
`seq` is 1..N per conversation, assigned under a lock on the conversation row so concurrent
appends never collide. `create` is idempotent on the conversation's workflow id.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Session

from schema.domain_errors import Conflict, InvariantViolation, NotFound
from schema.enums import ConversationMode, MessageRole
from schema.models import Conversation, Message, Node, Track, WorkItem, Workspace
from schema.repositories._shared import require


def create(
    session: Session,
    *,
    workspace_id: uuid.UUID,
    owner_id: str,
    mode: ConversationMode,
    work_item_id: uuid.UUID | None = None,
    track_id: uuid.UUID | None = None,
    workflow_id: str | None = None,
    title: str | None = None,
) -> Conversation:
    mode = ConversationMode(mode)
    if mode == ConversationMode.pro and work_item_id is None:
        raise InvariantViolation("a Pro conversation is bound to a work item", code="pro_needs_work_item")
    _check_binding(session, workspace_id, work_item_id, track_id)
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "workspace_id": workspace_id,
        "owner_id": owner_id,
        "mode": mode,
        "work_item_id": work_item_id,
        "track_id": track_id,
        "workflow_id": workflow_id,
        "title": title,
    }
    if workflow_id is None:
        conversation = Conversation(**values)
        session.add(conversation)
        session.flush()
        return conversation
    stmt = (
        pg_insert(Conversation)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=[Conversation.workflow_id], index_where=Conversation.workflow_id.is_not(None)
        )
        .returning(Conversation)
    )
    inserted = session.scalars(stmt).one_or_none()
    if inserted is not None:
        return inserted
    existing = get_by_workflow_id(session, workflow_id)
    assert existing is not None
    if existing.workspace_id != workspace_id or existing.owner_id != owner_id:
        raise Conflict(
            f"workflow id {workflow_id!r} belongs to another conversation", code="workflow_id_reused"
        )
    return existing


def get(session: Session, conversation_id: uuid.UUID) -> Conversation | None:
    return session.get(Conversation, conversation_id)


def get_for_owner(session: Session, owner_id: str, conversation_id: uuid.UUID) -> Conversation | None:
    stmt = select(Conversation).where(Conversation.id == conversation_id, Conversation.owner_id == owner_id)
    return session.scalar(stmt)


async def get_for_owner_async(
    conn: AsyncConnection, owner_id: str, conversation_id: uuid.UUID
) -> Conversation | None:
    """`get_for_owner` in one statement on an asyncio connection, and only while the workspace is
    still the owner's too; a detached row (its columns, nothing lazy)."""
    columns = [(a.key, a.columns[0]) for a in Conversation.__mapper__.column_attrs]
    stmt = (
        select(*(column for _, column in columns))
        .join(Workspace, Workspace.id == Conversation.workspace_id)
        .where(
            Conversation.id == conversation_id,
            Conversation.owner_id == owner_id,
            Workspace.owner_id == owner_id,
        )
    )
    row = (await conn.execute(stmt)).one_or_none()
    return None if row is None else Conversation(**{key: row[i] for i, (key, _) in enumerate(columns)})


def get_by_workflow_id(session: Session, workflow_id: str) -> Conversation | None:
    return session.scalar(select(Conversation).where(Conversation.workflow_id == workflow_id))


def list_for_workspace(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    owner_id: str | None = None,
    mode: ConversationMode | None = None,
    work_item_id: uuid.UUID | None = None,
) -> list[Conversation]:
    """Newest first."""
    stmt = select(Conversation).where(Conversation.workspace_id == workspace_id)
    if owner_id is not None:
        stmt = stmt.where(Conversation.owner_id == owner_id)
    if mode is not None:
        stmt = stmt.where(Conversation.mode == ConversationMode(mode))
    if work_item_id is not None:
        stmt = stmt.where(Conversation.work_item_id == work_item_id)
    return list(session.scalars(stmt.order_by(Conversation.created_at.desc(), Conversation.id)))


def bind_track(session: Session, conversation_id: uuid.UUID, track_id: uuid.UUID | None) -> Conversation:
    """Switch a Pro chat to another track of its work item (None: no track)."""
    conversation = require(session, Conversation, conversation_id)
    _check_binding(session, conversation.workspace_id, conversation.work_item_id, track_id)
    conversation.track_id = track_id
    session.flush()
    return conversation


def append_message(
    session: Session,
    conversation_id: uuid.UUID,
    *,
    role: MessageRole,
    content: str = "",
    data: Mapping[str, Any] | None = None,
    node_id: uuid.UUID | None = None,
    track_id: uuid.UUID | None = None,
) -> Message:
    """Append with the next `seq` (locks the conversation row until the transaction ends)."""
    conversation = session.scalar(
        select(Conversation).where(Conversation.id == conversation_id).with_for_update(key_share=True)
    )
    if conversation is None:
        raise NotFound("conversation", conversation_id)
    if node_id is not None:
        node = session.get(Node, node_id)
        if node is None or node.workspace_id != conversation.workspace_id:
            raise InvariantViolation(
                "the message's node is not in this workspace", code="node_wrong_workspace"
            )
    if track_id is not None:
        track = session.get(Track, track_id)
        if track is None or (
            conversation.work_item_id is not None and track.work_item_id != conversation.work_item_id
        ):
            raise InvariantViolation(
                "the message's track is not this chat's work item's", code="track_wrong_work_item"
            )
    next_seq = (
        select(func.coalesce(func.max(Message.seq), 0) + 1)
        .where(Message.conversation_id == conversation_id)
        .scalar_subquery()
    )
    stmt = (
        pg_insert(Message)
        .values(
            id=uuid.uuid4(),
            conversation_id=conversation_id,
            seq=next_seq,
            role=MessageRole(role),
            content=content,
            data=dict(data or {}),
            node_id=node_id,
            track_id=track_id,
        )
        .returning(Message)
    )
    return session.scalars(stmt).one()


def messages(
    session: Session, conversation_id: uuid.UUID, *, after_seq: int = 0, limit: int = 500
) -> list[Message]:
    """Messages with seq > after_seq, in order."""
    stmt = (
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.seq > after_seq)
        .order_by(Message.seq)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def _check_binding(
    session: Session, workspace_id: uuid.UUID, work_item_id: uuid.UUID | None, track_id: uuid.UUID | None
) -> None:
    if work_item_id is not None:
        item = session.get(WorkItem, work_item_id)
        if item is None:
            raise NotFound("work_item", work_item_id)
        if item.workspace_id != workspace_id:
            raise InvariantViolation(
                "the work item is in another workspace", code="work_item_wrong_workspace"
            )
    if track_id is not None:
        track = session.get(Track, track_id)
        if track is None:
            raise NotFound("track", track_id)
        if track.work_item_id != work_item_id:
            raise InvariantViolation("the track belongs to another work item", code="track_wrong_work_item")
