"""The Action DSL: every change a user can make by chat or by button is one of these actions.

Rules kept here:
- one pydantic model per ``family.verb`` (``type`` is the discriminator), unknown keys are rejected;
- targets stay as people say them (shot numbers 1-based, ranges expanded, ``"all"``, track letters,
  grid cells ``#N``); the action router resolves them to ids against the workspace;
- :func:`requires_confirmation` is the single place that says which actions must be *proposed*
  (delete, batch regenerate, overwrite more than one shot, rollback); cost-based proposing is the
  router's job and uses :func:`cost_units`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeAlias, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    create_model,
    field_validator,
    model_serializer,
    model_validator,
)

MAX_SHOT_NUMBER = 999
MAX_GRID_CELL = 9

# --------------------------------------------------------------------------------------------------
# Target types
# --------------------------------------------------------------------------------------------------

_RANGE_RE = re.compile(r"^\s*#?(\d+)\s*(?:-|–|—|~|\.\.|to)\s*#?(\d+)\s*$")


def _expand_item(item: Any) -> list[Any]:
    """Expand one shot target item: ``3``, ``"3"``, ``"8-12"``; anything else is passed on to fail."""
    if isinstance(item, bool):
        return [item]  # rejected later: a bool is not a shot number
    if isinstance(item, int):
        return [item]
    if isinstance(item, str):
        s = item.strip().lstrip("#")
        if s.isdigit():
            return [int(s)]
        m = _RANGE_RE.match(s)
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            lo, hi = min(a, b), max(a, b)
            if hi > MAX_SHOT_NUMBER:
                return [hi]  # fails the le= bound with a clear message
            return list(range(lo, hi + 1))
    return [item]


def _coerce_shot_list(value: Any) -> Any:
    """Accept ``3``, ``"3"``, ``"8-12"``, ``"2,4,6"`` and lists of those; ``"all"`` passes through."""
    if isinstance(value, str):
        s = value.strip().lower()
        if s in {"all", "*", "every", "all shots"}:
            return "all"
        value = [p for p in re.split(r"\s*(?:,|;|\band\b)\s*", s) if p]
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if isinstance(value, (list, tuple)):
        out: list[Any] = []
        for item in value:
            out.extend(_expand_item(item))
        return out
    return value


def _normalize_shot_list(value: list[int]) -> list[int]:
    if not value:
        raise ValueError("at least one shot number is required")
    return sorted(set(value))


ShotNumber = Annotated[int, Field(ge=1, le=MAX_SHOT_NUMBER, strict=True)]
"""A 1-based shot number as the user sees it."""

ShotList = Annotated[
    list[ShotNumber],
    BeforeValidator(_coerce_shot_list),
    AfterValidator(_normalize_shot_list),
]
"""Explicit shot numbers: ranges expanded, sorted, unique."""

ShotTargets = Annotated[
    Union[list[ShotNumber], Literal["all"]],  # noqa: UP007 - keeps JSON Schema anyOf readable
    BeforeValidator(_coerce_shot_list),
    AfterValidator(lambda v: v if v == "all" else _normalize_shot_list(v)),
]
"""Shot numbers or ``"all"``."""

SceneNumber = Annotated[int, Field(ge=1, le=MAX_SHOT_NUMBER)]
Position = Annotated[int, Field(ge=1, le=MAX_SHOT_NUMBER)]
GridCell = Annotated[int, Field(ge=1, le=MAX_GRID_CELL)]


def _upper_track(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


TrackName = Annotated[
    str,
    BeforeValidator(_upper_track),
    Field(pattern=r"^[A-Z]{1,3}$", description="Track (variant branch) name: A, B, C …"),
]
NodeId = Annotated[str, Field(min_length=1, max_length=64, description="Node id (UUID)")]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(min_length=1, max_length=4000)]
AspectRatio = Annotated[str, Field(pattern=r"^\d{1,2}:\d{1,2}$")]

TaskKind = Literal["video", "grid", "voice", "music", "compose", "storyboard", "export", "all"]
TaskStatus = Literal["queued", "running", "succeeded", "failed", "canceled"]
LockKind = Literal["face", "hair", "outfit", "palette"]
ReferenceRole = Literal["image", "style", "character", "scene"]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        str_strip_whitespace=True,
    )


def _exactly_one(model: BaseModel, *names: str) -> None:
    given = [n for n in names if getattr(model, n) is not None]
    if len(given) != 1:
        raise ValueError(f"give exactly one of {', '.join(names)} (got {len(given)})")


def _at_least_one(model: BaseModel, *names: str) -> None:
    if all(getattr(model, n) is None for n in names):
        raise ValueError(f"give at least one of {', '.join(names)}")


# --------------------------------------------------------------------------------------------------
# Patches and specs
# --------------------------------------------------------------------------------------------------

CameraSize = Literal[
    "extreme wide", "wide", "full", "medium", "medium close-up", "close-up", "extreme close-up"
]
CameraAngle = Literal["eye level", "low", "high", "overhead", "dutch", "over the shoulder", "worm's eye"]
CameraMovement = Literal[
    "static",
    "pan",
    "tilt",
    "dolly in",
    "dolly out",
    "zoom in",
    "zoom out",
    "tracking",
    "handheld",
    "crane",
    "orbit",
]

_CAMERA_SYNONYMS = {
    "closeup": "close-up",
    "close up": "close-up",
    "extreme closeup": "extreme close-up",
    "extreme close up": "extreme close-up",
    "medium closeup": "medium close-up",
    "medium close up": "medium close-up",
    "mid": "medium",
    "long": "wide",
    "establishing": "extreme wide",
    "eye-level": "eye level",
    "bird's eye": "overhead",
    "birds eye": "overhead",
    "top-down": "overhead",
    "top down": "overhead",
    "aerial": "overhead",
    "push in": "dolly in",
    "pull out": "dolly out",
    "pull back": "dolly out",
    "follow": "tracking",
}


def _norm_camera(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    s = re.sub(r"\s+", " ", value.strip().lower().replace("_", " "))
    s = re.sub(r"\s*(?:angle|shot)$", "", s)
    return _CAMERA_SYNONYMS.get(s, s)


class CameraSpec(_Model):
    """Camera language of a shot; every field optional."""

    size: Annotated[CameraSize | None, BeforeValidator(_norm_camera)] = None
    angle: Annotated[CameraAngle | None, BeforeValidator(_norm_camera)] = None
    movement: Annotated[CameraMovement | None, BeforeValidator(_norm_camera)] = None

    def is_empty(self) -> bool:
        return self.size is None and self.angle is None and self.movement is None


class ShotSpec(_Model):
    """Shot semantics (``work_item.spec``); used whole by ``shot.add`` and partially by patches."""

    visual: LongText | None = None
    camera: CameraSpec | None = None
    duration_s: Annotated[float, Field(ge=2, le=8)] | None = None
    mood: ShortText | None = None
    time_of_day: ShortText | None = None
    lighting: ShortText | None = None
    weather: ShortText | None = None
    dialogue: LongText | None = None
    narration: LongText | None = None
    style_override: ShortText | None = None
    pacing: Literal["faster", "slower"] | None = Field(
        default=None, description='Relative speed change ("faster" trims, "slower" lets the shot breathe).'
    )


class ShotPatch(ShotSpec):
    """A partial update of a shot spec: at least one field; unknown keys are rejected."""

    @model_validator(mode="after")
    def _not_empty(self) -> ShotPatch:
        if not self.model_fields_set or all(getattr(self, f) is None for f in self.model_fields_set):
            raise ValueError("shot patch is empty")
        if self.camera is not None and self.camera.is_empty():
            raise ValueError("camera patch is empty")
        return self


class SceneSpec(_Model):
    """Scene semantics (place, time, mood, cast, pacing)."""

    title: ShortText | None = None
    goal: LongText | None = None
    description: LongText | None = None
    place: ShortText | None = None
    time_of_day: ShortText | None = None
    mood: ShortText | None = None
    pacing: Literal["faster", "slower"] | None = None
    cast: list[ShortText] | None = None


class ScenePatch(SceneSpec):
    """A partial update of a scene spec: at least one field."""

    @model_validator(mode="after")
    def _not_empty(self) -> ScenePatch:
        if all(getattr(self, f) is None for f in type(self).model_fields):
            raise ValueError("scene patch is empty")
        return self


class CharacterPatch(_Model):
    """A partial update of a character profile: at least one field."""

    profile: LongText | None = None
    face: ShortText | None = None
    hair: ShortText | None = None
    outfit: ShortText | None = None
    palette: ShortText | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> CharacterPatch:
        if all(getattr(self, f) is None for f in type(self).model_fields):
            raise ValueError("character patch is empty")
        return self


class NodeTarget(_Model):
    """A node addressed as people do: grid cell ``#N`` of a shot/track's latest grid, or a node id."""

    node: NodeId | None = None
    cell: GridCell | None = None
    shot: ShotNumber | None = None
    track: TrackName | None = None

    @model_validator(mode="after")
    def _one_address(self) -> NodeTarget:
        _exactly_one(self, "node", "cell")
        return self


