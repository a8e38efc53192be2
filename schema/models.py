"""The ledger (docs/domain.md): every table as a typed SQLAlchemy 2.0 model.

Rule: invariants live in the database, not only in code. Ownership between rows is enforced by
composite foreign keys against `UNIQUE (id, <parent>)` pairs, so a row can only point at a row of
the same workspace / work item:

- a work item's selected node belongs to that work item: (selected_node_id, id) -> node(id, work_item_id);
- lineage never crosses work items (nor workspaces): (parent_id, work_item_id) -> node(id, work_item_id)
  and (parent_id, workspace_id) -> node(id, workspace_id);
- a node's track belongs to the node's work item: (track_id, work_item_id) -> track(id, work_item_id);
- a reference stays inside one workspace (it may cross tracks and work items):
  (from|to_node_id, workspace_id) -> node(id, workspace_id);
- a node's asset, a shot's scene, a track's fork point, a favorite's node all stay in their owner.

ON DELETE is chosen per edge and documented next to it. The short version: ownership edges
CASCADE (deleting a workspace or work item removes what hangs on it); evidence edges that must
never silently disappear are NO ACTION (a selected node, a referenced node, a parent node, a pinned
asset cannot be deleted while something points at it); informational links SET NULL (only the
pointing column, via PostgreSQL 15+ `SET NULL (column)` on composite keys).

No ORM relationships: repositories query explicitly (no lazy loads behind the caller's back).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    Numeric,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from schema.base import Base, created_at, pg_enum, updated_at, uuid_pk
from schema.enums import (
    AssetKind,
    ConversationMode,
    MessageRole,
    NodeStatus,
    NodeType,
    RefRole,
    TaskStatus,
    TaskType,
    WorkItemType,
    WorkspaceType,
)

EMPTY_OBJECT = text("'{}'::jsonb")
EMPTY_ARRAY = text("'[]'::jsonb")


def _json_object() -> Mapped[dict[str, Any]]:
    return mapped_column(default=dict, server_default=EMPTY_OBJECT)


def _json_array() -> Mapped[list[Any]]:
    return mapped_column(default=list, server_default=EMPTY_ARRAY)


def _workspace_fk() -> Mapped[uuid.UUID]:
    # Ownership edge: a workspace's rows go with it.
    return mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"), nullable=False)


class Workspace(Base):
    """A narrative project (script -> scenes -> ordered shots) or a draft space (free drafts)."""

    __tablename__ = "workspace"
    __table_args__ = (
        CheckConstraint("cost_limit IS NULL OR cost_limit >= 0", name="cost_limit_non_negative"),
        Index("ix_workspace_owner_id", "owner_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    owner_id: Mapped[str] = mapped_column(Text)  # the JWT `sub` of the owner
    type: Mapped[WorkspaceType] = mapped_column(pg_enum(WorkspaceType, "workspace_type"))
    title: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = _json_object()  # platform, aspect_ratio, language, target_duration_s
    style: Mapped[str | None] = mapped_column(Text)
    style_spec: Mapped[dict[str, Any]] = _json_object()
    rules: Mapped[dict[str, Any]] = _json_object()  # forbidden content, brand rules
    model_defaults: Mapped[dict[str, Any]] = _json_object()
    cost_limit: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class Character(Base):
    """A recurring character with consistency locks (face, hair, outfit, palette) and references."""

    __tablename__ = "character"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    workspace_id: Mapped[uuid.UUID] = _workspace_fk()
    name: Mapped[str] = mapped_column(Text)
    profile: Mapped[dict[str, Any]] = _json_object()
    locks: Mapped[dict[str, Any]] = _json_object()
    reference_asset_ids: Mapped[list[Any]] = _json_array()  # asset ids as strings
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class Scene(Base):
    """A narrative scene, ordered by `idx` (1..N, unique per workspace)."""

    __tablename__ = "scene"
    __table_args__ = (
        UniqueConstraint("workspace_id", "idx"),
        UniqueConstraint("id", "workspace_id"),  # target of work_item's same-workspace FK
        CheckConstraint("idx >= 1", name="idx_positive"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    workspace_id: Mapped[uuid.UUID] = _workspace_fk()
    idx: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text, default="", server_default="")
    goal: Mapped[str | None] = mapped_column(Text)
    spec: Mapped[dict[str, Any]] = _json_object()  # place, time, mood, cast, pacing
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class WorkItem(Base):
    """A shot (ordered, in a scene) or a draft (board item): the unit everything hangs on."""

    __tablename__ = "work_item"
    __table_args__ = (
        CheckConstraint("(type = 'shot') = (idx IS NOT NULL)", name="shot_has_idx"),
        CheckConstraint("type <> 'draft' OR scene_id IS NULL", name="draft_has_no_scene"),
        CheckConstraint("idx IS NULL OR idx >= 1", name="idx_positive"),
        CheckConstraint("duration_s IS NULL OR duration_s BETWEEN 0.5 AND 60", name="duration_range"),
        UniqueConstraint("id", "workspace_id"),  # target of same-workspace FKs
        # Shot order is unique per workspace; drafts (idx NULL) are not ordered.
        Index(
            "uq_work_item_workspace_id_idx_shot",
            "workspace_id",
            "idx",
            unique=True,
            postgresql_where=text("type = 'shot'"),
        ),
        # The shot's scene must be in the same workspace. Deleting a scene only detaches its
        # shots (SET NULL on scene_id alone): shots are the narrative truth, scenes are grouping.
        ForeignKeyConstraint(
            ["scene_id", "workspace_id"],
            ["scene.id", "scene.workspace_id"],
            ondelete="SET NULL (scene_id)",
        ),
        # The selected node belongs to this work item. NO ACTION: a selected node cannot be
        # deleted (deselect first). use_alter: work_item <-> node is a cycle.
        ForeignKeyConstraint(
            ["selected_node_id", "id"],
            ["node.id", "node.work_item_id"],
            use_alter=True,
        ),
        Index("ix_work_item_scene_id", "scene_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    workspace_id: Mapped[uuid.UUID] = _workspace_fk()
    type: Mapped[WorkItemType] = mapped_column(pg_enum(WorkItemType, "work_item_type"))
    scene_id: Mapped[uuid.UUID | None] = mapped_column()
    idx: Mapped[int | None] = mapped_column(Integer)
    duration_s: Mapped[float | None] = mapped_column(Double)
    spec: Mapped[dict[str, Any]] = _json_object()  # visual, camera, characters, narration, audio...
    locks: Mapped[dict[str, Any]] = _json_object()
    tags: Mapped[list[Any]] = _json_array()
    selected_node_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class Track(Base):
    """A branch of exploration inside one work item (A, B, C...)."""

    __tablename__ = "track"
    __table_args__ = (
        UniqueConstraint("work_item_id", "name"),
        UniqueConstraint("id", "work_item_id"),  # target of node/conversation same-work-item FKs
        CheckConstraint("name <> ''", name="name_not_empty"),
        # The fork point is a node of the same work item. Deleting it only forgets where the
        # track forked (SET NULL on created_from_node_id alone). use_alter: track <-> node cycle.
        ForeignKeyConstraint(
            ["created_from_node_id", "work_item_id"],
            ["node.id", "node.work_item_id"],
            ondelete="SET NULL (created_from_node_id)",
            use_alter=True,
        ),
        Index("ix_track_created_from_node_id", "created_from_node_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    # Ownership edge: a work item's tracks go with it.
    work_item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("work_item.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text)
    created_from_node_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class Asset(Base):
    """A stored file, content-addressed per workspace: one row per (workspace, sha256)."""

    __tablename__ = "asset"
    __table_args__ = (
        UniqueConstraint("workspace_id", "content_hash"),
        UniqueConstraint("id", "workspace_id"),  # target of same-workspace FKs
        CheckConstraint("content_hash ~ '^[0-9a-f]{64}$'", name="content_hash_sha256_hex"),
        CheckConstraint("size_bytes >= 0", name="size_non_negative"),
        Index("ix_asset_storage_key", "storage_key"),
        Index("ix_asset_thumbnail_key", "thumbnail_key"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    workspace_id: Mapped[uuid.UUID] = _workspace_fk()
    storage_key: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(Text)
    kind: Mapped[AssetKind] = mapped_column(pg_enum(AssetKind, "asset_kind"))
    mime: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    duration_s: Mapped[float | None] = mapped_column(Double)
    thumbnail_key: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()


class Task(Base):
    """The execution ledger, mirrored from the workflow engine (one row per workflow id)."""

    __tablename__ = "task"
    __table_args__ = (
        CheckConstraint("progress BETWEEN 0 AND 1", name="progress_range"),
        CheckConstraint("retries >= 0", name="retries_non_negative"),
        Index(
            "uq_task_workflow_id",
            "workflow_id",
            unique=True,
            postgresql_where=text("workflow_id IS NOT NULL"),
        ),
        Index("ix_task_workspace_id_status", "workspace_id", "status"),
        Index("ix_task_workspace_id_type_created_at", "workspace_id", "type", "created_at"),
        Index("ix_task_work_item_id", "work_item_id"),
        Index("ix_task_parent_task_id", "parent_task_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    workspace_id: Mapped[uuid.UUID] = _workspace_fk()
    # Informational: the task history outlives a deleted shot.
    work_item_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("work_item.id", ondelete="SET NULL"))
    type: Mapped[TaskType] = mapped_column(pg_enum(TaskType, "task_type"))
    status: Mapped[TaskStatus] = mapped_column(
        pg_enum(TaskStatus, "task_status"), default=TaskStatus.queued, server_default=TaskStatus.queued.value
    )
    payload: Mapped[dict[str, Any]] = _json_object()
    result: Mapped[dict[str, Any] | None] = mapped_column()
    error: Mapped[dict[str, Any] | None] = mapped_column()  # {code, message}
    retries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    workflow_id: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(Text)
    # Informational: a child task survives its parent's deletion.
    parent_task_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("task.id", ondelete="SET NULL"))
    trace_id: Mapped[str | None] = mapped_column(Text)
    cost: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    gpu_seconds: Mapped[float | None] = mapped_column(Double)
    idempotency_key: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[float] = mapped_column(Double, default=0.0, server_default="0")
    queued_at: Mapped[datetime] = mapped_column(server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class Node(Base):
    """One artifact or step. `parent_id` is lineage (never crosses work items); `payload` is the
    full input snapshot so the node can be regenerated; `idempotency_key` makes retried writes
    land on the same row."""

    __tablename__ = "node"
    __table_args__ = (
        UniqueConstraint("id", "work_item_id"),  # target of same-work-item FKs
        UniqueConstraint("id", "workspace_id"),  # target of same-workspace FKs
        UniqueConstraint("idempotency_key"),
        CheckConstraint("cell IS NULL OR cell BETWEEN 1 AND 9", name="cell_range"),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
        # Without a work item the composite track FK below would not be checked (MATCH SIMPLE).
        CheckConstraint("track_id IS NULL OR work_item_id IS NOT NULL", name="track_needs_work_item"),
        # Ownership edge, and the node's workspace is its work item's workspace.
        ForeignKeyConstraint(
            ["work_item_id", "workspace_id"],
            ["work_item.id", "work_item.workspace_id"],
            ondelete="CASCADE",
        ),
        # The track belongs to the node's work item. NO ACTION: tracks are deleted through
        # tracks.delete_track, which first detaches the nodes it keeps.
        ForeignKeyConstraint(["track_id", "work_item_id"], ["track.id", "track.work_item_id"]),
        # Lineage never crosses work items, nor workspaces (for workspace-level nodes).
        # NO ACTION: a node that others were iterated from cannot be deleted on its own.
        ForeignKeyConstraint(["parent_id", "work_item_id"], ["node.id", "node.work_item_id"]),
        ForeignKeyConstraint(["parent_id", "workspace_id"], ["node.id", "node.workspace_id"]),
        # The stored file is in the same workspace; deleting it leaves the node (and its
        # payload, so it can be regenerated) with asset_id NULL.
        ForeignKeyConstraint(
            ["asset_id", "workspace_id"],
            ["asset.id", "asset.workspace_id"],
            ondelete="SET NULL (asset_id)",
        ),
        Index("ix_node_work_item_id_track_id_created_at", "work_item_id", "track_id", "created_at"),
        Index("ix_node_workspace_id_type", "workspace_id", "type"),
        Index("ix_node_parent_id", "parent_id"),
        Index("ix_node_asset_id", "asset_id"),
        Index("ix_node_task_id", "task_id"),
        Index("ix_node_track_id", "track_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    workspace_id: Mapped[uuid.UUID] = _workspace_fk()
    work_item_id: Mapped[uuid.UUID | None] = mapped_column()  # NULL for workspace-level nodes (compose)
    track_id: Mapped[uuid.UUID | None] = mapped_column()
    parent_id: Mapped[uuid.UUID | None] = mapped_column()
    type: Mapped[NodeType] = mapped_column(pg_enum(NodeType, "node_type"))
    status: Mapped[NodeStatus] = mapped_column(
        pg_enum(NodeStatus, "node_status"), default=NodeStatus.ok, server_default=NodeStatus.ok.value
    )
    cell: Mapped[int | None] = mapped_column(Integer)  # 1..9 for grid cells
    payload: Mapped[dict[str, Any]] = _json_object()
    result: Mapped[dict[str, Any] | None] = mapped_column()
    asset_id: Mapped[uuid.UUID | None] = mapped_column()
    # Informational: the node outlives the task row that produced it.
    task_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("task.id", ondelete="SET NULL"))
    idempotency_key: Mapped[str | None] = mapped_column(Text)  # e.g. <workflow_id>/<activity>/<cell>
    trace_id: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class NodeRef(Base):
    """A reference edge (`from` used `to` as an image/style/character/scene/audio reference).
    May cross tracks and work items, never workspaces; never merges histories."""

    __tablename__ = "node_ref"
    __table_args__ = (
        UniqueConstraint("from_node_id", "to_node_id", "role"),
        CheckConstraint("from_node_id <> to_node_id", name="not_self"),
        # Deleting the referencing node drops its outgoing references.
        ForeignKeyConstraint(
            ["from_node_id", "workspace_id"], ["node.id", "node.workspace_id"], ondelete="CASCADE"
        ),
        # NO ACTION: a referenced node cannot be deleted.
        ForeignKeyConstraint(["to_node_id", "workspace_id"], ["node.id", "node.workspace_id"]),
        Index("ix_node_ref_to_node_id_created_at_id", "to_node_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    workspace_id: Mapped[uuid.UUID] = _workspace_fk()
    from_node_id: Mapped[uuid.UUID] = mapped_column()
    to_node_id: Mapped[uuid.UUID] = mapped_column()
    role: Mapped[RefRole] = mapped_column(pg_enum(RefRole, "ref_role"))
    created_at: Mapped[datetime] = created_at()


class Favorite(Base):
    """A pinned candidate (node and/or asset) of one work item, with tags."""

    __tablename__ = "favorite"
    __table_args__ = (
        CheckConstraint("node_id IS NOT NULL OR asset_id IS NOT NULL", name="has_target"),
        UniqueConstraint("work_item_id", "node_id"),
        Index(
            "uq_favorite_work_item_id_asset_id_no_node",
            "work_item_id",
            "asset_id",
            unique=True,
            postgresql_where=text("node_id IS NULL"),
        ),
        # Ownership edge: unpinned when the work item goes.
        ForeignKeyConstraint(
            ["work_item_id", "workspace_id"], ["work_item.id", "work_item.workspace_id"], ondelete="CASCADE"
        ),
        # The node is the work item's own; a pin has no meaning without its node.
        ForeignKeyConstraint(
            ["node_id", "work_item_id"], ["node.id", "node.work_item_id"], ondelete="CASCADE"
        ),
        # NO ACTION: a pinned file cannot be deleted (never lose work).
        ForeignKeyConstraint(["asset_id", "workspace_id"], ["asset.id", "asset.workspace_id"]),
        Index("ix_favorite_node_id", "node_id"),
        Index("ix_favorite_asset_id", "asset_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    workspace_id: Mapped[uuid.UUID] = _workspace_fk()
    work_item_id: Mapped[uuid.UUID] = mapped_column()
    node_id: Mapped[uuid.UUID | None] = mapped_column()
    asset_id: Mapped[uuid.UUID | None] = mapped_column()
    tags: Mapped[list[Any]] = _json_array()
    created_at: Mapped[datetime] = created_at()


class Snapshot(Base):
    """A saved copy of selections and specs (of a workspace, or of one work item) for rollback."""

    __tablename__ = "snapshot"
    __table_args__ = (
        # Ownership edge: a work item's snapshots go with it.
        ForeignKeyConstraint(
            ["work_item_id", "workspace_id"], ["work_item.id", "work_item.workspace_id"], ondelete="CASCADE"
        ),
        Index("ix_snapshot_workspace_id_created_at", "workspace_id", "created_at"),
        Index("ix_snapshot_work_item_id", "work_item_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    workspace_id: Mapped[uuid.UUID] = _workspace_fk()
    work_item_id: Mapped[uuid.UUID | None] = mapped_column()
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    data: Mapped[dict[str, Any]] = _json_object()
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()


class Conversation(Base):
    """An Agent chat (whole workspace) or a Pro chat (bound to one work item and track)."""

    __tablename__ = "conversation"
    __table_args__ = (
        CheckConstraint("mode <> 'pro' OR work_item_id IS NOT NULL", name="pro_has_work_item"),
        CheckConstraint("track_id IS NULL OR work_item_id IS NOT NULL", name="track_needs_work_item"),
        Index(
            "uq_conversation_workflow_id",
            "workflow_id",
            unique=True,
            postgresql_where=text("workflow_id IS NOT NULL"),
        ),
        # Ownership edge: a Pro chat goes with its work item.
        ForeignKeyConstraint(
            ["work_item_id", "workspace_id"], ["work_item.id", "work_item.workspace_id"], ondelete="CASCADE"
        ),
        # The bound track is the work item's; deleting it only unbinds the chat.
        ForeignKeyConstraint(
            ["track_id", "work_item_id"], ["track.id", "track.work_item_id"], ondelete="SET NULL (track_id)"
        ),
        Index("ix_conversation_workspace_id_owner_id", "workspace_id", "owner_id"),
        Index("ix_conversation_work_item_id", "work_item_id"),
        Index("ix_conversation_track_id", "track_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    workspace_id: Mapped[uuid.UUID] = _workspace_fk()
    owner_id: Mapped[str] = mapped_column(Text)
    mode: Mapped[ConversationMode] = mapped_column(pg_enum(ConversationMode, "conversation_mode"))
    work_item_id: Mapped[uuid.UUID | None] = mapped_column()
    track_id: Mapped[uuid.UUID | None] = mapped_column()
    workflow_id: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class Message(Base):
    """One chat message; `seq` is 1..N per conversation; may link the node and track it produced."""

    __tablename__ = "message"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        CheckConstraint("seq >= 1", name="seq_positive"),
        Index("ix_message_node_id", "node_id"),
        Index("ix_message_track_id", "track_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    # Ownership edge.
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[MessageRole] = mapped_column(pg_enum(MessageRole, "message_role"))
    content: Mapped[str] = mapped_column(Text, default="", server_default="")
    data: Mapped[dict[str, Any]] = _json_object()
    # Informational links: the chat history outlives deleted nodes and tracks.
    node_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("node.id", ondelete="SET NULL"))
    track_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("track.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at()


class Event(Base):
    """Append-only workspace event log; `id` is monotonic per workspace in commit order and is
    the SSE `Last-Event-ID` (see repositories.events for how commit order is guaranteed)."""

    __tablename__ = "event"
    __table_args__ = (Index("ix_event_workspace_id_id", "workspace_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    workspace_id: Mapped[uuid.UUID] = _workspace_fk()
    kind: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = _json_object()
    created_at: Mapped[datetime] = created_at()


__all__ = [
    "Asset",
    "Base",
    "Character",
    "Conversation",
    "Event",
    "Favorite",
    "Message",
    "Node",
    "NodeRef",
    "Scene",
    "Snapshot",
    "Task",
    "Track",
    "WorkItem",
    "Workspace",
]

from schema import api_models as _api_models  # noqa: E402,F401  (API tables share Base.metadata)
