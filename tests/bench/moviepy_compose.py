"""The compose job done the MoviePy way: the baseline our FFmpeg compose is measured against.

Same inputs as `activities.media.compose.compose` (a `ComposeJob`: per-shot clips, narration WAVs and
narration text) and the same output spec: resolved width x height and fps, shots concatenated in
order and trimmed (or held on their last frame) to each shot's duration, subtitles burned in with
the same caption chunks and timings, in Pillow's bundled font at the same size and margins,
narration mixed on the timeline, H.264 (same preset/CRF/GOP/rate cap as our delivery encode) +
AAC stereo 48 kHz at the same bitrate, yuv420p, +faststart MP4.

Differences that are MoviePy's, not ours to paper over: MoviePy has no EBU R128 loudness filter, so
the narration is peak-normalised to -1.5 dBFS instead of loudnorm'd to -16 LUFS (less work than
ours); crossfades use MoviePy's CrossFadeIn with negative padding; background music with
sidechain ducking has no MoviePy counterpart and is refused. The job is encoded once (MoviePy
renders frames in Python and pipes them to FFmpeg), where ours encodes per-shot segments and then
the final graph — so any lead we have is despite doing two encodes, not by skipping one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from activities.media.compose import ENCODE, LOUDNESS, ComposeJob, _captions, subtitle_font_dir
from activities.media.probe import audio_duration_s

__all__ = ["MoviePyResult", "moviepy_compose"]


@dataclass
class MoviePyResult:
    path: Path
    duration_s: float
    width: int
    height: int
    subtitle_events: int


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


def moviepy_compose(job: ComposeJob, out_path: Path, *, work_dir: Path) -> MoviePyResult:
    """Render `job` into `out_path` with MoviePy 2.x."""
    from moviepy import (
        AudioFileClip,
        CompositeAudioClip,
        CompositeVideoClip,
        TextClip,
        concatenate_videoclips,
        vfx,
    )
    from moviepy.audio.fx import MultiplyVolume

    if job.music_path is not None:
        raise NotImplementedError("MoviePy has no sidechain ducking; the benchmark job has no music")
    width, height, fps = job.resolved_width, job.resolved_height, job.resolved_fps
    enc = ENCODE[job.mode]["output"]
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    out_path = Path(out_path)

    # timeline, exactly as compose lays it out
    cf = job.crossfade_s if len(job.shots) > 1 else 0.0
    starts: list[float] = []
    t = 0.0
    for shot in job.shots:
        starts.append(t)
        t += shot.duration_s - cf
    total = sum(s.duration_s for s in job.shots) - cf * (len(job.shots) - 1)
    ends = [*starts[1:], total]

    opened = []
    try:
        # video: per-shot clips concatenated in order
        clips = [_shot_clip(Path(s.video_path), s.duration_s, width, height) for s in job.shots]
        opened.extend(clips)
        if cf > 0:
            faded = [clips[0], *(c.with_effects([vfx.CrossFadeIn(cf)]) for c in clips[1:])]
            video = concatenate_videoclips(faded, method="compose", padding=-cf)
        else:
            video = concatenate_videoclips(clips, method="chain")

        # narration: each shot's WAV at the shot's start, cut at the shot's end
        speech: list[float | None] = []
        voices = []
        for shot, start in zip(job.shots, starts, strict=True):
            if shot.audio_path is None:
                speech.append(None)
                continue
            speech.append(audio_duration_s(shot.audio_path))
            voice = AudioFileClip(str(shot.audio_path))
            opened.append(voice)
            voices.append(voice.subclipped(0, min(voice.duration, shot.duration_s)).with_start(start))

        # subtitles: the same caption chunks and timings compose writes into its ASS file
        layers = [video]
        events = 0
        if job.subtitles:
            font = str(subtitle_font_dir(work_dir / "cache") / "Aileron-Regular.ttf")
            size = _pillow_size(font, max(10, round(height * 0.055)))
            outline = max(1, round(height / 240))
            margin_v = max(6, round(height * 0.05))
            margin_h = max(8, round(width * 0.06))
            pad = size // 4
            for start, end, text in _captions(job, starts, ends, speech):
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
                mix = mix.with_effects([MultiplyVolume(10 ** (LOUDNESS["TP"] / 20) / peak)])
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
    return MoviePyResult(path=out_path, duration_s=total, width=width, height=height, subtitle_events=events)
