"""Ken Burns clips: exact length and size, H.264 without audio, the camera really moves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from activities.media.kenburns import kenburns_clip
from activities.media.probe import extract_frame
from schema.errors import BadInputError
from tests.activities.media.conftest import ShotFiles


@pytest.mark.parametrize("movement", ["push_in", "pan_left", "tilt_up", "static"])
def test_clip_duration_size_and_motion(tmp_path: Path, shot_files: list[ShotFiles], movement: str) -> None:
    progress: list[float] = []
    out = tmp_path / f"{movement}.mp4"
    info = kenburns_clip(
        shot_files[1].card,
        out,
        duration_s=2.5,
        fps=24,
        width=256,
        height=144,
        movement=movement,
        on_progress=progress.append,
    )
    assert info.duration_s == pytest.approx(2.5, rel=0.05)
    assert (info.width, info.height, info.video_codec, info.has_audio) == (256, 144, "h264", False)
    assert progress[-1] == 1.0
    first = np.asarray(Image.open(extract_frame(out, 0.0, tmp_path / "a.png")), dtype=np.int16)
    last = np.asarray(Image.open(extract_frame(out, 2.4, tmp_path / "b.png")), dtype=np.int16)
    moved = np.abs(first - last).mean()
    if movement == "static":
        assert moved < 2
    else:
        assert moved > 2


def test_bad_inputs(tmp_path: Path, shot_files: list[ShotFiles]) -> None:
    with pytest.raises(BadInputError) as missing:
        kenburns_clip(tmp_path / "none.png", tmp_path / "o.mp4", duration_s=2, movement="push_in")
    assert missing.value.code == "asset_missing"
    with pytest.raises(BadInputError) as bad:
        kenburns_clip(shot_files[0].card, tmp_path / "o.mp4", duration_s=2, movement="barrel_roll")
    assert bad.value.code == "movement_invalid"
