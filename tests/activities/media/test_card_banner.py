"""Video made from a storyboard card carries the card's banner fixed and whole in every frame.

Rule under test: a card is never mistaken for a generated image, so the banner
"STORYBOARD SKETCH — not a generated image" is composited after the camera move (it neither moves
nor scales) while the picture below it still moves; clips of other images get no overlay.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from activities.media.compose import ComposeJob, ComposeShot, compose
from activities.media.kenburns import FixedOverlay, kenburns_clip
from activities.media.probe import extract_frame
from activities.providers.cards import (
    GridRequest,
    RenderedImage,
    StoryboardCardRenderer,
    banner_height,
    card_banner,
    is_card,
    render_banner,
)
from schema.errors import BadInputError
from schema.storyboard import Camera
from tests.activities.media.conftest import ShotFiles

W, H = 480, 270
FPS = 24
DURATION_S = 2.0
BANNER_TOLERANCE = 4.0  # mean abs difference (0..255) allowed for H.264 + yuv420p on the strip


def pixels(source: bytes | Path) -> np.ndarray:
    data = source if isinstance(source, bytes) else source.read_bytes()
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"), dtype=np.int16)


def mean_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


def frames_at(clip: Path, tmp_path: Path) -> list[np.ndarray]:
    """The first, middle and last frames of a DURATION_S clip."""
    last = (round(DURATION_S * FPS) - 1) / FPS
    times = (0.0, DURATION_S / 2, last)
    return [pixels(extract_frame(clip, t, tmp_path / f"{clip.stem}-{i}.png")) for i, t in enumerate(times)]


@pytest.fixture(scope="module")
def card() -> RenderedImage:
    request = GridRequest(
        shot_number=7,
        visual="The fox reaches for the moon.",
        camera=Camera(size="wide"),
        size=4,
        width=W,
        height=H,
    )
    return StoryboardCardRenderer().render_grid(request)[2]  # cell 3 of 4: the tag says CELL 3/4


@pytest.fixture(scope="module")
def card_png(card: RenderedImage, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("card") / "card.png"
    path.write_bytes(card.png)
    return path


def test_banner_strip_is_the_cards_top_rows(card: RenderedImage) -> None:
    payload = {"seed": card.seed, "cell": card.cell, **card.params}  # as render_grid stores a cell node
    banner = card_banner(payload, W, H)
    assert banner is not None
    strip = pixels(banner)
    assert strip.shape == (banner_height(H) + 1, W, 3)
    assert np.array_equal(strip, pixels(card.png)[: strip.shape[0]])  # the very same pixels
    # sized for the output: a 1280x720 clip gets a taller strip, with the same tag
    big = render_banner(1280, 720, shot_number=7, cell=3, grid_size=4)
    assert pixels(big).shape == (banner_height(720) + 1, 1280, 3)
    assert card_banner(payload, 1280, 720) == big


def test_only_cards_get_a_banner(card: RenderedImage) -> None:
    assert is_card(card.params)
    assert is_card({"kind": "storyboard_sketch"}) and is_card({"renderer": "storyboard_card"})
    generated = {"renderer": "diffusers_sd", "kind": "generated_image", "cell": 1, "shot_number": 1}
    assert not is_card(generated) and not is_card({}) and not is_card(None)
    assert card_banner(generated, W, H) is None and card_banner(None, W, H) is None


@pytest.mark.parametrize("movement", ["push_in", "pull_out"])
def test_card_clip_keeps_the_banner_whole_while_the_picture_moves(
    card: RenderedImage, card_png: Path, tmp_path: Path, movement: str
) -> None:
    banner = card_banner(card.params, W, H)
    assert banner is not None
    strip = pixels(banner)
    rows = strip.shape[0]
    with_banner = tmp_path / f"{movement}-banner.mp4"
    bare = tmp_path / f"{movement}-bare.mp4"
    overlay = FixedOverlay(banner, label="storyboard_banner")
    for out, ov in ((with_banner, overlay), (bare, None)):
        info = kenburns_clip(
            card_png, out, duration_s=DURATION_S, fps=FPS, width=W, height=H, movement=movement, overlay=ov
        )
        assert (info.width, info.height) == (W, H)
        assert info.duration_s == pytest.approx(DURATION_S, rel=0.05)

    frames = frames_at(with_banner, tmp_path)
    for frame in frames:  # first, middle, last: the banner is there, whole and unmoved
        assert mean_abs(frame[:rows], strip) < BANNER_TOLERANCE
    below = [f[rows:] for f in frames]
    assert mean_abs(below[0], below[1]) > 2 and mean_abs(below[1], below[2]) > 2  # the move happens
    # without the overlay the move crops the banner: late in a push-in, early in a pull-out
    bare_frames = frames_at(bare, tmp_path)
    cropped = bare_frames[2] if movement == "push_in" else bare_frames[0]
    assert mean_abs(cropped[:rows], strip) > 4 * BANNER_TOLERANCE
    assert overlay.describe() == {
        "label": "storyboard_banner",
        "x": 0,
        "y": 0,
        "width": W,
        "height": rows,
        "sha256": overlay.describe()["sha256"],
    }


def test_clip_of_a_non_card_image_has_no_overlay(tmp_path: Path) -> None:
    """A generated-looking image (no card params): no banner, so its top strip moves with the camera."""
    img = Image.new("RGB", (W, H), (30, 60, 90))
    d = ImageDraw.Draw(img)
    for x in range(0, W, 24):  # vertical stripes up to the very top edge, so a zoom shows
        d.rectangle([x, 0, x + 11, H], fill=(220, 180, 40))
    src = tmp_path / "generated.png"
    img.save(src)
    params = {"renderer": "diffusers_sd", "kind": "generated_image"}
    banner = card_banner(params, W, H)
    assert banner is None
    out = tmp_path / "generated.mp4"
    kenburns_clip(src, out, duration_s=DURATION_S, fps=FPS, width=W, height=H, movement="push_in")
    first, _, last = frames_at(out, tmp_path)
    rows = banner_height(H) + 1
    assert mean_abs(first[:rows], last[:rows]) > 10  # the top strip moves: nothing is held fixed


def test_overlay_from_a_path_and_bad_overlays(card: RenderedImage, card_png: Path, tmp_path: Path) -> None:
    banner = card_banner(card.params, W, H)
    assert banner is not None
    path = tmp_path / "banner.png"
    path.write_bytes(banner)
    out = tmp_path / "from-path.mp4"
    kenburns_clip(card_png, out, duration_s=0.5, fps=FPS, width=W, height=H, overlay=FixedOverlay(path))
    frame = pixels(extract_frame(out, 0.45, tmp_path / "f.png"))
    assert mean_abs(frame[: pixels(banner).shape[0]], pixels(banner)) < BANNER_TOLERANCE
    assert [p.name for p in tmp_path.glob(".*")] == []  # no temp overlay or partial clip left behind
    for bad, code in (
        (FixedOverlay(tmp_path / "none.png"), "asset_missing"),
        (FixedOverlay(b"junk"), "asset_corrupt"),
    ):
        with pytest.raises(BadInputError) as err:
            kenburns_clip(card_png, tmp_path / "x.mp4", duration_s=0.5, width=W, height=H, overlay=bad)
        assert err.value.code == code
    assert not (tmp_path / "x.mp4").exists()


def test_compose_does_not_reuse_a_segment_cached_from_the_clip_without_the_banner(
    card: RenderedImage, card_png: Path, tmp_path: Path, shot_files: list[ShotFiles]
) -> None:
    """Compose's segment cache keys on the clip's content hash: the same shot re-rendered with the
    banner (same path, same settings) is re-encoded, never served from the banner-less segment."""
    banner = card_banner(card.params, W, H)
    assert banner is not None
    clip, cache = tmp_path / "shot.mp4", tmp_path / "cache"
    narrated = shot_files[0]

    def run(overlay: FixedOverlay | None, name: str) -> tuple[list[int], list[int]]:
        kenburns_clip(
            card_png, clip, duration_s=narrated.duration_s, fps=FPS, width=W, height=H, overlay=overlay
        )
        shot = ComposeShot(clip, narrated.wav, narrated.narration, narrated.duration_s)
        job = ComposeJob(shots=[shot], mode="preview", width=W, height=H, subtitles=False)
        result = compose(job, tmp_path / name, cache_dir=cache)
        return result.reencoded_shots, result.cached_shots

    assert run(None, "a.mp4") == ([0], [])
    assert run(FixedOverlay(banner), "b.mp4") == ([0], [])  # the banner clip: a new segment
    assert run(FixedOverlay(banner), "c.mp4") == ([], [0])  # and that one is reused


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_diffusers_video_applies_the_banner_the_same_way(
    card: RenderedImage, card_png: Path, tmp_path: Path
) -> None:
    """The image-to-video provider takes the same `overlay` and composites it after its scale/crop:
    a model's animation of a card never bends the banner (checked on the first, middle and last
    frames; the random tiny model's picture is noise, so only the strip is compared)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    pytest.importorskip("transformers")
    from activities.providers.diffusers_video import DiffusersVideoProvider
    from tests.support.tiny_models import build_tiny_svd

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convs on a shared 2-core box
    try:
        model = build_tiny_svd(tmp_path / "tiny-svd", num_frames=4)
        provider = DiffusersVideoProvider(model, device="cpu", steps=2, resolution=32, decode_chunk_size=2)
        banner = card_banner(card.params, W, H)
        assert banner is not None
        out = tmp_path / "svd.mp4"
        clip = provider.clip(
            card_png, out, duration_s=0.5, fps=8, width=W, height=H, overlay=FixedOverlay(banner, label="b")
        )
    finally:
        torch.set_num_threads(threads)
    assert clip.params["overlay"] == FixedOverlay(banner, label="b").describe()
    strip = pixels(banner)
    for t in (0.0, 0.25, 0.375):  # 4 frames at 8 fps: first, middle, last
        frame = pixels(extract_frame(out, t, tmp_path / f"svd-{t}.png"))
        assert mean_abs(frame[: strip.shape[0]], strip) < BANNER_TOLERANCE
    assert [p.name for p in tmp_path.glob(".*")] == []  # frames folder and overlay file removed