class GridReference(NodeTarget):
    """A reference image for a grid generation (``node_ref`` edge)."""

    as_: ReferenceRole = Field(default="image", alias="as")


# --------------------------------------------------------------------------------------------------
# Args per family.verb
# --------------------------------------------------------------------------------------------------


# project ------------------------------------------------------------------------------------------
class ProjectCreateArgs(_Model):
    title: ShortText
    story: Annotated[str, Field(max_length=8000)] = ""
    style: ShortText | None = None
    shot_count: Annotated[int, Field(ge=3, le=60)] | None = None
    aspect_ratio: AspectRatio | None = None
    language: Literal["en", "zh"] | None = None
    workspace_type: Literal["narrative_project", "draft_space"] = "narrative_project"


class ProjectUpdateMetaArgs(_Model):
    title: ShortText | None = None
    aspect_ratio: AspectRatio | None = None
    language: Literal["en", "zh"] | None = None
    platform: ShortText | None = None
    target_duration_s: Annotated[float, Field(ge=3, le=3600)] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> ProjectUpdateMetaArgs:
        _at_least_one(self, *type(self).model_fields)
        return self


class ProjectSetStyleArgs(_Model):
    style: ShortText


class ProjectSetRulesArgs(_Model):
    rules: Annotated[list[ShortText], Field(min_length=1, max_length=50)]
    replace: bool = Field(default=False, description="Replace all rules instead of appending.")


