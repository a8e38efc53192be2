"""Compose: real FFmpeg end to end — codecs, length, burned subtitles, segment cache, cancellation."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from PIL import Image

from activities.media.compose import ComposeJob, ComposeResult, ComposeShot, build_ass, compose
from activities.media.ffmpeg import ffmpeg_exe, live_ffmpeg_pids
from activities.media.probe import extract_frame, probe
from schema.errors import BadInputError, CancelledByUser
from tests.activities.media.conftest import H, ShotFiles, W


def _shots(files: list[ShotFiles]) -> list[ComposeShot]:
    return [ComposeShot(f.clip, f.wav, f.narration, f.duration_s) for f in files]


def _job(files: list[ShotFiles], **kw: object) -> ComposeJob:
    return ComposeJob(shots=_shots(files), mode="preview", width=W, height=H, **kw)  # type: ignore[arg-type]


def _no_ffmpeg_children() -> bool:
    exe = Path(ffmpeg_exe()).name
    return not any(exe in c.name() for c in psutil.Process().children(recursive=True))


def _band(path: Path, at_s: float, tmp: Path) -> np.ndarray:
    frame = np.asarray(Image.open(extract_frame(path, at_s, tmp / f"{path.stem}-{at_s}.png")), dtype=np.int16)
    return frame


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compose-cache")


@pytest.fixture(scope="module")
def composed(
    shot_files: list[ShotFiles], cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> ComposeResult:
    out = tmp_path_factory.mktemp("out") / "story.mp4"
    return compose(_job(shot_files), out, cache_dir=cache)


def test_mp4_codecs_length_and_cache_report(composed: ComposeResult, shot_files: list[ShotFiles]) -> None:
    info = probe(composed.path)
    expected = sum(f.duration_s for f in shot_files)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert (info.width, info.height) == (W, H) and info.fps == 24
    assert info.duration_s == pytest.approx(expected, rel=0.05)
    assert composed.duration_s == pytest.approx(expected, rel=0.05)
    assert composed.reencoded_shots == [0, 1, 2] and composed.cached_shots == []
    assert composed.subtitle_events >= 3
    with open(composed.path, "rb") as fh:  # +faststart: moov before mdat
        head = fh.read(4096)
    assert head.find(b"moov") != -1 and (head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat"))


def test_subtitles_are_burned_in(
    composed: ComposeResult, shot_files: list[ShotFiles], cache: Path, tmp_path: Path
) -> None:
    plain = compose(_job(shot_files, subtitles=False), tmp_path / "plain.mp4", cache_dir=cache)
    # subtitles are burned into each shot's one encode, so the subtitle-free cut is its own encode
    assert plain.subtitle_events == 0 and plain.reencoded_shots == [0, 1, 2]
    t = 1.0  # shot 1 narration is on screen
    with_subs, without = _band(composed.path, t, tmp_path), _band(plain.path, t, tmp_path)
    band = slice(int(H * 0.75), H)
    top = slice(int(H * 0.15), int(H * 0.6))
    diff_band = np.abs(with_subs[band] - without[band]).mean()
    diff_top = np.abs(with_subs[top] - without[top]).mean()
    assert diff_band > 8 * max(diff_top, 0.5), (diff_band, diff_top)
    # the glyphs' dark outline (&H00101010) shows in the band only when subtitles are on; the card
    # behind them is light, so counting bright fill pixels would depend on the card's shade
    dark_with, dark_without = ((f[band].max(axis=2) < 60).sum() for f in (with_subs, without))
    assert dark_with > dark_without + 100, (dark_with, dark_without)


def test_changing_one_shot_reencodes_only_that_segment(shot_files: list[ShotFiles], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = compose(_job(shot_files), tmp_path / "a.mp4", cache_dir=cache)
    assert first.reencoded_shots == [0, 1, 2]
    changed = tmp_path / "new_clip.mp4"
    shutil.copy(shot_files[2].clip, changed)  # different content for shot 1
    shots = _shots(shot_files)
    shots[1] = ComposeShot(changed, shots[1].audio_path, shots[1].narration, shots[1].duration_s)
    second = compose(
        ComposeJob(shots=shots, mode="preview", width=W, height=H), tmp_path / "b.mp4", cache_dir=cache
    )
    assert second.reencoded_shots == [1] and second.cached_shots == [0, 2]
    assert not second.cut_cached and second.reencoded_joins == []
    assert len(list((cache / "segments").glob("*.mp4"))) == 4
    assert not list(cache.rglob("*.partial*"))
    info = probe(second.path)
    assert (info.video_codec, info.audio_codec, info.fps) == ("h264", "aac", 24)
    assert info.duration_s == pytest.approx(sum(f.duration_s for f in shot_files), rel=0.05)


def test_identical_inputs_return_the_stored_cut_without_starting_ffmpeg(
    composed: ComposeResult, shot_files: list[ShotFiles], cache: Path, tmp_path: Path, monkeypatch
) -> None:
    """The same job again: the stored cut is copied out; neither run_ffmpeg nor a probe starts."""
    import subprocess

    import activities.media.compose as compose_mod

    started: list[object] = []

    def no_process(*args: object, **kwargs: object) -> None:
        started.append(args)
        raise AssertionError("a process was started on a cache hit")

    monkeypatch.setattr(compose_mod, "run_ffmpeg", no_process)
    monkeypatch.setattr(subprocess, "Popen", no_process)
    again = compose(_job(shot_files), tmp_path / "again.mp4", cache_dir=cache)
    monkeypatch.undo()
    assert started == [] and again.cut_cached
    assert again.reencoded_shots == [] and again.cached_shots == [0, 1, 2]
    assert again.path.read_bytes() == composed.path.read_bytes()
    assert (again.duration_s, again.width, again.height) == (composed.duration_s, W, H)
    assert again.subtitle_events == composed.subtitle_events


def test_crossfade_one_changed_shot_reencodes_its_body_and_its_two_joins(
    shot_files: list[ShotFiles], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = compose(_job(shot_files, crossfade_s=0.5), tmp_path / "a.mp4", cache_dir=cache)
    assert first.reencoded_shots == [0, 1, 2] and first.reencoded_joins == [1, 2]
    changed = tmp_path / "new_clip.mp4"
    shutil.copy(shot_files[0].clip, changed)
    shots = _shots(shot_files)
    shots[1] = ComposeShot(changed, shots[1].audio_path, shots[1].narration, shots[1].duration_s)
    second = compose(
        ComposeJob(shots=shots, mode="preview", width=W, height=H, crossfade_s=0.5),
        tmp_path / "b.mp4",
        cache_dir=cache,
    )
    assert second.reencoded_shots == [1] and second.cached_shots == [0, 2]
    assert second.reencoded_joins == [1, 2]
    expected = sum(f.duration_s for f in shot_files) - 2 * 0.5
    assert second.duration_s == pytest.approx(expected, rel=0.05)


def test_crossfade_and_ducked_music(shot_files: list[ShotFiles], cache: Path, tmp_path: Path) -> None:
    music = tmp_path / "music.wav"
    from activities.media.ffmpeg import run_ffmpeg

    run_ffmpeg(
        ["-f", "lavfi", "-i", "sine=frequency=330:duration=4", "-ac", "2", str(music)], expected_duration_s=4
    )
    job = _job(shot_files, crossfade_s=0.5, music_path=music)
    result = compose(job, tmp_path / "xfade.mp4", cache_dir=cache)
    expected = sum(f.duration_s for f in shot_files) - 2 * 0.5
    assert result.duration_s == pytest.approx(expected, rel=0.05)
    assert result.reencoded_joins == [1, 2]  # the overlaps are the only new picture
    assert probe(result.path).has_audio
    # the music is audio only: another track re-mixes the sound and re-encodes no picture
    other = tmp_path / "music2.wav"
    run_ffmpeg(
        ["-f", "lavfi", "-i", "sine=frequency=440:duration=4", "-ac", "2", str(other)], expected_duration_s=4
    )
    remixed = compose(
        _job(shot_files, crossfade_s=0.5, music_path=other), tmp_path / "x2.mp4", cache_dir=cache
    )
    assert remixed.cached_shots == [0, 1, 2] and remixed.reencoded_joins == [] and not remixed.cut_cached


@pytest.mark.parametrize("stage", ["segments", "final"])
def test_cancel_mid_compose_kills_ffmpeg(
    shot_files: list[ShotFiles], cache: Path, tmp_path: Path, stage: str
) -> None:
    cache_dir = tmp_path / "fresh" if stage == "segments" else cache  # "final": segments already cached
    if stage == "final":  # ...but not the cut or its audio mix, so the audio pass and the final mux run
        shutil.rmtree(cache / "cuts", ignore_errors=True)
        shutil.rmtree(cache / "audio", ignore_errors=True)
    progress: list[float] = []
    hit: dict[str, float] = {}

    def cancelled() -> bool:
        running = bool(live_ffmpeg_pids())
        if running:  # "final": every piece is cached, so any FFmpeg now is the audio pass or the mux
            hit.setdefault("at", time.monotonic())
            return True
        return False

    out = tmp_path / "cancelled.mp4"
    with pytest.raises(CancelledByUser):
        compose(_job(shot_files), out, cache_dir=cache_dir, on_progress=progress.append, cancelled=cancelled)
    assert "at" in hit and time.monotonic() - hit["at"] < 2.0
    assert not live_ffmpeg_pids() and _no_ffmpeg_children()
    assert not out.exists()
    assert not list(Path(cache_dir).rglob("*.partial*"))
    assert not any((Path(cache_dir) / "work").glob("*"))


def test_missing_and_corrupt_inputs(shot_files: list[ShotFiles], tmp_path: Path) -> None:
    shots = _shots(shot_files)
    shots[1] = ComposeShot(tmp_path / "gone.mp4", None, "x", 3.0)
    with pytest.raises(BadInputError) as missing:
        compose(ComposeJob(shots=shots, width=W, height=H), tmp_path / "o.mp4", cache_dir=tmp_path / "c")
    assert missing.value.code == "asset_missing"
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x01junk" * 500)
    shots[1] = ComposeShot(junk, None, "x", 3.0)
    with pytest.raises(BadInputError) as corrupt:
        compose(ComposeJob(shots=shots, width=W, height=H), tmp_path / "o.mp4", cache_dir=tmp_path / "c")
    assert corrupt.value.code == "asset_corrupt"
    shots[1] = ComposeShot(shot_files[1].clip, tmp_path / "no.wav", "x", 3.0)
    with pytest.raises(BadInputError) as no_audio:
        compose(ComposeJob(shots=shots, width=W, height=H), tmp_path / "o.mp4", cache_dir=tmp_path / "c")
    assert no_audio.value.code == "asset_missing"
    with pytest.raises(BadInputError) as empty:
        compose(ComposeJob(shots=[]), tmp_path / "o.mp4", cache_dir=tmp_path / "c")
    assert empty.value.code == "compose_empty"


def test_mode_defaults_and_ass() -> None:
    assert (ComposeJob(shots=[], mode="preview").resolved_width, ComposeJob(shots=[]).resolved_fps) == (
        640,
        24,
    )
    final = ComposeJob(shots=[], mode="final")
    assert (final.resolved_width, final.resolved_height, final.resolved_fps) == (1280, 720, 30)
    assert ComposeJob(shots=[], mode="final", width=1920, height=1080).resolved_width == 1920
    text, events = build_ass(
        [(0.0, 1.5, "Hello {world}"), (1.5, 3.0, "狐狸偷走了月亮")], width=640, height=360
    )
    assert events == 2 and "Dialogue: 0,0:00:00.00,0:00:01.50" in text and "{world}" not in text


def test_ducking_lowers_music_about_6_db_under_speech(shot_files: list[ShotFiles], tmp_path: Path) -> None:
    """The exact sidechaincompress settings compose uses: music under speech vs music alone."""
    import wave

    from activities.media.compose import DUCKING
    from activities.media.ffmpeg import run_ffmpeg

    duck = ":".join(f"{k}={v}" for k, v in DUCKING.items())
    out = tmp_path / "ducked.wav"
    speech_s = shot_files[1].speech_s
    run_ffmpeg(
        [
            "-i",
            str(shot_files[1].wav),
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=330:duration=8",
            "-filter_complex",
            "[0:a]aresample=48000,aformat=channel_layouts=stereo,apad,atrim=duration=8[sc];"
            f"[1:a]aformat=sample_rates=48000:channel_layouts=stereo[m];[m][sc]sidechaincompress={duck}[d]",
            "-map",
            "[d]",
            "-ac",
            "1",
            str(out),
        ],
        expected_duration_s=8,
    )
    with wave.open(str(out)) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
        rate = w.getframerate()

    def level(a: float, b: float) -> float:
        s = x[int(a * rate) : int(b * rate)]
        return float(10 * np.log10((s**2).mean()))

    reduction = level(6.5, 7.9) - level(0.3, speech_s - 0.5)
    assert 4.5 < reduction < 7.5, reduction


def test_music_fills_the_gaps_under_narration_and_no_music_changes_nothing(
    shot_files: list[ShotFiles], cache: Path, tmp_path: Path
) -> None:
    """Offline background music really is in the mix: audible where nobody speaks, ducked where
    they do; without music the audio pass has no music filter at all, and the final call only copies."""
    import wave

    from activities.media.compose import _audio_args, _final_args, _Timeline
    from activities.media.ffmpeg import run_ffmpeg
    from activities.providers.music import ProceduralMusic

    spoken = shot_files[0]
    silent = ComposeShot(shot_files[1].clip, None, "", 3.0)  # a shot with no narration
    shots = [ComposeShot(spoken.clip, spoken.wav, spoken.narration, spoken.duration_s), silent]
    total = spoken.duration_s + 3.0
    music = tmp_path / "music.wav"
    ProceduralMusic().generate("calm", total, music, seed=5)
    plain_job = ComposeJob(shots=shots, mode="preview", width=W, height=H, subtitles=False)
    scored_job = ComposeJob(shots=shots, mode="preview", width=W, height=H, subtitles=False, music_path=music)
    plain = compose(plain_job, tmp_path / "plain.mp4", cache_dir=cache)
    scored = compose(scored_job, tmp_path / "scored.mp4", cache_dir=cache)

    def levels(mp4: Path, windows: list[tuple[float, float]]) -> list[float]:
        wav = tmp_path / f"{mp4.stem}.wav"
        run_ffmpeg(
            ["-i", str(mp4), "-vn", "-ac", "1", "-ar", "48000", "-y", str(wav)], expected_duration_s=None
        )
        with wave.open(str(wav)) as w:
            x = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64) / 32768
            rate = w.getframerate()
        return [
            float(10 * np.log10(np.mean(x[int(a * rate) : int(b * rate)] ** 2) + 1e-12)) for a, b in windows
        ]

    speech = (0.3, spoken.speech_s - 0.3)
    gap = (spoken.duration_s + 0.3, total - 1.0)
    plain_speech, plain_gap = levels(plain.path, [speech, gap])
    scored_speech, scored_gap = levels(scored.path, [speech, gap])
    assert plain_gap < -60, plain_gap  # no music: the unnarrated shot is silent
    assert scored_gap > -40 and scored_gap > plain_gap + 25, (scored_gap, plain_gap)
    assert abs(scored_speech - plain_speech) < 3.0  # the narration still leads
    assert scored.duration_s == pytest.approx(plain.duration_s, abs=0.05)
    assert scored.cached_shots == [0, 1]  # music never invalidates the shot segments

    graph = " ".join(_audio_args(plain_job, _Timeline.of(plain_job), tmp_path / "a.m4a"))
    assert not any(f in graph for f in ("sidechaincompress", "amix", "afade", "stream_loop"))
    graph = " ".join(_audio_args(scored_job, _Timeline.of(scored_job), tmp_path / "a.m4a"))
    assert all(f in graph for f in ("sidechaincompress", "amix", "afade", "stream_loop"))
    assert "libx264" not in graph  # the audio pass touches no picture
    final = _final_args(
        scored_job, _Timeline.of(scored_job), "list.ffconcat", tmp_path / "a.m4a", tmp_path / "o.mp4"
    )
    assert "-vcodec copy" in " ".join(final) and "-acodec copy" in " ".join(final)  # nothing re-encoded here
    assert "libx264" not in final and "aac" not in final


def test_the_cut_is_at_minus_16_lufs_with_true_peaks_under_minus_1_5(composed: ComposeResult) -> None:
    """Measured on the delivered MP4 (EBU R128 via FFmpeg's ebur128), not on the plan."""
    from activities.media.compose import parse_ebur128
    from activities.media.ffmpeg import run_ffmpeg

    summary = run_ffmpeg(
        ["-i", str(composed.path), "-vn", "-af", "ebur128=peak=true:framelog=quiet", "-f", "null", "-"],
        expected_duration_s=None,
    )
    loudness, true_peak = parse_ebur128(summary)
    assert loudness == pytest.approx(-16.0, abs=1.0), loudness
    assert true_peak <= -1.5, true_peak


def test_linear_level_gain_limiter_and_silence() -> None:
    from activities.media.compose import Level, level_for, parse_ebur128

    assert level_for(-19.5, -2.8) == Level(3.5, True)  # +3.5 dB would put the peaks at +0.7 dBFS
    assert level_for(-14.0, -9.0) == Level(-2.0, False)  # turned down: nothing to limit
    assert level_for(-18.0, -8.0) == Level(2.0, False)  # peaks stay under the ceiling
    assert level_for(-70.0, -120.0) == Level(0.0, False)  # silence is never brought up
    assert level_for(-65.0, -40.0).gain_db == 30.0  # at most +30 dB
    summary = [
        "  Integrated loudness:",
        "    I:         -19.5 LUFS",
        "  True peak:",
        "    Peak:       -2.8 dBFS",
    ]
    assert parse_ebur128(summary) == (-19.5, -2.8)
    with pytest.raises(Exception, match="loudness summary"):
        parse_ebur128(["nothing here"])
