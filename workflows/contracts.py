"""Inputs and outputs of every workflow and activity: one dataclass each.

Rules: only ids, storage keys, small numbers and bounded text cross the workflow boundary (never
image bytes, never unbounded prompts — stories are capped by MAX_STORY_CHARS); fields are only
ever added, with defaults, so recorded histories keep replaying.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Task queues, one per worker pool.
QUEUE_CPU = "cpu"
QUEUE_GPU_IMAGE = "gpu-image"
QUEUE_GPU_VIDEO = "gpu-video"
QUEUE_TTS = "tts"
POOLS = (QUEUE_CPU, QUEUE_GPU_IMAGE, QUEUE_GPU_VIDEO, QUEUE_TTS)


@dataclass
class Queues:
    """Task queue names a workflow schedules onto (a prefix lets tests isolate themselves)."""

    cpu: str = QUEUE_CPU
    gpu_image: str = QUEUE_GPU_IMAGE
    gpu_video: str = QUEUE_GPU_VIDEO
    tts: str = QUEUE_TTS

    @classmethod
    def prefixed(cls, prefix: str) -> Queues:
        return cls(*(f"{prefix}{name}" for name in POOLS))


# --- activities --------------------------------------------------------------------------


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
    provider: str = "auto"


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


# --- workflows ---------------------------------------------------------------------------


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


@dataclass
class StoryboardWorkflowInput:
    workspace_id: str
    story: str
    shot_count: int = 6
    style: str | None = None
    queues: Queues = field(default_factory=Queues)


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