# character ----------------------------------------------------------------------------------------
CharacterName = Annotated[str, Field(min_length=1, max_length=60)]


class CharacterCreateArgs(_Model):
    name: CharacterName
    profile: Annotated[str, Field(max_length=4000)] = ""


class CharacterUpdateArgs(_Model):
    name: CharacterName
    patch: CharacterPatch


class CharacterAttachReferenceArgs(_Model):
    name: CharacterName
    asset: NodeId | None = None
    node: NodeId | None = None
    cell: GridCell | None = None
    shot: ShotNumber | None = None
    track: TrackName | None = None

    @model_validator(mode="after")
    def _one_source(self) -> CharacterAttachReferenceArgs:
        _exactly_one(self, "asset", "node", "cell")
        return self


class CharacterLockArgs(_Model):
    name: CharacterName
    locks: Annotated[list[LockKind], Field(min_length=1)]

    @field_validator("locks")
    @classmethod
    def _unique(cls, v: list[LockKind]) -> list[LockKind]:
        return list(dict.fromkeys(v))


# scene --------------------------------------------------------------------------------------------
class SceneAddArgs(_Model):
    after: Annotated[int, Field(ge=0, le=MAX_SHOT_NUMBER)] | None = Field(
        default=None, description="Insert after this scene number (0 = at the start, omitted = at the end)."
    )
    spec: SceneSpec = Field(default_factory=SceneSpec)


