"""Request and response models of the REST API (the OpenAPI contract).

Rules: responses are built from ledger rows (``from_attributes``); request bodies reject unknown
fields (``extra="forbid"``) so a typo is a 422, not a silent no-op; URLs in responses are absolute
(built from the request's base URL) so a client can follow them as they are.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, computed_field, model_validator

from api.event_schemas import Touched
from schema.actions import ExportFormat, ShotPatch
from schema.base import version_of
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
from services.rules import DURATION_MAX_S, DURATION_MIN_S, MAX_POSITION, SPLIT_PARTS_MAX, SPLIT_PARTS_MIN

JsonObject = dict[str, Any]
Title = Annotated[str, Field(min_length=1, max_length=200)]
Name = Annotated[str, Field(min_length=1, max_length=64)]


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Versioned(Out):
    """A row edited with optimistic concurrency (api/concurrency.py): its `version` goes back as
    `If-Match` on PATCH (412 `version_mismatch` when it is stale)."""

    updated_at: datetime

    @computed_field(description="Optimistic-concurrency version: send it as If-Match on PATCH (412 if stale)")
    def version(self) -> str:
        return version_of(self.updated_at)


def reject_nul(value: Any) -> Any:
    """PostgreSQL text and jsonb cannot hold NUL characters: refuse them up front (422)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text must not contain NUL characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            reject_nul(key)
            reject_nul(item)
    elif isinstance(value, list):
        for item in value:
            reject_nul(item)
    return value


class In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        return reject_nul(data)


