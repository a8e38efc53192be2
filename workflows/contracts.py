"""Inputs and outputs of every workflow: one dataclass each (activity types live in
activities/contracts.py, queue names in infra/queues.py).

Rules: only ids, storage keys, small numbers and bounded text cross the workflow boundary (never
image bytes, never unbounded prompts — stories are capped by MAX_STORY_CHARS); fields are only
ever added, with defaults, so recorded histories keep replaying.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from activities.contracts import ComposeResult, default_formats
from infra.queues import Queues


@dataclass
class GridWorkflowInput:
    workspace_id: str
    work_item_id: str
    size: int = 4
    track: str = "A"
    prompt: str | None = None
    parent_node_id: str | None = None
    reference_node_ids: list[str] = field(default_factory=list)
    seed: int | None = None
    select_cell: int | None = None
    group_node_id: str | None = None  # set by the starter for a readable workflow id
    queues: Queues = field(default_factory=Queues)


@dataclass
class ShotWorkflowInput:
    workspace_id: str
    work_item_id: str
    shot_number: int
    grid_size: int = 4
    select_cell: int = 1
    with_voice: bool = True
    with_video: bool = True
    queues: Queues = field(default_factory=Queues)


@dataclass
class ShotWorkflowResult:
    work_item_id: str
    shot_number: int
    status: str  # succeeded | failed | canceled
    selected_node_id: str | None = None
    video_node_id: str | None = None
    voice_node_id: str | None = None
    error: str | None = None


@dataclass
class VoiceWorkflowInput:
    workspace_id: str
    work_item_id: str
    text: str | None = None
    queues: Queues = field(default_factory=Queues)


@dataclass
class VideoWorkflowInput:
    workspace_id: str
    work_item_id: str
    source_node_id: str | None = None
    duration_s: float | None = None
    queues: Queues = field(default_factory=Queues)
    fps: int | None = None  # default: the provider's (24)
    model: str = "auto"  # auto: the pool's provider; pan_zoom: the camera move over the image


@dataclass
class StoryboardWorkflowInput:
    workspace_id: str
    story: str
    shot_count: int = 6
    style: str | None = None
    queues: Queues = field(default_factory=Queues)
    replace: bool = False  # a confirmed rebuild: overwrite the shots the project has


@dataclass
class MusicWorkflowInput:
    workspace_id: str
    mood: str = "auto"
    duration_s: float | None = None
    seed: int | None = None
    queues: Queues = field(default_factory=Queues)


@dataclass
class ComposeWorkflowInput:
    workspace_id: str
    mode: str = "preview"
    subtitles: bool = True
    crossfade_s: float = 0.0
    queues: Queues = field(default_factory=Queues)
    # background music: `music_node_id` names the audio_music node to mix in; `music` without a
    # node generates one first (a `music` child workflow, mood "auto", the cut's length)
    music: bool = False
    music_node_id: str | None = None
    width: int | None = None  # default: the mode's size
    height: int | None = None


@dataclass
class PipelineInput:
    workspace_id: str
    story: str
    shot_count: int = 6
    style: str | None = None
    grid_size: int = 4
    compose_mode: str = "preview"
    shot_concurrency: int = 4
    queues: Queues = field(default_factory=Queues)
    compose_music: bool = False  # the final compose mixes in background music (made for it)


@dataclass
class ShotProgress:
    work_item_id: str
    shot_number: int
    status: str = "queued"  # queued | running | succeeded | failed | canceled


@dataclass
class PipelineProgress:
    stage: str = "starting"  # starting | storyboard | shots | compose | done | failed | canceled
    shots_total: int = 0
    shots_done: int = 0
    shots_failed: int = 0
    shots_canceled: int = 0
    shots: list[ShotProgress] = field(default_factory=list)
    compose_node_id: str | None = None
    error: str | None = None


@dataclass
class CancelShot:
    work_item_id: str


@dataclass
class PipelineResult:
    workspace_id: str
    title: str
    shots: list[ShotWorkflowResult]
    compose: ComposeResult | None
    status: str


@dataclass
class ExportWorkflowInput:
    """Package a workspace: `selection` is `favorites` (every favorite) or `selected` (each
    shot's selected version, in shot order, plus the latest compose output); `naming` is an
    optional file-name pattern (see activities/export.py: PLACEHOLDERS)."""

    workspace_id: str
    selection: str = "selected"
    naming: str | None = None
    queues: Queues = field(default_factory=Queues)
    formats: list[str] = field(default_factory=default_formats)
