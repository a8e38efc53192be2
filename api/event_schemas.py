"""Every Server-Sent Event the API sends, as a schema in the OpenAPI document, and the task
outputs added to task events.

Rules:
- ``EVENT_DATA`` names the ``data`` payload of every ledger event kind (``GET
  /workspaces/{id}/events``, and the ``progress`` events of a chat turn); ``CHAT_EVENTS`` the
  typed events of ``POST /conversations/{id}/messages``. ``add_event_schemas`` puts them all
  under ``components.schemas`` and describes both streams' ``text/event-stream`` bodies with a
  ``oneOf`` of them plus an ``x-sse-events`` map (event name → schema), so a client can generate
  its types; a test checks that every kind the code emits is listed here;
- an action result (the chat's ``action_result``, ``TurnOut.results``) carries ``touched``: the
  shots, images, tasks and exports it touched, by id, so a client links them without guessing;
- a task event (``task.*``) carries ``task_url``; ``task.succeeded`` also carries ``outputs``
  (added by ``api.presenters.add_task_links``):
  every stored file the task produced (node id, type, grid cell, asset id, content and
  thumbnail URLs), read from the ledger when the event is sent — the ledger row stays small and
  a client never has to ask "what did this task make?".
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Data(BaseModel):
    model_config = ConfigDict(extra="allow")


class TaskOutputRef(BaseModel):
    node_id: str
    type: str
    cell: int | None = None
    asset_id: str
    url: str = Field(description="The file (Range, ETag)")
    thumbnail_url: str | None = Field(default=None, description="WebP thumbnail (?size=256|512)")


class TaskEventData(_Data):
    task_id: str
    workflow_id: str | None = None
    type: str = Field(
        description="Task type: storyboard, grid, video, voice, music, compose, export, pipeline"
    )
    task_url: str | None = Field(default=None, description="GET it for status, progress, error and outputs")


class TaskRunning(TaskEventData):
    attempt: int | None = None


class TaskProgress(TaskEventData):
    progress: float = Field(
        ge=0, le=1, description="0..1, never backwards; sent as it moves by 5 % (at most once a second)"
    )


class TaskSucceeded(TaskEventData):
    result: dict[str, Any] | None = None
    outputs: list[TaskOutputRef] = Field(default_factory=list, description="Files the task produced")


class TaskEnded(TaskEventData):
    error: dict[str, Any] | None = Field(default=None, description="{code, message} of a failure")


class ActionsApplied(_Data):
    by: str
    intent: str | None = None
    actions: list[dict[str, Any]]
    snapshot_id: str | None = None


class WorkspaceChanged(_Data):
    title: str | None = None
    fields: list[str] | None = None


class WorkItemChanged(_Data):
    work_item_id: str
    fields: list[str] | None = None
    type: str | None = None
    idx: int | None = None
    to: int | None = None
    parts: list[str] | None = None
    merged: list[str] | None = None


class TrackChanged(_Data):
    track_id: str
    work_item_id: str | None = None
    name: str | None = None
    from_node_id: str | None = None
    deleted: int | None = None
    kept: int | None = None


class NodeCommitted(_Data):
    work_item_id: str
    node_id: str


class FavoriteChanged(_Data):
    favorite_id: str
    node_id: str | None = None


class SnapshotChanged(_Data):
    snapshot_id: str
    note: str | None = None
    safety_snapshot_id: str | None = None
    restored: int | None = None


class SceneChanged(_Data):
    scene_id: str
    idx: int | None = None
    to: int | None = None


class CharacterChanged(_Data):
    character_id: str
    name: str | None = None


EVENT_DATA: dict[str, type[BaseModel]] = {
    "task.queued": TaskEventData,
    "task.running": TaskRunning,
    "task.progress": TaskProgress,
    "task.succeeded": TaskSucceeded,
    "task.failed": TaskEnded,
    "task.canceled": TaskEnded,
    "actions.applied": ActionsApplied,
    "workspace.created": WorkspaceChanged,
    "workspace.updated": WorkspaceChanged,
    "work_item.created": WorkItemChanged,
    "work_item.updated": WorkItemChanged,
    "work_item.deleted": WorkItemChanged,
    "work_item.reordered": WorkItemChanged,
    "work_item.split": WorkItemChanged,
    "work_item.merged": WorkItemChanged,
    "track.forked": TrackChanged,
    "track.renamed": TrackChanged,
    "track.deleted": TrackChanged,
    "node.committed": NodeCommitted,
    "favorite.added": FavoriteChanged,
    "favorite.updated": FavoriteChanged,
    "favorite.removed": FavoriteChanged,
    "snapshot.created": SnapshotChanged,
    "snapshot.rolled_back": SnapshotChanged,
    "scene.created": SceneChanged,
    "scene.updated": SceneChanged,
    "scene.reordered": SceneChanged,
    "scene.deleted": SceneChanged,
    "character.created": CharacterChanged,
    "character.updated": CharacterChanged,
    "character.deleted": CharacterChanged,
}


class LedgerEvent(BaseModel):
    """One ledger event: the SSE `id` is `id`, the SSE `event` is `kind`, `data` is this JSON."""

    id: int = Field(description="Ledger event id (resume with Last-Event-ID)")
    kind: str
    data: dict[str, Any]
    created_at: str


# --- chat turn stream -------------------------------------------------------------------------


class ChatAccepted(BaseModel):
    conversation_id: str
    update_id: str


class ChatPlan(BaseModel):
    intent: str
    actions: list[dict[str, Any]]


class ChatProposal(BaseModel):
    proposal: dict[str, Any] | None = Field(
        description="{turn, reason, estimated_cost (relative units), estimate {cost_units, gpu_seconds, "
        "llm_calls, cost_usd, gpu_second_usd, llm_call_usd}, snapshot_first, preview}; answer with "
        "POST .../confirm"
    )
    message: str


class TouchedShot(BaseModel):
    work_item_id: str
    idx: int | None = Field(default=None, description="Its number when the action ran (drafts: null)")


class TouchedNode(BaseModel):
    node_id: str
    type: str
    work_item_id: str | None = None
    cell: int | None = None


class TouchedTask(BaseModel):
    task_id: str
    type: str = Field(description="Task type: grid, video, voice, music, compose, export, storyboard")
    work_item_id: str | None = None
    workflow_id: str | None = None


class TouchedExport(BaseModel):
    task_id: str = Field(description="GET /workspaces/{id}/exports/{task_id} for its download")


class Touched(BaseModel):
    """What one applied action touched (the studio links each to its card, drawer, queue row,
    player or download); empty for proposals and failed actions, which wrote nothing."""

    shots: list[TouchedShot] = Field(default_factory=list)
    nodes: list[TouchedNode] = Field(default_factory=list)
    tasks: list[TouchedTask] = Field(default_factory=list)
    exports: list[TouchedExport] = Field(default_factory=list)


class ChatActionResult(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    status: str
    data: dict[str, Any] = Field(default_factory=dict)
    task_ids: list[str] = Field(default_factory=list)
    workflow_ids: list[str] = Field(default_factory=list)
    error: dict[str, Any] | None = None
    touched: Touched = Field(default_factory=Touched)


class ChatTaskStarted(BaseModel):
    task_id: str
    workflow_id: str
    type: str


class ChatText(BaseModel):
    text: str


class ChatDone(BaseModel):
    status: str
    turn_id: str
    snapshot_id: str | None = None
    undo: str | None = None
    workspace_id: str | None = None
    focus: dict[str, Any] = Field(default_factory=dict)


class ChatError(BaseModel):
    code: str
    message: str


CHAT_EVENTS: dict[str, type[BaseModel]] = {
    "accepted": ChatAccepted,
    "progress": LedgerEvent,
    "plan": ChatPlan,
    "proposal": ChatProposal,
    "action_result": ChatActionResult,
    "task_started": ChatTaskStarted,
    "assistant_text": ChatText,
    "done": ChatDone,
    "error": ChatError,
}


def _schema_name(kind: str, prefix: str) -> str:
    return prefix + "".join(part.capitalize() for part in kind.replace(".", "_").split("_"))


def add_event_schemas(doc: dict[str, Any]) -> None:
    """Describe both SSE streams in an OpenAPI document: every event kind as a schema."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    ref = "#/components/schemas/"

    def add(model: type[BaseModel]) -> str:
        schema = model.model_json_schema(ref_template=ref + "{model}")
        for name, sub in schema.pop("$defs", {}).items():
            schemas.setdefault(name, sub)
        schemas.setdefault(model.__name__, schema)
        return ref + model.__name__

    ledger: dict[str, str] = {}
    for kind, model in EVENT_DATA.items():
        name = _schema_name(kind, "Event")
        schemas[name] = {
            "title": name,
            "description": f"Ledger event `{kind}`",
            "allOf": [{"$ref": add(LedgerEvent)}],
            "properties": {"kind": {"const": kind}, "data": {"$ref": add(model)}},
        }
        ledger[kind] = ref + name
    chat = {kind: add(model) for kind, model in CHAT_EVENTS.items()}
    for path, events in (
        ("/workspaces/{workspace_id}/events", ledger),
        ("/conversations/{conversation_id}/messages", chat),
    ):
        op = next(iter(v for k, v in doc["paths"].get(path, {}).items() if k in ("get", "post")), None)
        if op is None:
            continue
        content = op["responses"]["200"].setdefault("content", {})
        content["text/event-stream"] = {
            "schema": {"oneOf": [{"$ref": r} for r in dict.fromkeys(events.values())]},
            "x-sse-events": {k: {"$ref": r} for k, r in events.items()},
        }


__all__ = ["CHAT_EVENTS", "EVENT_DATA", "Touched", "add_event_schemas"]
