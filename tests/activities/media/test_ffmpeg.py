"""run_ffmpeg and probe: progress, coded failures, cancellation that leaves no child behind."""

from __future__ import annotations

import threading
import time
import wave
from pathlib import Path

import psutil
import pytest

from activities.media.ffmpeg import ffmpeg_exe, live_ffmpeg_pids, run_ffmpeg
from activities.media.probe import audio_duration_s, extract_frame, probe
from schema.errors import BadInputError, CancelledByUser, MediaToolError
from tests.activities.media.conftest import H, ShotFiles, W

ENDLESS = ["-re", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-t", "600", "-f", "null", "-"]


def _ffmpeg_children() -> list[psutil.Process]:
    exe = Path(ffmpeg_exe()).name
    out = []
    for child in psutil.Process().children(recursive=True):
        try:
            if exe in child.name() or "ffmpeg" in " ".join(child.cmdline()):
                out.append(child)
        except psutil.NoSuchProcess:
            continue
    return out


def test_progress_reaches_one(tmp_path: Path) -> None:
    seen: list[float] = []
    run_ffmpeg(
        [
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x120:rate=25",
            "-t",
            "2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            str(tmp_path / "x.mp4"),
        ],
        expected_duration_s=2.0,
        on_progress=seen.append,
    )
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    assert probe(tmp_path / "x.mp4").duration_s == pytest.approx(2.0, abs=0.1)


def test_failure_carries_stderr_tail(tmp_path: Path) -> None:
    with pytest.raises(MediaToolError) as err:
        run_ffmpeg(
            ["-f", "lavfi", "-i", "testsrc", "-vf", "nosuchfilter", str(tmp_path / "y.mp4")],
            expected_duration_s=None,
        )
    assert err.value.code == "ffmpeg_failed"
    assert "nosuchfilter" in err.value.message
    assert not _ffmpeg_children()


def test_cancel_kills_child_promptly() -> None:
    started = threading.Event()

    def cancelled() -> bool:
        if live_ffmpeg_pids():
            started.set()
        return started.is_set() and time.monotonic() - t0 > 0.3

    t0 = time.monotonic()
    with pytest.raises(CancelledByUser):
        run_ffmpeg(ENDLESS, expected_duration_s=600, cancelled=cancelled)
    assert time.monotonic() - t0 < 3
    assert started.is_set()
    assert not live_ffmpeg_pids() and not _ffmpeg_children()


def test_timeout_and_raising_callback_kill_child() -> None:
    with pytest.raises(MediaToolError) as err:
        run_ffmpeg(ENDLESS, expected_duration_s=600, timeout_s=0.5)
    assert err.value.code == "ffmpeg_timeout"
    assert not _ffmpeg_children()

    def boom(_: float) -> None:
        raise KeyboardInterrupt  # e.g. an exception delivered into the activity thread

    with pytest.raises(KeyboardInterrupt):
        run_ffmpeg(ENDLESS, expected_duration_s=1.0, on_progress=boom)
    assert not live_ffmpeg_pids() and not _ffmpeg_children()


def test_probe_video_audio_and_errors(tmp_path: Path, shot_files: list[ShotFiles]) -> None:
    clip = probe(shot_files[0].clip)
    assert (clip.width, clip.height, clip.has_video, clip.has_audio, clip.video_codec) == (
        W,
        H,
        True,
        False,
        "h264",
    )
    assert clip.fps == 24 and clip.duration_s == pytest.approx(3.0, abs=0.05)
    wav = probe(shot_files[0].wav)
    assert wav.has_audio and not wav.has_video and wav.audio_codec == "pcm_s16le"
    with wave.open(str(shot_files[0].wav)) as w:
        assert audio_duration_s(shot_files[0].wav) == w.getnframes() / w.getframerate()
    with pytest.raises(BadInputError) as missing:
        probe(tmp_path / "nope.mp4")
    assert missing.value.code == "asset_missing"
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(BadInputError) as corrupt:
        probe(junk)
    assert corrupt.value.code == "asset_corrupt"
    frame = extract_frame(shot_files[0].clip, 1.0, tmp_path / "f.png")
    assert frame.stat().st_size > 0
