"""Render a compose job with MoviePy 2.x, from a JSON spec (the bench's baseline).

Runs in its own virtual environment (MoviePy pins Pillow < 12, the project needs newer), so it
imports nothing from the project: `moviepy_compose.moviepy_compose` writes the spec (inputs,
timeline, caption chunks and timings, font, encoder settings, all as compose lays them out) and
runs `python moviepy_render.py SPEC.json` with that environment's interpreter.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any


def _fit(clip, width: int, height: int):  # type: ignore[no-untyped-def]
    """Scale into width x height keeping the aspect ratio, padded black (what compose's scale+pad do)."""
    from moviepy import CompositeVideoClip

    if tuple(clip.size) == (width, height):
        return clip
    scale = min(width / clip.w, height / clip.h)
    new_size = (max(2, round(clip.w * scale / 2) * 2), max(2, round(clip.h * scale / 2) * 2))
    scaled = clip.resized(new_size=new_size)
    if new_size == (width, height):
        return scaled
    return CompositeVideoClip([scaled.with_position("center")], size=(width, height), bg_color=(0, 0, 0))


def _pillow_size(font: str, ass_size: int) -> int:
    """Pillow size (em) that draws like ASS/libass `Fontsize` (which sets ascent + descent)."""
    from PIL import ImageFont

    ascent, descent = ImageFont.truetype(font, ass_size).getmetrics()
    return max(6, round(ass_size * ass_size / (ascent + descent)))


def _shot_clip(path: Path, duration_s: float, width: int, height: int):  # type: ignore[no-untyped-def]
    from moviepy import ImageClip, VideoFileClip, concatenate_videoclips

    clip = VideoFileClip(str(path), audio=False)
    if clip.duration >= duration_s:
        clip = clip.subclipped(0, duration_s)
    else:  # hold the last frame (compose's tpad stop_mode=clone)
        last = clip.get_frame(max(0.0, clip.duration - 1.0 / max(clip.fps or 24, 1)))
        hold = ImageClip(last).with_duration(duration_s - clip.duration)
        clip = concatenate_videoclips([clip, hold], method="chain")
    return _fit(clip, width, height)


def render(spec: dict[str, Any]) -> dict[str, Any]:
    """Render the spec's job into spec["out"] with MoviePy 2.x; returns what it wrote."""
    from moviepy import (
        AudioFileClip,
        CompositeAudioClip,
        CompositeVideoClip,
        TextClip,
        concatenate_videoclips,
        vfx,
    )
    from moviepy.audio.fx import MultiplyVolume

    width, height, fps = spec["width"], spec["height"], spec["fps"]
    enc = spec["encode"]
    work_dir = Path(spec["work_dir"])
    work_dir.mkdir(parents=True, exist_ok=True)
    out_path = Path(spec["out"])
    shots = spec["shots"]
    cf = spec["crossfade_s"] if len(shots) > 1 else 0.0
    starts, total = spec["starts"], spec["total_s"]

    opened = []
    try:
        # video: per-shot clips concatenated in order
        clips = [_shot_clip(Path(s["video"]), s["duration_s"], width, height) for s in shots]
        opened.extend(clips)
        if cf > 0:
            faded = [clips[0], *(c.with_effects([vfx.CrossFadeIn(cf)]) for c in clips[1:])]
            video = concatenate_videoclips(faded, method="compose", padding=-cf)
        else:
            video = concatenate_videoclips(clips, method="chain")

        # narration: each shot's WAV at the shot's start, cut at the shot's end
        voices = []
        for shot, start in zip(shots, starts, strict=True):
            if shot["audio"] is None:
                continue
            voice = AudioFileClip(shot["audio"])
            opened.append(voice)
            voices.append(voice.subclipped(0, min(voice.duration, shot["duration_s"])).with_start(start))

        # subtitles: the same caption chunks and timings compose burns in
        layers = [video]
        events = 0
        if spec["captions"]:
            font = spec["font"]
            size = _pillow_size(font, max(10, round(height * 0.055)))
            outline = max(1, round(height / 240))
            margin_v = max(6, round(height * 0.05))
            margin_h = max(8, round(width * 0.06))
            pad = size // 4
            for start, end, text in spec["captions"]:
                if not text.strip() or end - start < 0.05:
                    continue
                caption = TextClip(
                    font=font,
                    text=text,
                    font_size=size,
                    color="white",
                    stroke_color="black",
                    stroke_width=outline,
                    method="caption",
                    size=(width - 2 * margin_h, None),
                    text_align="center",
                    margin=(0, pad),  # room for descenders, which MoviePy otherwise clips
                )
                layers.append(
                    caption.with_start(start)
                    .with_duration(end - start)
                    .with_position(("center", height - margin_v - caption.h + pad))
                )
                events += 1
        final = CompositeVideoClip(layers, size=(width, height)).with_duration(total)

        # audio: mixed narration, peak-normalised (MoviePy has no loudnorm), AAC stereo 48 kHz
        audio_path = work_dir / f"moviepy-{uuid.uuid4().hex[:8]}.m4a"
        if voices:
            mix = CompositeAudioClip(voices).with_duration(total)
            peak = mix.max_volume()
            if peak > 0:
                mix = mix.with_effects([MultiplyVolume(10 ** (spec["true_peak_db"] / 20) / peak)])
            mix.write_audiofile(
                str(audio_path),
                fps=48000,
                codec="aac",
                bitrate=enc["audio_bitrate"],
                ffmpeg_params=["-ac", "2"],
                logger=None,
            )
        params = ["-crf", str(enc["crf"]), "-g", str(fps * 2), "-movflags", "+faststart"]
        for key in ("maxrate", "bufsize"):
            if key in enc:
                params += [f"-{key}", str(enc[key])]
        if voices:
            params += ["-t", f"{total:.3f}"]
        try:
            final.write_videofile(
                str(out_path),
                fps=fps,
                codec="libx264",
                preset=enc["preset"],
                audio=str(audio_path) if voices else False,
                audio_codec="copy" if voices else None,
                ffmpeg_params=params,
                pixel_format="yuv420p",
                logger=None,
            )
        finally:
            audio_path.unlink(missing_ok=True)
    finally:
        for clip in opened:
            clip.close()
    return {
        "path": str(out_path),
        "duration_s": total,
        "width": width,
        "height": height,
        "subtitle_events": events,
    }


if __name__ == "__main__":
    result = render(json.loads(Path(sys.argv[1]).read_text()))
    print(json.dumps(result))
