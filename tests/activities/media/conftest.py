"""Shared media fixtures: small cards, Ken Burns clips and Piper narration, built once per session.

Rule: everything is real (Pillow, FFmpeg, Piper) but tiny (320x180, ~3 s shots) so the whole
media suite stays well under a minute on two cores. Clips are made as the pipeline makes them
from a card: with the card's banner fixed over every frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from activities.media.kenburns import FixedOverlay, kenburns_clip
from activities.providers.cards import GridRequest, StoryboardCardRenderer, card_banner
from activities.providers.voice import PiperVoice
from schema.storyboard import Camera, CameraMovement

W, H = 320, 180
LINES = (
    "Our story begins in a misty forest, at night.",
    "At last, the fox steals the moon!",
    "And the fox knows that nothing will ever be the same.",
)
MOVES: tuple[CameraMovement, ...] = ("pan_right", "push_in", "pull_out")


@dataclass(frozen=True)
class ShotFiles:
    card: Path
    clip: Path
    wav: Path
    narration: str
    speech_s: float

    @property
    def duration_s(self) -> float:
        """Shot length: narration plus a short tail, at least 3 s (like the pipeline does)."""
        return max(3.0, round(self.speech_s + 0.5, 1))


@pytest.fixture(scope="session")
def voice() -> PiperVoice:
    return PiperVoice()


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def shot_files(media_dir: Path, voice: PiperVoice) -> list[ShotFiles]:
    renderer = StoryboardCardRenderer()
    out: list[ShotFiles] = []
    for i, (line, move) in enumerate(zip(LINES, MOVES, strict=True)):
        card = media_dir / f"card{i}.png"
        rendered = renderer.render_grid(
            GridRequest(
                shot_number=i + 1,
                visual=line,
                camera=Camera(size="wide", movement=move),
                size=1,
                width=W,
                height=H,
                seed=i,
            )
        )[0]
        card.write_bytes(rendered.png)
        banner = card_banner(rendered.params, W, H)
        assert banner is not None
        wav = media_dir / f"narration{i}.wav"
        speech = voice.synthesize(line, wav)
        clip = media_dir / f"clip{i}.mp4"
        kenburns_clip(
            card,
            clip,
            duration_s=3.0,
            width=W,
            height=H,
            fps=24,
            movement=move,
            overlay=FixedOverlay(banner, label="storyboard_banner"),
        )
        out.append(ShotFiles(card=card, clip=clip, wav=wav, narration=line, speech_s=speech))
    return out
