"""Compose: ordered shot clips + narration → one H.264/AAC MP4 with burned-in subtitles.

Rules:
- Every output frame is encoded exactly once. Each shot's *body* (its frames outside any
  crossfade) is one video-only piece, scaled/padded/timed and with that shot's own subtitle lines
  burned in, encoded with the delivery settings. With a crossfade, each overlap is one short
  *join* piece (the xfade of the two shots' frames, with the incoming shot's lines). Pieces are
  joined by stream copy (concat demuxer); the audio (narration timeline, music ducked under
  speech) is an audio-only pass, cached by its own key (a changed picture never re-mixes the
  sound); the final FFmpeg call only stream-copies both into the MP4.
- Loudness is linear: the mix is measured (EBU R128 integrated loudness and true peak, `ebur128`
  at 48 kHz), then one gain brings it to -16 LUFS and a look-ahead limiter holds the peaks under
  -1.5 dBTP only when the gain would push them over. The mix keeps its own dynamics (no 192 kHz
  dynamic normaliser), and silence is never amplified.
- Timing is in whole frames on the output timeline (shot i lasts round(duration*fps) frames), and
  the narration timeline uses the same frame-quantised spans, so picture and sound stay aligned.
- Pieces and whole cuts are content-addressed: the key hashes the input *contents* and every
  setting that changes the bytes (the piece's ASS document included). Identical inputs return the
  stored cut without starting FFmpeg; changing one shot re-encodes that shot's piece (and, with a
  crossfade, its two joins). Everything is written to a temp name and renamed atomically, so a
  crash never leaves a half piece or cut in the cache.
- Filter graphs are built with ffmpeg-python and executed only through `run_ffmpeg`, so progress
  (pieces = first 85 %, audio to 95 %, the final mux = the rest) and cancellation behave the same
  everywhere.
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
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import ffmpeg

from activities.media.ffmpeg import ffmpeg_exe, run_ffmpeg
from activities.media.fonts import find_cjk_font
from activities.media.probe import MediaInfo, audio_duration_s, probe
from schema.errors import BadInputError, CancelledByUser, MediaToolError
from schema.text import has_cjk

__all__ = [
    "ComposeJob",
    "ComposeResult",
    "ComposeShot",
    "build_ass",
    "caption_cues",
    "compose",
    "subtitle_font_dir",
]

SEGMENT_FORMAT = "seg-v2"  # bump when a piece's bytes change for the same key payload
CUT_FORMAT = "cut-v2"
STILL_CODECS = {"png", "mjpeg", "webp", "bmp", "tiff", "gif", "jpegls", "jpeg2000"}
MODE_DEFAULTS: dict[str, dict[str, int]] = {
    "preview": {"width": 640, "height": 360, "fps": 24},
    "final": {"width": 1280, "height": 720, "fps": 30},
}
# the delivery encode; each piece is encoded once with it and then only stream-copied
ENCODE: dict[str, dict[str, dict[str, Any]]] = {
    "preview": {
        "output": {
            "preset": "veryfast",
            "crf": 28,
            "audio_bitrate": "96k",
            "maxrate": "1200k",
            "bufsize": "2400k",
        },
    },
    "final": {
        "output": {"preset": "medium", "crf": 20, "audio_bitrate": "160k"},
    },
}
LOUDNESS = {"I": -16, "TP": -1.5, "LRA": 11, "method": "linear"}
LIMIT_DBFS = -2.5  # the limiter's sample ceiling: AAC overshoot and inter-sample peaks stay under TP
SILENCE_LUFS = -70.0  # the R128 absolute gate: a mix this quiet has nothing to bring up
MAX_GAIN_DB = 30.0
# Sidechain ducking. A hard compressor (low threshold, high ratio) mutes the music under speech and
# mix=0.5 blends that half-and-half with the dry music, so the music sits a steady ~6 dB lower
# (20*log10(0.5)) whenever anyone speaks, independent of how loud the speech is.
DUCKING = {"threshold": 0.002, "ratio": 20, "attack": 10, "release": 500, "knee": 2, "mix": 0.5}
MUSIC_FADE_OUT_S = 2.0  # background music fades out over the cut's last seconds
SUBTITLE_FONT_NAME = "Aileron"
SUBTITLE_HOLD_S = 0.4
COMPOSE_PARALLEL = max(2, os.cpu_count() or 2)  # FFmpeg passes at once (see `encoder_threads`)


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
    reencoded_joins: list[int] = field(default_factory=list)  # crossfades encoded (k: shot k-1 → k)
    cut_cached: bool = False  # the whole cut came from the cache: FFmpeg never started


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


def _shot_captions(
    narration: str, span_s: float, speech_s: float | None, offset_s: float = 0.0
) -> list[tuple[float, float, str]]:
    """One shot's caption chunks over its on-screen span [offset, offset + span] (times in s)."""
    cjk = has_cjk(narration)
    chunks = _split_caption(narration, 32 if cjk else 84)
    if not chunks:
        return []
    start, end = offset_s, offset_s + span_s
    if speech_s:
        end = min(end, start + max(1.2, float(speech_s) + SUBTITLE_HOLD_S))
    total_chars = sum(len(c) for c in chunks)
    captions: list[tuple[float, float, str]] = []
    t = start
    for chunk in chunks:
        span = (end - start) * len(chunk) / total_chars
        captions.append((t, t + span, chunk))
        t += span
    return captions


