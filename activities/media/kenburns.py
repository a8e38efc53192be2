"""Ken Burns clips: a camera move (pan / tilt / zoom) over a still image — the cheap video path.

Rule: the clip has exactly round(duration_s * fps) frames at width x height, H.264 yuv420p, no
audio. The still is first cropped to the output aspect and upscaled so zoompan's integer crop
positions do not visibly jitter. Movement names are the storyboard's `Camera.movement` values.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import ffmpeg

from activities.errors import BadInputError
from activities.media.ffmpeg import run_ffmpeg
from activities.media.probe import MediaInfo, probe

__all__ = ["MOVEMENTS", "UPSCALE", "kenburns_clip", "zoompan_expressions"]

UPSCALE = 3  # the still is scaled to UPSCALE x the output size before zoompan (anti-jitter)
MAX_ZOOM = 1.25
PAN_ZOOM = 1.18
MOVEMENTS = ("static", "pan_left", "pan_right", "tilt_up", "tilt_down", "push_in", "pull_out", "tracking")


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
) -> MediaInfo:
    """Render a pan/zoom clip from a still; returns the probed result."""
    src = Path(image_path)
    out = Path(out_path)
    if not src.is_file():
        raise BadInputError(f"Image not found: {src}", code="asset_missing")
    if not 0.2 <= duration_s <= 120:
        raise BadInputError(f"Clip duration must be 0.2..120 s, got {duration_s}.", code="duration_invalid")
    if width % 2 or height % 2 or width < 16 or height < 16:
        raise BadInputError(f"Clip size must be even and ≥16 px, got {width}x{height}.", code="size_invalid")
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
        .filter("format", "yuv420p")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{uuid.uuid4().hex[:8]}.partial{out.suffix or '.mp4'}")
    args = (
        ffmpeg.output(
            stream,
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
    try:
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
