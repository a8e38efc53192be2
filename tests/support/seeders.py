"""Shared test helpers (moved out of test modules so tests never import each other)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from activities.ledger import stored_asset
from activities.media.ffmpeg import run_ffmpeg
from infra.ledger import unit_of_work
from infra.storage import FileSystemStorage, Storage
from schema.enums import AssetKind, NodeType, WorkspaceType
from schema.models import Asset
from schema.repositories import favorites as favorite_repo
from schema.repositories import nodes as node_repo
from schema.repositories import storyboard as storyboard_repo
from schema.repositories import workspaces as workspace_repo
from workflows.contracts import StoryboardWorkflowInput
from workflows.storyboard import StoryboardWorkflow


@dataclass
class Project:
    workspace: str
    shots: list[str]
    cells: list[str] = field(default_factory=list)  # shot 1's grid cells
    files: dict[str, str] = field(default_factory=dict)  # role -> content hash
    storage_keys: dict[str, str] = field(default_factory=dict)  # role -> storage key


def seed_project(
    session: Session,
    storage: FileSystemStorage,
    *,
    owner: str = "tester",
    title: str = "Fox & Moon",
    shots: int = 3,
    grid_cells: int = 4,
) -> Project:
    """Shot 1: a grid (cell 2 selected), a clip made from cell 2, narration. Shot 2: a selected
    clip (itself the selected node). Later shots: nothing. Plus two compose outputs (the newer
    counts). Favorites: shot 1 cell 3 (tags hero, night) and cell 4 (no tags)."""
    ws = workspace_repo.create(session, owner_id=owner, type=WorkspaceType.narrative_project, title=title)
    board = {
        "title": title,
        "scenes": [{"title": "one", "shots": [{"visual": f"shot {i}"} for i in range(shots)]}],
    }
    written = storyboard_repo.replace_storyboard(session, ws.id, board)
    first, second = written[0], written[1]
    project = Project(workspace=str(ws.id), shots=[str(w.id) for w in written])
    tag = str(ws.id).encode()
    cells = []
    for n in range(1, grid_cells + 1):
        asset = put(session, storage, ws.id, b"png-" + tag + bytes([n]) * 300, AssetKind.image)
        cells.append({"cell": n, "asset_id": asset.id, "payload": {"prompt": f"cell {n}"}})
    grid = node_repo.create_grid(
        session, work_item_id=first.id, track_id=None, parent_id=None, payload={"prompt": "p"}, cells=cells
    )
    project.cells = [str(c.id) for c in grid.cells]
    node_repo.select_node(session, first.id, grid.cells[1].id)
    project.files["shot1.image"] = session.get(Asset, grid.cells[1].asset_id).content_hash  # type: ignore[union-attr]
    clip = put(session, storage, ws.id, b"mp4-1-" + tag * 50, AssetKind.video)
    node_repo.create_node(
        session, work_item_id=first.id, type=NodeType.video, parent_id=grid.cells[1].id, asset_id=clip.id
    )
    project.files["shot1.video"] = clip.content_hash
    voice = put(session, storage, ws.id, b"wav-1-" + tag * 40, AssetKind.audio)
    node_repo.create_node(session, work_item_id=first.id, type=NodeType.audio_voice, asset_id=voice.id)
    project.files["shot1.voice"] = voice.content_hash
    # shot 2: its selected node is a clip
    still = put(session, storage, ws.id, b"png-2-" + tag, AssetKind.image)
    image = node_repo.create_node(session, work_item_id=second.id, type=NodeType.image, asset_id=still.id)
    clip2 = put(session, storage, ws.id, b"mp4-2-" + tag * 60, AssetKind.video)
    video2 = node_repo.create_node(
        session, work_item_id=second.id, type=NodeType.video, parent_id=image.id, asset_id=clip2.id
    )
    node_repo.select_node(session, second.id, video2.id)
    project.files["shot2.video"] = clip2.content_hash
    # two compose outputs: the newer one is exported
    old = put(session, storage, ws.id, b"mp4-old-compose-" + tag, AssetKind.video)
    old_node = node_repo.create_node(
        session, work_item_id=None, workspace_id=ws.id, type=NodeType.compose, asset_id=old.id
    )
    old_node.created_at = datetime.now(UTC) - timedelta(hours=1)
    new = put(session, storage, ws.id, b"mp4-new-compose-" + tag * 70, AssetKind.video)
    node_repo.create_node(
        session, work_item_id=None, workspace_id=ws.id, type=NodeType.compose, asset_id=new.id
    )
    project.files["compose"] = new.content_hash
    favorite_repo.add(session, first.id, node_id=grid.cells[2].id, tags=["hero", "night"])
    favorite_repo.add(session, first.id, node_id=grid.cells[3].id)
    session.flush()
    for role, digest in project.files.items():
        project.storage_keys[role] = session.query(Asset).filter_by(content_hash=digest).first().storage_key  # type: ignore[union-attr]
    return project


def workspace_with_clips(
    db_url: str,
    storage: Storage,
    work: Path,
    *,
    owner: str = "tester",
    shots: int = 2,
    narrated: int = 1,
    mood: str | None = None,
) -> str:
    """A narrative project whose shots each have a video clip (testsrc, SHOT_S long); the first
    `narrated` shots also have a 1.5 s narration track, the others are silent."""
    work.mkdir(parents=True, exist_ok=True)
    clip = storage.put_file(_clip(work / "clip.mp4"), kind="video", ext=".mp4")
    speech = storage.put_file(_tone(work / "speech.wav", 1.5), kind="audio", ext=".wav")
    with unit_of_work(db_url) as s:
        ws = workspace_repo.create(s, owner_id=owner, type=WorkspaceType.narrative_project, title="fox")
        scene: dict = {"title": "night", "shots": []}
        if mood:
            scene["mood"] = mood
        scene["shots"] = [
            {"visual": f"shot {i}", "narration": f"line {i}" if i < narrated else "", "duration_s": SHOT_S}
            for i in range(shots)
        ]
        written = storyboard_repo.replace_storyboard(s, ws.id, {"title": "fox", "scenes": [scene]})
        video = stored_asset(s, ws.id, clip, AssetKind.video, "video/mp4", duration_s=SHOT_S)
        voice = stored_asset(s, ws.id, speech, AssetKind.audio, "audio/wav", duration_s=1.5)
        for i, shot in enumerate(written):
            node_repo.create_node(s, type=NodeType.video, work_item_id=shot.id, asset_id=video.id)
            if i < narrated:
                node_repo.create_node(s, type=NodeType.audio_voice, work_item_id=shot.id, asset_id=voice.id)
        return str(ws.id)


def put(session: Session, storage: FileSystemStorage, ws: object, data: bytes, kind: AssetKind) -> Asset:
    ext, mime = {
        AssetKind.image: (".png", "image/png"),
        AssetKind.video: (".mp4", "video/mp4"),
        AssetKind.audio: (".wav", "audio/wav"),
    }[kind]
    obj = storage.put_bytes(data, kind=kind.value, ext=ext)
    return stored_asset(session, ws, obj, kind, mime)  # type: ignore[arg-type]


SHOT_S = 3.0


def _clip(path: Path, seconds: float = SHOT_S) -> Path:
    if not path.exists():
        run_ffmpeg(
            [
                *("-f", "lavfi", "-i", f"testsrc=size=320x180:rate=24:duration={seconds}"),
                *("-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-y", str(path)),
            ],
            expected_duration_s=seconds,
        )
    return path


def _tone(path: Path, seconds: float) -> Path:
    """A stand-in for narration: a 440 Hz tone (compose treats it like any speech track)."""
    if not path.exists():
        run_ffmpeg(
            ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-ac", "1", "-y", str(path)],
            expected_duration_s=seconds,
        )
    return path


async def _storyboard(rig, shots: int = 3) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    ws = rig.new_workspace()
    board = await rig.client.execute_workflow(
        StoryboardWorkflow.run,
        StoryboardWorkflowInput(
            workspace_id=ws, story="a fox steals the moon", shot_count=shots, queues=rig.queues
        ),
        id=f"storyboard-{ws}",
        task_queue=rig.queues.cpu,
    )
    return ws, board.shot_ids