def _captions(
    job: ComposeJob, starts: list[float], ends: list[float], speech: list[float | None]
) -> list[tuple[float, float, str]]:
    """Every shot's captions on the cut's timeline (shot i is on screen from starts[i] to ends[i])."""
    return caption_cues([shot.narration for shot in job.shots], starts, ends, speech)


def caption_cues(
    narrations: list[str], starts: list[float], ends: list[float], speech: list[float | None]
) -> list[tuple[float, float, str]]:
    """(start, end, text) captions of a cut: each shot's narration split into caption-sized
    chunks, spread over the shot (or over its speech plus a short hold) by length. The one rule
    the burned-in subtitles and the SRT/VTT/timeline exports share."""
    captions: list[tuple[float, float, str]] = []
    for i, narration in enumerate(narrations):
        captions += _shot_captions(narration, ends[i] - starts[i], speech[i], starts[i])
    return captions


def _link(src: Path, dst: Path) -> None:
    if dst.exists() or dst.is_symlink():
        return
    try:
        os.symlink(src.resolve(), dst)
    except OSError:  # no symlinks here (some Windows setups, odd filesystems): copy instead
        shutil.copyfile(src, dst)


def _font_choice(captions: list[tuple[float, float, str]]) -> tuple[str, Path | None]:
    """The ASS font name for these captions and the CJK font file it needs (None: Aileron)."""
    if any(has_cjk(text) for _, _, text in captions):
        cjk = find_cjk_font()
        if cjk is not None:
            try:
                from PIL import ImageFont

                return str(ImageFont.truetype(str(cjk), 20).getname()[0]), cjk
            except OSError:
                pass
    return SUBTITLE_FONT_NAME, None


def _font_for(captions: list[tuple[float, float, str]], fonts_dir: Path, work_fonts: Path) -> str:
    """Link the subtitle font(s) into the job's font dir; return the ASS font name to use."""
    work_fonts.mkdir(parents=True, exist_ok=True)
    base = fonts_dir / "Aileron-Regular.ttf"
    _link(base, work_fonts / base.name)
    name, cjk = _font_choice(captions)
    if cjk is not None:
        _link(cjk, work_fonts / f"cjk{cjk.suffix}")
    return name


# ------------------------------------------------------------------------------------------------
# the plan: frame timeline, pieces, keys
# ------------------------------------------------------------------------------------------------


@dataclass
class _Timeline:
    """The cut in whole output frames: shot i lasts frames[i]; neighbours overlap by `overlap`."""

    fps: int
    frames: list[int]
    overlap: int

    @classmethod
    def of(cls, job: ComposeJob) -> _Timeline:
        fps = job.resolved_fps
        frames = [max(1, round(s.duration_s * fps)) for s in job.shots]
        # floor keeps every body non-negative: duration >= 2*crossfade (validated) => N >= 2*C
        overlap = math.floor(job.crossfade_s * fps + 1e-6) if len(job.shots) > 1 else 0
        return cls(fps, frames, overlap)

    @property
    def starts(self) -> list[int]:
        out, t = [], 0
        for n in self.frames:
            out.append(t)
            t += n - self.overlap
        return out

    @property
    def total(self) -> int:
        return sum(self.frames) - self.overlap * (len(self.frames) - 1)

    def span(self, i: int) -> int:
        """Frames shot i is *the* shot on screen (its captions' span): up to the next shot's start."""
        return self.frames[i] - (self.overlap if i < len(self.frames) - 1 else 0)

    def body(self, i: int) -> tuple[int, int]:
        """Shot-local [first, end) frames of shot i outside any crossfade."""
        lo = self.overlap if i > 0 else 0
        hi = self.frames[i] - (self.overlap if i < len(self.frames) - 1 else 0)
        return lo, hi


