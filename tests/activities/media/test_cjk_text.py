"""Chinese text: the packaged Noto Sans SC draws real glyphs on cards and in burned-in subtitles."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFont

from activities.media import compose as compose_mod
from activities.media import fonts
from activities.media.compose import build_ass, subtitle_font_dir
from activities.media.ffmpeg import ffmpeg_exe
from activities.media.fonts import find_cjk_font, packaged_cjk_font
from activities.providers import cards
from activities.providers.cards import GridRequest, StoryboardCardRenderer
from schema.storyboard import Camera


@pytest.fixture
def packaged_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No configured and no system CJK font: only the wheel's font is left."""
    monkeypatch.delenv(fonts.CJK_FONT_ENV, raising=False)
    monkeypatch.setattr(fonts, "_CJK_FONT_CANDIDATES", ())
    cards._font.cache_clear()
    font = packaged_cjk_font()
    assert font is not None, "pylopdf-fonts-zh-cn is a runtime dependency and must be installed"
    yield font
    cards._font.cache_clear()


def test_packaged_font_is_found_and_has_distinct_han_glyphs(packaged_only: Path) -> None:
    assert find_cjk_font() == packaged_only
    font = ImageFont.truetype(str(packaged_only), 48)
    assert font.getname()[0] == "Noto Sans SC"
    masks = {ch: np.asarray(font.getmask(ch), dtype=np.uint8) for ch in "狐狸月亮"}
    # a missing-glyph box would draw the same shape for every character
    shapes = {m.tobytes() for m in masks.values()}
    assert len(shapes) == 4 and all(m.sum() > 0 for m in masks.values())


def test_configured_font_wins_over_packaged(
    packaged_only: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    custom = tmp_path / "custom.otf"
    custom.write_bytes(packaged_only.read_bytes())
    monkeypatch.setenv(fonts.CJK_FONT_ENV, str(custom))
    assert find_cjk_font() == custom


def test_chinese_card_records_complete_glyphs(packaged_only: Path) -> None:
    req = GridRequest(
        shot_number=1,
        visual="近景特写，仰拍：狐狸偷走了月亮，夜晚。",
        camera=Camera(),
        size=1,
        width=480,
        height=270,
        seed=3,
        style="水墨",
    )
    (image,) = StoryboardCardRenderer().render_grid(req)
    assert image.params["glyphs_complete"] is True


def _burn(text: str, work: Path, cache: Path) -> np.ndarray:
    """Burn one caption into a black frame with the compose module's own font resolution."""
    captions = [(0.0, 1.0, text)]
    font_name = compose_mod._font_for(captions, subtitle_font_dir(cache), work / "fonts")
    ass, events = build_ass(captions, width=640, height=360, font_name=font_name)
    assert events == 1
    (work / "subs.ass").write_text(ass, encoding="utf-8")
    out = work / "frame.png"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=black:s=640x360:d=1",
         "-vf", "ass=subs.ass:fontsdir=fonts", "-frames:v", "1", out.name],
        cwd=work, check=True, timeout=60,
    )  # fmt: skip
    return np.asarray(Image.open(out).convert("L"), dtype=np.int16)


def test_chinese_subtitles_burn_real_glyphs(packaged_only: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    frames = []
    for i, text in enumerate(("狐狸偷月亮", "月亮狐狸偷")):
        work = tmp_path / f"job{i}"
        work.mkdir()
        frames.append(_burn(text, work, cache))
        assert (work / "fonts" / f"cjk{packaged_only.suffix}").exists()
    lit = [(f > 128).sum() for f in frames]
    assert min(lit) > 100, lit  # text was drawn
    # the same characters in another order: with real glyphs the pixels move; boxes would not
    moved = (np.abs(frames[0] - frames[1]) > 64).sum()
    assert moved > 0.3 * min(lit), (moved, lit)