class Links:
    """Builds absolute URLs for resources (relative to the API's base URL)."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")

    def asset_content(self, workspace_id: uuid.UUID, asset_id: uuid.UUID) -> str:
        return f"{self.base}/workspaces/{workspace_id}/assets/{asset_id}/content"

    def asset_thumbnail(self, workspace_id: uuid.UUID, asset_id: uuid.UUID) -> str:
        return f"{self.base}/workspaces/{workspace_id}/assets/{asset_id}/thumbnail"

    def task(self, workspace_id: uuid.UUID, task_id: uuid.UUID) -> str:
        return f"{self.base}/workspaces/{workspace_id}/tasks/{task_id}"


# --- common ---------------------------------------------------------------------------------


class Page(Out):
    total: int = Field(description="Items returned")


class Me(Out):
    user_id: str
    role: Literal["admin", "user"]


# --- workspaces -----------------------------------------------------------------------------


class WorkspaceOut(Versioned):
    id: uuid.UUID
    owner_id: str
    type: WorkspaceType
    title: str
    meta: JsonObject
    style: str | None
    style_spec: JsonObject
    rules: JsonObject
    model_defaults: JsonObject
    cost_limit: int | None
    created_at: datetime


class WorkspaceCreate(In):
    type: WorkspaceType = WorkspaceType.narrative_project
    title: Title
    meta: JsonObject = Field(default_factory=dict, description="platform, aspect_ratio, language, ...")
    style: Annotated[str, Field(max_length=200)] | None = None
    style_spec: JsonObject = Field(default_factory=dict)
    rules: JsonObject = Field(default_factory=dict)
    model_defaults: JsonObject = Field(default_factory=dict)
    cost_limit: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    story: Annotated[str, Field(min_length=1, max_length=4000)] | None = Field(
        default=None, description="When given (narrative projects), a storyboard task starts at once."
    )
    shot_count: Annotated[int, Field(ge=3, le=60)] | None = None
    webhook_url: AnyHttpUrl | None = Field(
        default=None, description="Signed POST callback when the storyboard task ends."
    )


class WorkspaceUpdate(In):
    title: Title | None = None
    meta: JsonObject | None = Field(default=None, description="JSON merge patch (null deletes a key)")
    style: Annotated[str, Field(max_length=200)] | None = None
    style_spec: JsonObject | None = Field(default=None, description="JSON merge patch")
    rules: JsonObject | None = Field(default=None, description="JSON merge patch")
    model_defaults: JsonObject | None = Field(default=None, description="JSON merge patch")
    cost_limit: Annotated[int, Field(ge=0, le=1_000_000)] | None = None


# --- characters -----------------------------------------------------------------------------


class CharacterOut(Versioned):
    id: uuid.UUID
    workspace_id: uuid.UUID
    name: str
    profile: JsonObject
    locks: JsonObject
    reference_asset_ids: list[str]
    created_at: datetime


class CharacterCreate(In):
    name: Annotated[str, Field(min_length=1, max_length=60)]
    profile: JsonObject = Field(default_factory=dict)
    locks: JsonObject = Field(default_factory=dict, description="face, hair, outfit, palette")


class CharacterUpdate(In):
    profile: JsonObject | None = Field(default=None, description="JSON merge patch")
    locks: JsonObject | None = Field(default=None, description="JSON merge patch")


class CharacterReference(In):
    asset_id: uuid.UUID


# --- scenes ---------------------------------------------------------------------------------


class SceneOut(Versioned):
    id: uuid.UUID
    workspace_id: uuid.UUID
    idx: int
    title: str
    goal: str | None
    spec: JsonObject
    created_at: datetime


class SceneCreate(In):
    title: Annotated[str, Field(max_length=200)] = ""
    goal: Annotated[str, Field(max_length=4000)] | None = None
    spec: JsonObject = Field(default_factory=dict, description="place, time_of_day, mood, cast, pacing")
    at_idx: Annotated[int, Field(ge=1, le=MAX_POSITION)] | None = Field(
        default=None, description="Insert at this position (default: at the end)"
    )


class SceneUpdate(In):
    title: Annotated[str, Field(max_length=200)] | None = None
    goal: Annotated[str, Field(max_length=4000)] | None = None
    spec: JsonObject | None = Field(default=None, description="JSON merge patch")


class Reorder(In):
    to: Annotated[int, Field(ge=1, le=MAX_POSITION, description="New 1-based position")]


# --- work items -----------------------------------------------------------------------------


class WorkItemOut(Versioned):
    id: uuid.UUID
    workspace_id: uuid.UUID
    type: WorkItemType
    scene_id: uuid.UUID | None
    idx: int | None
    duration_s: float | None
    spec: JsonObject
    locks: JsonObject
    tags: list[Any]
    selected_node_id: uuid.UUID | None
    created_at: datetime


class WorkItemCreate(In):
    type: WorkItemType = WorkItemType.shot
    spec: JsonObject = Field(
        default_factory=dict, description="visual, camera, characters, narration, dialogue, ..."
    )
    duration_s: Annotated[float, Field(ge=DURATION_MIN_S, le=DURATION_MAX_S)] | None = None
    scene_id: uuid.UUID | None = None
    at_idx: Annotated[int, Field(ge=1, le=MAX_POSITION)] | None = Field(
        default=None, description="Shots: insert at this position (default: at the end)"
    )
    tags: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=50)
    locks: JsonObject = Field(default_factory=dict)


class WorkItemUpdate(In):
    spec: JsonObject | None = Field(
        default=None,
        description="JSON merge patch of the spec, e.g. {'visual': 'new prompt', 'narration': '...'}",
    )
    locks: JsonObject | None = Field(default=None, description="JSON merge patch")
    tags: list[Annotated[str, Field(max_length=64)]] | None = Field(default=None, max_length=50)
    duration_s: Annotated[float, Field(ge=DURATION_MIN_S, le=DURATION_MAX_S)] | None = Field(
        default=None, description="Seconds; send null to clear"
    )
    scene_id: uuid.UUID | None = Field(default=None, description="Send null to detach from its scene")


class Split(In):
    """Same bounds as the DSL's ``shot.split`` (:mod:`services.rules`)."""

    parts: Annotated[int, Field(ge=SPLIT_PARTS_MIN, le=SPLIT_PARTS_MAX)] = 2
    specs: list[JsonObject] | None = Field(
        default=None,
        min_length=SPLIT_PARTS_MIN,
        max_length=SPLIT_PARTS_MAX,
        description="One merge patch per part (may carry duration_s); overrides `parts`",
    )


