"""Ken Burns clips: a camera move (pan / tilt / zoom) over a still image — the cheap video path.

Rule: the clip has exactly round(duration_s * fps) frames at width x height, H.264 yuv420p, no
audio. The still is first cropped to the output aspect and upscaled so zoompan's integer crop
positions do not visibly jitter. Movement names are the storyboard's `Camera.movement` values.
An optional `FixedOverlay` (e.g. a storyboard card's banner) is composited AFTER the move, onto
the output-size frames, so it neither moves nor scales and is whole in every frame.
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import ffmpeg

from activities.media.ffmpeg import run_ffmpeg
from activities.media.probe import MediaInfo, probe
from schema.errors import BadInputError

__all__ = [
    "MOVEMENTS",
    "UPSCALE",
    "FixedOverlay",
    "check_clip_request",
    "kenburns_clip",
    "overlay_file",
    "overlay_options",
    "zoompan_expressions",
]

UPSCALE = 3  # the still is scaled to UPSCALE x the output size before zoompan (anti-jitter)
MAX_ZOOM = 1.25
PAN_ZOOM = 1.18
MOVEMENTS = ("static", "pan_left", "pan_right", "tilt_up", "tilt_down", "push_in", "pull_out", "tracking")


@dataclass(frozen=True)
class FixedOverlay:
    """A still laid over every output frame at (x, y), after the camera move: PNG bytes or a path.
    `label` says what it is (recorded with the clip)."""

    png: bytes | Path | str
    x: int = 0
    y: int = 0
    label: str = "overlay"

    @cached_property
    def data(self) -> bytes:
        if isinstance(self.png, bytes):
            return self.png
        path = Path(self.png)
        if not path.is_file():
            raise BadInputError(f"Overlay image not found: {path}", code="asset_missing")
        return path.read_bytes()

    @cached_property
    def size(self) -> tuple[int, int]:
        from PIL import Image

        data = self.data  # a missing file raises asset_missing here, not asset_corrupt below
        try:
            with Image.open(io.BytesIO(data)) as img:
                return img.size
        except Exception as exc:  # Pillow raises many types for bad bytes
            message = f"The overlay image could not be decoded: {exc}"
            raise BadInputError(message, code="asset_corrupt") from exc

    def describe(self) -> dict[str, Any]:
        """What was laid over the clip: enough to tell clips with and without it apart (sha256)."""
        return {
            "label": self.label,
            "x": self.x,
            "y": self.y,
            "width": self.size[0],
            "height": self.size[1],
            "sha256": hashlib.sha256(self.data).hexdigest(),
        }


def overlay_options(overlay: FixedOverlay) -> dict[str, Any]:
    """FFmpeg `overlay` filter options: fixed position, the single still held for every frame."""
    return {"x": overlay.x, "y": overlay.y, "eof_action": "repeat"}


@contextmanager
def overlay_file(overlay: FixedOverlay | None, next_to: Path) -> Iterator[Path | None]:
    """The overlay as a PNG file for FFmpeg's second input (bytes go to a temp file next to the
    output, removed afterwards); None without an overlay."""
    if overlay is None:
        yield None
        return
    _ = overlay.size  # decodes (and so validates) the PNG before FFmpeg runs
    if not isinstance(overlay.png, bytes):
        yield Path(overlay.png)
        return
    next_to.mkdir(parents=True, exist_ok=True)
    path = next_to / f".overlay.{uuid.uuid4().hex[:8]}.png"
    try:
        path.write_bytes(overlay.data)
        yield path
    finally:
        path.unlink(missing_ok=True)


def zoompan_expressions(movement: str, frames: int) -> dict[str, str]:
    """zoompan z/x/y expressions for a movement over `frames` output frames."""
    if movement not in MOVEMENTS:
        raise BadInputError(
            f"Unknown camera movement {movement!r}; use one of {', '.join(MOVEMENTS)}.",
            code="movement_invalid",
        )
    last = max(1, frames - 1)
    t = f"(on/{last})"  # 0 → 1 over the clip
    ease = f"(0.5-0.5*cos(PI*{t}))"  # ease-in-out
    cx, cy = "(iw-iw/zoom)/2", "(ih-ih/zoom)/2"
    if movement == "push_in":
        return {"z": f"1+{MAX_ZOOM - 1:.3f}*{ease}", "x": cx, "y": cy}
    if movement == "pull_out":
        return {"z": f"{MAX_ZOOM:.3f}-{MAX_ZOOM - 1:.3f}*{ease}", "x": cx, "y": cy}
    if movement == "pan_left":  # camera turns left: the view window slides from right to left
        return {"z": f"{PAN_ZOOM:.3f}", "x": f"(iw-iw/zoom)*(1-{ease})", "y": cy}
    if movement == "pan_right":
        return {"z": f"{PAN_ZOOM:.3f}", "x": f"(iw-iw/zoom)*{ease}", "y": cy}
    if movement == "tilt_up":
        return {"z": f"{PAN_ZOOM:.3f}", "x": cx, "y": f"(ih-ih/zoom)*(1-{ease})"}
    if movement == "tilt_down":
        return {"z": f"{PAN_ZOOM:.3f}", "x": cx, "y": f"(ih-ih/zoom)*{ease}"}
    if movement == "tracking":  # sideways travel with a slight push, linear like a dolly
        return {
            "z": f"{PAN_ZOOM:.3f}+0.06*{t}",
            "x": f"(iw-iw/zoom)*(0.1+0.8*{t})",
            "y": f"(ih-ih/zoom)*(0.55-0.1*{t})",
        }
    return {"z": "1", "x": "0", "y": "0"}  # static: locked-off camera


def check_clip_request(src: Path, duration_s: float, width: int, height: int) -> None:
    """What every image-to-clip provider refuses up front: a missing still, a duration outside
    0.2..120 s, an odd or tiny frame size (H.264 yuv420p needs even sides)."""
    if not src.is_file():
        raise BadInputError(f"Image not found: {src}", code="asset_missing")
    if not 0.2 <= duration_s <= 120:
        raise BadInputError(f"Clip duration must be 0.2..120 s, got {duration_s}.", code="duration_invalid")
    if width % 2 or height % 2 or width < 16 or height < 16:
        raise BadInputError(f"Clip size must be even and ≥16 px, got {width}x{height}.", code="size_invalid")


def kenburns_clip(
    image_path: Path | str,
    out_path: Path | str,
    *,
    duration_s: float,
    fps: int = 24,
    width: int = 1280,
    height: int = 720,
    movement: str = "push_in",
    on_progress: Callable[[float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    crf: int = 20,
    preset: str = "veryfast",
    timeout_s: float | None = 600,
    overlay: FixedOverlay | None = None,
) -> MediaInfo:
    """Render a pan/zoom clip from a still; returns the probed result. With `overlay`, that still
    is composited at its fixed position on every frame after the move."""
    src = Path(image_path)
    out = Path(out_path)
    check_clip_request(src, duration_s, width, height)
    info = probe(src)
    if not info.has_video:
        raise BadInputError(f"Not an image: {src}", code="asset_corrupt")
    frames = max(1, round(duration_s * fps))
    expr = zoompan_expressions(movement, frames)
    up_w, up_h = width * UPSCALE, height * UPSCALE

    stream = ffmpeg.input(str(src)).video
    stream = (
        stream.filter("scale", up_w, up_h, force_original_aspect_ratio="increase", flags="lanczos")
        .filter("crop", up_w, up_h)
        .filter("setsar", 1)
        .filter("zoompan", z=expr["z"], x=expr["x"], y=expr["y"], d=frames, s=f"{width}x{height}", fps=fps)
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{uuid.uuid4().hex[:8]}.partial{out.suffix or '.mp4'}")
    try:
        with overlay_file(overlay, out.parent) as overlay_path:
            if overlay is not None and overlay_path is not None:  # after the move: fixed, unscaled
                still = ffmpeg.input(str(overlay_path)).video.filter("format", "rgba")
                stream = ffmpeg.overlay(stream, still, **overlay_options(overlay))
            args = (
                ffmpeg.output(
                    stream.filter("format", "yuv420p"),
                    str(tmp),
                    vcodec="libx264",
                    preset=preset,
                    crf=crf,
                    pix_fmt="yuv420p",
                    r=fps,
                    an=None,
                    movflags="+faststart",
                    **{"frames:v": frames, "f": "mp4"},
                )
                .global_args("-threads", "0")
                .get_args()
            )
            run_ffmpeg(
                args,
                expected_duration_s=frames / fps,
                on_progress=on_progress,
                cancelled=cancelled,
                timeout_s=timeout_s,
            )
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return probe(out)
