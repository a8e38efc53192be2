"""run_ffmpeg and probe: progress, coded failures, cancellation that leaves no child behind."""

from __future__ import annotations

import os
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
from tests.support.tmpfs import mounted_tmpfs

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


def test_a_signal_killed_ffmpeg_is_retryable_not_the_inputs_fault() -> None:
    """The OOM killer (or a crash) ends FFmpeg: `ffmpeg_killed`, retryable (was ffmpeg_failed, final)."""
    from schema.errors import MediaToolKilled

    def killer() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pids = live_ffmpeg_pids()
            if pids:
                time.sleep(0.2)
                psutil.Process(pids[0]).kill()
                return
            time.sleep(0.02)

    threading.Thread(target=killer, daemon=True).start()
    with pytest.raises(MediaToolKilled) as err:
        run_ffmpeg(ENDLESS, expected_duration_s=600, timeout_s=20)
    assert err.value.code == "ffmpeg_killed" and err.value.retryable
    assert "SIGKILL" in err.value.message
    assert not _ffmpeg_children()


@pytest.fixture
def tiny_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A real 256 KiB filesystem (tmpfs; needs root, skipped elsewhere)."""
    with mounted_tmpfs(tmp_path / "tiny", "256k") as mount:
        yield mount


def test_a_full_disk_is_no_space_not_ffmpeg_failed(tiny_disk: Path) -> None:
    from schema.errors import NoSpaceError

    out = tiny_disk / "clip.mp4"
    with pytest.raises(NoSpaceError) as err:
        run_ffmpeg(
            [
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=640x360:rate=25",
                "-t",
                "20",
                "-c:v",
                "mpeg4",
                "-q:v",
                "1",
                str(out),
            ],
            expected_duration_s=20,
            timeout_s=60,
        )
    assert err.value.code == "no_space" and err.value.retryable  # its own code, not status 228
    assert "No space left" in err.value.message
    assert not _ffmpeg_children()


def test_storage_leaves_no_temp_file_when_the_disk_fills(tiny_disk: Path, tmp_path: Path) -> None:
    from infra.storage import FileSystemStorage

    storage = FileSystemStorage(tiny_disk / "storage")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(1024 * 1024))
    with pytest.raises(OSError):
        storage.put_file(big, kind="video", ext=".mp4")
    with pytest.raises(OSError):
        storage.put_bytes(os.urandom(1024 * 1024), kind="video", ext=".mp4")
    assert [p for p in (tiny_disk / "storage").rglob("*") if p.is_file()] == []  # no .tmp- left
    small = storage.put_bytes(b"fits", kind="video", ext=".mp4")  # space is there again: it works
    assert storage.exists(small.key)
