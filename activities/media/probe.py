"""Media inspection without ffprobe (imageio-ffmpeg ships only `ffmpeg`).

Rule: `probe` reads what `ffmpeg -i` prints and nothing else; a missing file is `asset_missing`,
a file FFmpeg cannot open (or that has neither audio nor video) is `asset_corrupt` — both
`BadInputError`, so callers never retry them.
"""

from __future__ import annotations

import re
import subprocess
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from activities.media.ffmpeg import ffmpeg_exe, run_ffmpeg
from schema.errors import BadInputError

__all__ = ["MediaInfo", "audio_duration_s", "extract_frame", "probe"]

_DURATION = re.compile(r"Duration:\s*(\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_STREAM = re.compile(
    r"^\s*Stream #\d+:\d+(?:\[[^\]]*\])?(?:\([^)]*\))?:\s*"
    r"(Video|Audio|Subtitle|Data|Attachment):\s*([\w\-]+)(.*)$"
)
_SIZE = re.compile(r"(?:^|[\s,])(\d{2,5})x(\d{2,5})(?=[\s,\[]|$)")
_FPS = re.compile(r"([\d.]+)(k?) fps")
_TBR = re.compile(r"([\d.]+)(k?) tbr")
_RATE = re.compile(r"(\d+) Hz")
_CORRUPT_MARKERS = (
    "Invalid data found when processing input",
    "moov atom not found",
    "Error opening input",
    "could not find codec parameters",
    "Unknown input format",
)


@dataclass
class MediaInfo:
    """What FFmpeg says about a media file. Durations in seconds; 0.0 for stills."""

    duration_s: float
    width: int = 0
    height: int = 0
    fps: float = 0.0
    has_video: bool = False
    has_audio: bool = False
    video_codec: str | None = None
    audio_codec: str | None = None
    subtitle_streams: int = 0
    sample_rate: int = 0
    channels: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _number(value: str, kilo: str) -> float:
    return float(value) * (1000.0 if kilo else 1.0)


def parse_ffmpeg_banner(text: str) -> MediaInfo:
    """Parse the 'Input #0' section that `ffmpeg -i` writes to stderr."""
    info = MediaInfo(duration_s=0.0)
    m = _DURATION.search(text)
    if m:
        h, mnt, sec = m.groups()
        info.duration_s = int(h) * 3600 + int(mnt) * 60 + float(sec)
    for line in text.splitlines():
        if line.lstrip().startswith("Output #"):
            break
        sm = _STREAM.match(line)
        if not sm:
            continue
        kind, codec, rest = sm.groups()
        if kind == "Video":
            if "(attached pic)" in rest and info.has_video:
                continue
            if info.has_video:
                continue
            info.has_video = True
            info.video_codec = codec
            size = _SIZE.search(rest)
            if size:
                info.width, info.height = int(size.group(1)), int(size.group(2))
            fps = _FPS.search(rest) or _TBR.search(rest)
            if fps:
                info.fps = _number(fps.group(1), fps.group(2))
        elif kind == "Audio" and not info.has_audio:
            info.has_audio = True
            info.audio_codec = codec
            rate = _RATE.search(rest)
            if rate:
                info.sample_rate = int(rate.group(1))
            for layout in ("mono", "stereo", "5.1", "7.1"):
                if f", {layout}" in rest:
                    info.channels = layout
                    break
        elif kind == "Subtitle":
            info.subtitle_streams += 1
    return info


def probe(path: Path | str) -> MediaInfo:
    """Inspect a media file (duration, size, fps, codecs, stream kinds)."""
    p = Path(path)
    if not p.is_file():
        raise BadInputError(f"Media file not found: {p}", code="asset_missing")
    if p.stat().st_size == 0:
        raise BadInputError(f"Media file is empty: {p}", code="asset_corrupt")
    try:
        result = subprocess.run(
            [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(p)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BadInputError(f"FFmpeg could not read {p} within 60 s.", code="asset_corrupt") from exc
    text = result.stderr.decode("utf-8", "replace")
    if "Input #0" not in text or any(marker in text for marker in _CORRUPT_MARKERS):
        tail = "\n".join(text.strip().splitlines()[-3:])
        raise BadInputError(f"Media file is unreadable or corrupt: {p}\n{tail}", code="asset_corrupt")
    info = parse_ffmpeg_banner(text)
    if not info.has_video and not info.has_audio:
        raise BadInputError(f"Media file has no audio or video stream: {p}", code="asset_corrupt")
    return info


def audio_duration_s(path: Path | str) -> float:
    """Exact duration of a WAV file from its header (other formats fall back to `probe`)."""
    p = Path(path)
    if not p.is_file():
        raise BadInputError(f"Audio file not found: {p}", code="asset_missing")
    try:
        with wave.open(str(p), "rb") as wav:
            rate = wav.getframerate()
            if rate <= 0:
                raise BadInputError(f"WAV file has no sample rate: {p}", code="asset_corrupt")
            return wav.getnframes() / float(rate)
    except (wave.Error, EOFError):
        info = probe(p)
        if not info.has_audio:
            raise BadInputError(f"File has no audio stream: {p}", code="asset_corrupt") from None
        return info.duration_s


def extract_frame(
    path: Path | str,
    at_s: float,
    out_png: Path | str,
    *,
    width: int | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Path:
    """Write the frame at `at_s` seconds as a PNG (thumbnails, tests); optional width keeps aspect."""
    src = Path(path)
    if not src.is_file():
        raise BadInputError(f"Media file not found: {src}", code="asset_missing")
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    args = ["-ss", f"{max(0.0, at_s):.3f}", "-i", str(src), "-frames:v", "1"]
    if width:
        args += ["-vf", f"scale={int(width)}:-2"]
    args += ["-f", "image2", "-c:v", "png", str(out)]
    run_ffmpeg(args, expected_duration_s=None, cancelled=cancelled, timeout_s=60)
    if not out.is_file():
        raise BadInputError(f"No frame at {at_s:.2f} s in {src}", code="asset_corrupt")
    return out
