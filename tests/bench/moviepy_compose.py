"""The compose job done the MoviePy way: the baseline our FFmpeg compose is measured against.

Same inputs as `activities.media.compose.compose` (a `ComposeJob`: per-shot clips, narration WAVs and
narration text) and the same output spec: resolved width x height and fps, shots concatenated in
order and trimmed (or held on their last frame) to each shot's duration, subtitles burned in with
the same caption chunks and timings, in Pillow's bundled font at the same size and margins,
narration mixed on the timeline, H.264 (same preset/CRF/GOP/rate cap as our delivery encode) +
AAC stereo 48 kHz at the same bitrate, yuv420p, +faststart MP4.

Differences that are MoviePy's, not ours to paper over: MoviePy has no EBU R128 loudness filter, so
the narration is peak-normalised to -1.5 dBFS instead of measured and levelled to -16 LUFS (less
work than ours); crossfades use MoviePy's CrossFadeIn with negative padding; background music with
sidechain ducking has no MoviePy counterpart and is refused. Both encode each frame once.

MoviePy comes with the project's `bench` extra (pinned; `make bench` installs it). The render runs
in a child interpreter (`moviepy_python()`: $BENCH_MOVIEPY_PYTHON, else this one when it can import
moviepy) so its CPU time is counted the way FFmpeg's is: this module writes a JSON spec and runs
`moviepy_render.py` with that interpreter.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from activities.media.compose import ENCODE, LOUDNESS, ComposeJob, _captions, subtitle_font_dir
from activities.media.probe import audio_duration_s

__all__ = ["MOVIEPY_REQUIREMENT", "MoviePyResult", "moviepy_compose", "moviepy_python"]

MOVIEPY_REQUIREMENT = "moviepy==2.2.1"
RENDERER = Path(__file__).with_name("moviepy_render.py")


@dataclass
class MoviePyResult:
    path: Path
    duration_s: float
    width: int
    height: int
    subtitle_events: int


def moviepy_python() -> str | None:
    """The interpreter of the MoviePy environment, or None when there is none."""
    exe = os.environ.get("BENCH_MOVIEPY_PYTHON")
    if exe:
        return exe if Path(exe).is_file() else None
    return sys.executable if importlib.util.find_spec("moviepy") is not None else None


def moviepy_compose(job: ComposeJob, out_path: Path, *, work_dir: Path) -> MoviePyResult:
    """Render `job` into `out_path` with MoviePy 2.x (in its own environment)."""
    python = moviepy_python()
    if python is None:
        raise RuntimeError("MoviePy is not installed: pip install -e '.[bench]' (make bench does)")
    if job.music_path is not None:
        raise NotImplementedError("MoviePy has no sidechain ducking; the benchmark job has no music")
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    # timeline, as compose lays it out
    cf = job.crossfade_s if len(job.shots) > 1 else 0.0
    starts: list[float] = []
    t = 0.0
    for shot in job.shots:
        starts.append(t)
        t += shot.duration_s - cf
    total = sum(s.duration_s for s in job.shots) - cf * (len(job.shots) - 1)
    ends = [*starts[1:], total]
    speech = [audio_duration_s(s.audio_path) if s.audio_path else None for s in job.shots]
    spec = {
        "width": job.resolved_width,
        "height": job.resolved_height,
        "fps": job.resolved_fps,
        "encode": ENCODE[job.mode]["output"],
        "true_peak_db": LOUDNESS["TP"],
        "crossfade_s": job.crossfade_s,
        "shots": [
            {
                "video": str(s.video_path),
                "audio": str(s.audio_path) if s.audio_path else None,
                "duration_s": s.duration_s,
            }
            for s in job.shots
        ],
        "starts": starts,
        "total_s": total,
        "captions": _captions(job, starts, ends, speech) if job.subtitles else [],
        "font": str(subtitle_font_dir(work_dir / "cache") / "Aileron-Regular.ttf"),
        "work_dir": str(work_dir),
        "out": str(Path(out_path).resolve()),
    }
    spec_path = work_dir / f"spec-{uuid.uuid4().hex[:8]}.json"
    spec_path.write_text(json.dumps(spec))
    try:
        done = subprocess.run(
            [python, str(RENDERER), str(spec_path)], capture_output=True, text=True, check=False
        )
    finally:
        spec_path.unlink(missing_ok=True)
    if done.returncode != 0:
        raise RuntimeError(f"MoviePy render failed:\n{done.stderr[-2000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return MoviePyResult(
        Path(out["path"]), out["duration_s"], out["width"], out["height"], out["subtitle_events"]
    )