class SceneUpdateArgs(_Model):
    scene: SceneNumber
    patch: ScenePatch


class SceneReorderArgs(_Model):
    scene: SceneNumber
    to: Position


class SceneDeleteArgs(_Model):
    scene: SceneNumber


# shot ---------------------------------------------------------------------------------------------
class ShotAddArgs(_Model):
    scene: SceneNumber | None = None
    after: Annotated[int, Field(ge=0, le=MAX_SHOT_NUMBER)] | None = Field(
        default=None, description="Insert after this shot number (0 = at the start, omitted = at the end)."
    )
    spec: ShotSpec = Field(default_factory=ShotSpec)


class ShotUpdateArgs(_Model):
    shots: ShotTargets
    patch: ShotPatch


class ShotSplitArgs(_Model):
    shot: ShotNumber
    parts: Annotated[int, Field(ge=2, le=6)] = 2


class ShotMergeArgs(_Model):
    shots: Annotated[ShotList, Field(min_length=2)]


class ShotReorderArgs(_Model):
    shot: ShotNumber
    to: Position


class ShotDeleteArgs(_Model):
    shots: ShotTargets


# gen ----------------------------------------------------------------------------------------------
class GenStoryboardArgs(_Model):
    story: LongText
    shot_count: Annotated[int, Field(ge=3, le=60)] | None = None


class GenGridArgs(_Model):
    shots: ShotTargets
    size: Literal[4, 9] = 4
    prompt: LongText | None = None
    camera: CameraSpec | None = None
    refs: list[GridReference] = Field(default_factory=list)
    track: TrackName | None = Field(default=None, description="Track to generate on (default: current).")
    from_cell: GridCell | None = Field(
        default=None, description="Iterate from this cell of the track's latest grid."
    )
    from_node: NodeId | None = Field(default=None, description="Iterate from this node (lineage parent).")

    @model_validator(mode="after")
    def _iteration_single_shot(self) -> GenGridArgs:
        if self.from_cell is not None and self.from_node is not None:
            raise ValueError("give from_cell or from_node, not both")
        if (self.from_cell is not None or self.from_node is not None) and (
            self.shots == "all" or len(self.shots) != 1
        ):
            raise ValueError("iterating from a node targets exactly one shot")
        return self


class GenVideoArgs(_Model):
    shots: ShotTargets
    model: ShortText | None = Field(
        default=None, description='Video model; "pan_zoom" is the cheap camera move.'
    )
    fps: Annotated[int, Field(ge=1, le=60)] | None = None
    duration_s: Annotated[float, Field(ge=1, le=10)] | None = None


class GenVoiceArgs(_Model):
    shots: ShotTargets
    voice: ShortText | None = None
    kind: Literal["narration", "dialogue"] = "narration"


class GenMusicArgs(_Model):
    mood: ShortText = "auto"
    duration_s: Annotated[float, Field(ge=1, le=600)] | None = None


class GenComposeArgs(_Model):
    mode: Literal["preview", "final"] = "preview"
    resolution: Literal["480p", "720p", "1080p"] | None = None
    subtitles: bool | None = None
    music: bool | None = None


# track --------------------------------------------------------------------------------------------
class TrackForkArgs(_Model):
    shot: ShotNumber
    from_cell: GridCell | None = None
    from_node: NodeId | None = None
    track: TrackName | None = Field(
        default=None, description="Track holding the source grid (default: current)."
    )
    name: ShortText | None = Field(
        default=None, description="Label for the new track (its letter is assigned)."
    )

    @model_validator(mode="after")
    def _one_source(self) -> TrackForkArgs:
        _exactly_one(self, "from_cell", "from_node")
        return self


class TrackSwitchArgs(_Model):
    shot: ShotNumber
    track: TrackName


