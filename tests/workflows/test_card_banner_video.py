"""`render_video` on real workers: a clip of a storyboard card carries the card's banner fixed over
every frame and records it in the video node's payload; a clip of a non-card image gets none."""

from __future__ import annotations

import hashlib
import io
import uuid
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from sqlalchemy import create_engine, text

from activities.ledger import stored_asset
from activities.media.probe import extract_frame
from activities.pipeline import VIDEO_HEIGHT, VIDEO_WIDTH
from activities.providers.cards import banner_height, card_banner
from infra.ledger import unit_of_work
from schema.enums import AssetKind, NodeType
from schema.repositories import nodes as node_repo
from tests.support.ledger_rows import scalar
from tests.support.seeders import _storyboard
from workflows.contracts import GridWorkflowInput, VideoWorkflowInput
from workflows.grid import GridWorkflow
from workflows.shot_video import ShotVideoWorkflow

CLIP_S = 1.0
FPS = 24  # VideoInput's default


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.int16)


def first_and_last(rig, video_node_id: str, tmp_path: Path) -> tuple[np.ndarray, np.ndarray]:
    key = scalar(
        rig.db_url,
        "select a.storage_key from node n join asset a on a.id = n.asset_id where n.id = :id",
        id=video_node_id,
    )
    clip = rig.acts.storage.local_path(key)
    last_s = (round(CLIP_S * FPS) - 1) / FPS
    first = pixels(extract_frame(clip, 0.0, tmp_path / f"{video_node_id}-first.png"))
    last = pixels(extract_frame(clip, last_s, tmp_path / f"{video_node_id}-last.png"))
    return first, last


def add_generated_image(rig, shot_id: str) -> str:
    """An image node as a generation model writes one (no card params), for the same shot."""
    img = Image.new("RGB", (VIDEO_WIDTH, VIDEO_HEIGHT), (30, 60, 90))
    d = ImageDraw.Draw(img)
    for x in range(0, VIDEO_WIDTH, 40):  # stripes to the top edge: a zoom shows in the top strip
        d.rectangle([x, 0, x + 19, VIDEO_HEIGHT], fill=(220, 180, 40))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    stored = rig.acts.storage.put_bytes(buf.getvalue(), kind="image", ext=".png")
    with unit_of_work(rig.db_url) as session:
        shot = uuid.UUID(shot_id)
        ws = scalar(rig.db_url, "select workspace_id from work_item where id = :id", id=shot_id)
        asset = stored_asset(
            session, ws, stored, AssetKind.image, "image/png", width=VIDEO_WIDTH, height=VIDEO_HEIGHT
        )
        node = node_repo.create_node(
            session,
            type=NodeType.image,
            work_item_id=shot,
            payload={"renderer": "diffusers_sd", "kind": "generated_image", "cell": 1, "shot_number": 1},
            asset_id=asset.id,
        )
        return str(node.id)


def push_in(db_url: str, shot_id: str) -> None:
    """Fix the shot's camera move (the offline storyboard picks one), so the picture surely moves."""
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "update work_item set spec = jsonb_set(spec, '{camera,movement}', '\"push_in\"')"
                    " where id = :id"
                ),
                {"id": shot_id},
            )
    finally:
        engine.dispose()


async def test_card_clip_carries_the_banner_and_says_so(make_rig, tmp_path: Path) -> None:
    async with make_rig() as rig:
        ws, shots = await _storyboard(rig)
        shot = shots[0]
        push_in(rig.db_url, shot)
        grid = await rig.client.execute_workflow(
            GridWorkflow.run,
            GridWorkflowInput(workspace_id=ws, work_item_id=shot, size=1, select_cell=1, queues=rig.queues),
            id=rig.wf_id(f"grid-{shot}"),
            task_queue=rig.queues.cpu,
        )
        from_card = await rig.client.execute_workflow(
            ShotVideoWorkflow.run,
            VideoWorkflowInput(workspace_id=ws, work_item_id=shot, duration_s=CLIP_S, queues=rig.queues),
            id=rig.wf_id(f"video-{shot}"),
            task_queue=rig.queues.cpu,
        )
        generated_id = add_generated_image(rig, shot)
        from_generated = await rig.client.execute_workflow(
            ShotVideoWorkflow.run,
            VideoWorkflowInput(
                workspace_id=ws,
                work_item_id=shot,
                source_node_id=generated_id,
                duration_s=CLIP_S,
                queues=rig.queues,
            ),
            id=rig.wf_id(f"video-{shot}"),
            task_queue=rig.queues.cpu,
        )

        db = rig.db_url
        card_payload = scalar(db, "select payload from node where id = :id", id=grid.selected_node_id)
        banner = card_banner(card_payload, VIDEO_WIDTH, VIDEO_HEIGHT)
        assert banner is not None
        card_video = scalar(db, "select payload from node where id = :id", id=from_card.node_id)
        assert card_video["source_node_id"] == grid.selected_node_id
        assert card_video["overlay"] == {
            "label": "storyboard_banner",
            "x": 0,
            "y": 0,
            "width": VIDEO_WIDTH,
            "height": banner_height(VIDEO_HEIGHT) + 1,
            "sha256": hashlib.sha256(banner).hexdigest(),
        }
        with Image.open(io.BytesIO(banner)) as img:
            strip = np.asarray(img.convert("RGB"), dtype=np.int16)
        rows = strip.shape[0]
        first, last = first_and_last(rig, from_card.node_id, tmp_path)
        for frame in (first, last):
            assert np.abs(frame[:rows] - strip).mean() < 4  # whole and unmoved at both ends
        assert np.abs(first[rows:] - last[rows:]).mean() > 2  # while the picture moves

        generated_video = scalar(db, "select payload from node where id = :id", id=from_generated.node_id)
        assert generated_video["source_node_id"] == generated_id and generated_video["overlay"] is None
        first, last = first_and_last(rig, from_generated.node_id, tmp_path)
        assert np.abs(first[:rows] - strip).mean() > 16  # no banner on a generated image's clip
        assert np.abs(first[:rows] - last[:rows]).mean() > 2  # its top strip moves with the camera