@dataclass
class _Piece:
    """One video-only piece of the cut, encoded once and then only stream-copied."""

    kind: Literal["body", "join"]
    shot: int  # body: its shot; join: the shot faded *into* (from shot-1)
    frames: int
    key: str
    ass: str | None  # ASS document burned in (shot-local times of `shot`)
    font_file: Path | None
    path: Path


def _digest(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _encode_settings(job: ComposeJob) -> dict[str, Any]:
    return {
        "format": SEGMENT_FORMAT,
        "ffmpeg": Path(ffmpeg_exe()).name,
        "w": job.resolved_width,
        "h": job.resolved_height,
        "fps": job.resolved_fps,
        "encoder": ENCODE[job.mode]["output"],
    }


def _plan_pieces(
    job: ComposeJob,
    tl: _Timeline,
    video_shas: list[str],
    speech: list[float | None],
    seg_dir: Path,
) -> tuple[list[_Piece], int]:
    """The pieces in cut order and the number of subtitle events burned in."""
    settings = _encode_settings(job)
    fps = tl.fps
    pieces: list[_Piece] = []
    events_total = 0
    docs: list[tuple[str | None, Path | None, int]] = []
    for i, shot in enumerate(job.shots):
        doc: str | None = None
        font_file: Path | None = None
        events = 0
        if job.subtitles:
            captions = _shot_captions(shot.narration, tl.span(i) / fps, speech[i])
            if captions:
                font_name, font_file = _font_choice(captions)
                doc, events = build_ass(
                    captions, width=job.resolved_width, height=job.resolved_height, font_name=font_name
                )
                if not events:
                    doc = None
        docs.append((doc, font_file, events))
        events_total += events

    def source(i: int) -> dict[str, Any]:
        return {"video": video_shas[i], "frames": tl.frames[i]}

    for i in range(len(job.shots)):
        doc, font_file, _ = docs[i]
        font_id = _font_identity(font_file)
        if i > 0 and tl.overlap > 0:
            key = _digest(
                {
                    **settings,
                    "kind": "join",
                    "from": source(i - 1),
                    "into": source(i),
                    "overlap": tl.overlap,
                    "ass": doc,
                    "font": font_id,
                }
            )
            pieces.append(_Piece("join", i, tl.overlap, key, doc, font_file, seg_dir / f"{key}.mp4"))
        lo, hi = tl.body(i)
        if hi > lo:
            key = _digest(
                {**settings, "kind": "body", **source(i), "lo": lo, "hi": hi, "ass": doc, "font": font_id}
            )
            pieces.append(_Piece("body", i, hi - lo, key, doc, font_file, seg_dir / f"{key}.mp4"))
    return pieces, events_total


def _font_identity(font_file: Path | None) -> str | None:
    if font_file is None:
        return None
    st = font_file.stat()
    return f"{font_file.name}:{st.st_size}"


# ------------------------------------------------------------------------------------------------
# FFmpeg arguments: pieces and the final mux
# ------------------------------------------------------------------------------------------------


def _shot_video(job: ComposeJob, shot: ComposeShot, info: MediaInfo, frames: int) -> Any:
    """The shot as frames of the output (WxH, fps, yuv420p), held on its last frame to `frames`;
    pts are shot-local (frame n at n/fps)."""
    w, h, fps = job.resolved_width, job.resolved_height, job.resolved_fps
    d = frames / fps
    still = (info.video_codec or "") in STILL_CODECS and info.duration_s < 0.2
    vin = ffmpeg.input(str(shot.video_path), **({"loop": 1, "t": f"{d + 1:.3f}"} if still else {}))
    return (
        vin.video.filter("setpts", "PTS-STARTPTS")
        .filter("scale", w, h, force_original_aspect_ratio="decrease", flags="bicubic")
        .filter("pad", w, h, "(ow-iw)/2", "(oh-ih)/2", color="black")
        .filter("setsar", 1)
        .filter("fps", fps)
        .filter("tpad", stop_mode="clone", stop_duration=f"{d + 2 / fps:.4f}")
    )


def encoder_threads(pieces: int) -> int:
    """x264 threads per piece: the cores shared by the pieces that encode at once. A short piece
    encodes most efficiently on one thread (frame threads idle at its start and end and cost
    efficiency); the cores are filled by encoding pieces side by side instead."""
    cores = os.cpu_count() or 2
    return max(1, cores // max(1, min(COMPOSE_PARALLEL, pieces)))


def _video_output(job: ComposeJob, v: Any, out: Path, threads: int = 0) -> list[str]:
    """The delivery encode (`threads` 0: x264 picks its own)."""
    enc = ENCODE[job.mode]["output"]
    extra = {k: enc[k] for k in ("maxrate", "bufsize") if k in enc}
    if threads:
        extra["threads"] = threads
    return ffmpeg.output(
        v,
        str(out),
        vcodec="libx264",
        preset=enc["preset"],
        crf=enc["crf"],
        pix_fmt="yuv420p",
        profile="high",
        r=job.resolved_fps,
        g=job.resolved_fps * 2,
        f="mp4",
        **extra,
    ).get_args()


def _piece_args(
    job: ComposeJob,
    tl: _Timeline,
    piece: _Piece,
    infos: dict[int, MediaInfo],
    out: Path,
    *,
    ass_name: str | None,
    threads: int = 0,
) -> list[str]:
    """FFmpeg arguments that encode one piece (video only) into `out`."""
    i = piece.shot
    if piece.kind == "body":
        lo, hi = tl.body(i)
        # trim keeps the shot-local pts, so the shot's ASS times apply as they are
        v = _shot_video(job, job.shots[i], infos[i], tl.frames[i]).filter(
            "trim", start_frame=lo, end_frame=hi
        )
        if ass_name:
            v = v.filter("ass", ass_name, fontsdir="fonts")
        v = v.filter("setpts", "PTS-STARTPTS")
    else:
        c = tl.overlap
        n_prev = tl.frames[i - 1]
        tail = (
            _shot_video(job, job.shots[i - 1], infos[i - 1], n_prev)
            .filter("trim", start_frame=n_prev - c, end_frame=n_prev)
            .filter("setpts", "PTS-STARTPTS")
        )
        head = (
            _shot_video(job, job.shots[i], infos[i], tl.frames[i])
            .filter("trim", start_frame=0, end_frame=c)
            .filter("setpts", "PTS-STARTPTS")
        )
        v = ffmpeg.filter(
            [tail, head], "xfade", transition="fade", duration=f"{c / tl.fps:.6f}", offset=0
        ).filter("setpts", "PTS-STARTPTS")
        if ass_name:  # the incoming shot's lines, over the blend (its local t=0 is the join's start)
            v = v.filter("ass", ass_name, fontsdir="fonts")
    v = v.filter("format", "yuv420p")
    return _video_output(job, v, out, threads)


def _audio_graph(job: ComposeJob, tl: _Timeline) -> Any:
    """Narration on the frame timeline (acrossfade on overlaps), music ducked under it (48 kHz
    stereo, exactly the cut's length; its loudness is set by `_leveled`)."""
    fps = tl.fps
    total = tl.total / fps
    parts = []
    for shot, frames in zip(job.shots, tl.frames, strict=True):
        if shot.audio_path is not None:
            a = ffmpeg.input(str(Path(shot.audio_path).resolve())).audio
        else:
            a = ffmpeg.input("anullsrc=r=48000:cl=stereo", f="lavfi").audio
        parts.append(
            a.filter("aresample", 48000)
            .filter("aformat", sample_fmts="fltp", sample_rates=48000, channel_layouts="stereo")
            .filter("apad")
            .filter("atrim", duration=f"{frames / fps:.6f}")
            .filter("asetpts", "PTS-STARTPTS")
        )
    if len(parts) == 1:
        a = parts[0]
    elif tl.overlap <= 0:
        a = ffmpeg.concat(*parts, v=0, a=1)
    else:
        a = parts[0]
        for part in parts[1:]:
            a = ffmpeg.filter([a, part], "acrossfade", d=f"{tl.overlap / fps:.6f}", c1="tri", c2="tri")
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
    return a.filter("atrim", duration=f"{total:.6f}").filter("asetpts", "PTS-STARTPTS")


@dataclass(frozen=True)
class Level:
    """What the linear loudness step does to a mix: one gain, and a limiter when it is needed."""

    gain_db: float
    limit: bool


def level_for(loudness_lufs: float, true_peak_dbfs: float) -> Level:
    """The gain that brings a mix measured at `loudness_lufs` to the target, and whether its
    peaks then need the limiter (silence: no gain)."""
    if loudness_lufs <= SILENCE_LUFS:
        return Level(0.0, False)
    gain = max(-MAX_GAIN_DB, min(MAX_GAIN_DB, LOUDNESS["I"] - loudness_lufs))
    return Level(round(gain, 2), true_peak_dbfs + gain > LIMIT_DBFS)


def _measure_args(job: ComposeJob, tl: _Timeline) -> list[str]:
    """The mix through `ebur128` into nothing: its summary gives the loudness and true peak."""
    measured = _audio_graph(job, tl).filter("ebur128", peak="true", framelog="quiet")
    return ffmpeg.output(measured, "-", f="null").get_args()


def parse_ebur128(lines: list[str]) -> tuple[float, float]:
    """(integrated loudness LUFS, true peak dBFS) from the ebur128 summary FFmpeg printed."""
    text = "\n".join(lines)
    loud = re.findall(r"\bI:\s+(-?[\d.]+|-inf) LUFS", text)
    peak = re.findall(r"\bPeak:\s+(-?[\d.]+|-inf) dBFS", text)
    if not loud or not peak:
        raise MediaToolError("FFmpeg printed no loudness summary for the audio mix.", code="ffmpeg_failed")
    return float(loud[-1]), float(peak[-1])


def _leveled(job: ComposeJob, tl: _Timeline, level: Level) -> Any:
    a = _audio_graph(job, tl).filter("volume", f"{level.gain_db}dB")
    if level.limit:
        ceiling = 10 ** (LIMIT_DBFS / 20)
        a = a.filter(
            "alimiter", limit=f"{ceiling:.5f}", attack=5, release=50, level="disabled", latency="enabled"
        )
    total = tl.total / tl.fps
    return a.filter("atrim", duration=f"{total:.6f}").filter("asetpts", "PTS-STARTPTS")


def _audio_args(job: ComposeJob, tl: _Timeline, out: Path, level: Level = Level(0.0, False)) -> list[str]:
    """The audio-only pass: narration timeline + ducked music, brought to `level` → AAC."""
    enc = ENCODE[job.mode]["output"]
    return ffmpeg.output(
        _leveled(job, tl, level),
        str(out),
        acodec="aac",
        audio_bitrate=enc["audio_bitrate"],
        ar=48000,
        ac=2,
        t=f"{tl.total / tl.fps:.6f}",
        f="mp4",
    ).get_args()


def _final_args(job: ComposeJob, tl: _Timeline, concat_list: str, audio: Path, out: Path) -> list[str]:
    """The final call, stream copy only: the pieces (concat demuxer) + the mixed audio, +faststart."""
    video = ffmpeg.input(concat_list, f="concat", safe=0)
    sound = ffmpeg.input(str(audio))
    return ffmpeg.output(
        video.video,
        sound.audio,
        str(out),
        vcodec="copy",
        acodec="copy",
        t=f"{tl.total / tl.fps:.6f}",
        movflags="+faststart",
        f="mp4",
    ).get_args()


def _concat_list(pieces: list[_Piece], fps: int) -> str:
    lines = ["ffconcat version 1.0"]
    for piece in pieces:
        quoted = str(piece.path).replace("'", "'\\''")
        lines += [f"file '{quoted}'", f"duration {piece.frames / fps:.6f}"]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------
# probing, cached by content
# ------------------------------------------------------------------------------------------------


def _probe_by_content(path: Path, sha: str, probe_dir: Path) -> MediaInfo:
    """`probe`, remembered per content hash (the same bytes always probe the same)."""
    record = probe_dir / f"{sha}.json"
    try:
        return MediaInfo(**json.loads(record.read_text()))
    except (OSError, ValueError, TypeError):
        pass
    info = probe(path)
    probe_dir.mkdir(parents=True, exist_ok=True)
    tmp = probe_dir / f".{sha}.{uuid.uuid4().hex[:8]}.partial"
    tmp.write_text(json.dumps(info.__dict__))
    os.replace(tmp, record)
    return info


def _check_probed(info: MediaInfo, path: Path, what: str, *, need_video: bool = False) -> None:
    if need_video and not info.has_video:
        raise BadInputError(f"{what} has no video stream: {path}", code="asset_corrupt")
    if not need_video and not info.has_audio:
        raise BadInputError(f"{what} has no audio stream: {path}", code="asset_corrupt")


def _require_file(path: Path | None, what: str) -> Path:
    if path is None or not Path(path).is_file():
        raise BadInputError(f"{what} is missing: {path}", code="asset_missing")
    if Path(path).stat().st_size == 0:
        raise BadInputError(f"{what} is empty: {path}", code="asset_corrupt")
    return Path(path)


# ------------------------------------------------------------------------------------------------
# entry point
# ------------------------------------------------------------------------------------------------


def _copy_atomic(src: Path, dst: Path) -> None:
    tmp = dst.with_name(f".{dst.stem}.{uuid.uuid4().hex[:8]}.partial{dst.suffix}")
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def _cached_pass(
    dest: Path, args_for: Callable[[Path], list[str]], expected_s: float, work: Path, timeout_s: float | None
) -> Callable[[Callable[[float], None], Callable[[], bool]], None]:
    """One FFmpeg pass into a cache file (a piece, the cut's sound), written under a temporary
    name beside it and moved into place only when FFmpeg succeeded."""

    def run(progress: Callable[[float], None], stopped: Callable[[], bool]) -> None:
        tmp = dest.with_name(f".{dest.stem}.{uuid.uuid4().hex[:8]}.partial{dest.suffix}")
        try:
            run_ffmpeg(
                args_for(tmp),
                expected_duration_s=expected_s,
                on_progress=progress,
                cancelled=stopped,
                timeout_s=timeout_s,
                cwd=work,
            )
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    return run


def _audio_pass(
    job: ComposeJob, tl: _Timeline, dest: Path, work: Path, timeout_s: float | None
) -> Callable[[Callable[[float], None], Callable[[], bool]], None]:
    """Measure the mix, then encode it at its level into the cache (`_cached_pass`)."""
    total_s = tl.total / tl.fps

    def run(progress: Callable[[float], None], stopped: Callable[[], bool]) -> None:
        summary = run_ffmpeg(
            _measure_args(job, tl),
            expected_duration_s=total_s,
            on_progress=lambda f: progress(0.15 * f),
            cancelled=stopped,
            timeout_s=timeout_s,
            cwd=work,
        )
        level = level_for(*parse_ebur128(summary))
        encode = _cached_pass(dest, partial(_audio_args, job, tl, level=level), total_s, work, timeout_s)
        encode(lambda f: progress(0.15 + 0.85 * f), stopped)

    return run


def _run_concurrently(
    runs: list[tuple[float, Callable[[Callable[[float], None], Callable[[], bool]], None]]],
    report: Callable[[float], None],
    cancelled: Callable[[], bool] | None,
) -> None:
    """Run the FFmpeg passes (independent files) COMPOSE_PARALLEL at a time: short pieces leave an
    encoder's threads idle at start and end, and the audio pass needs no video. Progress is the
    weighted share done; the first failure stops the others and is raised (a cancel as itself)."""
    if not runs:
        return
    lock = threading.Lock()
    done = [0.0] * len(runs)
    total = sum(weight for weight, _ in runs) or 1.0
    stop = threading.Event()

    def stopped() -> bool:
        return stop.is_set() or (cancelled is not None and cancelled())

    def one(k: int) -> None:
        weight, run = runs[k]

        def progress(f: float) -> None:
            with lock:
                done[k] = weight * f
                share = sum(done) / total
            report(share)

        try:
            run(progress, stopped)
        except BaseException:
            stop.set()
            raise
        progress(1.0)

    with ThreadPoolExecutor(max_workers=min(len(runs), COMPOSE_PARALLEL)) as pool:
        futures = [pool.submit(one, k) for k in range(len(runs))]
        wait(futures)
    errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        if cancelled is not None and cancelled():
            raise CancelledByUser("Compose cancelled.")
        first = next((e for e in errors if not isinstance(e, CancelledByUser)), errors[0])
        raise first


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
    cache_dir = Path(cache_dir).resolve()  # FFmpeg runs with cwd=work dir: keep every path absolute
    out_path = Path(out_path).resolve()
    seg_dir, cut_dir, probe_dir = cache_dir / "segments", cache_dir / "cuts", cache_dir / "probe"
    for folder in (seg_dir, cut_dir, cache_dir / "audio"):
        folder.mkdir(parents=True, exist_ok=True)
    last = [0.0]

    def report(value: float) -> None:
        if on_progress is not None:
            value = max(last[0], min(1.0, value))
            last[0] = value
            on_progress(value)

    def check_cancel() -> None:
        if cancelled is not None and cancelled():
            raise CancelledByUser("Compose cancelled.")

    # 1. what the cut is made of, by content (no FFmpeg yet)
    video_shas: list[str] = []
    audio_shas: list[str | None] = []
    speech: list[float | None] = []
    truncated: list[int] = []
    for i, shot in enumerate(job.shots):
        check_cancel()
        video_shas.append(_file_sha256(_require_file(shot.video_path, f"Shot {i} video")))
        if shot.audio_path is None:
            audio_shas.append(None)
            speech.append(None)
            continue
        audio = _require_file(shot.audio_path, f"Shot {i} narration audio")
        audio_shas.append(_file_sha256(audio))
        seconds = audio_duration_s(audio)  # WAV header; other formats are probed
        speech.append(seconds)
        if seconds > shot.duration_s + 0.05:
            truncated.append(i)
    music_sha = None
    if job.music_path is not None:
        music_sha = _file_sha256(_require_file(job.music_path, "Background music"))

    tl = _Timeline.of(job)
    pieces, events = _plan_pieces(job, tl, video_shas, speech, seg_dir)
    audio_key = _digest(
        {
            "format": CUT_FORMAT,
            "narration": audio_shas,
            "frames": tl.frames,
            "overlap": tl.overlap,
            "fps": tl.fps,
            "music": music_sha,
            "music_gain_db": job.music_gain_db,
            "loudness": LOUDNESS,
            "ducking": DUCKING,
            "audio_bitrate": ENCODE[job.mode]["output"]["audio_bitrate"],
        }
    )
    cut_key = _digest({"format": CUT_FORMAT, "pieces": [p.key for p in pieces], "audio": audio_key})
    audio_mix = cache_dir / "audio" / f"{audio_key}.m4a"
    cut, cut_meta = cut_dir / f"{cut_key}.mp4", cut_dir / f"{cut_key}.json"
    all_shots = list(range(len(job.shots)))
    segment_keys = [next(p.key for p in pieces if p.shot == i) for i in all_shots]

    # 2. the whole cut is stored: copy it out, FFmpeg never starts
    if cut.is_file() and cut_meta.is_file():
        try:
            meta = json.loads(cut_meta.read_text())
        except (OSError, ValueError):
            meta = None
        if meta is not None:
            check_cancel()
            with contextlib.suppress(FileNotFoundError):
                os.utime(cut)  # recently used: the cache's LRU bound (infra/janitor.py) keeps it
            out_path.parent.mkdir(parents=True, exist_ok=True)
            _copy_atomic(cut, out_path)
            report(1.0)
            return ComposeResult(
                path=out_path,
                duration_s=meta["duration_s"],
                width=meta["width"],
                height=meta["height"],
                reencoded_shots=[],
                cached_shots=all_shots,
                subtitle_events=events,
                segment_keys=segment_keys,
                narration_truncated=truncated,
                video_codec=meta.get("video_codec"),
                audio_codec=meta.get("audio_codec"),
                cut_cached=True,
            )

    # 3. validate every input the work reads before doing any of it
    todo = [p for p in pieces if not (p.path.is_file() and p.path.stat().st_size > 0)]
    for piece in pieces:
        if piece not in todo:
            with contextlib.suppress(FileNotFoundError):
                os.utime(piece.path)  # recently used: the cache's LRU bound (infra/janitor.py) keeps it
    need_probe = sorted({j for p in todo for j in ((p.shot - 1, p.shot) if p.kind == "join" else (p.shot,))})
    checks = [(Path(job.shots[i].video_path), video_shas[i], f"Shot {i} video", True) for i in need_probe]
    for i, shot in enumerate(job.shots):
        sha = audio_shas[i]
        if shot.audio_path is not None and sha is not None:
            checks.append((Path(shot.audio_path), sha, f"Shot {i} narration audio", False))
    if job.music_path is not None and music_sha is not None:
        checks.append((Path(job.music_path), music_sha, "Background music", False))
    check_cancel()
    with ThreadPoolExecutor(max_workers=COMPOSE_PARALLEL) as pool:  # FFmpeg start-ups side by side
        probed = list(pool.map(lambda c: _probe_by_content(c[0], c[1], probe_dir), checks))
    for (path, _, what, need_video), info in zip(checks, probed, strict=True):
        _check_probed(info, path, what, need_video=need_video)
    infos: dict[int, MediaInfo] = dict(zip(need_probe, probed, strict=False))

    # 4. encode the missing pieces (each output frame once), then join + audio in one call
    work = cache_dir / "work" / uuid.uuid4().hex
    work.mkdir(parents=True, exist_ok=True)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_cut = cut_dir / f".{cut_key}.{uuid.uuid4().hex[:8]}.partial.mp4"
    reencoded: set[int] = set()
    joins: list[int] = []
    try:
        if any(p.ass for p in todo):
            fonts = subtitle_font_dir(cache_dir)
            (work / "fonts").mkdir()
            _link(fonts / "Aileron-Regular.ttf", work / "fonts" / "Aileron-Regular.ttf")
        total_s = tl.total / tl.fps
        need_audio = not (audio_mix.is_file() and audio_mix.stat().st_size > 0)  # sound: its own pass
        runs: list[tuple[float, Callable[[Callable[[float], None], Callable[[], bool]], None]]] = []
        threads = encoder_threads(len(todo))
        for piece in todo:
            ass_name = None
            if piece.ass:
                ass_name = f"{piece.key}.ass"
                (work / ass_name).write_text(piece.ass, encoding="utf-8")
                if piece.font_file is not None:
                    _link(piece.font_file, work / "fonts" / f"cjk{piece.font_file.suffix}")
            args = partial(_piece_args, job, tl, piece, infos, ass_name=ass_name, threads=threads)
            seconds = piece.frames / tl.fps
            runs.append((piece.frames, _cached_pass(piece.path, args, seconds, work, timeout_s)))
        if need_audio:  # first: the longest single pass (one thread), so no lane idles at the end
            audio_weight = 0.15 * max(1, sum(p.frames for p in todo))
            runs.insert(0, (audio_weight, _audio_pass(job, tl, audio_mix, work, timeout_s)))
        _run_concurrently(runs, lambda f: report(0.95 * f), cancelled)
        for piece in todo:
            if piece.kind == "body":
                reencoded.add(piece.shot)
            else:
                joins.append(piece.shot)
                if not any(p.kind == "body" and p.shot == piece.shot for p in pieces):
                    reencoded.add(piece.shot)  # a shot that is all crossfade lives in its join
        report(0.95)

        check_cancel()
        (work / "pieces.ffconcat").write_text(_concat_list(pieces, tl.fps), encoding="utf-8")
        run_ffmpeg(
            _final_args(job, tl, "pieces.ffconcat", audio_mix, tmp_cut),
            expected_duration_s=total_s,
            on_progress=lambda f: report(0.95 + 0.05 * f),
            cancelled=cancelled,
            timeout_s=timeout_s,
            cwd=work,
        )
        info = probe(tmp_cut)
        meta = {
            "duration_s": info.duration_s,
            "width": info.width,
            "height": info.height,
            "video_codec": info.video_codec,
            "audio_codec": info.audio_codec,
        }
        os.replace(tmp_cut, cut)
        meta_tmp = cut_dir / f".{cut_key}.{uuid.uuid4().hex[:8]}.partial.json"
        meta_tmp.write_text(json.dumps(meta))
        os.replace(meta_tmp, cut_meta)
        _copy_atomic(cut, out_path)
    finally:
        tmp_cut.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)

    report(1.0)
    reencoded_shots = sorted(reencoded)
    return ComposeResult(
        path=out_path,
        duration_s=info.duration_s,
        width=info.width,
        height=info.height,
        reencoded_shots=reencoded_shots,
        cached_shots=[i for i in all_shots if i not in reencoded],
        subtitle_events=events,
        segment_keys=segment_keys,
        narration_truncated=truncated,
        video_codec=info.video_codec,
        audio_codec=info.audio_codec,
        reencoded_joins=joins,
    )