class Merge(In):
    work_item_ids: list[uuid.UUID] = Field(min_length=2, max_length=60)


class BatchShotEdit(In):
    """The board's batch edit: one `shot.update` of these shots with this patch."""

    work_item_ids: list[uuid.UUID] = Field(min_length=1, max_length=60)
    patch: ShotPatch = Field(
        description="Shot fields to set on every shot: visual (description), style_override, time_of_day, "
        "weather, lighting, mood, camera {size, angle, movement}, duration_s (2–8 s), ..."
    )
    versions: dict[uuid.UUID, str] = Field(
        default_factory=dict,
        description="If-Match per shot: work item id → the `version` the form started from; 412 "
        "`version_mismatch` (nothing applied) when any of them changed since",
    )


class StoryboardShot(WorkItemOut):
    selected_asset_id: uuid.UUID | None = None
    selected_url: str | None = None
    thumbnail_url: str | None = None


class StoryboardOut(Out):
    workspace: WorkspaceOut
    scenes: list[SceneOut]
    shots: list[StoryboardShot]
    total_duration_s: float


# --- tracks & nodes -------------------------------------------------------------------------


class TrackOut(Versioned):
    id: uuid.UUID
    work_item_id: uuid.UUID
    name: str
    created_from_node_id: uuid.UUID | None
    is_main: bool = False
    created_at: datetime


class TrackFork(In):
    from_node_id: uuid.UUID
    name: Name | None = Field(default=None, description="Default: the next free letter")


class TrackRename(In):
    name: Name


class TrackDeletionOut(Out):
    deleted_node_ids: list[uuid.UUID]
    kept_node_ids: list[uuid.UUID]


class AssetOut(Out):
    id: uuid.UUID
    workspace_id: uuid.UUID
    kind: AssetKind
    mime: str
    size_bytes: int
    content_hash: str
    width: int | None
    height: int | None
    duration_s: float | None
    created_at: datetime
    content_url: str | None = None
    thumbnail_url: str | None = None


class NodeOut(Out):
    id: uuid.UUID
    workspace_id: uuid.UUID
    work_item_id: uuid.UUID | None
    track_id: uuid.UUID | None
    parent_id: uuid.UUID | None
    type: NodeType
    status: NodeStatus
    cell: int | None
    payload: JsonObject
    result: JsonObject | None
    asset_id: uuid.UUID | None
    task_id: uuid.UUID | None
    created_at: datetime
    asset: AssetOut | None = None


class LineageEntry(Out):
    depth: int
    node: NodeOut


class ReferenceEntry(Out):
    role: RefRole
    node: NodeOut


class FavoriteCreate(In):
    tags: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=50
    )


class FavoriteOut(Out):
    id: uuid.UUID
    workspace_id: uuid.UUID
    work_item_id: uuid.UUID
    node_id: uuid.UUID | None
    asset_id: uuid.UUID | None
    tags: list[Any]
    created_at: datetime


# --- tasks ----------------------------------------------------------------------------------


class TaskOutput(Out):
    node_id: uuid.UUID
    type: NodeType
    cell: int | None
    asset_id: uuid.UUID
    url: str


class TaskOut(Out):
    id: uuid.UUID
    workspace_id: uuid.UUID
    work_item_id: uuid.UUID | None
    type: TaskType
    status: TaskStatus
    payload: JsonObject
    result: JsonObject | None
    error: JsonObject | None
    retries: int
    workflow_id: str | None
    run_id: str | None
    parent_task_id: uuid.UUID | None
    trace_id: str | None
    progress: float
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime
    gpu_seconds: float | None = Field(default=None, description="Measured seconds on the GPU")
    cost: float | None = Field(default=None, description="USD, where a price table is configured")
    result_url: str | None = Field(default=None, description="Download URL of the task's main output")
    outputs: list[TaskOutput] = Field(default_factory=list)


class TaskCounts(Out):
    counts: dict[str, int]


