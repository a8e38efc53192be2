"""Generation verbs: storyboard, grid, video, voice, music and compose start durable workflows.

Each function is the executor of one verb (``@executes``); it runs inside the turn's transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

from schema import actions as A
from schema.domain_errors import InvalidInput
from schema.enums import NodeStatus, NodeType, WorkspaceType
from schema.models import Node
from schema.repositories import nodes, work_items
from services.execution import (
    DEFAULT_SHOT_COUNT,
    ActionResult,
    Execution,
    executes,
    seconds_label,
    shots_label,
)
from services.resolve import TargetUnresolved
from workflows.contracts import (
    ComposeWorkflowInput,
    GridWorkflowInput,
    MusicWorkflowInput,
    StoryboardWorkflowInput,
    VideoWorkflowInput,
    VoiceWorkflowInput,
)
from workflows.grid import grid_workflow_id
from workflows.music import music_workflow_id


def start_storyboard(
    ex: Execution, story: str, shot_count: int | None, *, rebuild: bool = False
) -> tuple[str, str]:
    """Start the storyboard workflow. A project that has shots is only rebuilt when ``rebuild``
    (a ``gen.storyboard`` the router proposed and the user confirmed, snapshot taken first)."""
    ws = ex.ws
    if ws.type != WorkspaceType.narrative_project:
        raise InvalidInput("only narrative projects have a storyboard", code="shots_need_narrative_project")
    existing = work_items.list_shots(ex.session, ws.id)
    if existing and not rebuild:
        raise InvalidInput(
            f"this project already has {len(existing)} shots; edit them, or start a new project",
            code="storyboard_exists",
        )
    inp = StoryboardWorkflowInput(
        workspace_id=str(ws.id),
        story=story,
        shot_count=shot_count or DEFAULT_SHOT_COUNT,
        style=ws.style,
        replace=bool(existing),
    )
    workflow_id = (
        f"storyboard-{ws.id}" if not existing else f"storyboard-{ws.id}-rebuild-{uuid.uuid4().hex[:12]}"
    )
    return ex.start("storyboard", workflow_id, inp)


def rebuild_summary(existing: int, planned: int) -> str:
    """What rebuilding a storyboard of ``existing`` shots into ``planned`` shots does (the proposal
    shows it before it runs)."""
    text = f"rebuild the storyboard from the story: {existing} shots → {planned}, descriptions replaced"
    if planned < existing:
        gone = f"shot {existing} is" if planned + 1 == existing else f"shots {planned + 1}–{existing} are"
        text += f"; {gone} deleted (undo restores the others, not deleted shots)"
    else:
        text += " (undo restores them from the snapshot taken first)"
    return text


@executes("gen.storyboard")
def gen_storyboard(ex: Execution, a: A.GenStoryboard) -> ActionResult:
    # a rebuild of this project's board: the router proposes it first (services/propose.py) and
    # snapshots before it runs; after a project.create in the same turn it is a new board only
    rebuild = not any(x.type == "project.create" for x in ex.turn.actions[: ex.index])
    existing = len(work_items.list_shots(ex.session, ex.ws.id)) if rebuild else 0
    started = start_storyboard(ex, a.args.story, a.args.shot_count, rebuild=rebuild)
    if existing:
        summary = "started to " + rebuild_summary(existing, a.args.shot_count or DEFAULT_SHOT_COUNT)
        return ex.started(a, [started], summary=summary, workspace_id=str(ex.ws.id), rebuild=True)
    return ex.started(a, [started], summary="started the storyboard", workspace_id=str(ex.ws.id))


@executes("gen.grid")
def gen_grid(ex: Execution, a: A.GenGrid) -> ActionResult:
    args = a.args
    items = ex.resolve.shots(args.shots)
    started: list[tuple[str, str]] = []
    for item in items:
        track = args.track
        parent = None
        if args.from_node is not None or args.from_cell is not None:
            parent = ex.node_from(item, node=args.from_node, cell=args.from_cell, track=track)
            if not ex.resolve.is_image(parent):
                raise TargetUnresolved("iterate from one finished image (#N), not a whole grid")
            track = track or ex.resolve.track_name_of(parent)
        track = track or ex.resolve.current_track_name(item)
        refs = [
            str(ex.resolve.node(node=r.node, cell=r.cell, shot=r.shot or item.idx, track=r.track).id)
            for r in args.refs
        ]
        pending = list(item.spec.get("pending_references") or [])
        refs += [p["node_id"] for p in pending if p.get("node_id") and p["node_id"] not in refs]
        if pending:
            work_items.update_spec(ex.session, item.id, {"pending_references": None})
        prompt = args.prompt
        if args.camera is not None and not args.camera.is_empty():
            words = ", ".join(
                f"{v} {k}" if k != "movement" else str(v)
                for k, v in args.camera.model_dump(exclude_none=True).items()
            )
            prompt = f"{prompt or item.spec.get('visual') or ''}; camera: {words}".lstrip("; ")
        group = uuid.uuid4()
        inp = GridWorkflowInput(
            workspace_id=str(ex.ws.id),
            work_item_id=str(item.id),
            size=args.size,
            track=track,
            prompt=prompt,
            parent_node_id=str(parent.id) if parent is not None else None,
            reference_node_ids=refs,
            group_node_id=str(group),
        )
        started.append(ex.start("grid", grid_workflow_id(str(item.id), str(group)), inp, item.id))
    what = f"a {args.size}-grid" if len(items) == 1 else f"{args.size}-grids"
    return ex.started(
        a, started, summary=f"started {what} for {shots_label(items)}", shots=[i.idx for i in items]
    )


VIDEO_MODELS = {"auto": "auto", "pan_zoom": "pan_zoom", "pan-zoom": "pan_zoom", "kenburns": "pan_zoom"}
COMPOSE_SIZES = {"480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080)}
INSTALLED_VOICE = "the installed voice"


def _video_model(requested: str | None) -> str:
    """`auto` (the video pool's provider) or `pan_zoom` (the camera move every pool has)."""
    model = VIDEO_MODELS.get((requested or "auto").strip().lower().replace(" ", "_"))
    if model is None:
        raise InvalidInput(
            f"there is no video model {requested!r} here: use auto (the worker's video provider) "
            "or pan_zoom (a camera move over the image)",
            code="unknown_video_model",
        )
    return model


@executes("gen.video")
def gen_video(ex: Execution, a: A.GenVideo) -> ActionResult:
    model = _video_model(a.args.model)
    items = ex.resolve.shots(a.args.shots)
    started: list[tuple[str, str]] = []
    skipped: list[int | None] = []
    for item in items:
        source = nodes.get(ex.session, item.selected_node_id) if item.selected_node_id else None
        if source is None or source.type != NodeType.image or source.status != NodeStatus.ok:
            skipped.append(item.idx)
            continue
        inp = VideoWorkflowInput(
            workspace_id=str(ex.ws.id),
            work_item_id=str(item.id),
            source_node_id=str(source.id),
            duration_s=a.args.duration_s,
            fps=a.args.fps,
            model=model,
        )
        started.append(ex.start("video", f"video-{item.id}-{uuid.uuid4()}", inp, item.id))
    if not started:
        raise InvalidInput(
            f"{shots_label(items)} {'has' if len(items) == 1 else 'have'} no selected image yet: "
            "generate a grid and pick an image first",
            code="no_selected_version",
        )
    summary = f"started {len(started)} video{'s' if len(started) > 1 else ''}"
    if skipped:
        summary += f" (skipped shots {', '.join(map(str, skipped))}: no selected image)"
    return ex.started(a, started, summary=summary, skipped_shots=skipped)


@executes("gen.voice")
def gen_voice(ex: Execution, a: A.GenVoice) -> ActionResult:
    items = ex.resolve.shots(a.args.shots)
    key = "dialogue" if a.args.kind == "dialogue" else "narration"
    started: list[tuple[str, str]] = []
    skipped: list[int | None] = []
    for item in items:
        text = str(item.spec.get(key) or "").strip()
        if not text:
            skipped.append(item.idx)
            continue
        inp = VoiceWorkflowInput(
            workspace_id=str(ex.ws.id),
            work_item_id=str(item.id),
            text=text if key == "dialogue" else None,
        )
        started.append(ex.start("voice", f"voice-{item.id}-{uuid.uuid4()}", inp, item.id))
    if not started:
        raise InvalidInput(f"{shots_label(items)}: no {key} text to speak", code="nothing_to_say")
    summary = f"started {key} for {len(started)} shot{'s' if len(started) > 1 else ''}"
    if a.args.voice and a.args.voice.strip().lower() not in ("auto", "default"):
        summary += f" in {INSTALLED_VOICE} (a {a.args.voice!r} voice is not installed)"
    if skipped:
        summary += f" (skipped shots {', '.join(map(str, skipped))}: no {key})"
    return ex.started(a, started, summary=summary, skipped_shots=skipped)


@executes("gen.music")
def gen_music(ex: Execution, a: A.GenMusic) -> ActionResult:
    from activities.pipeline import music_duration_s, music_hints
    from activities.providers.music import resolve_mood

    ws = ex.ws
    duration = a.args.duration_s
    if duration is None:  # as long as the cut (or the storyboard) is now
        duration = music_duration_s(ex.session, ws.id)
    choice = resolve_mood(a.args.mood, music_hints(ex.session, ws.id))
    inp = MusicWorkflowInput(workspace_id=str(ws.id), mood=a.args.mood, duration_s=duration)
    started = ex.start("music", music_workflow_id(str(ws.id), str(uuid.uuid4())), inp)
    summary = f"started {choice.mood} background music ({seconds_label(duration)})"
    if choice.fallback:
        summary += f"; “{choice.requested}” is not a mood I know, so it is {choice.mood}"
    elif choice.source == "workspace":
        summary += f"; the mood comes from the project (“{choice.matched}”)"
    return ex.started(
        a,
        [started],
        summary=summary,
        mood=choice.mood,
        mood_requested=choice.requested,
        mood_fallback=choice.fallback,
        duration_s=duration,
    )


def _latest_music(ex: Execution) -> Node | None:
    """The workspace's current background-music node (ok, with its file)."""
    latest = nodes.current_output(ex.session, ex.ws.id, NodeType.audio_music)
    return None if latest is None else latest[0]


@executes("gen.compose")
def gen_compose(ex: Execution, a: A.GenCompose) -> ActionResult:
    ws = ex.ws
    clips = nodes.compose_inputs(ex.session, ws.id)
    if not clips:
        raise InvalidInput("no shot has a video clip yet: animate shots first", code="nothing_to_compose")
    music = (
        _latest_music(
            ex,
        )
        if a.args.music
        else None
    )
    inp = ComposeWorkflowInput(
        workspace_id=str(ws.id),
        mode=a.args.mode,
        subtitles=True if a.args.subtitles is None else a.args.subtitles,
        music=bool(a.args.music),
        music_node_id=str(music.id) if music is not None else None,
    )
    if a.args.resolution is not None:
        inp.width, inp.height = COMPOSE_SIZES[a.args.resolution]
    started = ex.start("compose", f"compose-{ws.id}-{uuid.uuid4()}", inp)
    summary = f"started the {a.args.mode} compose of {len(clips)} shots"
    if a.args.resolution is not None:
        summary += f" at {a.args.resolution}"
    extra: dict[str, Any] = {}
    if music is not None:
        mood = (music.payload or {}).get("mood") or "background"
        summary += f" with the latest {mood} background music"
        extra["music_node_id"] = str(music.id)
    elif a.args.music:
        summary += " with background music (none yet: a track in a mood from the project is made first)"
    return ex.started(a, [started], summary=summary, shots=len(clips), **extra)
