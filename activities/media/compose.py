"""Compose: ordered shot clips + narration → one H.264/AAC MP4 with burned-in subtitles.

Rules:
- Stage 1 normalises every shot into a cached segment (exact duration, WxH, fps, yuv420p, AAC 48 kHz
  stereo narration). The cache key is a hash of the input *contents* and every setting that
  changes the bytes, so changing one shot re-encodes exactly that shot; segments are written to a
  temp name and renamed atomically, so a crash never leaves a half segment in the cache.
- Stage 2 is ONE FFmpeg filter graph: concat (or xfade/acrossfade), ASS subtitles via libass with
  a font we ship to it (Pillow's bundled font), music ducked under speech by sidechaincompress,
  loudnorm to -16 LUFS, H.264 + AAC, +faststart; written to a temp name and renamed.
- Filter graphs are built with ffmpeg-python and executed only through `run_ffmpeg`, so progress
  (stage 1 = first half, stage 2 = second half) and cancellation behave the same everywhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import ffmpeg

from activities.media.ffmpeg import ffmpeg_exe, run_ffmpeg
from activities.media.fonts import find_cjk_font
from activities.media.probe import MediaInfo, audio_duration_s, probe
from schema.errors import BadInputError, CancelledByUser
from schema.text import has_cjk

__all__ = [
    "ComposeJob",
    "ComposeResult",
    "ComposeShot",
    "build_ass",
    "compose",
    "subtitle_font_dir",
]

SEGMENT_FORMAT = "seg-v1"
STILL_CODECS = {"png", "mjpeg", "webp", "bmp", "tiff", "gif", "jpegls", "jpeg2000"}
MODE_DEFAULTS: dict[str, dict[str, int]] = {
    "preview": {"width": 640, "height": 360, "fps": 24},
    "final": {"width": 1280, "height": 720, "fps": 30},
}
# stage 1 keeps quality high (it is re-encoded once more); stage 2 is the delivery encode
ENCODE: dict[str, dict[str, dict[str, Any]]] = {
    "preview": {
        "segment": {"preset": "ultrafast", "crf": 20, "audio_bitrate": "192k"},
        "output": {
            "preset": "veryfast",
            "crf": 28,
            "audio_bitrate": "96k",
            "maxrate": "1200k",
            "bufsize": "2400k",
        },
    },
    "final": {
        "segment": {"preset": "veryfast", "crf": 16, "audio_bitrate": "256k"},
        "output": {"preset": "medium", "crf": 20, "audio_bitrate": "160k"},
    },
}
LOUDNESS = {"I": -16, "TP": -1.5, "LRA": 11}
# Sidechain ducking. A hard compressor (low threshold, high ratio) mutes the music under speech and
# mix=0.5 blends that half-and-half with the dry music, so the music sits a steady ~6 dB lower
# (20*log10(0.5)) whenever anyone speaks, independent of how loud the speech is.
DUCKING = {"threshold": 0.002, "ratio": 20, "attack": 10, "release": 500, "knee": 2, "mix": 0.5}
MUSIC_FADE_OUT_S = 2.0  # background music fades out over the cut's last seconds
SUBTITLE_FONT_NAME = "Aileron"
SUBTITLE_HOLD_S = 0.4


@dataclass
class ComposeShot:
    """One shot in the cut: its clip (or still), its narration audio and how long it lasts."""

    video_path: Path
    audio_path: Path | None
    narration: str
    duration_s: float


@dataclass
class ComposeJob:
    """What to compose. width/height/fps default by mode (preview 640x360@24, final 1280x720@30)."""

    shots: list[ComposeShot]
    mode: Literal["preview", "final"] = "preview"
    width: int | None = None
    height: int | None = None
    fps: int | None = None
    crossfade_s: float = 0.0
    subtitles: bool = True
    music_path: Path | None = None
    music_gain_db: float = -6.0

    @property
    def resolved_width(self) -> int:
        return int(self.width or MODE_DEFAULTS[self.mode]["width"])

    @property
    def resolved_height(self) -> int:
        return int(self.height or MODE_DEFAULTS[self.mode]["height"])

    @property
    def resolved_fps(self) -> int:
        return int(self.fps or MODE_DEFAULTS[self.mode]["fps"])


@dataclass
class ComposeResult:
    """The composed file and what it took. Shot lists hold 0-based positions in `job.shots`."""

    path: Path
    duration_s: float
    width: int
    height: int
    reencoded_shots: list[int]
    cached_shots: list[int]
    subtitle_events: int
    segment_keys: list[str] = field(default_factory=list)
    narration_truncated: list[int] = field(default_factory=list)
    video_codec: str | None = None
    audio_codec: str | None = None


# ------------------------------------------------------------------------------------------------
# hashing and validation
# ------------------------------------------------------------------------------------------------

_hash_cache: dict[tuple[str, int, int], str] = {}
_hash_lock = threading.Lock()


def _file_sha256(path: Path) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _hash_lock:
        hit = _hash_cache.get(key)
    if hit:
        return hit
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    value = digest.hexdigest()
    with _hash_lock:
        _hash_cache[key] = value
    return value


def _check_asset(
    path: Path | None, what: str, *, need_video: bool = False, need_audio: bool = False
) -> MediaInfo:
    if path is None or not Path(path).is_file():
        raise BadInputError(f"{what} is missing: {path}", code="asset_missing")
    info = probe(path)  # raises asset_corrupt
    if need_video and not info.has_video:
        raise BadInputError(f"{what} has no video stream: {path}", code="asset_corrupt")
    if need_audio and not info.has_audio:
        raise BadInputError(f"{what} has no audio stream: {path}", code="asset_corrupt")
    return info


def _validate(job: ComposeJob) -> None:
    if not job.shots:
        raise BadInputError("Nothing to compose: the job has no shots.", code="compose_empty")
    if job.mode not in MODE_DEFAULTS:
        raise BadInputError(f"Unknown compose mode {job.mode!r}.", code="compose_mode_invalid")
    w, h, fps = job.resolved_width, job.resolved_height, job.resolved_fps
    if w % 2 or h % 2 or not (64 <= w <= 7680 and 64 <= h <= 4320):
        raise BadInputError(f"Output size must be even and 64..7680 px, got {w}x{h}.", code="size_invalid")
    if not 1 <= fps <= 120:
        raise BadInputError(f"fps must be 1..120, got {fps}.", code="fps_invalid")
    for i, shot in enumerate(job.shots):
        if not 0.1 <= shot.duration_s <= 600:
            raise BadInputError(
                f"Shot {i} duration {shot.duration_s} s is out of range.", code="duration_invalid"
            )
    if job.crossfade_s < 0:
        raise BadInputError("crossfade_s cannot be negative.", code="crossfade_invalid")
    if job.crossfade_s > 0 and len(job.shots) > 1:
        shortest = min(s.duration_s for s in job.shots)
        if job.crossfade_s > shortest / 2:
            raise BadInputError(
                f"crossfade_s {job.crossfade_s} s is longer than half the shortest shot ({shortest} s).",
                code="crossfade_invalid",
            )


# ------------------------------------------------------------------------------------------------
# subtitles
# ------------------------------------------------------------------------------------------------

_FONT_LOCK = threading.Lock()


def subtitle_font_dir(cache_dir: Path) -> Path:
    """A directory holding the subtitle font (Pillow's bundled Aileron), written once."""
    fonts = Path(cache_dir) / "fonts"
    target = fonts / "Aileron-Regular.ttf"
    with _FONT_LOCK:
        if not target.is_file():
            from PIL import ImageFont

            data = getattr(ImageFont.load_default(size=24), "font_bytes", None)
            if not data:
                raise BadInputError(
                    "Pillow has no bundled TrueType font (built without FreeType); subtitles cannot render.",
                    code="subtitle_font_missing",
                )
            fonts.mkdir(parents=True, exist_ok=True)
            tmp = fonts / f".{uuid.uuid4().hex}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, target)
    return fonts


def _ass_time(t: float) -> str:
    cs = max(0, round(t * 100))
    h, rem = divmod(cs, 360000)
    m, rem = divmod(rem, 6000)
    s, cs = divmod(rem, 100)
    return f"{h}:{m:02d}:{s:02d}.{cs:02d}"


def _ass_escape(text: str) -> str:
    return " ".join(text.replace("\\", "/").replace("{", "(").replace("}", ")").split())


def _split_caption(text: str, limit: int) -> list[str]:
    """Split narration into caption-sized chunks at sentence, then clause, then word boundaries."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return [text] if text else []
    cjk = has_cjk(text)
    parts = [p for p in re.split(r"(?<=[.!?。！？；;])\s*", text) if p]
    chunks: list[str] = []
    for part in parts:
        while len(part) > limit:
            pieces = math.ceil(len(part) / limit)
            target = len(part) / pieces  # balanced pieces, no one-word tails
            cut = _best_cut(part, target, limit)
            chunks.append(part[:cut].strip())
            part = part[cut:].strip()
        if not part:
            continue
        if chunks and len(chunks[-1]) + len(part) + 1 <= limit:
            chunks[-1] = chunks[-1] + ("" if cjk else " ") + part
        else:
            chunks.append(part)
    return chunks


def _best_cut(text: str, target: float, limit: int) -> int:
    """Index to cut at: a clause break near `target`, else a space near it, else `target` itself."""
    for seps in ((", ", "，", "、", "; ", "；", ": ", "："), (" ",)):
        best = None
        for i, _ in enumerate(text[:limit]):
            for sep in seps:
                if text.startswith(sep, i) and i + len(sep) >= target * 0.6:
                    pos = i + len(sep)
                    if best is None or abs(pos - target) < abs(best - target):
                        best = pos
        if best is not None:
            return best
    return max(1, int(target))


def build_ass(
    captions: list[tuple[float, float, str]], *, width: int, height: int, font_name: str = SUBTITLE_FONT_NAME
) -> tuple[str, int]:
    """ASS document for (start, end, text) captions; returns (text, number of Dialogue events)."""
    size = max(10, round(height * 0.055))
    outline = max(1.0, round(height / 240, 1))
    margin_v = max(6, round(height * 0.05))
    margin_h = max(8, round(width * 0.06))
    lines = [
        "[Script Info]",
        "ScriptType: v4.00+",
        f"PlayResX: {width}",
        f"PlayResY: {height}",
        "WrapStyle: 0",
        "ScaledBorderAndShadow: yes",
        "YCbCr Matrix: TV.709",
        "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, "
        "Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, "
        "Alignment, MarginL, MarginR, MarginV, Encoding",
        f"Style: Default,{font_name},{size},&H00FFFFFF,&H000000FF,&H00101010,&H90000000,"
        f"0,0,0,0,100,100,0,0,1,{outline},{max(0.5, outline / 2)},2,{margin_h},{margin_h},{margin_v},1",
        "",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    ]
    events = 0
    for start, end, text in captions:
        body = _ass_escape(text)
        if not body or end - start < 0.05:
            continue
        lines.append(f"Dialogue: 0,{_ass_time(start)},{_ass_time(end)},Default,,0,0,0,,{body}")
        events += 1
    return "\n".join(lines) + "\n", events


def _captions(
    job: ComposeJob, starts: list[float], ends: list[float], speech: list[float | None]
) -> list[tuple[float, float, str]]:
    captions: list[tuple[float, float, str]] = []
    for i, shot in enumerate(job.shots):
        cjk = has_cjk(shot.narration)
        chunks = _split_caption(shot.narration, 32 if cjk else 84)
        if not chunks:
            continue
        start, end = starts[i], ends[i]
        if speech[i]:
            end = min(end, start + max(1.2, float(speech[i] or 0) + SUBTITLE_HOLD_S))
        total_chars = sum(len(c) for c in chunks)
        t = start
        for chunk in chunks:
            span = (end - start) * len(chunk) / total_chars
            captions.append((t, t + span, chunk))
            t += span
    return captions


def _link(src: Path, dst: Path) -> None:
    try:
        os.symlink(src.resolve(), dst)
    except OSError:  # no symlinks here (some Windows setups, odd filesystems): copy instead
        shutil.copyfile(src, dst)


def _font_for(captions: list[tuple[float, float, str]], fonts_dir: Path, work_fonts: Path) -> str:
    """Link the subtitle font(s) into the job's font dir; return the ASS font name to use."""
    work_fonts.mkdir(parents=True, exist_ok=True)
    base = fonts_dir / "Aileron-Regular.ttf"
    _link(base, work_fonts / base.name)
    if any(has_cjk(text) for _, _, text in captions):
        cjk = find_cjk_font()
        if cjk is not None:
            try:
                from PIL import ImageFont

                name = ImageFont.truetype(str(cjk), 20).getname()[0]
                _link(cjk, work_fonts / f"cjk{cjk.suffix}")
                return str(name)
            except OSError:
                pass
    return SUBTITLE_FONT_NAME


# ------------------------------------------------------------------------------------------------
# stage 1: segments
# ------------------------------------------------------------------------------------------------


def _segment_key(job: ComposeJob, shot: ComposeShot, video_sha: str, audio_sha: str | None) -> str:
    payload = {
        "format": SEGMENT_FORMAT,
        "ffmpeg": Path(ffmpeg_exe()).name,
        "video": video_sha,
        "audio": audio_sha,
        "duration": round(shot.duration_s, 4),
        "narration": shot.narration,
        "w": job.resolved_width,
        "h": job.resolved_height,
        "fps": job.resolved_fps,
        "mode": job.mode,
        "encoder": ENCODE[job.mode]["segment"],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _segment_args(job: ComposeJob, shot: ComposeShot, video_info: MediaInfo, out: Path) -> list[str]:
    w, h, fps, d = job.resolved_width, job.resolved_height, job.resolved_fps, shot.duration_s
    enc = ENCODE[job.mode]["segment"]
    still = (video_info.video_codec or "") in STILL_CODECS and video_info.duration_s < 0.2
    vin = ffmpeg.input(str(shot.video_path), **({"loop": 1, "t": f"{d + 1:.3f}"} if still else {}))
    v = (
        vin.video.filter("setpts", "PTS-STARTPTS")
        .filter("scale", w, h, force_original_aspect_ratio="decrease", flags="bicubic")
        .filter("pad", w, h, "(ow-iw)/2", "(oh-ih)/2", color="black")
        .filter("setsar", 1)
        .filter("fps", fps)
        .filter("tpad", stop_mode="clone", stop_duration=f"{d:.3f}")
        .filter("trim", duration=f"{d:.3f}")
        .filter("setpts", "PTS-STARTPTS")
        .filter("format", "yuv420p")
    )
    if shot.audio_path is not None:
        a = ffmpeg.input(str(shot.audio_path)).audio
    else:
        a = ffmpeg.input("anullsrc=r=48000:cl=stereo", f="lavfi").audio
    a = (
        a.filter("aresample", 48000)
        .filter("aformat", sample_fmts="fltp", sample_rates=48000, channel_layouts="stereo")
        .filter("apad")
        .filter("atrim", duration=f"{d:.3f}")
        .filter("asetpts", "PTS-STARTPTS")
    )
    return ffmpeg.output(
        v,
        a,
        str(out),
        vcodec="libx264",
        preset=enc["preset"],
        crf=enc["crf"],
        pix_fmt="yuv420p",
        r=fps,
        g=fps * 2,
        acodec="aac",
        audio_bitrate=enc["audio_bitrate"],
        ar=48000,
        ac=2,
        t=f"{d:.3f}",
        movflags="+faststart",
        f="mp4",
    ).get_args()


# ------------------------------------------------------------------------------------------------
# stage 2: the one graph
# ------------------------------------------------------------------------------------------------


def _final_args(
    job: ComposeJob,
    segments: list[Path],
    total: float,
    out: Path,
    ass_name: str | None,
    fonts_name: str | None,
) -> list[str]:
    cf = job.crossfade_s if len(segments) > 1 else 0.0
    inputs = [ffmpeg.input(str(p)) for p in segments]
    if cf <= 0:
        joined = ffmpeg.concat(*[s for i in inputs for s in (i.video, i.audio)], v=1, a=1).node
        v, a = joined[0], joined[1]
    else:
        v, a = inputs[0].video, inputs[0].audio
        offset = 0.0
        for k in range(1, len(inputs)):
            offset += job.shots[k - 1].duration_s - cf
            v = ffmpeg.filter(
                [v, inputs[k].video], "xfade", transition="fade", duration=cf, offset=f"{offset:.3f}"
            )
            a = ffmpeg.filter([a, inputs[k].audio], "acrossfade", d=cf, c1="tri", c2="tri")
    if ass_name:
        v = v.filter("ass", ass_name, fontsdir=fonts_name or ".")
    v = v.filter("format", "yuv420p")
    if job.music_path is not None:
        fade = min(MUSIC_FADE_OUT_S, total / 4)
        music = (
            ffmpeg.input(str(Path(job.music_path).resolve()), stream_loop=-1)
            .audio.filter("aformat", sample_fmts="fltp", sample_rates=48000, channel_layouts="stereo")
            .filter("atrim", duration=f"{total:.3f}")
            # a looped or longer track still ends cleanly with the cut
            .filter("afade", t="out", st=f"{max(0.0, total - fade):.3f}", d=f"{fade:.3f}")
            .filter("volume", f"{job.music_gain_db}dB")
        )
        split = a.filter_multi_output("asplit")
        speech, sidechain = split[0], split[1]
        ducked = ffmpeg.filter([music, sidechain], "sidechaincompress", **DUCKING)
        a = ffmpeg.filter(
            [speech, ducked], "amix", inputs=2, duration="first", normalize=0, dropout_transition=0
        )
    a = (
        a.filter("loudnorm", **LOUDNESS)
        .filter("aresample", 48000)
        .filter("atrim", duration=f"{total:.3f}")
        .filter("asetpts", "PTS-STARTPTS")
    )
    enc = ENCODE[job.mode]["output"]
    extra = {k: enc[k] for k in ("maxrate", "bufsize") if k in enc}
    return ffmpeg.output(
        v,
        a,
        str(out),
        vcodec="libx264",
        preset=enc["preset"],
        crf=enc["crf"],
        pix_fmt="yuv420p",
        r=job.resolved_fps,
        g=job.resolved_fps * 2,
        acodec="aac",
        audio_bitrate=enc["audio_bitrate"],
        ar=48000,
        ac=2,
        t=f"{total:.3f}",
        movflags="+faststart",
        f="mp4",
        **extra,
    ).get_args()


# ------------------------------------------------------------------------------------------------
# entry point
# ------------------------------------------------------------------------------------------------


def compose(
    job: ComposeJob,
    out_path: Path,
    *,
    cache_dir: Path,
    on_progress: Callable[[float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    timeout_s: float | None = None,
) -> ComposeResult:
    """Compose `job` into `out_path` (MP4). Progress 0..1; raises CancelledByUser when cancelled."""
    _validate(job)
    cache_dir = Path(cache_dir).resolve()  # stage 2 runs with cwd=work dir: keep every path absolute
    out_path = Path(out_path).resolve()
    seg_dir = cache_dir / "segments"
    seg_dir.mkdir(parents=True, exist_ok=True)
    last = [0.0]

    def report(value: float) -> None:
        if on_progress is not None:
            value = max(last[0], min(1.0, value))
            last[0] = value
            on_progress(value)

    def check_cancel() -> None:
        if cancelled is not None and cancelled():
            raise CancelledByUser("Compose cancelled.")

    # validate every input before doing any work
    video_infos: list[MediaInfo] = []
    speech: list[float | None] = []
    keys: list[str] = []
    truncated: list[int] = []
    for i, shot in enumerate(job.shots):
        check_cancel()
        video_infos.append(_check_asset(Path(shot.video_path), f"Shot {i} video", need_video=True))
        audio_sha = None
        if shot.audio_path is not None:
            _check_asset(Path(shot.audio_path), f"Shot {i} narration audio", need_audio=True)
            seconds = audio_duration_s(shot.audio_path)
            speech.append(seconds)
            if seconds > shot.duration_s + 0.05:
                truncated.append(i)
            audio_sha = _file_sha256(Path(shot.audio_path))
        else:
            speech.append(None)
        keys.append(_segment_key(job, shot, _file_sha256(Path(shot.video_path)), audio_sha))
    if job.music_path is not None:
        _check_asset(Path(job.music_path), "Background music", need_audio=True)

    # stage 1
    total_input = sum(s.duration_s for s in job.shots)
    done_s = 0.0
    reencoded: list[int] = []
    cached: list[int] = []
    segments: list[Path] = []
    for i, (shot, key) in enumerate(zip(job.shots, keys, strict=True)):
        check_cancel()
        target = seg_dir / f"{key}.mp4"
        if target.is_file() and target.stat().st_size > 0:
            cached.append(i)
            with contextlib.suppress(FileNotFoundError):
                os.utime(target)  # recently used: the cache's LRU bound (infra/janitor.py) keeps it
        else:
            tmp = seg_dir / f".{key}.{uuid.uuid4().hex[:8]}.partial.mp4"
            base = done_s

            def seg_progress(f: float, base: float = base, d: float = shot.duration_s) -> None:
                report(0.5 * (base + f * d) / total_input)

            try:
                run_ffmpeg(
                    _segment_args(job, shot, video_infos[i], tmp),
                    expected_duration_s=shot.duration_s,
                    on_progress=seg_progress,
                    cancelled=cancelled,
                    timeout_s=timeout_s,
                )
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
            reencoded.append(i)
        segments.append(target)
        done_s += shot.duration_s
        report(0.5 * done_s / total_input)

    # timeline
    cf = job.crossfade_s if len(job.shots) > 1 else 0.0
    starts: list[float] = []
    t = 0.0
    for shot in job.shots:
        starts.append(t)
        t += shot.duration_s - cf
    total = total_input - cf * (len(job.shots) - 1)
    ends = [*starts[1:], total]

    # stage 2
    check_cancel()
    work = cache_dir / "work" / uuid.uuid4().hex
    work.mkdir(parents=True, exist_ok=True)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out_path.with_name(f".{out_path.stem}.{uuid.uuid4().hex[:8]}.partial.mp4")
    events = 0
    try:
        ass_name = fonts_name = None
        if job.subtitles:
            captions = _captions(job, starts, ends, speech)
            if captions:
                font_name = _font_for(captions, subtitle_font_dir(cache_dir), work / "fonts")
                text, events = build_ass(
                    captions, width=job.resolved_width, height=job.resolved_height, font_name=font_name
                )
                (work / "subs.ass").write_text(text, encoding="utf-8")
                ass_name, fonts_name = "subs.ass", "fonts"
        run_ffmpeg(
            _final_args(job, segments, total, tmp_out.resolve(), ass_name, fonts_name),
            expected_duration_s=total,
            on_progress=lambda f: report(0.5 + 0.5 * f),
            cancelled=cancelled,
            timeout_s=timeout_s,
            cwd=work,
        )
        os.replace(tmp_out, out_path)
    finally:
        tmp_out.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)

    info = probe(out_path)
    report(1.0)
    return ComposeResult(
        path=out_path,
        duration_s=info.duration_s,
        width=info.width,
        height=info.height,
        reencoded_shots=reencoded,
        cached_shots=cached,
        subtitle_events=events,
        segment_keys=keys,
        narration_truncated=truncated,
        video_codec=info.video_codec,
        audio_codec=info.audio_codec,
    )
