"""Offline background music: exact length, 48 kHz stereo, deterministic, a recipe per mood (EN and
ZH), a background level that never clips, fades at both ends, and coded errors for bad input."""

from __future__ import annotations

import hashlib
import math
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from activities.media.probe import probe
from activities.providers.music import (
    RECIPES,
    SAMPLE_RATE,
    ProceduralMusic,
    plan_music,
    render_music,
    resolve_mood,
)
from schema.errors import BadInputError, CancelledByUser


def read_wav(path: Path) -> tuple[np.ndarray, int, int]:
    """(float samples shaped (frames, channels), sample rate, channels)."""
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        channels, rate = w.getnchannels(), w.getframerate()
    return frames.reshape(-1, channels).astype(np.float64) / 32768.0, rate, channels


def dbfs(x: np.ndarray) -> float:
    return 20 * math.log10(max(float(np.sqrt(np.mean(x**2))), 1e-12))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def music() -> ProceduralMusic:
    return ProceduralMusic()


@pytest.mark.parametrize("duration", [1.0, 7.3, 12.34567])
def test_length_is_exact_to_the_sample_at_48k_stereo(
    music: ProceduralMusic, tmp_path: Path, duration: float
) -> None:
    out = tmp_path / "m.wav"
    info = music.generate("calm", duration, out, seed=1)
    samples, rate, channels = read_wav(out)
    assert (rate, channels) == (SAMPLE_RATE, 2)
    assert samples.shape[0] == round(duration * SAMPLE_RATE) == info.plan.samples
    media = probe(out)
    assert media.has_audio and media.duration_s == pytest.approx(duration, abs=0.02)


def test_same_inputs_same_bytes_other_seed_or_mood_other_music(
    music: ProceduralMusic, tmp_path: Path
) -> None:
    a, b, c, d = (tmp_path / f"{n}.wav" for n in "abcd")
    music.generate("warm", 6.0, a, seed=42)
    music.generate("warm", 6.0, b, seed=42)
    music.generate("warm", 6.0, c, seed=43)
    music.generate("epic", 6.0, d, seed=42)
    assert sha(a) == sha(b)
    assert len({sha(a), sha(c), sha(d)}) == 3
    x, _, _ = read_wav(a)
    y, _, _ = read_wav(c)
    assert float(np.abs(x - y).mean()) > 1e-3  # a different seed is audibly different, not a dither


def test_moods_are_different_recipes() -> None:
    plans = {
        m: plan_music(m, 20, 1) for m in ("calm", "tense", "playful", "epic", "melancholy", "mysterious")
    }
    assert len({p.mood for p in plans.values()}) == 6
    assert len({(p.key, p.tempo_bpm) for p in plans.values()}) == 6
    assert plans["calm"].mode == "major" and plans["tense"].mode == "minor"
    assert plans["tense"].tempo_bpm > plans["calm"].tempo_bpm + 20
    assert plans["melancholy"].mode == "minor" and plans["playful"].mode == "major"
    assert plans["playful"].timbres["percussion"] and not plans["calm"].timbres["percussion"]
    assert len(RECIPES) >= 8
    # what a user sees in the node payload
    payload = plans["calm"].to_payload()
    for key in ("mood", "mood_requested", "key", "tempo_bpm", "progression", "chords", "seed", "duration_s"):
        assert key in payload
    assert payload["key"] == "D major" and len(payload["chords"]) == len(payload["progression"]) == 4


@pytest.mark.parametrize(
    ("word", "mood"),
    [
        ("轻松", "calm"),
        ("紧张", "tense"),
        ("悲伤", "melancholy"),
        ("史诗", "epic"),
        ("神秘", "mysterious"),
        ("欢快的", "playful"),
        ("温馨", "warm"),
        ("Calm and peaceful", "calm"),
        ("a suspenseful chase", "tense"),
        ("melancholic", "melancholy"),
        ("cheerful", "playful"),
        ("heroic, epic", "epic"),
        ("dreamy", "dreamy"),
        ("hopeful", "uplifting"),
        ("eerie", "dark"),
    ],
)
def test_english_and_chinese_mood_words(word: str, mood: str) -> None:
    choice = resolve_mood(word)
    assert (choice.mood, choice.source, choice.fallback) == (mood, "request", False)
    assert choice.matched


def test_unknown_mood_falls_back_to_calm_and_says_so(music: ProceduralMusic, tmp_path: Path) -> None:
    info = music.generate("xylophone-core", 3.0, tmp_path / "m.wav", seed=1)
    plan = info.plan
    assert plan.mood == "calm" and plan.fallback is True and plan.mood_source == "fallback"
    assert plan.mood_requested == "xylophone-core" and plan.mood_matched is None


def test_auto_listens_to_the_workspace_else_calm() -> None:
    auto = resolve_mood("auto", ["ink-wash", "tense", "calm", "紧张"])
    assert (auto.mood, auto.source, auto.fallback) == ("tense", "workspace", False)
    nothing = resolve_mood("auto", ["ink-wash"])
    assert (nothing.mood, nothing.source, nothing.fallback) == ("calm", "default", False)
    assert plan_music("auto", 5, 1, ["史诗"]).mood == "epic"


@pytest.mark.parametrize("mood", sorted(RECIPES))
def test_background_level_no_clipping_and_fades(music: ProceduralMusic, tmp_path: Path, mood: str) -> None:
    out = tmp_path / f"{mood}.wav"
    info = music.generate(mood, 12.0, out, seed=7)
    x, rate, _ = read_wav(out)
    peak = float(np.abs(x).max())
    assert peak <= 10 ** (-3 / 20) + 1e-3  # at most -3 dBFS: never clips
    assert -23.0 < dbfs(x) < -17.0  # a background bed, not silence
    assert info.peak_dbfs <= -2.99 and -23.0 < info.rms_dbfs < -17.0
    middle = dbfs(x[4 * rate : 8 * rate])
    assert dbfs(x[: rate // 50]) < middle - 20  # fades in from silence
    assert dbfs(x[-rate // 20 :]) < middle - 30  # fades out to silence
    assert np.all(x[-1] == 0.0)
    assert np.all(np.abs(x.mean(axis=0)) < 0.01)  # no DC offset worth the name
    assert float(np.abs(x[:, 0] - x[:, 1]).mean()) > 1e-4  # stereo, not two copies of mono


def test_long_track_is_fast(music: ProceduralMusic, tmp_path: Path) -> None:
    plan_music("epic", 60, 1)
    started = time.perf_counter()
    music.generate("epic", 60.0, tmp_path / "long.wav", seed=3)
    assert time.perf_counter() - started < 5.0  # about 0.3 s on one idle core


def test_progress_and_cancellation() -> None:
    plan = plan_music("playful", 20, 1)
    seen: list[float] = []
    render_music(plan, on_progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 3
    with pytest.raises(CancelledByUser):
        render_music(plan, cancelled=lambda: True)


@pytest.mark.parametrize("duration", [0.5, 601, float("nan"), "long"])
def test_bad_duration_is_a_coded_error(duration: object) -> None:
    with pytest.raises(BadInputError) as err:
        plan_music("calm", duration, 1)  # type: ignore[arg-type]
    assert err.value.code == "music_duration_invalid"
