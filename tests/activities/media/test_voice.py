"""Piper narration: real speech from the bundled voice; Chinese without a voice is a coded error."""

from __future__ import annotations

import threading
import wave
from pathlib import Path

import numpy as np
import pytest

from activities.providers.voice import ZH_VOICE_ENV, PiperVoice
from schema.errors import BadInputError, ProviderUnavailableError


def _samples(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16), w.getframerate()


def test_english_sentence(tmp_path: Path, voice: PiperVoice) -> None:
    out = tmp_path / "a.wav"
    seconds = voice.synthesize("The fox climbs the tallest tree and reaches for the moon.", out)
    samples, rate = _samples(out)
    assert seconds > 0.5 and seconds == pytest.approx(len(samples) / rate)
    assert np.abs(samples).max() > 3000 and np.abs(samples.astype(np.float64)).mean() > 200
    assert not list(tmp_path.glob("*.partial"))


def test_parallel_calls_are_safe(tmp_path: Path, voice: PiperVoice) -> None:
    results: dict[int, float] = {}

    def speak(i: int) -> None:
        results[i] = voice.synthesize(f"Shot number {i} begins now.", tmp_path / f"{i}.wav")

    threads = [threading.Thread(target=speak, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 1, 2] and all(v > 0.5 for v in results.values())


def test_chinese_without_voice_is_coded(tmp_path: Path, voice: PiperVoice) -> None:
    with pytest.raises(ProviderUnavailableError) as err:
        voice.synthesize("狐狸偷走了月亮。", tmp_path / "zh.wav", language="zh")
    assert err.value.code == "voice_unavailable"
    assert ZH_VOICE_ENV in err.value.message
    assert not (tmp_path / "zh.wav").exists()


def test_empty_text(tmp_path: Path, voice: PiperVoice) -> None:
    with pytest.raises(BadInputError) as err:
        voice.synthesize("   ", tmp_path / "e.wav")
    assert err.value.code == "narration_empty"