class UsageByType(Out):
    type: TaskType
    tasks: int
    succeeded: int
    failed: int
    canceled: int
    busy_seconds: float = Field(description="Wall seconds from start to finish, summed")
    gpu_seconds: float = Field(description="Measured GPU seconds (diffusers providers)")
    cost: float | None = Field(description="USD from the price table; null when nothing here is priced")
    rate_cost: float = Field(
        description="USD at a proposal estimate's rates (measured GPU seconds × the GPU-second price, "
        "plus one LLM call per storyboard when an LLM writes them): compare with `estimate.cost_usd`"
    )


class Usage(Out):
    """What a workspace's generation used: per task type and in total."""

    by_type: list[UsageByType]
    tasks: int
    gpu_seconds: float
    cost: float | None
    rate_cost: float = Field(description="Sum of `by_type[].rate_cost` (USD)")


# --- snapshots ------------------------------------------------------------------------------


class SnapshotCreate(In):
    note: Annotated[str, Field(max_length=200)] = ""
    work_item_id: uuid.UUID | None = Field(default=None, description="Snapshot one work item only")


class SnapshotOut(Out):
    id: uuid.UUID
    workspace_id: uuid.UUID
    work_item_id: uuid.UUID | None
    note: str
    created_by: str | None
    created_at: datetime


class SnapshotDetail(SnapshotOut):
    data: JsonObject


class FieldChange(Out):
    field: str
    before: Any = None
    after: Any = None


class WorkItemDiff(Out):
    work_item_id: uuid.UUID
    idx_before: int | None = None
    idx_after: int | None = None
    changes: list[FieldChange]


class SnapshotDiff(Out):
    snapshot_id: uuid.UUID
    against: str = Field(description="'current' or the id of the other snapshot")
    added: list[uuid.UUID] = Field(
        description="Work items present now (or in `against`) but not in the snapshot"
    )
    removed: list[uuid.UUID] = Field(description="Work items in the snapshot that no longer exist")
    changed: list[WorkItemDiff]
    workspace_changes: list[FieldChange]


class RollbackOut(Out):
    snapshot_id: uuid.UUID
    safety_snapshot_id: uuid.UUID | None = Field(
        default=None, description="Snapshot taken just before the rollback (undo the undo)"
    )
    restored_work_item_ids: list[uuid.UUID]
    missing_work_item_ids: list[uuid.UUID]
    missing_node_ids: list[uuid.UUID]


# --- actions (generation, task control) -----------------------------------------------------


class ActionResultOut(Out):
    type: str
    status: Literal["done", "started", "proposed", "failed"] | str
    data: JsonObject = Field(default_factory=dict)
    task_ids: list[str] = Field(default_factory=list)
    workflow_ids: list[str] = Field(default_factory=list)
    error: JsonObject | None = None
    touched: Touched = Field(default_factory=Touched, description="Shots, images, tasks, exports it touched")


class TurnOut(Out):
    """What one action request did: per action, its result (tasks and workflows started)."""

    mode: str
    results: list[ActionResultOut]
    snapshot_id: str | None = None
    proposal: JsonObject | None = None
    task_ids: list[str] = Field(default_factory=list, description="All tasks started by this request")
    workflow_ids: list[str] = Field(default_factory=list)


class WorkspaceCreated(Out):
    workspace: WorkspaceOut
    storyboard: TurnOut | None = Field(default=None, description="Present when a story was given")
    storyboard_error: JsonObject | None = Field(
        default=None,
        description="{code, message} when the storyboard could not start (the workspace exists; "
        "retry with POST /workspaces/{id}/generate/storyboard)",
    )


# --- events & conversations -----------------------------------------------------------------


class EventOut(Out):
    id: int
    kind: str
    data: JsonObject
    created_at: datetime


class ConversationCreate(In):
    workspace_id: uuid.UUID
    mode: ConversationMode = ConversationMode.agent
    work_item_id: uuid.UUID | None = Field(default=None, description="Required for pro mode")
    track_id: uuid.UUID | None = Field(default=None, description="Pro mode: the track to work on")
    title: Annotated[str, Field(max_length=200)] | None = None