# node ---------------------------------------------------------------------------------------------
class NodeCommitArgs(_Model):
    """Select an image as the shot's current version: one ``shot``, or a batch (``shots``: the
    same cell ``#N`` of each shot's latest grid, e.g. "use the first image for every shot")."""

    shot: ShotNumber | None = None
    shots: ShotTargets | None = Field(
        default=None, description="Batch selection: the same cell of each of these shots' latest grid."
    )
    cell: GridCell | None = None
    node: NodeId | None = None
    track: TrackName | None = None

    @model_validator(mode="after")
    def _one_address(self) -> NodeCommitArgs:
        _exactly_one(self, "shot", "shots")
        _exactly_one(self, "cell", "node")
        if self.shots is not None and self.node is not None:
            raise ValueError("a batch selection names a cell (#N), not one node id")
        return self


class NodeReferenceArgs(NodeTarget):
    as_: ReferenceRole = Field(default="image", alias="as")


class NodeFavoriteArgs(NodeTarget):
    tags: list[ShortText] = Field(default_factory=list)


# task ---------------------------------------------------------------------------------------------
class TaskStatusArgs(_Model):
    task_id: ShortText | None = None


class TaskListArgs(_Model):
    status: TaskStatus | None = None
    kind: TaskKind | None = None


class TaskCancelArgs(_Model):
    task_id: ShortText | None = None
    shots: ShotTargets | None = None
    kind: TaskKind | None = None

    @model_validator(mode="after")
    def _some_target(self) -> TaskCancelArgs:
        _at_least_one(self, "task_id", "shots", "kind")
        return self


class TaskRetryArgs(_Model):
    task_id: ShortText | None = None
    status_filter: Literal["failed"] | None = None

    @model_validator(mode="after")
    def _some_target(self) -> TaskRetryArgs:
        _at_least_one(self, "task_id", "status_filter")
        return self


# version ------------------------------------------------------------------------------------------
class VersionSnapshotArgs(_Model):
    note: ShortText | None = None


class VersionRollbackArgs(_Model):
    snapshot_id: ShortText | None = None
    before: ShortText | None = Field(
        default=None, description='Description of the change to undo, e.g. "neon change".'
    )

    @model_validator(mode="after")
    def _some_target(self) -> VersionRollbackArgs:
        _at_least_one(self, "snapshot_id", "before")
        return self


# export -------------------------------------------------------------------------------------------
ExportFormat = Literal["media", "otio", "fcpxml", "fcp7xml", "edl", "srt", "vtt", "capcut"]


def _default_export_formats() -> list[ExportFormat]:
    return ["media"]


class ExportPackageArgs(_Model):
    selection: Literal["favorites", "selected"] = "selected"
    naming: ShortText | None = None
    formats: Annotated[list[ExportFormat], Field(min_length=1, max_length=8)] = Field(
        default_factory=_default_export_formats,
        description="What the zip holds: media (the selection's files; the default), otio, fcpxml, "
        "fcp7xml (Premiere / FCP 7 XML), edl (CMX 3600) timelines of the cut with its media, srt and "
        "vtt subtitles, capcut (a CapCut/Jianying draft folder).",
    )


# --------------------------------------------------------------------------------------------------
# Actions
# --------------------------------------------------------------------------------------------------


def _type_and_args_required(schema: dict[str, Any], _cls: Any = None) -> None:
    required = schema.setdefault("required", [])
    for i, name in enumerate(("type", "args")):
        if name not in required:
            required.insert(i, name)


