"""Compose benchmark (`directordeck bench --only compose`): 12 shots, 1280x720, side by side.

For preview (24 fps) and final (30 fps), on 12 Ken Burns shots with Piper narration made here:
- ours, cold (fresh cache), against the *floor*: one plain x264 + AAC encode of our own output at
  the same settings (decode + one encode: what any compose must at least do);
- MoviePy on the same job (its own environment, see moviepy_compose.py), alternating with ours,
  best of 2 each;
- re-compose with nothing changed (the stored cut: no FFmpeg), and with one of the 12 shots'
  clips replaced by new content (one piece re-encoded + the final join/audio pass).
The figures go to the `compose` part of the bench figures; the test checks only that they make
sense (the same output spec from every path), never a speed.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from activities.media.compose import ENCODE, ComposeJob, ComposeShot, compose
from activities.media.ffmpeg import run_ffmpeg
from activities.media.kenburns import kenburns_clip
from activities.media.probe import probe
from activities.providers.cards import GridRequest, StoryboardCardRenderer
from activities.providers.voice import PiperVoice
from schema.storyboard import Camera
from tests.bench.moviepy_compose import moviepy_compose, moviepy_python

pytestmark = [pytest.mark.bench, pytest.mark.timeout(3600)]

W, H = 1280, 720
LINES = (
    "Our story begins in a misty forest, at night.",
    "A small red fox looks up at the silver moon.",
    "She has wanted it for as long as she remembers.",
    "Tonight she climbs the tallest pine on the hill.",
    "The branches bend, but the fox does not fall.",
    "At the very top, the moon is close enough to touch.",
    "She wraps it in her tail and slides back down.",
    "The forest goes dark, and the owls complain.",
    "In her den, the moon glows like a lantern.",
    "But the sky looks empty, and the fox feels sad.",
    "So at dawn she climbs again and lets it go.",
    "And every night since, the moon shines a little brighter.",
)
MOVES = ("pan_right", "push_in", "pull_out", "pan_left")


def _cpu_s() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _timed(fn: Any) -> dict[str, float]:
    wall, cpu = time.perf_counter(), _cpu_s()
    fn()
    return {"wall_s": time.perf_counter() - wall, "cpu_s": _cpu_s() - cpu}


def _best(runs: list[dict[str, float]]) -> dict[str, Any]:
    best = min(runs, key=lambda r: r["wall_s"])
    return {
        "wall_s": round(best["wall_s"], 3),
        "cpu_s": round(best["cpu_s"], 3),
        "runs_s": [round(r["wall_s"], 3) for r in runs],
    }


def _shot_clip(
    renderer: StoryboardCardRenderer, work: Path, i: int, line: str, tag: str, seconds: float
) -> Path:
    card = work / f"card{i}{tag}.png"
    card.write_bytes(
        renderer.render_grid(
            GridRequest(
                shot_number=i + 1,
                visual=line + tag,
                camera=Camera(size="wide", movement=MOVES[i % len(MOVES)]),
                size=1,
                width=W,
                height=H,
                seed=i + (100 if tag else 0),
            )
        )[0].png
    )
    clip = work / f"clip{i}{tag}.mp4"
    kenburns_clip(card, clip, duration_s=seconds, width=W, height=H, fps=24, movement=MOVES[i % len(MOVES)])
    return clip


@pytest.fixture(scope="module")
def shots(bench_dir: Path) -> tuple[list[ComposeShot], ComposeShot]:
    """12 shots (clip + narration) and one replacement clip for shot 5."""
    work = bench_dir / "compose-inputs"
    work.mkdir(parents=True, exist_ok=True)
    renderer, voice = StoryboardCardRenderer(), PiperVoice()
    out: list[ComposeShot] = []
    for i, line in enumerate(LINES):
        wav = work / f"narration{i}.wav"
        speech = voice.synthesize(line, wav)
        seconds = max(3.0, round(speech + 0.5, 1))
        out.append(ComposeShot(_shot_clip(renderer, work, i, line, "", seconds), wav, line, seconds))
    five = out[5]
    replacement = ComposeShot(
        _shot_clip(renderer, work, 5, LINES[5], " (new)", five.duration_s),
        five.audio_path,
        five.narration,
        five.duration_s,
    )
    return out, replacement


def _floor_encode(src: Path, out: Path, mode: str, fps: int) -> None:
    """One plain x264 + AAC encode of `src` at the delivery settings: the floor for compose."""
    enc = ENCODE[mode]["output"]
    args = ["-i", str(src), "-c:v", "libx264", "-preset", enc["preset"], "-crf", str(enc["crf"])]
    args += ["-pix_fmt", "yuv420p", "-profile:v", "high", "-r", str(fps), "-g", str(fps * 2)]
    for key in ("maxrate", "bufsize"):
        if key in enc:
            args += [f"-{key}", enc[key]]
    args += ["-c:a", "aac", "-b:a", enc["audio_bitrate"], "-ar", "48000", "-ac", "2"]
    args += ["-movflags", "+faststart", "-f", "mp4", str(out)]
    run_ffmpeg(args, expected_duration_s=None)


def compose_bench(
    shots: list[ComposeShot], replacement: ComposeShot, work: Path, *, repeats: int
) -> dict[str, Any]:
    content = round(sum(s.duration_s for s in shots), 3)
    with_moviepy = moviepy_python() is not None
    result: dict[str, Any] = {"shots": len(shots), "content_s": content, "width": W, "height": H, "modes": {}}
    result["moviepy"] = "moviepy==2.2.1" if with_moviepy else "skipped: no MoviePy environment"
    for mode in ("preview", "final"):
        result["modes"][mode] = _mode_bench(mode, shots, replacement, work, repeats, with_moviepy, content)
        for path in work.glob("cache-*"):
            shutil.rmtree(path, ignore_errors=True)
    return result


def _mode_bench(
    mode: str,
    shots: list[ComposeShot],
    replacement: ComposeShot,
    work: Path,
    repeats: int,
    with_moviepy: bool,
    content: float,
) -> dict[str, Any]:
    job = ComposeJob(shots=list(shots), mode=mode, width=W, height=H)  # type: ignore[arg-type]
    fps = job.resolved_fps
    ours_out, mp_out, floor_out = (work / f"{name}-{mode}.mp4" for name in ("ours", "moviepy", "floor"))
    ours_runs, mp_runs, floor_runs = [], [], []
    cache = work / "cache-none"
    for _ in range(repeats):
        cache = work / f"cache-{uuid.uuid4().hex[:8]}"  # cold: a fresh, empty cache
        ours_runs.append(_timed(lambda cache=cache: compose(job, ours_out, cache_dir=cache)))
        floor_runs.append(_timed(lambda: _floor_encode(ours_out, floor_out, mode, fps)))
        if with_moviepy:
            mp_runs.append(_timed(lambda: moviepy_compose(job, mp_out, work_dir=work / "moviepy")))
    unchanged = _timed(lambda: compose(job, work / f"again-{mode}.mp4", cache_dir=cache))
    changed_job = ComposeJob(
        shots=[replacement if i == 5 else s for i, s in enumerate(shots)],
        mode=mode,  # type: ignore[arg-type]
        width=W,
        height=H,
    )
    changed: dict[str, Any] = {}

    def one_changed() -> None:
        changed["result"] = compose(changed_job, work / f"changed-{mode}.mp4", cache_dir=cache)

    one = _timed(one_changed)
    ours, floor = _best(ours_runs), _best(floor_runs)
    entry: dict[str, Any] = {
        "fps": fps,
        "ours": {**ours, "x_realtime": round(content / ours["wall_s"], 2)},
        "floor": {**floor, "x_realtime": round(content / floor["wall_s"], 2)},
        "floor_ratio": round(ours["wall_s"] / floor["wall_s"], 3),
        "recompose_unchanged_s": round(unchanged["wall_s"], 3),
        "recompose_one_changed_s": round(one["wall_s"], 3),
        "recompose_one_changed_x_realtime": round(content / one["wall_s"], 2),
        "one_changed_reencoded_shots": changed["result"].reencoded_shots,
        "outputs": {"ours": _spec(ours_out), "floor": _spec(floor_out)},
    }
    if with_moviepy:
        theirs = _best(mp_runs)
        entry["moviepy"] = {**theirs, "x_realtime": round(content / theirs["wall_s"], 2)}
        entry["ours_vs_moviepy"] = round(theirs["wall_s"] / ours["wall_s"], 2)
        entry["ours_vs_moviepy_cpu"] = round(theirs["cpu_s"] / max(ours["cpu_s"], 1e-9), 2)
        entry["outputs"]["moviepy"] = _spec(mp_out)
    return entry


def _spec(path: Path) -> dict[str, Any]:
    info = probe(path)
    return {
        "width": info.width,
        "height": info.height,
        "fps": info.fps,
        "duration_s": round(info.duration_s, 3),
        "video_codec": info.video_codec,
        "audio_codec": info.audio_codec,
        "size_bytes": path.stat().st_size,
    }


def test_compose_floor_moviepy_and_recompose(
    shots: tuple[list[ComposeShot], ComposeShot], bench_dir: Path, sizes: Any, figures: dict[str, Any]
) -> None:
    clips, replacement = shots
    work = bench_dir / "compose-bench"
    work.mkdir(parents=True, exist_ok=True)
    result = compose_bench(clips, replacement, work, repeats=1 if sizes.quick else 2)
    figures["compose_bench"] = result
    for mode, entry in result["modes"].items():
        for name, out in entry["outputs"].items():  # the same output spec from every path
            assert (out["width"], out["height"]) == (W, H), (mode, name)
            assert (out["video_codec"], out["audio_codec"]) == ("h264", "aac"), (mode, name)
            assert out["duration_s"] == pytest.approx(result["content_s"], rel=0.05), (mode, name)
        assert entry["one_changed_reencoded_shots"] == [5]