class ConversationOut(Out):
    id: uuid.UUID
    workspace_id: uuid.UUID
    owner_id: str
    mode: ConversationMode
    work_item_id: uuid.UUID | None
    track_id: uuid.UUID | None
    workflow_id: str | None
    title: str | None
    created_at: datetime
    updated_at: datetime


class MessageOut(Out):
    id: uuid.UUID
    seq: int
    role: MessageRole
    content: str
    data: JsonObject
    node_id: uuid.UUID | None
    track_id: uuid.UUID | None
    created_at: datetime


class ConversationHistory(ConversationOut):
    messages: list[MessageOut]
    pending: JsonObject | None = Field(
        default=None, description="The proposal awaiting POST /conversations/{id}/confirm, if any"
    )


class MessageCreate(In):
    text: Annotated[str, Field(min_length=1, max_length=4000)]


class ConfirmCreate(In):
    approve: bool = True
    note: Annotated[str, Field(max_length=500)] | None = None


class ConversationReply(Out):
    """What one turn (or one confirmation) did, as the agent reports it."""

    turn_id: str
    status: str = Field(
        description="done | partial | failed | awaiting_confirmation | declined | no_action | invalid | error"
    )
    message: str
    intent: str = ""
    actions: list[JsonObject] = Field(default_factory=list)
    results: list[JsonObject] = Field(default_factory=list)
    proposal: JsonObject | None = None
    snapshot_id: str | None = None
    workspace_id: str | None = None
    focus: JsonObject = Field(default_factory=dict)
    undo: str | None = None
    planner: str | None = Field(default=None, description="Which planner answered: offline, gemini:…")
    confidence: float | None = Field(default=None, description="How sure the planner was (0–1)")
    evidence: list[str] = Field(default_factory=list, description="Which words mapped to what")
    question: JsonObject | None = Field(
        default=None, description="A clarifying question (kind, choices); the next message answers it"
    )


# --- exports --------------------------------------------------------------------------------


class ExportCreate(In):
    """`export.package`: a zip of the favorites or of each shot's selected version."""

    selection: Literal["favorites", "selected"] = Field(
        default="selected",
        description="favorites: every favorite, a folder per shot; selected: each shot's selected "
        "version (image and/or video, narration) in shot order, plus the latest compose output",
    )
    naming: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None,
        description="File-name pattern, e.g. `{title}-{shot}-{kind}` or `shot-{shot}/{n}`; placeholders "
        "{shot} {folder} {kind} {label} {tags} {title} {n} {cell} {role} {hash} {node}; `/` makes "
        "folders; the extension is added. Default: one folder per shot (the favorites download layout)",
    )
    formats: Annotated[list[ExportFormat], Field(min_length=1, max_length=8)] = Field(
        default_factory=lambda: ["media"],
        description="What the zip holds: `media` (the selection's files; the default), editor timelines "
        "of the cut with its media — `otio`, `fcpxml` (Final Cut Pro X), `fcp7xml` (Premiere / FCP 7 "
        "XML), `edl` (CMX 3600) —, subtitles `srt` and `vtt`, and `capcut` (a CapCut/Jianying draft "
        "folder). Media are named by relative paths, so an unzipped package relinks where it lands",
    )
    webhook_url: AnyHttpUrl | None = Field(
        default=None, description="POSTed a signed JSON body when the export task ends"
    )


class ExportOut(Out):
    """An export task; `download_url` (the zip, via the asset content route) once it succeeded."""

    task: TaskOut
    selection: str
    naming: str | None = None
    asset_id: uuid.UUID | None = None
    download_url: str | None = None
    files: int | None = Field(default=None, description="Files in the zip (manifest.json not counted)")
    size_bytes: int | None = Field(default=None, description="Size of the zip")
    formats: list[str] = Field(default_factory=lambda: ["media"], description="What the zip holds")
    generated: list[str] | None = Field(
        default=None, description="Timeline, subtitle and draft files written from the cut"
    )