class _Action(_Model):
    model_config = ConfigDict(json_schema_extra=_type_and_args_required)
    reason: Annotated[str, Field(max_length=500)] = ""

    @model_serializer(mode="wrap")
    def _type_first(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        return {"type": data.pop("type"), "args": data.pop("args"), **data}


# --------------------------------------------------------------------------------------------------
# The verb table: one row per verb; the action models, AnyAction and the JSON Schema derive from it
# --------------------------------------------------------------------------------------------------

Confirm = Literal["never", "always", "many_shots"]


def _many(shots: list[int] | Literal["all"] | None) -> bool:
    return shots == "all" or (isinstance(shots, list) and len(shots) > 1)


def shot_count(shots: list[int] | Literal["all"], total_shots: int | None) -> int:
    """How many shots a target names; ``all`` is `total_shots` (1 when unknown)."""
    return max(1, total_shots or 1) if shots == "all" else len(shots)


@dataclass(frozen=True)
class Verb:
    """One Action DSL verb (docs/actions.md). The executor (services/) and the planner entry
    (agent/planner/) attach to it by `name`; agent/registry.py checks that none is missing.

    - `confirm`: ``always`` proposes first; ``many_shots`` when it targets more than one shot or
      ``all``; ``never`` runs at once (the cost limit may still ask).
    - `cost`: rough relative cost units from (args, total shots); ``None`` costs nothing.
    - `read_only`: reads the ledger only (no events, no idempotency record, no snapshot).
    """

    name: str
    model: str
    args: type[BaseModel]
    confirm: Confirm = "never"
    cost: Callable[[Any, int | None], int] | None = None
    read_only: bool = False
    args_optional: bool = False
    example: dict[str, Any] = field(default_factory=dict)  # valid args: the prompt catalogue and tests

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]


VERBS: tuple[Verb, ...] = (
    Verb(
        "project.create",
        "ProjectCreate",
        ProjectCreateArgs,
        example={"title": "The Fox and the Moon", "shot_count": 6},
    ),
    Verb("project.update_meta", "ProjectUpdateMeta", ProjectUpdateMetaArgs, example={"aspect_ratio": "9:16"}),
    Verb("project.set_style", "ProjectSetStyle", ProjectSetStyleArgs, example={"style": "ink wash"}),
    Verb(
        "project.set_rules",
        "ProjectSetRules",
        ProjectSetRulesArgs,
        example={"rules": ["keep the fox orange"]},
    ),
    Verb("character.create", "CharacterCreate", CharacterCreateArgs, example={"name": "Fox"}),
    Verb(
        "character.update",
        "CharacterUpdate",
        CharacterUpdateArgs,
        example={"name": "Fox", "patch": {"outfit": "a green scarf"}},
    ),
    Verb(
        "character.attach_reference",
        "CharacterAttachReference",
        CharacterAttachReferenceArgs,
        example={"name": "Fox", "shot": 1, "cell": 2},
    ),
    Verb("character.lock", "CharacterLock", CharacterLockArgs, example={"name": "Fox", "locks": ["face"]}),
    Verb("scene.add", "SceneAdd", SceneAddArgs, example={}),
    Verb("scene.update", "SceneUpdate", SceneUpdateArgs, example={"scene": 1, "patch": {"place": "forest"}}),
    Verb("scene.reorder", "SceneReorder", SceneReorderArgs, example={"scene": 2, "to": 1}),
    Verb("scene.delete", "SceneDelete", SceneDeleteArgs, confirm="always", example={"scene": 2}),
    Verb("shot.add", "ShotAdd", ShotAddArgs, example={"after": 2}),
    Verb(
        "shot.update",
        "ShotUpdate",
        ShotUpdateArgs,
        confirm="many_shots",
        example={"shots": [2, 3], "patch": {"time_of_day": "night"}},
    ),
    Verb("shot.split", "ShotSplit", ShotSplitArgs, example={"shot": 2, "parts": 2}),
    Verb("shot.merge", "ShotMerge", ShotMergeArgs, confirm="always", example={"shots": [2, 3]}),
    Verb("shot.reorder", "ShotReorder", ShotReorderArgs, example={"shot": 4, "to": 1}),
    Verb("shot.delete", "ShotDelete", ShotDeleteArgs, confirm="always", example={"shots": [5]}),
    Verb(
        "gen.storyboard",
        "GenStoryboard",
        GenStoryboardArgs,
        cost=lambda a, n: 2,
        example={"story": "a fox steals the moon", "shot_count": 6},
    ),
    Verb(
        "gen.grid",
        "GenGrid",
        GenGridArgs,
        confirm="many_shots",
        cost=lambda a, n: a.size * shot_count(a.shots, n),
        example={"shots": [1], "size": 9},
    ),
    Verb(
        "gen.video",
        "GenVideo",
        GenVideoArgs,
        confirm="many_shots",
        cost=lambda a, n: 10 * shot_count(a.shots, n),
        example={"shots": [1]},
    ),
    Verb(
        "gen.voice",
        "GenVoice",
        GenVoiceArgs,
        confirm="many_shots",
        cost=lambda a, n: shot_count(a.shots, n),
        example={"shots": [1]},
    ),
    Verb("gen.music", "GenMusic", GenMusicArgs, cost=lambda a, n: 2, example={"mood": "calm"}),
    Verb(
        "gen.compose",
        "GenCompose",
        GenComposeArgs,
        cost=lambda a, n: 5 if a.mode == "preview" else 10,
        example={"mode": "preview"},
    ),
    Verb("track.fork", "TrackFork", TrackForkArgs, example={"shot": 1, "from_cell": 7}),
    Verb("track.switch", "TrackSwitch", TrackSwitchArgs, example={"shot": 1, "track": "B"}),
    Verb("node.commit", "NodeCommit", NodeCommitArgs, confirm="many_shots", example={"shot": 1, "cell": 4}),
    Verb("node.reference", "NodeReference", NodeReferenceArgs, example={"shot": 1, "cell": 7, "track": "B"}),
    Verb("node.favorite", "NodeFavorite", NodeFavoriteArgs, example={"shot": 1, "cell": 2}),
    Verb("task.status", "TaskStatusAction", TaskStatusArgs, read_only=True, args_optional=True, example={}),
    Verb(
        "task.list",
        "TaskList",
        TaskListArgs,
        read_only=True,
        args_optional=True,
        example={"status": "failed"},
    ),
    Verb("task.cancel", "TaskCancel", TaskCancelArgs, example={"kind": "video"}),
    Verb("task.retry", "TaskRetry", TaskRetryArgs, example={"status_filter": "failed"}),
    Verb("version.snapshot", "VersionSnapshot", VersionSnapshotArgs, args_optional=True, example={}),
    Verb(
        "version.rollback",
        "VersionRollback",
        VersionRollbackArgs,
        confirm="always",
        example={"before": "neon"},
    ),
    Verb(
        "export.package",
        "ExportPackage",
        ExportPackageArgs,
        args_optional=True,
        example={"selection": "selected", "formats": ["media", "fcp7xml", "srt"]},
    ),
)
VERBS_BY_NAME: dict[str, Verb] = {v.name: v for v in VERBS}


