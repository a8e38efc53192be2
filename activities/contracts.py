"""Inputs and outputs of every activity: one dataclass each, beside the activities that own them.

Rules: only ids, storage keys, small numbers and bounded text cross the workflow boundary (never
image bytes, never unbounded prompts); fields are only ever added, with defaults, so recorded
histories keep replaying.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import get_args

from schema.actions import ExportFormat

EXPORT_SELECTIONS = ("favorites", "selected")
# what a package holds (activities/timeline.py writes all but `media`): `media` the selection's
# files (today's zip); `otio`, `fcpxml`, `fcp7xml` (Premiere/FCP 7 XML), `edl` editor timelines of
# the cut with its media; `srt`, `vtt` subtitles; `capcut` a CapCut/Jianying draft folder. One
# list: the DSL's `ExportFormat` (schema/actions.py), in package order
EXPORT_FORMATS: tuple[str, ...] = get_args(ExportFormat)
DEFAULT_FORMATS = ("media",)


def default_formats() -> list[str]:
    """A fresh list of DEFAULT_FORMATS (a dataclass field default)."""
    return list(DEFAULT_FORMATS)


@dataclass
class TaskRef:
    """Identifies the task row a workflow mirrors (unique by workflow_id)."""

    workspace_id: str
    workflow_id: str
    task_type: str
    work_item_id: str | None = None
    parent_workflow_id: str | None = None


@dataclass
class TaskOutcome:
    task: TaskRef
    status: str  # queued | running | succeeded | partial | failed | canceled
    error_code: str | None = None
    error_message: str | None = None
    result: dict = field(default_factory=dict)


@dataclass
class OpenTasksInput:
    tasks: list[TaskRef]


@dataclass
class StoryboardInput:
    task: TaskRef
    story: str
    shot_count: int
    style: str | None = None
    provider: str = "auto"
    replace: bool = False  # a confirmed rebuild overwrites existing shots (else storyboard_exists)


@dataclass
class StoryboardResult:
    title: str
    shot_ids: list[str]
    provider: str
    total_duration_s: float


@dataclass
class GridInput:
    task: TaskRef
    work_item_id: str
    group_node_id: str
    size: int = 4
    track: str = "A"
    prompt: str | None = None
    parent_node_id: str | None = None
    reference_node_ids: list[str] = field(default_factory=list)
    seed: int | None = None
    select_cell: int | None = None
    provider: str = "auto"


@dataclass
class GridResult:
    group_node_id: str
    image_node_ids: list[str]
    selected_node_id: str | None
    provider: str


@dataclass
class VoiceInput:
    task: TaskRef
    work_item_id: str
    text: str | None = None  # default: the shot's narration
    voice: str = "auto"


@dataclass
class VoiceResult:
    node_id: str | None
    duration_s: float
    shot_duration_s: float


@dataclass
class VideoInput:
    task: TaskRef
    work_item_id: str
    source_node_id: str | None = None  # default: the shot's selected image
    duration_s: float | None = None  # default: the shot's duration
    fps: int = 24
    provider: str = "auto"  # auto: this pool's video provider; pan_zoom: the Ken Burns camera move


@dataclass
class VideoResult:
    node_id: str
    duration_s: float
    provider: str


@dataclass
class MusicInput:
    task: TaskRef
    mood: str = "auto"  # free text (EN/ZH); "auto": from the workspace's style and moods
    duration_s: float | None = None  # default: the workspace's length (what compose would cut)
    seed: int | None = None  # default: derived from the workflow id


@dataclass
class MusicResult:
    node_id: str
    asset_key: str
    mood: str  # the recipe the mood resolved to
    duration_s: float
    key: str
    tempo_bpm: int
    fallback: bool = False  # the mood was not understood: the calm default was used


@dataclass
class ComposeInput:
    task: TaskRef
    mode: str = "preview"  # preview | final
    width: int | None = None
    height: int | None = None
    subtitles: bool = True
    crossfade_s: float = 0.0
    music_node_id: str | None = None  # an audio_music node mixed under the narration


@dataclass
class ComposeResult:
    node_id: str
    asset_key: str
    duration_s: float
    shots: int
    reencoded_shots: list[int]
    cached_shots: list[int]
    music_node_id: str | None = None
    # shots the cut left out (no clip): {work_item_id, shot_number, reason}
    left_out: list[dict] = field(default_factory=list)


@dataclass
class ExportInput:
    task: TaskRef
    selection: str
    naming: str | None = None
    # ISO-8601 time fixed by the workflow: written into manifest.json and as every entry's
    # timestamp, so a retried attempt builds the same bytes (same content-addressed asset)
    generated_at: str = ""
    formats: list[str] = field(default_factory=default_formats)


@dataclass
class ExportResult:
    asset_id: str
    storage_key: str
    content_hash: str
    size_bytes: int  # the zip
    files: int  # media files in the zip (manifest.json not counted)
    missing: int = 0  # manifest entries whose file could not be included
    selection: str = "selected"
    formats: list[str] = field(default_factory=default_formats)
    generated: list[str] = field(default_factory=list)  # timeline/subtitle/draft files written