def _action_model(verb: Verb) -> type[_Action]:
    args_field: Any = (verb.args, Field(default_factory=verb.args) if verb.args_optional else ...)
    model: type[_Action] = create_model(
        verb.model,
        __base__=_Action,
        __module__=__name__,
        type=(Literal[verb.name], verb.name),  # type: ignore[valid-type]
        args=args_field,
    )
    return model


ACTION_MODELS: dict[str, type[_Action]] = {v.name: _action_model(v) for v in VERBS}
ACTION_TYPES: tuple[str, ...] = tuple(ACTION_MODELS)
globals().update({v.model: ACTION_MODELS[v.name] for v in VERBS})  # A.ShotUpdate, A.GenGrid, …

AnyAction: TypeAlias = Union[tuple(ACTION_MODELS.values())]  # type: ignore[valid-type]  # noqa: UP007
Action = Annotated[AnyAction, Field(discriminator="type")]
"""Any action; ``type`` selects the model."""

ACTION_ADAPTER: TypeAdapter[AnyAction] = TypeAdapter(Action)


def parse_action(data: dict[str, Any] | str) -> AnyAction:
    """Validate one action from a dict or a JSON string."""
    if isinstance(data, str):
        return ACTION_ADAPTER.validate_json(data)
    return ACTION_ADAPTER.validate_python(data)


# --------------------------------------------------------------------------------------------------
# Confirmation and cost
# --------------------------------------------------------------------------------------------------


def requires_confirmation(action: AnyAction) -> bool:
    """True when the action must be proposed first: its verb's `confirm` rule (delete, merge,
    rollback always; batch regenerate and overwriting more than one shot or ``all``)."""
    rule = VERBS_BY_NAME[action.type].confirm
    if rule == "many_shots":
        return _many(action.args.shots)  # type: ignore[union-attr]
    return rule == "always"


def cost_units(action: AnyAction, total_shots: int | None = None) -> int:
    """Rough relative cost of an action (grid = cells, video = 10/shot, voice = 1/shot, compose = 5).

    ``all`` counts as ``total_shots`` (1 when unknown). Non-generating actions cost 0.
    """
    cost = VERBS_BY_NAME[action.type].cost
    return 0 if cost is None else cost(action.args, total_shots)


# --------------------------------------------------------------------------------------------------
# Envelope
# --------------------------------------------------------------------------------------------------


class Choice(_Model):
    """One reading offered in a clarifying question: what it would do, in words and as actions."""

    label: ShortText
    actions: list[Action] = Field(default_factory=list)


class PendingQuestion(_Model):
    """A clarifying question the next message answers: ``shots`` (which shots?) re-plans ``text``
    with the answer as its targets; ``choice`` picks one of ``choices``."""

    kind: Literal["shots", "choice"]
    text: Annotated[str, Field(max_length=4000)] = Field(description="The sentence being clarified.")
    lang: Literal["en", "zh"] = "en"
    choices: Annotated[list[Choice], Field(max_length=5)] = Field(default_factory=list)


class Turn(_Model):
    """One agent turn: what to do (``actions``) and what to say (``message``).

    ``confidence`` (0–1) and ``evidence`` (which words mapped to what) say how sure the planner
    is; ``question`` is set when the turn asks, so the next message is read as its answer;
    ``planner`` names the planner that answered (offline, gemini, …)."""

    mode: Literal["execute", "propose"] = Field(
        description="propose = run only after the user confirms (destructive or costly actions)."
    )
    intent: Annotated[str, Field(max_length=200)] = Field(description="Short summary of what the user asked.")
    actions: list[Action] = Field(default_factory=list)
    message: Annotated[str, Field(max_length=2000)] = Field(description="What to tell the user.")
    confidence: Annotated[float, Field(ge=0, le=1)] | None = None
    evidence: Annotated[list[Annotated[str, Field(max_length=300)]], Field(max_length=40)] = Field(
        default_factory=list
    )
    question: PendingQuestion | None = None
    planner: Annotated[str, Field(max_length=60)] | None = None

    def decide_mode(self) -> Literal["execute", "propose"]:
        """The mode the confirmation rule requires for these actions (ignores cost limits)."""
        return "propose" if any(requires_confirmation(a) for a in self.actions) else "execute"

    def total_cost_units(self, total_shots: int | None = None) -> int:
        return sum(cost_units(a, total_shots) for a in self.actions)


TURN_ADAPTER: TypeAdapter[Turn] = TypeAdapter(Turn)


def action_json_schema() -> dict[str, Any]:
    """JSON Schema of :class:`Turn` (the LLM's structured output and the API's contract)."""
    return TURN_ADAPTER.json_schema()


__all__ = [
    "ACTION_ADAPTER",
    "ACTION_MODELS",
    "ACTION_TYPES",
    "VERBS",
    "VERBS_BY_NAME",
    "Action",
    "AnyAction",
    "CameraSpec",
    "CharacterPatch",
    "Choice",
    "GridReference",
    "NodeTarget",
    "PendingQuestion",
    "ScenePatch",
    "SceneSpec",
    "ShotList",
    "ShotPatch",
    "ShotSpec",
    "ShotTargets",
    "Turn",
    "Verb",
    "action_json_schema",
    "cost_units",
    "parse_action",
    "requires_confirmation",
    "shot_count",
]
